"""lamina's kernels against PyTorch on the same inputs, in one run: milliseconds,
GFLOP/s (or GB/s), percent of the machine's measured FMA peak, and the ratio
PyTorch time / lamina time (> 1: lamina is faster), at 1 and 2 threads.
Convolution GFLOP/s count a direct convolution's multiply-adds, so the 3x3 shapes that
lamina runs by Winograd's F(4x4, 3x3) (a quarter of the multiplies) can pass 100 %.

    python bench/ops.py [--repeats 7] [--quick] [--isa avx512|avx2|generic]

With --isa, lamina and PyTorch both run at that CPU vector level, the peak is that level's
(512-bit FMA, 256-bit FMA, or 128-bit multiply + add for generic) and the results go to
bench/results/ops_<isa>.md. Without it, the peak is that of lamina's active level (the
best measured where lamina does not say).
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import force_isa  # noqa: E402

ISA = force_isa()  # before torch and lamina are imported: they read their CPU level at first use

import numpy as np  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina import ops  # noqa: E402
from common import add_isa_argument, check_isa, interleaved, isa_line, results_stem, write_results  # noqa: E402

CONV = [  # N, C, H, W, O, k, stride, pad, groups
    (64, 1, 28, 28, 20, 5, 1, 0, 1),
    (64, 20, 12, 12, 50, 5, 1, 0, 1),
    (100, 3, 32, 32, 32, 5, 1, 2, 1),
    (8, 64, 56, 56, 64, 3, 1, 1, 1),
    (8, 256, 14, 14, 256, 3, 1, 1, 1),
    (1, 3, 224, 224, 64, 7, 2, 3, 1),
    (8, 96, 27, 27, 256, 5, 1, 2, 2),
    (8, 64, 56, 56, 64, 3, 1, 1, 64),
]


PEAK_KEY = {"avx512": "avx512_fma_gflops", "avx2": "avx2_fma_gflops", "generic": "sse_mul_add_gflops"}


def measured_peaks() -> dict:
    """Builds and runs bench/fma_peak.cpp: {"avx512_fma_gflops": ..., "avx2_fma_gflops": ...,
    "sse_mul_add_gflops": ...} of one thread, the levels the compiler's target has ({} if it
    cannot)."""
    src = Path(__file__).resolve().parent / "fma_peak.cpp"
    with tempfile.TemporaryDirectory() as d:
        exe = Path(d) / "fma_peak"
        try:
            subprocess.run(["g++", "-O3", "-march=native", "-fopenmp", str(src), "-o", str(exe)], check=True,
                           capture_output=True)
            out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return {}
    fields = dict(f.split("=", 1) for f in out.splitlines()[0].split())
    return {k: float(v) for k, v in fields.items() if k != "threads"}


def fma_peak_per_thread(peaks: dict, level: str) -> tuple[float, str]:
    """The peak of one thread at `level` (avx512, avx2, generic) and its name; the best of
    them where the level is not one of those; 0 where fma_peak.cpp gave nothing."""
    if level in PEAK_KEY:
        return peaks.get(PEAK_KEY[level], 0.0), PEAK_KEY[level]
    if not peaks:
        return 0.0, "none"
    key = max(peaks, key=peaks.get)
    return peaks[key], key


def copy_bandwidth() -> float:
    """GB/s of a 64 MB copy into a preallocated tensor (read + write) with the current
    thread count: the memory-bound kernels' yardstick (torch's copy_ is threaded)."""
    src = torch.ones(1 << 24)
    dst = torch.empty_like(src)
    t = interleaved({"copy": lambda: dst.copy_(src)}, 5)["copy"]
    return 2 * src.numel() * 4 / t / 1e9


def both(a: np.ndarray, grad: bool = False):
    lt, tt = lamina.tensor(a), torch.tensor(a)
    if grad:
        lt.requires_grad_()
        tt.requires_grad_()
    return lt, tt


def conv_cases(rng, N, C, H, W, O, k, s, p, g):
    f32 = np.float32
    x = rng.standard_normal((N, C, H, W)).astype(f32)
    w = (rng.standard_normal((O, C // g, k, k)) * 0.1).astype(f32)
    b = rng.standard_normal(O).astype(f32)
    OH = (H + 2 * p - k) // s + 1
    flops = 2.0 * N * O * OH * OH * (C // g) * k * k
    name = f"conv {N}x{C}x{H}x{W} O{O} k{k} s{s} p{p}" + (f" g{g}" if g > 1 else "")
    lx, tx = both(x, True)
    lw, tw = both(w, True)
    lb, tb = both(b, True)
    lgy, tgy = both(rng.standard_normal((N, O, OH, OH)).astype(f32))

    def l_fwd():
        with lamina.no_grad():
            ops.conv2d(lx, lw, lb, stride=s, pad=p, groups=g)

    def t_fwd():
        with torch.no_grad():
            torch.nn.functional.conv2d(tx, tw, tb, stride=s, padding=p, groups=g)

    def l_fb():
        ops.conv2d(lx, lw, lb, stride=s, pad=p, groups=g).backward(lgy)

    def t_fb():
        torch.nn.functional.conv2d(tx, tw, tb, stride=s, padding=p, groups=g).backward(tgy)

    return [(name + " fwd", flops, "flop", l_fwd, t_fwd), (name + " fwd+bwd", 3 * flops, "flop", l_fb, t_fb)]


def cases(rng, quick: bool):
    f32 = np.float32
    for spec in (CONV[:3] if quick else CONV):
        yield from conv_cases(rng, *spec)
    for n in ([256, 512] if quick else [256, 512, 1024, 2048]):
        a, b = both(rng.standard_normal((n, n)).astype(f32))[0], both(rng.standard_normal((n, n)).astype(f32))[0]
        ta, tb = torch.tensor(np.asarray(a)), torch.tensor(np.asarray(b))
        yield f"gemm {n}^3", 2.0 * n**3, "flop", (lambda a=a, b=b: ops.matmul(a, b)), (lambda a=ta, b=tb: a @ b)
    for (m, k2, n) in [(50, 500, 4096), (20, 25, 36864), (4096, 800, 50)]:  # conv- and fc-shaped GEMMs
        a = lamina.tensor(rng.standard_normal((m, k2)).astype(f32))
        b = lamina.tensor(rng.standard_normal((k2, n)).astype(f32))
        ta, tb = torch.tensor(np.asarray(a)), torch.tensor(np.asarray(b))
        yield f"gemm {m}x{k2}x{n}", 2.0 * m * k2 * n, "flop", (lambda a=a, b=b: ops.matmul(a, b)), (lambda a=ta, b=tb: a @ b)
    x = rng.standard_normal((100, 32, 32, 32)).astype(f32)
    lx, tx = both(x)
    yield "max_pool 2x2/2 100x32x32x32", x.nbytes * 1.25, "byte", (lambda: ops.max_pool2d(lx, 2, 2)), \
        (lambda: torch.nn.functional.max_pool2d(tx, 2, 2))
    yield "max_pool 3x3/2 ceil 100x32x32x32", x.nbytes * 1.25, "byte", (lambda: ops.max_pool2d(lx, 3, 2, ceil_mode=True)), \
        (lambda: torch.nn.functional.max_pool2d(tx, 3, 2, ceil_mode=True))
    yield "avg_pool 3x3/2 ceil 100x32x32x32", x.nbytes * 1.25, "byte", (lambda: ops.avg_pool2d(lx, 3, 2, ceil_mode=True)), \
        (lambda: torch.nn.functional.avg_pool2d(tx, 3, 2, ceil_mode=True))
    big = rng.standard_normal(1 << 24).astype(f32)
    lb2, tb2 = both(big)
    yield "relu 16M", big.nbytes * 2.0, "byte", (lambda: ops.relu(lb2)), (lambda: torch.relu(tb2))
    yield "sigmoid 16M", big.nbytes * 2.0, "byte", (lambda: ops.sigmoid(lb2)), (lambda: torch.sigmoid(tb2))
    yield "add 16M", big.nbytes * 3.0, "byte", (lambda: ops.add(lb2, lb2)), (lambda: tb2 + tb2)
    logits = rng.standard_normal((512, 1000)).astype(f32)
    labels = rng.integers(0, 1000, 512).astype(f32)
    ll, tl = both(logits, True)
    llab, tlab = lamina.tensor(labels), torch.tensor(labels).long()
    yield "softmax_cross_entropy 512x1000 fwd+bwd", logits.nbytes * 3.0, "byte", \
        (lambda: ops.softmax_cross_entropy(ll, llab).backward()), \
        (lambda: torch.nn.functional.cross_entropy(tl, tlab).backward())
    act = rng.standard_normal((32, 64, 28, 28)).astype(f32)
    la, ta = both(act)
    rm, rv = lamina.tensor(np.zeros(64, f32)), lamina.tensor(np.ones(64, f32))
    trm, trv = torch.zeros(64), torch.ones(64)
    yield "batch_norm train 32x64x28x28", act.nbytes * 2.0, "byte", \
        (lambda: ops.batch_norm(la, rm, rv, training=True)), \
        (lambda: torch.nn.functional.batch_norm(ta, trm, trv, training=True))
    yield "lrn across 5 32x64x28x28", act.nbytes * 2.0, "byte", (lambda: ops.lrn(la, 5, 1e-4, 0.75)), \
        (lambda: torch.nn.functional.local_response_norm(ta, 5, 1e-4, 0.75))
    yield "softmax 512x1000", logits.nbytes * 2.0, "byte", (lambda: ops.softmax(ll.detach(), 1)), \
        (lambda: torch.softmax(tl.detach(), 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="a few shapes only")
    parser.add_argument("--only", default="", help="only the cases whose name contains this (results not written)")
    add_isa_argument(parser)
    args = parser.parse_args()
    isa_meta = check_isa(args.isa, torch, lamina)
    peaks = measured_peaks()
    peak1, peak_name = fma_peak_per_thread(peaks, args.isa or isa_meta["lamina isa"].lower())
    bandwidth = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        bandwidth[threads] = copy_bandwidth()
    print(f"lamina {lamina.__version__} ({lamina.blas_info()}) vs torch {torch.__version__}; {isa_line(isa_meta)}")
    print(f"measured peak {peak1:.0f} GFLOP/s per thread ({peak_name}; all: "
          f"{', '.join(f'{k} {v:.0f}' for k, v in peaks.items()) or 'none'}); copy bandwidth {bandwidth[1]:.1f} GB/s "
          f"(1 thread), {bandwidth[2]:.1f} GB/s (2)")
    header = ["case", "threads", "lamina ms", "torch ms", "lamina GFLOP/s|GB/s", "% peak|bandwidth", "speedup"]
    rows = []
    rng = np.random.default_rng(0)
    case_list = [c for c in cases(rng, args.quick) if args.only in c[0]]
    for threads in (1, 2):
        lamina.set_num_threads(threads)
        torch.set_num_threads(threads)
        for name, work, unit, lf, tf in case_list:
            t = interleaved({"lamina": lf, "torch": tf}, args.repeats)
            rate = work / t["lamina"] / 1e9
            if unit == "flop":
                pct = 100.0 * rate / (peak1 * threads) if peak1 else float("nan")
            else:
                pct = 100.0 * rate / bandwidth[threads]
            row = [name, threads, t["lamina"] * 1e3, t["torch"] * 1e3, rate, pct, t["torch"] / t["lamina"]]
            rows.append(row)
            print(f"{name:44s} t={threads} lamina {row[2]:9.3f} ms  torch {row[3]:9.3f} ms  "
                  f"{rate:7.1f} {'GFLOP/s' if unit == 'flop' else 'GB/s'}"
                  f"{'' if math.isnan(pct) else f' ({pct:4.0f}% of ' + ('peak)' if unit == 'flop' else 'bw)')}"
                  f"  speedup {row[6]:5.2f}x", flush=True)
    for threads in (1, 2):
        conv = [r[6] for r in rows if r[1] == threads and r[0].startswith("conv") and r[0].endswith("fwd+bwd")]
        if conv:
            print(f"conv fwd+bwd geometric-mean speedup at {threads} thread(s): "
                  f"{math.exp(sum(map(math.log, conv)) / len(conv)):.2f}x (min {min(conv):.2f}x)")
    for r in rows:
        if r[0] == "gemm 2048^3":
            print(f"gemm 2048^3 at {r[1]} thread(s): {r[4]:.1f} GFLOP/s, "
                  f"{'n/a' if math.isnan(r[5]) else f'{r[5]:.0f}%'} of the {peak_name} peak "
                  f"({peak1 * r[1]:.0f} GFLOP/s); speedup {r[6]:.2f}x")
    if args.only:
        return
    path = write_results(results_stem("ops", args.isa), header, rows,
                         {"lamina": lamina.__version__, "torch": torch.__version__, "blas": lamina.blas_info(),
                          **isa_meta, "fma_peak_gflops_per_thread": peak1, "peak": peak_name,
                          "peaks_gflops_per_thread": peaks, "copy_bandwidth_gbs_by_threads": bandwidth,
                          "repeats": args.repeats, "speedup": "torch ms / lamina ms"})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
