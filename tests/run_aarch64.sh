#!/usr/bin/env bash
# Cross-builds the C++ core and its GoogleTest tests for aarch64 (64-bit Arm Linux) and
# runs them under qemu user-mode emulation through ctest: the kernels at the neon and
# generic levels, and cpp/tests/test_simd.cpp on simd.hpp's NEON half. Exits non-zero on any
# failure. .ci/run runs it after the README's test command.
#   apt-get install -y g++-aarch64-linux-gnu qemu-user-static libgtest-dev cmake ninja-build
#   bash tests/run_aarch64.sh
# GoogleTest is cross-built from the sources Debian's libgtest-dev ships in
# /usr/src/googletest (GTEST_SRC) and installed into build/aarch64/googletest-install,
# once; the lamina build then finds it there through GTest_DIR. Nothing is downloaded.
# The built-in GEMM is tested (LAMINA_BLAS=none: there is no Arm BLAS to link), without
# Python; OpenMP stays on (the cross g++ brings Arm's libgomp). The embedding example is
# not built: it compiles an outside project with the host's tools (cpp/tests/CMakeLists.txt).
# Arguments go to ctest, e.g. -R Simd runs only the vector-layer tests.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/aarch64
toolchain="$PWD/cpp/cmake/aarch64-linux-gnu.cmake"
gtest_src=${GTEST_SRC:-/usr/src/googletest}
gtest_prefix="$PWD/$build/googletest-install"
jobs=${JOBS:-2}

for tool in aarch64-linux-gnu-g++ qemu-aarch64-static cmake ninja; do
  if ! command -v "$tool" >/dev/null; then
    echo "run_aarch64.sh: $tool not found; apt-get install -y g++-aarch64-linux-gnu qemu-user-static cmake ninja-build" >&2
    exit 1
  fi
done
if [[ ! -f "$gtest_src/CMakeLists.txt" ]]; then
  echo "run_aarch64.sh: no GoogleTest sources in $gtest_src; apt-get install -y libgtest-dev" >&2
  exit 1
fi

seconds() { date +%s; }
start=$(seconds)

if [[ ! -f "$gtest_prefix/lib/cmake/GTest/GTestConfig.cmake" ]]; then
  cmake -S "$gtest_src" -B "$build/googletest" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$gtest_prefix" -DBUILD_GMOCK=OFF -Wno-deprecated
  cmake --build "$build/googletest" -j "$jobs"
  cmake --install "$build/googletest"
fi
gtest_done=$(seconds)

cmake -S . -B "$build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release \
      -DLAMINA_BLAS=none -DLAMINA_PYTHON=OFF -DLAMINA_BUILD_TESTS=ON -DLAMINA_WERROR=ON \
      -DGTest_DIR="$gtest_prefix/lib/cmake/GTest"
cmake --build "$build" -j "$jobs"
build_done=$(seconds)

ctest --test-dir "$build" --output-on-failure --no-tests=error -j "$jobs" "$@"
test_done=$(seconds)

echo "run_aarch64.sh: GoogleTest $((gtest_done - start)) s, build $((build_done - gtest_done)) s," \
     "tests under qemu $((test_done - build_done)) s"
