#!/usr/bin/env bash
# Installs lamina with its test and fuzz extras into .venv, then runs every test: the C++ unit
# tests (GoogleTest through ctest; needs Debian's libgtest-dev) and the Python tests.
# Neither half is ever skipped: a missing GoogleTest fails the CMake configure step.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q ".[test,fuzz]"

cmake -S . -B build/cpp -G Ninja -DCMAKE_BUILD_TYPE=Release -DLAMINA_BUILD_TESTS=ON -DLAMINA_WERROR=ON
cmake --build build/cpp
ctest --test-dir build/cpp --output-on-failure

python -m pytest
