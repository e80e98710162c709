"""CPU facts lamina needs before its C++ core loads."""

from __future__ import annotations

import ctypes
import os

# OpenBLAS reads OPENBLAS_CORETYPE once, when the library loads. On CPUs with AVX-512
# (F, BW, DQ, VL) its SkylakeX kernels run ~1.9x the AVX2 ones it may pick by itself on
# newer AMD cores; a value the user already set is kept.
_AVX512 = {"avx512f", "avx512bw", "avx512dq", "avx512vl"}


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def choose_openblas_coretype() -> None:
    if "OPENBLAS_CORETYPE" not in os.environ and _AVX512 <= cpu_flags():
        os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"


def single_threaded_openblas() -> None:
    """lamina splits GEMMs over its own OpenMP threads; OpenBLAS's pthreads pool would spin
    against them. Asking for one thread before the library loads means it never starts
    that pool (the C++ core also sets it at the first GEMM, for embedders)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def preload_openblas() -> None:
    """Loads scipy-openblas32's library before lamina's extension needs it, so the
    extension finds it (by its soname) in any install layout: a wheel in site-packages,
    an editable install whose module lives in a build folder, a virtual environment."""
    try:
        import scipy_openblas32
    except ImportError:  # a build without this BLAS: nothing to load
        return
    path = os.path.join(scipy_openblas32.get_lib_dir(), "libscipy_openblas.so")
    if os.path.exists(path):
        ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
