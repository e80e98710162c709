"""Data-parallel training throughput over MPI: LeNet (the shipped example on the real
digits, Data layer included) and CIFAR10-quick (synthetic 32x32 images fed through an
ArrayFeeder), 2 ranks x 1 thread (mpirun) against 1 process x 1 thread and 1 process x 2
threads, each at batch B per process (2 ranks: 2B images per step, Caffe's multi-GPU
semantics). Reports images per second, the speed-up over 1 process x 1 thread (for 2
ranks the scaling efficiency is half of it), and the milliseconds per step each rank spent
after its backward waiting for the gradient allreduce (the communication the backward did not
hide, and any wait for a slower rank).

2 ranks move their gradients through MPI shared memory by default (one machine); a row
with LAMINA_DIST_SHARED=0 shows one MPI allreduce per bucket instead. The last row, 2
processes x 1 thread that do not communicate (each its own job, run at the same time), is
the ceiling 2 ranks can reach on this machine: what is lost below it is the data-parallel
machinery's, what is lost above it the two cores' shared caches and memory. No process is
bound to a core (mpirun --bind-to none: on a host whose cores' speeds drift, ranks bound to
them waited longer for each other than ranks the kernel moves). Configurations alternate;
img/s are medians over --repeats, and a speed-up is the median of each round's ratio (the
host's speed drifts between rounds). Results in bench/results/dist.md.

    python bench/dist.py [--repeats 5] [--iterations 200] [--nets lenet,cifar10_quick]

Needs lamina built with MPI (lamina.build_info()["mpi"]) and mpirun; as root the
OMPI_ALLOW_RUN_AS_ROOT variables are set for you.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
MODELS = HERE.parents[2] / "shared" / "caffe-models"
CONFIGS = [("1 process x 1 thread", 1, 1), ("1 process x 2 threads", 1, 2), ("2 ranks x 1 thread", 2, 1),
           ("2 ranks x 1 thread, one MPI allreduce per bucket", -2, 1),
           ("2 processes x 1 thread, no communication", 0, 1)]


def solver_for(net: str):
    """(solver, batch per process) for one rank."""
    import numpy as np

    import lamina
    import lamina.data
    from lamina.examples import example_dir

    settings = 'base_lr: 0.001 momentum: 0.9 weight_decay: 0.004 lr_policy: "fixed" max_iter: 100000000 ' \
               'display: 0 random_seed: 1 snapshot_after_train: false '
    if net == "lenet":
        text = settings + f'net: "{example_dir("lenet") / "lenet_train_test.prototxt"}"'
        return lamina.Solver(text, quiet=True), 64
    batch = 100
    text = settings + f'net: "{MODELS / "cifar10_quick_train_test.prototxt"}"'
    rng = np.random.default_rng(0)
    images = rng.standard_normal((2000, 3, 32, 32)).astype(np.float32)
    labels = rng.integers(0, 10, 2000).astype(np.float32)
    feed = lamina.data.ArrayFeeder({"data": images, "label": labels}, batch_size=batch)
    solver = lamina.Solver(text, quiet=True, input_shapes={"data": (batch, 3, 32, 32), "label": (batch,)}, feed=feed)
    return solver, batch


def worker(net: str, iterations: int, warmup: int) -> None:
    """One process (or rank) of a configuration: prints one JSON line from rank 0."""
    import numpy as np

    import lamina
    import lamina.distributed as dist

    solver, batch = solver_for(net)
    solver.step(warmup)
    dist.barrier()
    wait0, t0 = solver.allreduce_wait_seconds, time.perf_counter()
    solver.step(iterations)
    dist.barrier()
    seconds = time.perf_counter() - t0
    # Each rank's wait: the faster rank waits for the slower one, which itself waits little.
    waits = np.zeros(dist.size())
    waits[dist.rank()] = 1e3 * (solver.allreduce_wait_seconds - wait0) / iterations
    waits = np.asarray(dist.allreduce_(waits, op="sum"))
    if dist.rank() == 0:
        print(json.dumps({"images_per_s": dist.size() * batch * iterations / seconds,
                          "wait_ms_per_step": waits.tolist(),
                          "threads": lamina.num_threads(), "batch": batch, "method": solver.allreduce_method}),
              flush=True)


def run_config(net: str, ranks: int, threads: int, iterations: int, warmup: int) -> dict:
    """ranks 0: two processes on their own at the same time (their images per second added);
    negative: that many ranks, each bucket one MPI allreduce."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               LAMINA_DIST_SHARED="0" if ranks < 0 else "1")
    ranks = abs(ranks)
    cmd = [sys.executable, str(HERE), "--worker", net, "--iterations", str(iterations), "--warmup", str(warmup)]
    if ranks > 1:
        # OpenMPI's own transport settings, as a user's mpirun gets them.
        cmd = [shutil.which("mpirun") or "mpirun", "-n", str(ranks), "--oversubscribe", "--bind-to", "none"] + cmd
    else:
        env["LAMINA_DIST"] = "0"
    copies = 2 if ranks == 0 else 1
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(copies)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=3600)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{out}\n{err}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    if copies == 1:
        return results[0]
    return {"images_per_s": sum(r["images_per_s"] for r in results), "wait_ms_per_step": [0.0, 0.0]}


