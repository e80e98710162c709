"""Shared benchmark plumbing: interleaved timing of lamina and its peer, medians, and
results written to bench/results/ with the machine and date; a forced CPU vector level
(`--isa`) for lamina and PyTorch alike.

Imports nothing but the standard library: `force_isa()` must run before torch or lamina
is imported."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

# --isa LEVEL -> the environment that holds lamina, ATen and oneDNN to that level. ATen wants
# its names in lower case (it ignores "AVX2", with a warning, and runs at its best level).
ISA_LEVELS = ("avx512", "avx2", "generic")
ATEN_CAPABILITY = {"avx512": "avx512", "avx2": "avx2", "generic": "default"}
ONEDNN_MAX_ISA = {"avx512": "AVX512_CORE", "avx2": "AVX2", "generic": "SSE41"}
# PyTorch's float32 matmul and Linear run MKL's sgemm, which follows neither of the two above.
# MKL_ENABLE_INSTRUCTIONS caps it on Intel CPUs only: on an AMD EPYC, torch 2.13's MKL 2024.2
# ran 2048^3 at ~90 GFLOP/s per thread under SSE4_2 as without it, above the 128-bit peak (so
# avx512 and avx2 cannot be told apart there); MKL_CBWR=COMPATIBLE (its SSE2 branch, ~25
# GFLOP/s there) is the one setting that holds it to baseline x86-64 on both.
MKL_ENABLE = {"avx512": "AVX512", "avx2": "AVX2", "generic": "SSE4_2"}
MKL_CBWR = {"generic": "COMPATIBLE"}
ISA_ENV = ("LAMINA_ISA", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR")
_forced: list = []  # the level force_isa() set, once it has run


def force_isa(argv: list[str] | None = None) -> str | None:
    """Reads `--isa LEVEL` (or `--isa=LEVEL`) from the command line and sets LAMINA_ISA,
    ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA and MKL_ENABLE_INSTRUCTIONS (and for generic
    MKL_CBWR) in this process's environment, where lamina, ATen, oneDNN and MKL read them at
    their first use: call it at the top of a benchmark, before torch or lamina is imported. Returns the level, or None without `--isa` (nothing set).
    A second call (a benchmark importing another) returns the first one's level."""
    if _forced:
        return _forced[0]
    argv = sys.argv[1:] if argv is None else argv
    isa = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--isa":
            isa = argv[i + 1] if i + 1 < len(argv) else ""
        elif arg.startswith("--isa="):
            isa = arg.split("=", 1)[1]
    if isa is not None:
        if isa not in ISA_LEVELS:
            sys.exit(f"--isa: {isa!r} is not one of {', '.join(ISA_LEVELS)}")
        early = [m for m in ("torch", "lamina") if m in sys.modules]
        if early:
            sys.exit(f"--isa {isa}: {' and '.join(early)} imported before force_isa(); its CPU level is already set")
        os.environ["LAMINA_ISA"] = isa
        os.environ["ATEN_CPU_CAPABILITY"] = ATEN_CAPABILITY[isa]
        os.environ["ONEDNN_MAX_CPU_ISA"] = ONEDNN_MAX_ISA[isa]
        os.environ["MKL_ENABLE_INSTRUCTIONS"] = MKL_ENABLE[isa]
        if isa in MKL_CBWR:
            os.environ["MKL_CBWR"] = MKL_CBWR[isa]
    _forced.append(isa)
    return isa


def add_isa_argument(parser) -> None:
    """`--isa` in a benchmark's argparse parser (force_isa() has acted on it already)."""
    parser.add_argument("--isa", choices=ISA_LEVELS, default=None,
                        help="run lamina and PyTorch at this CPU vector level (LAMINA_ISA, ATEN_CPU_CAPABILITY, "
                             "ONEDNN_MAX_CPU_ISA, MKL_ENABLE_INSTRUCTIONS, MKL_CBWR for generic); results go to "
                             "bench/results/<name>_<isa>.md")


