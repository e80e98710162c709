"""Shared benchmark plumbing: interleaved timing of lamina and its peer, medians, and
results written to bench/results/ with the machine and date."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


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