def single_copy_mechanism() -> str:
    """How OpenMPI's shared-memory transport moves a large message ('cma': one copy)."""
    try:
        r = subprocess.run(["ompi_info", "--param", "btl", "vader", "--level", "9", "--parsable"],
                           capture_output=True, text=True, timeout=60)
    except OSError:
        return "unknown"
    for line in r.stdout.splitlines():
        if "btl_vader_single_copy_mechanism:value:" in line:
            return line.rsplit(":", 1)[1]
    return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=200, help="timed iterations per run")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--nets", default="lenet,cifar10_quick")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.iterations, args.warmup)
        return 0

    import lamina

    if not lamina.build_info()["mpi"] or shutil.which("mpirun") is None:
        raise SystemExit("bench/dist.py needs lamina built with MPI and mpirun (apt-get install openmpi-bin libopenmpi-dev)")
    rows, methods = [], set()
    for net in args.nets.split(","):
        samples: dict = {name: [] for name, _, _ in CONFIGS}
        for _ in range(args.repeats):
            for name, ranks, threads in CONFIGS:
                samples[name].append(run_config(net, ranks, threads, args.iterations, args.warmup))
        methods.update(f'{name}: {s["method"]}' for name, ranks, _ in CONFIGS if ranks not in (0, 1)
                       for s in samples[name])
        base = [s["images_per_s"] for s in samples[CONFIGS[0][0]]]
        for name, ranks, threads in CONFIGS:
            ips = statistics.median(s["images_per_s"] for s in samples[name])
            ratio = statistics.median(s["images_per_s"] / b for s, b in zip(samples[name], base))
            waits = [statistics.median(s["wait_ms_per_step"][r] for s in samples[name])
                     for r in range(len(samples[name][0]["wait_ms_per_step"]))]
            wait = " / ".join(f"{w:.3f}" for w in waits)
            rows.append([net, name, ips, ratio, wait])
            print(f"{net:14s} {name:22s} {ips:9.0f} img/s  x{ratio:4.2f}  allreduce not hidden: {wait} ms/step",
                  flush=True)
    sys.path.insert(0, str(HERE.parent))
    from common import write_results

    path = write_results("dist", ["net", "configuration", "img/s", "vs 1 process x 1 thread",
                                  "allreduce not hidden, each rank (ms/step)"], rows,
                         {"lamina": lamina.__version__, "mpi": lamina.build_info()["mpi_version"],
                          "single copy": single_copy_mechanism(), "gradients": "; ".join(sorted(methods)),
                          "repeats": args.repeats,
                          "iterations": args.iterations})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
