"""The CPU level lamina's kernels run at: one check, reported by cpu_info(), forceable by
LAMINA_ISA and set_isa, refused when the CPU cannot run it; importing lamina leaves the
user's environment as it was."""

import os
import subprocess
import sys

import numpy as np
import pytest

import lamina


def _run(code, **env):
    return subprocess.run([sys.executable, "-c", code], env=dict(os.environ, **env), capture_output=True, text=True)


def test_cpu_info_reports_the_level_and_each_kernels_path():
    info = lamina.cpu_info()
    assert info["available"][0] == info["cpu_isa"] and info["available"][-1] == "generic"
    assert info["isa"] in info["available"]
    assert {"elementwise", "softmax", "conv_gemm", "winograd", "gemm"} <= set(info["kernels"])
    from lamina._cpu import cpu_flags
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= cpu_flags():
        assert info["cpu_isa"] == "avx512"


@pytest.mark.parametrize("level", lamina.cpu_info()["available"])
def test_lamina_isa_forces_a_level_and_the_results_agree(level):
    code = ("import lamina, numpy as np\n"
            "x = np.linspace(-3, 3, 1000, dtype=np.float32).reshape(10, 100)\n"
            "print(lamina.cpu_info()['isa'], float(np.asarray(lamina.ops.softmax(lamina.tensor(x), 1)).sum()))\n")
    out = _run(code, LAMINA_ISA=level)
    assert out.returncode == 0, out.stderr
    got, total = out.stdout.split()
    assert got == level
    assert abs(float(total) - 10.0) < 1e-4


def test_set_isa_switches_levels_and_refuses_what_the_cpu_lacks():
    before = lamina.cpu_info()["isa"]
    try:
        for level in lamina.cpu_info()["available"]:
            lamina.set_isa(level)
            assert lamina.cpu_info()["isa"] == level
            y = lamina.ops.relu(lamina.tensor(np.array([-1.0, 2.0], dtype=np.float32)))
            np.testing.assert_array_equal(np.asarray(y), [0.0, 2.0])
        for level in {"avx512", "avx2", "neon"} - set(lamina.cpu_info()["available"]):
            with pytest.raises(lamina.InvalidValueError, match="cannot run"):
                lamina.set_isa(level)
        with pytest.raises(lamina.InvalidValueError, match="unknown ISA level"):
            lamina.set_isa("sse9")
    finally:
        lamina.set_isa(before)


def test_a_bad_lamina_isa_is_an_error_at_import():
    out = _run("import lamina", LAMINA_ISA="avx1024")
    assert out.returncode != 0
    assert "LAMINA_ISA=avx1024" in out.stderr


def test_importing_lamina_leaves_no_openblas_variables_for_children():
    # (the child at the CPU's own level, whatever level this run forces)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS") and k != "LAMINA_ISA"}
    code = "import os, lamina; print(sorted(k for k in os.environ if k.startswith('OPENBLAS')))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    # ...while OpenBLAS itself was loaded with one thread and, on AVX-512, its SkylakeX kernels.
    out = subprocess.run([sys.executable, "-c", "import lamina; print(lamina.blas_info())"], env=env,
                         capture_output=True, text=True)
    if "OpenBLAS" in out.stdout and lamina.cpu_info()["cpu_isa"] == "avx512":
        assert "SkylakeX" in out.stdout


def test_a_forced_level_holds_for_openblas_too():
    if "OpenBLAS" not in lamina.blas_info() or "avx2" not in lamina.cpu_info()["available"]:
        pytest.skip("needs OpenBLAS and an AVX2 CPU")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS")}
    out = subprocess.run([sys.executable, "-c", "import lamina; print(lamina.blas_info())"],
                         env=dict(env, LAMINA_ISA="avx2"), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "Haswell" in out.stdout
