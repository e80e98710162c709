"""The tape's overhead against PyTorch's, in microseconds per call, in one run:
a tiny op (add of two 8-element tensors) without recording, with recording, and the
backward of a one-op graph. Interleaved repeats, medians.

    python bench/autograd.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

import lamina

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved, write_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    lamina.set_num_threads(1)
    torch.set_num_threads(1)
    a = np.arange(8, dtype=np.float32)
    la, lb = lamina.tensor(a), lamina.tensor(a)
    ga, gb = lamina.tensor(a).requires_grad_(), lamina.tensor(a).requires_grad_()
    ta, tb = torch.tensor(a), torch.tensor(a)
    tga, tgb = torch.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    seed_l, seed_t = lamina.tensor(np.ones(8, np.float32)), torch.ones(8)

    def l_backward():
        (ga + gb).backward(seed_l)

    def t_backward():
        (tga + tgb).backward(seed_t)

    cases = [
        ("add, no recording", lambda: la + lb, lambda: ta + tb),
        ("add, recorded", lambda: ga + gb, lambda: tga + tgb),
        ("add + backward", l_backward, t_backward),
    ]
    header = ["case", "lamina us", "torch us", "lamina / torch"]
    rows = []
    for name, lf, tf in cases:
        t = interleaved({"lamina": lf, "torch": tf}, args.repeats, min_time=0.1)
        rows.append([name, t["lamina"] * 1e6, t["torch"] * 1e6, t["lamina"] / t["torch"]])
        print(f"{name:20s} lamina {rows[-1][1]:7.2f} us  torch {rows[-1][2]:7.2f} us  ratio {rows[-1][3]:.2f}")
    path = write_results("autograd", header, rows, {"lamina": lamina.__version__, "torch": torch.__version__,
                                                    "threads": 1, "repeats": args.repeats,
                                                    "note": "ratio < 1: lamina's overhead is lower"})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
