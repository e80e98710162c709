"""A smoke demo that does real work: a float32 GEMM through lamina's kernel on tensors
that share memory with NumPy, checked against NumPy and timed."""

from __future__ import annotations

import time

import numpy as np

import lamina


def run(size: int = 512, repeats: int = 5, threads: int | None = None) -> int:
    if size < 1 or repeats < 1:
        raise lamina.InvalidValueError(f"demo: size and repeats must be >= 1, got {size} and {repeats}")
    if threads is not None:
        lamina.set_num_threads(threads)
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal((size, size), dtype=np.float32)
    b_np = rng.standard_normal((size, size), dtype=np.float32)
    a, b = lamina.from_numpy(a_np), lamina.from_numpy(b_np)  # no copies
    print(f"lamina {lamina.__version__}: {a!r} shares memory with NumPy: "
          f"{np.shares_memory(np.asarray(a), a_np)}")

    c = lamina.ops.matmul(a, b)  # warm-up, and the result we check
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        lamina.ops.matmul(a, b)
        times.append(time.perf_counter() - t0)
    best = min(times)
    ref = a_np.astype(np.float64) @ b_np.astype(np.float64)
    err = float(np.max(np.abs(np.asarray(c) - ref)) / np.max(np.abs(ref)))
    gflops = 2.0 * size**3 / best / 1e9
    print(f"matmul {size}x{size}x{size} on {lamina.num_threads()} thread(s): "
          f"{best * 1e3:.2f} ms, {gflops:.1f} GFLOP/s, max relative error vs NumPy (float64) {err:.2e}")
    ok = err < 1e-4
    print("demo: OK" if ok else "demo: FAILED (result differs from NumPy)")
    return 0 if ok else 1
