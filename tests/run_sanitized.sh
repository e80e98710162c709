#!/usr/bin/env bash
# The sanitizer job (issue #22): the C++ core, its unit tests and the Python module built by
# clang with AddressSanitizer + UndefinedBehaviorSanitizer (any report is fatal), then
#   1. ctest on that build;
#   2. the Python suite against that build's module (the runtime preloaded into python), but
#      the tests marked heavy (tests/conftest.py: training runs, the largest zoo nets), in
#      JOBS pytest processes at once (pytest-xdist; default 2);
#   3. each native libFuzzer target (tests/fuzz/native) for FUZZ_SECONDS (default 20).
# Needs Debian's clang-14, libclang-rt-14-dev and libgtest-dev, and the .venv that
# tests/run_all.sh made (run it first). Build tree: build/sanitize.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q pybind11 pytest-xdist
build=build/sanitize
jobs=${JOBS:-2}
# No OpenMP threads: clang outlines a parallel region into a function of its own, outside
# the kernel files' target attribute region (simd.hpp), so the vector levels' parallel loops
# do not compile with clang's OpenMP; the kernels' `omp simd` loops still are (-fopenmp-simd).
# The threaded paths run unsanitized (the ordinary build). No LTO (its sections clash with
# libFuzzer's counters).
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF \
  -DLAMINA_SANITIZE=address,undefined -DLAMINA_FUZZ=ON -DLAMINA_OPENMP=OFF -DLAMINA_BUILD_TESTS=ON \
  -DLAMINA_PYTHON=ON -DPython_EXECUTABLE="$(command -v python)" -Dpybind11_DIR="$(python -m pybind11 --cmakedir)"
cmake --build "$build"

# Leaks are not checked: CPython and NumPy keep allocations alive until exit by design.
# Reports go to files as well as failing the run: pytest captures a test's stderr, and a
# process the sanitizer stops takes that capture with it.
reports="$PWD/$build/reports"
rm -rf "$reports" && mkdir -p "$reports"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:strict_init_order=1:check_initialization_order=1:log_path=$reports/asan
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan
show_reports() {
  for f in "$reports"/*; do [ -f "$f" ] && { echo "== $f"; head -60 "$f"; }; done
  return 1
}

# embed_example installs the package and builds a program against it without the
# sanitizers' flags: the ordinary build (tests/run_all.sh) runs it.
ctest --test-dir "$build" --output-on-failure -j "$jobs" -E '^embed_example$' || show_reports

# The package from the source tree with the sanitized module beside it, ahead of .venv's
# lamina on the path (subprocesses, the `lamina` command included, inherit both). The
# sanitized core runs one thread, so the suite runs in several processes, each with its
# tests' PyTorch held to one thread too (with more, the processes only crowd the cores);
# worksteal evens out their ends, which a few long tests would otherwise leave to one.
stage="$build/python"
rm -rf "$stage" && mkdir -p "$stage" && cp -r python/lamina "$stage/" && cp "$build"/cpp/_lamina*.so "$stage/lamina/"
OMP_NUM_THREADS=1 LD_PRELOAD="$(clang-14 -print-file-name=libclang_rt.asan-x86_64.so)" PYTHONPATH="$PWD/$stage" \
  python -m pytest -q -p no:cacheprovider -n "$jobs" --dist worksteal tests/ --deselect tests/test_embed.py -m "not heavy" || show_reports

bash tests/fuzz/native/run.sh "$build" "${FUZZ_SECONDS:-20}"
