"""CPU facts lamina needs before its C++ core loads."""

from __future__ import annotations

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
