"""Whole nets from the shared Caffe prototxt files against the same nets written in
PyTorch, in one run: milliseconds per forward and per forward+backward, at 1 and 2
threads, interleaved medians, and the ratio PyTorch time / lamina time (> 1: lamina is
faster).

    python bench/nets.py [--repeats 7] [--nets lenet,cifar10_quick,alexnet,resnet50] [--isa avx512|avx2|generic]

With --isa, lamina and PyTorch both run at that CPU vector level and the results go to
bench/results/nets_<isa>.md.

Deploy nets have no loss; for forward+backward both engines backpropagate the sum of
the last fully connected layer's outputs (BatchNorm on batch statistics, as in training).
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import force_isa  # noqa: E402

ISA = force_isa()  # before torch and lamina are imported: they read their CPU level at first use

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import lamina  # noqa: E402
from common import add_isa_argument, check_isa, interleaved, isa_line, results_stem, write_results  # noqa: E402

MODELS = Path(__file__).resolve().parents[2] / "shared" / "caffe-models"


# ---- the same nets in PyTorch ------------------------------------------------------------
class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 20, 5), nn.Conv2d(20, 50, 5)
        self.ip1, self.ip2 = nn.Linear(800, 500), nn.Linear(500, 10)

    def forward(self, x):
        x = F.max_pool2d(self.conv1(x), 2, 2)
        x = F.max_pool2d(self.conv2(x), 2, 2)
        return self.ip2(F.relu(self.ip1(x.flatten(1))))


class Cifar10Quick(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2, self.conv3 = nn.Conv2d(3, 32, 5, padding=2), nn.Conv2d(32, 32, 5, padding=2), \
            nn.Conv2d(32, 64, 5, padding=2)
        self.ip1, self.ip2 = nn.Linear(1024, 64), nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 3, 2, ceil_mode=True))
        x = F.avg_pool2d(F.relu(self.conv2(x)), 3, 2, ceil_mode=True)
        x = F.avg_pool2d(F.relu(self.conv3(x)), 3, 2, ceil_mode=True)
        return self.ip2(self.ip1(x.flatten(1)))


class AlexNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(3, 96, 11, 4), nn.Conv2d(96, 256, 5, padding=2, groups=2)
        self.c3, self.c4 = nn.Conv2d(256, 384, 3, padding=1), nn.Conv2d(384, 384, 3, padding=1, groups=2)
        self.c5 = nn.Conv2d(384, 256, 3, padding=1, groups=2)
        self.f6, self.f7, self.f8 = nn.Linear(9216, 4096), nn.Linear(4096, 4096), nn.Linear(4096, 1000)

    def forward(self, x):
        lrn = lambda t: F.local_response_norm(t, 5, 1e-4, 0.75, 1.0)  # noqa: E731
        x = F.max_pool2d(lrn(F.relu(self.c1(x))), 3, 2, ceil_mode=True)
        x = F.max_pool2d(lrn(F.relu(self.c2(x))), 3, 2, ceil_mode=True)
        x = F.relu(self.c4(F.relu(self.c3(x))))
        x = F.max_pool2d(F.relu(self.c5(x)), 3, 2, ceil_mode=True)
        x = F.dropout(F.relu(self.f6(x.flatten(1))), 0.5, self.training)
        x = F.dropout(F.relu(self.f7(x)), 0.5, self.training)
        return self.f8(x)


class Bottleneck(nn.Module):
    def __init__(self, cin, mid, cout, stride):
        super().__init__()
        self.a, self.b = nn.Conv2d(cin, mid, 1, stride, bias=False), nn.Conv2d(mid, mid, 3, 1, 1, bias=False)
        self.c = nn.Conv2d(mid, cout, 1, bias=False)
        self.na, self.nb, self.nc = nn.BatchNorm2d(mid), nn.BatchNorm2d(mid), nn.BatchNorm2d(cout)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj, self.np = nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)

    def forward(self, x):
        y = F.relu(self.na(self.a(x)))
        y = F.relu(self.nb(self.b(y)))
        y = self.nc(self.c(y))
        return F.relu(y + (self.np(self.proj(x)) if self.proj is not None else x))


class ResNet50(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
        blocks, cin = [], 64
        for mid, n, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for i in range(n):
                blocks.append(Bottleneck(cin, mid, mid * 4, stride if i == 0 else 1))
                cin = mid * 4
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, ceil_mode=True)
        x = self.blocks(x)
        return self.fc(F.avg_pool2d(x, 7).flatten(1))


# name, prototxt, phase, input shapes, last fc blob, torch model, label classes
NETS = {
    "lenet": ("mnist_lenet_train_test.prototxt", {"data": (64, 1, 28, 28), "label": (64,)}, "ip2", LeNet, 10),
    "cifar10_quick": ("cifar10_quick_train_test.prototxt", {"data": (100, 3, 32, 32), "label": (100,)}, "ip2",
                      Cifar10Quick, 10),
    "alexnet": ("bvlc_alexnet_train_val.prototxt", {"data": (10, 3, 227, 227), "label": (10,)}, "fc8", AlexNet, 1000),
    "resnet50": ("resnet50_deploy.prototxt", {}, "fc1000", ResNet50, 0),
}


def lamina_net(name):
    file, shapes, fc, _, classes = NETS[name]
    text = (MODELS / file).read_text()
    if not classes:  # a deploy net: a loss on the last fc blob so backward has something to do
        text += f'\nlayer {{ name: "bench_loss" type: "Reduction" bottom: "{fc}" top: "bench_loss" loss_weight: 1 }}\n'
    net = lamina.Net(text, phase="train", input_shapes=shapes)
    rng = np.random.default_rng(0)
    feed = {n: rng.standard_normal(net.blobs[n].shape).astype(np.float32) for n in net.inputs}
    if "label" in feed:
        feed["label"] = rng.integers(0, classes, feed["label"].shape).astype(np.float32)
    net.forward(**feed)
    return net, feed


def torch_net(name, feed):
    _, _, _, model_cls, classes = NETS[name]
    model = model_cls().train()
    x = torch.from_numpy(feed["data"])
    y = torch.from_numpy(feed["label"]).long() if classes else None

    def loss():
        out = model(x)
        return F.cross_entropy(out, y) if y is not None else out.sum()

    inference = copy.deepcopy(model).eval()  # as lamina's TEST phase: running statistics, no dropout

    def forward():
        with torch.no_grad():
            inference(x)

    def step():
        model.zero_grad(set_to_none=True)
        loss().backward()

    return forward, step


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--nets", default=",".join(NETS))
    add_isa_argument(parser)
    args = parser.parse_args()
    isa_meta = check_isa(args.isa, torch, lamina)
    print(f"lamina {lamina.__version__} vs torch {torch.__version__}; {isa_line(isa_meta)}", flush=True)
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        lamina.set_num_threads(threads)
        for name in args.nets.split(","):
            net, feed = lamina_net(name)
            t_forward, t_step = torch_net(name, feed)
            test_net = lamina.Net(MODELS / NETS[name][0], phase="test", input_shapes=NETS[name][1] or None)
            test_net.forward(data=feed["data"])

            def l_forward(test_net=test_net):
                test_net.forward()

            def l_step(net=net):
                net.clear_param_diffs()
                net.forward()
                net.backward()

            times = interleaved({"lamina fwd": l_forward, "torch fwd": t_forward,
                                 "lamina fwd+bwd": l_step, "torch fwd+bwd": t_step}, args.repeats, 0.2)
            for kind in ("fwd", "fwd+bwd"):
                lt, tt = times[f"lamina {kind}"] * 1e3, times[f"torch {kind}"] * 1e3
                rows.append([name, kind, threads, lt, tt, tt / lt])
                print(f"{name:14} {kind:8} {threads} thr: lamina {lt:8.2f} ms  torch {tt:8.2f} ms  ratio {tt / lt:5.2f}",
                      flush=True)
    path = write_results(results_stem("nets", args.isa), ["net", "pass", "threads", "lamina ms", "torch ms",
                                                          "torch/lamina"], rows,
                         {"torch": torch.__version__, "lamina": lamina.__version__, **isa_meta,
                          "repeats": args.repeats, "batches": "LeNet 64, CIFAR10-quick 100, AlexNet 10, ResNet-50 1",
                          "note": "forward: TEST phase, PyTorch in eval mode (no dropout, running statistics); fwd+bwd: TRAIN phase"})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
