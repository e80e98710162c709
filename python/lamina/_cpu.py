"""What lamina does before its C++ core loads: load OpenBLAS with the core type and thread
count lamina wants, without leaving either in the user's ``os.environ``."""

from __future__ import annotations

import ctypes
import os

# OpenBLAS reads OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS once, when the library loads.
# On CPUs with AVX-512 (F, BW, DQ, VL: the C++ core's own test, lamina.cpu_info()) its
# SkylakeX kernels run ~1.9x the AVX2 ones it picks by itself on newer AMD cores; under
# LAMINA_ISA=avx2 it gets its AVX2 (Haswell) kernels, so that a forced level holds for the
# BLAS too. One thread: lamina splits GEMMs over its own OpenMP threads, and OpenBLAS's
# pthreads pool would spin against them. Values the user set are kept.
_AVX512 = {"avx512f", "avx512bw", "avx512dq", "avx512vl"}
_CORETYPE = {"avx512": "SkylakeX", "avx2": "Haswell", "generic": "Prescott"}


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _openblas_environment() -> dict[str, str]:
    """The variables OpenBLAS should see while it loads (those the user has not set)."""
    wanted = {"OPENBLAS_NUM_THREADS": "1"}
    level = os.environ.get("LAMINA_ISA") or ("avx512" if _AVX512 <= cpu_flags() else "")
    if level in _CORETYPE:
        wanted["OPENBLAS_CORETYPE"] = _CORETYPE[level]
    return {k: v for k, v in wanted.items() if k not in os.environ}


def preload_openblas() -> None:
    """Loads scipy-openblas32's library before lamina's extension needs it, so the
    extension finds it (by its soname) in any install layout, with the variables above set
    only while it loads (importing scipy_openblas32 may load it already): children the
    user starts later inherit none of them."""
    added = _openblas_environment()
    os.environ.update(added)  # the C library's environment, which OpenBLAS reads
    try:
        try:
            import scipy_openblas32
        except ImportError:  # a build without this BLAS: nothing to load
            return
        path = os.path.join(scipy_openblas32.get_lib_dir(), "libscipy_openblas.so")
        if os.path.exists(path):
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    finally:
        for key in added:
            del os.environ[key]
