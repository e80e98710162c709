"""The processes of one training job and the collectives between them, over MPI.

    mpirun -n 2 lamina train --solver lenet_solver.prototxt     # data-parallel, 2 processes
    mpirun -n 2 python train.py                                 # lamina.Solver does the same

    import lamina.distributed as dist
    dist.init()                         # optional under mpirun: lamina joins MPI by itself
    dist.rank(), dist.size()
    dist.broadcast_(t, root=0)          # rank 0's values into t on every rank
    dist.allreduce_(t, op="mean")       # in place: the mean (or "sum") over ranks

The communicator is C++ (cpp/include/lamina/distributed.hpp), built when CMake finds MPI
(``lamina.build_info()["mpi"]``). Without MPI every process is a world of one whose
collectives leave tensors as they are. A process started by mpirun joins MPI on first use;
MPI initialized earlier (``import mpi4py.MPI``) is used as it is. LAMINA_DIST=0 keeps each
process on its own.

Faults: every collective waits at most ``timeout()`` seconds (LAMINA_DIST_TIMEOUT_S, default
300), then the rank says which it is and aborts the whole job. An exception nobody catches on
one rank prints its traceback, then aborts the job (instead of leaving the others waiting).
"""

from __future__ import annotations

import sys

import numpy as np

from . import _lamina

__all__ = ["DistributedDataParallel", "allreduce_", "barrier", "broadcast_", "bucket_sizes", "init", "is_available",
           "rank", "set_bucket_sizes", "set_timeout", "size", "timeout"]

_d = _lamina.distributed
_hooked = False


def is_available() -> bool:
    """Whether this lamina was built with MPI (CMake's LAMINA_MPI)."""
    return bool(_d.mpi_built())


def init() -> int:
    """Joins MPI, also without a launcher (a job of one); returns the world size. Raises
    lamina.DistributedError when lamina was built without MPI."""
    n = _d.init()
    _join()
    return n


def rank() -> int:
    """This process's rank (0 when not part of an MPI job)."""
    return _join()[0]


def size() -> int:
    """The number of processes of the job (1 when not part of an MPI job)."""
    return _join()[1]


def allreduce_(tensor, op: str = "sum"):
    """Replaces `tensor` (a lamina.Tensor or a NumPy array: contiguous float32/64 or
    int32/64) in place by its sum or mean over all ranks; returns it."""
    _d.allreduce_(_as_tensor(tensor), op)
    return tensor


def broadcast_(tensor, root: int = 0):
    """Replaces `tensor` in place by rank `root`'s values; returns it."""
    _d.broadcast_(_as_tensor(tensor), int(root))
    return tensor


def barrier() -> None:
    """Returns once every rank has called it."""
    _d.barrier()


def set_timeout(seconds: float) -> None:
    """The longest wait on any collective before the job is aborted."""
    _d.set_timeout(float(seconds))


def timeout() -> float:
    return _d.timeout()


def set_bucket_sizes(first_mb: float, rest_mb: float) -> None:
    """Sizes (MiB) of the gradient buckets a data-parallel Solver averages during the
    backward: a small first one, so that communication starts early, then larger ones.
    Applies to Solvers built afterwards; LAMINA_DIST_BUCKET_MB="first,rest" sets the default."""
    _d.set_bucket_sizes(float(first_mb), float(rest_mb))


def bucket_sizes() -> tuple[float, float]:
    return tuple(_d.bucket_sizes())


class DistributedDataParallel:
    """Data-parallel training of a lamina.nn.Module: rank 0's parameters and buffers are
    broadcast at construction; ``backward(loss)`` runs the loss's backward while the
    gradients are averaged across ranks in buckets that start as their layers finish (the
    C++ GradientReducer the Solver uses), so that after it every parameter's .grad is the
    mean over ranks and any lamina.optim optimizer steps every rank alike. Each rank feeds
    its own batch (ArrayFeeder shards by itself): K ranks at batch B train as one process at
    batch K*B.

        model = dist.DistributedDataParallel(MyNet())
        for x, y in batches:
            opt.zero_grad()
            model.backward(lamina.nn.functional.cross_entropy(model(x), y))
            opt.step()
    """

    def __init__(self, module, bucket_sizes_mb: tuple[float, float] | None = None):
        self.module = module
        self._params = [p for p in module.parameters()]
        first, rest = bucket_sizes_mb or bucket_sizes()
        # The reducer first: making it checks that every rank has the same parameters.
        self._reducer = _d.GradientReducer(self._params, float(first), float(rest))
        for t in self._params + list(module.buffers()):
            broadcast_(t.detach(), 0)  # in place, without the tape seeing it
        self.allreduce_wait_seconds = 0.0  # communication the backward did not hide
        _join()

    def __call__(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    @property
    def allreduce_method(self) -> str:
        """How the gradients travel: "shared memory" (every rank on one machine) or "allreduce"."""
        return self._reducer.method

    def parameters(self):
        return iter(self._params)

    def backward(self, loss) -> None:
        """loss.backward(), then every parameter's .grad averaged over the ranks."""
        self._reducer.backward(loss.backward)
        self.allreduce_wait_seconds += self._reducer.finish()


def _as_tensor(value):
    if isinstance(value, _lamina.Tensor):
        return value
    if isinstance(value, np.ndarray):
        return _lamina.from_numpy(value)  # shares the array's memory: in place reaches it
    raise _lamina.DTypeError(f"expected a lamina.Tensor or a NumPy array, got {type(value).__name__}")


def _join() -> tuple[int, int]:
    """(rank, size), joining MPI under a launcher; in a job of several processes an uncaught
    exception then aborts the job instead of leaving the other ranks waiting."""
    global _hooked
    r, n = _d.rank(), _d.size()
    if n > 1 and not _hooked:
        _hooked = True
        previous = sys.excepthook

        def abort_job(kind, value, tb):
            previous(kind, value, tb)
            sys.stderr.flush()
            _d.abort(f"{kind.__name__} raised (traceback above); aborting the job", 1)

        sys.excepthook = abort_job
    return r, n
