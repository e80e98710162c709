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
# One build serves both halves: the one pip makes for the module, in build/cpp, with the C++
# tests in it (compiling the core and its kernels a second time would double the wait). It
# is made in .venv itself, not in a build environment pip throws away, so that the tests
# link the BLAS (scipy-openblas32) the module runs with and find it after the build.
build_requires=$(python - <<'PY'
import re, sys  # pyproject.toml's [build-system] requires (tomllib is Python 3.11+ only)
table = re.search(r"\[build-system\]\s*requires\s*=\s*\[([^\]]*)\]", open("pyproject.toml").read())
if not table:
    sys.exit("tests/run_all.sh: pyproject.toml has no [build-system] requires = [...] to install")
print(*re.findall(r'"([^"]+)"', table.group(1)))
PY
)
# shellcheck disable=SC2086
python -m pip install -q $build_requires
python -m pip install -q --no-build-isolation ".[test,fuzz]" -C build-dir=build/cpp \
  -C cmake.define.LAMINA_BUILD_TESTS=ON -C cmake.define.LAMINA_WERROR=ON
ctest --test-dir build/cpp --output-on-failure

python -m pytest