def check_isa(isa: str | None, torch, lamina) -> dict:
    """After the imports: PyTorch and lamina must run at the level `--isa` asked for, else
    the benchmark stops here. Returns the levels found, for the results' meta (lamina's
    "unknown" where it has no cpu_info())."""
    if _forced and isa != _forced[0]:  # argparse took an abbreviation that force_isa() did not
        sys.exit(f"--isa: the command line asks for {isa!r} but the environment was set for {_forced[0]!r}; "
                 "spell it --isa LEVEL")
    torch_cap = torch.backends.cpu.get_cpu_capability()
    info = lamina.cpu_info() if callable(getattr(lamina, "cpu_info", None)) else {}
    lamina_isa = str(info.get("isa", "unknown"))
    meta = {"isa": isa or "not forced",
            "lamina isa": lamina_isa,
            "lamina cpu isa": str(info.get("cpu_isa", "unknown")),
            "lamina kernels": info.get("kernels", "unknown"),
            "torch cpu capability": torch_cap,
            **{k: os.environ.get(k, "unset") for k in ISA_ENV[2:]}}
    if isa is None:
        return meta
    want = ATEN_CAPABILITY[isa].upper()
    if torch_cap != want:
        sys.exit(f"--isa {isa}: PyTorch runs at {torch_cap}, not {want} (ATEN_CPU_CAPABILITY="
                 f"{os.environ.get('ATEN_CPU_CAPABILITY')}); does this CPU lack {isa}?")
    if not info:
        print(f"warning: --isa {isa}: this lamina has no cpu_info(), so its level is not known "
              "(LAMINA_ISA is set; the results record 'unknown')", file=sys.stderr, flush=True)
    elif lamina_isa.lower() != isa:
        sys.exit(f"--isa {isa}: lamina runs at {lamina_isa}, not {isa} (LAMINA_ISA={os.environ.get('LAMINA_ISA')}; "
                 f"the CPU's best: {info.get('cpu_isa', 'unknown')}, available: {info.get('available', 'unknown')})")
    return meta


def isa_line(meta: dict) -> str:
    """One line for a benchmark's printed header."""
    return (f"ISA: {meta['isa']} (lamina {meta['lamina isa']}, torch {meta['torch cpu capability']}, "
            f"ONEDNN_MAX_CPU_ISA {meta['ONEDNN_MAX_CPU_ISA']}, MKL_ENABLE_INSTRUCTIONS "
            f"{meta['MKL_ENABLE_INSTRUCTIONS']}, MKL_CBWR {meta['MKL_CBWR']})")


def results_stem(stem: str, isa: str | None) -> str:
    """The results' file name: `nets` without --isa, `nets_avx2` with --isa avx2."""
    return f"{stem}_{isa}" if isa else stem


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def interleaved(fns: dict, repeats: int, min_time: float = 0.05) -> dict:
    """Median seconds per call of each function. Each repeat times every function once,
    in turn, so drift in the machine's speed hits all of them alike. Calls are batched so
    one timing lasts at least `min_time`."""
    counts = {}
    for name, fn in fns.items():
        fn()  # warm up (allocations, caches, lazy init)
        t0, n = time.perf_counter(), 0
        while time.perf_counter() - t0 < min_time / 4:
            fn()
            n += 1
        counts[name] = max(1, math.ceil(n * min_time / max(time.perf_counter() - t0, 1e-9)))
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            n = counts[name]
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - t0) / n)
    return {name: statistics.median(s) for name, s in samples.items()}


def write_results(stem: str, header: list[str], rows: list[list], meta: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"date": datetime.date.today().isoformat(), "cpu": cpu_model(), "cores": os.cpu_count(), **meta}
    (RESULTS / f"{stem}.json").write_text(json.dumps({"meta": meta, "header": header, "rows": rows}, indent=1))
    lines = [f"# {stem}", "", "".join(f"- {k}: {v}\n" for k, v in meta.items()), "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for r in rows:
        lines.append("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in r) + " |")
    path = RESULTS / f"{stem}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def training_throughput(doc: str, stem: str, what: str, batch: int, loops, meta: dict) -> int:
    """The command line and report of a training-throughput benchmark: `loops(iterations)`
    gives {"lamina": run, "torch": run}, each running `iterations` training steps of `batch`
    images; both are timed interleaved at 1 and 2 threads and written to bench/results."""
    import argparse

    import torch

    import lamina

    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=20, help="iterations per timed call")
    add_isa_argument(parser)
    args = parser.parse_args()
    isa_meta = check_isa(args.isa, torch, lamina)
    print(f"lamina {lamina.__version__} vs torch {torch.__version__}; {isa_line(isa_meta)}", flush=True)
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        lamina.set_num_threads(threads)
        times = interleaved(loops(args.iterations), args.repeats, 0.5)
        lamina_ips = args.iterations * batch / times["lamina"]
        torch_ips = args.iterations * batch / times["torch"]
        rows.append([what, threads, lamina_ips, torch_ips, lamina_ips / torch_ips])
        print(f"{threads} thr: lamina {lamina_ips:8.0f} img/s  torch {torch_ips:8.0f} img/s  "
              f"ratio {lamina_ips / torch_ips:5.2f}", flush=True)
    path = write_results(results_stem(stem, args.isa), ["what", "threads", "lamina img/s", "torch img/s",
                                                        "lamina/torch"], rows,
                         {"torch": torch.__version__, "lamina": lamina.__version__, **isa_meta, "repeats": args.repeats,
                          **meta})
    print(f"wrote {path}")
    return 0
