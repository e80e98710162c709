# Cross-compiles for 64-bit Arm Linux with Debian's GNU cross toolchain and runs what it
# builds (tests, gtest_discover_tests' listing) under qemu user-mode emulation:
#   apt-get install g++-aarch64-linux-gnu qemu-user-static
#   cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cpp/cmake/aarch64-linux-gnu.cmake
# tests/run_aarch64.sh drives it, GoogleTest included.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(LAMINA_CROSS_TRIPLE aarch64-linux-gnu)
set(LAMINA_CROSS_SYSROOT /usr/${LAMINA_CROSS_TRIPLE})  # Debian's libc6-dev-arm64-cross

set(CMAKE_C_COMPILER   ${LAMINA_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${LAMINA_CROSS_TRIPLE}-g++)

# -L: where qemu finds the Arm dynamic loader and shared libraries (libc, libstdc++, libgomp).
# qemu looks a path up under it first and falls back to the host's file system, so the
# tests read ../shared/caffe-models and their temporary files where they are.
find_program(LAMINA_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(NOT LAMINA_QEMU_AARCH64)
  message(FATAL_ERROR "aarch64 toolchain: qemu-aarch64-static not found; apt-get install qemu-user-static")
endif()
set(CMAKE_CROSSCOMPILING_EMULATOR ${LAMINA_QEMU_AARCH64} -L ${LAMINA_CROSS_SYSROOT})

# Libraries, headers and CMake packages come from the Arm side only (never the host's
# x86-64 ones in /usr/lib); programs (python, ninja) from the host.
set(CMAKE_FIND_ROOT_PATH ${LAMINA_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
