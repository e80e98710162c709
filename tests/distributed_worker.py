"""One rank of the jobs tests/test_distributed.py starts with mpirun (or one process alone):

    python distributed_worker.py MODE OUT [ARGS]

Each mode writes what the test compares into the folder OUT, as rank<r>_*.npy / .json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

import lamina
import lamina.data
import lamina.distributed as dist

# A small conv net on Input layers: enough parameters for several gradient buckets.
NET = """
name: "small"
layer {{ name: "data" type: "Input" top: "data" input_param {{ shape {{ dim: {batch} dim: 1 dim: 8 dim: 8 }} }} }}
layer {{ name: "label" type: "Input" top: "label" input_param {{ shape {{ dim: {batch} }} }} }}
layer {{ name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param {{ num_output: 4 kernel_size: 3 weight_filler {{ type: "xavier" }} }} }}
layer {{ name: "relu" type: "ReLU" bottom: "conv" top: "conv" }}
layer {{ name: "ip1" type: "InnerProduct" bottom: "conv" top: "ip1"
        inner_product_param {{ num_output: 16 weight_filler {{ type: "xavier" }} }} }}
layer {{ name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }}
layer {{ name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
        inner_product_param {{ num_output: 3 weight_filler {{ type: "xavier" }} }} }}
layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }}
"""

SOLVER = """
base_lr: 0.05 momentum: 0.9 weight_decay: 0.001 lr_policy: "inv" gamma: 0.001 power: 0.75
max_iter: {max_iter} display: 0 random_seed: {seed} snapshot: {snapshot} snapshot_prefix: "{prefix}"
iter_size: {iter_size} net_param {{ {net} }}
"""


def solver_text(batch, max_iter=20, seed=7, snapshot=0, prefix="", iter_size=1):
    return SOLVER.format(max_iter=max_iter, seed=seed, snapshot=snapshot, prefix=prefix, iter_size=iter_size,
                         net=NET.format(batch=batch))


def data(n=64):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
    y = (x.reshape(n, -1)[:, :3].argmax(1)).astype(np.float32)  # learnable labels
    return {"data": x, "label": y}


def save_weights(out: Path, name: str, net) -> None:
    arrays = {f"{layer}/{k}": np.asarray(blob.data) for layer, blobs in net.params.items() for k, blob in enumerate(blobs)}
    np.savez(out / f"rank{dist.rank()}_{name}.npz", **arrays)


def broadcast(out: Path) -> None:
    # No random_seed in the solver: each rank initialises from its own seed, then the
    # Solver broadcasts rank 0's weights.
    lamina.manual_seed(100 + dist.rank())
    text = solver_text(8, seed=-1)
    solver = lamina.Solver(text, quiet=True)
    save_weights(out, "init", solver.net)


def equivalence(out: Path, batch: int, iter_size: int) -> None:
    # iter_size > 1: each step accumulates that many batches before the ranks reduce.
    solver = lamina.Solver(solver_text(batch, iter_size=iter_size), quiet=True)
    solver.feed = lamina.data.ArrayFeeder(data(), batch_size=batch, seed=5)
    losses = []
    solver.add_callback(lambda s: losses.append(s.smoothed_loss))
    solver.step(20)
    save_weights(out, f"steps_b{batch}x{iter_size}", solver.net)
    (out / f"rank{dist.rank()}_losses_b{batch}x{iter_size}.json").write_text(json.dumps(losses))
    (out / f"rank{dist.rank()}_method.json").write_text(json.dumps(solver.allreduce_method))


def ddp(out: Path, batch: int) -> None:
    # lamina.nn + lamina.optim through DistributedDataParallel: each rank seeds its own
    # initial weights, which the wrapper replaces by rank 0's.
    import lamina.functional as F
    from lamina import nn

    lamina.manual_seed(11 + dist.rank())
    model = dist.DistributedDataParallel(nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 3)))
    opt = lamina.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    feed = lamina.data.ArrayFeeder(data(), batch_size=batch, seed=5)
    losses = []
    for _ in range(20):
        b = feed(None, "train")
        x = lamina.tensor(b["data"].reshape(batch, -1))
        loss = F.cross_entropy(model(x), lamina.tensor(b["label"].astype(np.int64)))
        opt.zero_grad()
        model.backward(loss)
        opt.step()
        mean = np.array([loss.item()])
        losses.append(float(dist.allreduce_(mean, op="mean")[0]))
    np.savez(out / f"rank{dist.rank()}_ddp_b{batch}.npz", *[np.asarray(p) for p in model.parameters()])
    (out / f"rank{dist.rank()}_ddp_losses_b{batch}.json").write_text(json.dumps(losses))
    (out / f"rank{dist.rank()}_method.json").write_text(json.dumps(model.allreduce_method))


def solvers(out: Path) -> None:
    # Bucket sets made and dropped while others live: two Solvers at once, then a third
    # after the first is gone (in shared memory it takes over the first one's window). The
    # same seed and feed make the second and third train alike, bit for bit.
    def trained(steps=3):
        solver = lamina.Solver(solver_text(8), quiet=True)
        solver.feed = lamina.data.ArrayFeeder(data(), batch_size=8, seed=5)
        solver.step(steps)
        return solver

    first = trained(2)
    second = trained()
    del first
    third = trained()
    save_weights(out, "second", second.net)
    save_weights(out, "third", third.net)


def mismatch(out: Path, how: str) -> None:
    # Parameters that cannot be averaged across ranks: a Solver whose net is wider on rank 1,
    # or a module whose weight is transposed there (as many elements, another shape).
    if how == "solver":
        text = solver_text(8)
        if dist.rank() == 1:
            text = text.replace("num_output: 16", "num_output: 17")
        lamina.Solver(text, quiet=True)
    else:
        from lamina import nn

        shape = (64, 16) if dist.rank() == 0 else (16, 64)
        dist.DistributedDataParallel(nn.Linear(*shape, bias=False))


def with_mpi4py(out: Path) -> None:
    # mpi4py initializes MPI first; lamina uses that MPI (its own communicator beside
    # COMM_WORLD) and leaves finalizing to mpi4py.
    from mpi4py import MPI

    total = MPI.COMM_WORLD.allreduce(MPI.COMM_WORLD.Get_rank() + 1)
    t = np.array([float(dist.rank() + 1)])
    dist.allreduce_(t)
    result = {"mpi4py": total, "lamina": float(t[0]), "same_rank": dist.rank() == MPI.COMM_WORLD.Get_rank()}
    MPI.COMM_WORLD.Barrier()
    (out / f"rank{dist.rank()}_mpi4py.json").write_text(json.dumps(result))


def lenet(out: Path, iterations: int) -> None:
    folder = lamina.examples.example_dir("lenet")
    text = (folder / "lenet_solver.prototxt").read_text()
    text = text.replace('net: "lenet_train_test.prototxt"', f'net: "{folder / "lenet_train_test.prototxt"}"')
    text = text.replace("max_iter: 2000", f"max_iter: {iterations}").replace("test_interval: 500",
                                                                            f"test_interval: {iterations}")
    path = out / f"lenet_solver_{dist.size()}.prototxt"
    if dist.rank() == 0:
        path.write_text(text)
    dist.barrier()
    solver = lamina.Solver(path, quiet=True)
    solver.solve()
    result = {"accuracy": solver.last_test(0)["accuracy"], "ranks": dist.size()}
    (out / f"rank{dist.rank()}_lenet_{dist.size()}.json").write_text(json.dumps(result))


def fault(out: Path, how: str) -> None:
    solver = lamina.Solver(solver_text(8, max_iter=10_000), quiet=True)
    solver.feed = lamina.data.ArrayFeeder(data(), batch_size=8)

    def maybe_fail(s) -> None:
        if s.iter == 5 and dist.rank() == 1:
            if how == "kill":
                os.kill(os.getpid(), 9)
            raise RuntimeError("rank 1 gives up")

    solver.add_callback(maybe_fail)
    solver.step(10_000)


def resume(out: Path, part: str) -> None:
    # A feed that depends only on the iteration and the rank, so that a resumed run sees
    # what an uninterrupted one saw.
    solver = lamina.Solver(solver_text(8, max_iter=10, snapshot=5, prefix=str(out / "snap")), quiet=True)

    def feed(net, phase):
        rng = np.random.default_rng(1000 * solver.iter + dist.rank())
        x = rng.standard_normal((8, 1, 8, 8)).astype(np.float32)
        return {"data": x, "label": x.reshape(8, -1)[:, :3].argmax(1).astype(np.float32)}

    solver.feed = feed
    if part == "second":
        solver.restore(out / "snap_iter_5.solverstate")
    solver.solve()
    save_weights(out, f"resume_{part}", solver.net)


if __name__ == "__main__":
    mode, out = sys.argv[1], Path(sys.argv[2])
    import lamina.examples  # noqa: F401

    {"broadcast": lambda: broadcast(out),
     "equivalence": lambda: equivalence(out, int(sys.argv[3]), int(sys.argv[4])),
     "lenet": lambda: lenet(out, int(sys.argv[3])),
     "ddp": lambda: ddp(out, int(sys.argv[3])),
     "mpi4py": lambda: with_mpi4py(out),
     "solvers": lambda: solvers(out),
     "mismatch": lambda: mismatch(out, sys.argv[3]),
     "fault": lambda: fault(out, sys.argv[3]),
     "resume": lambda: resume(out, sys.argv[3])}[mode]()
