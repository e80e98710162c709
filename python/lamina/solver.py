"""Caffe's solvers: train a net from a solver.prototxt, unchanged.

    solver = lamina.Solver("lenet_solver.prototxt", net="lenet_train_test.prototxt",
                           input_shapes={"data": (64, 1, 28, 28), "label": (64,)})
    solver.feed = lambda net, phase: {"data": images, "label": labels}   # per forward
    solver.solve()             # max_iter iterations with tests, display lines and snapshots
    solver.net.forward(...)    # the trained net (a lamina.Net); solver.test_nets[i] share its weights

The loop, the update rules and the snapshots run in C++ (see cpp/include/lamina/solver.hpp).

Under ``mpirun -n K`` every process builds the same Solver and training is data-parallel:
rank 0's weights are broadcast, each rank trains on its own shard (DataFeeder and
ArrayFeeder shard by themselves; a feed of your own gives each rank its part), gradients are
averaged across ranks, so K ranks at batch B train as one process at batch K*B. Log lines
and snapshots come from rank 0 (lamina.distributed).
"""

from __future__ import annotations

import os
from typing import Callable, Iterable, Mapping

from . import _lamina, caffe_hdf5
from .net import Net, _as_tensor

__all__ = ["Solver"]


def _solver_tree(text: str, is_text: bool):
    return _lamina.prototxt.parse(text) if is_text else _lamina.prototxt.parse_file(text)


def _net_source(tree, text: str, is_text: bool, override) -> str | None:
    """The net a solver trains: the override, net_param (as text) or net (a path, resolved
    like the C++ side: as given, else beside the solver file)."""
    if override is not None:
        return str(override)
    for field in tree.fields:
        if field.name in ("net_param", "train_net_param"):
            return _lamina.prototxt.print(field.value)
        if field.name in ("net", "train_net") and isinstance(field.value, str):  # else the schema's error
            path = field.value
            if not os.path.isabs(path) and not os.path.exists(path) and not is_text:
                beside = os.path.join(os.path.dirname(text), path)
                if os.path.exists(beside):
                    return beside
            return path
    return None


def _seed(tree) -> int:
    seeds = [int(f.value) for f in tree.fields if f.name == "random_seed"]
    return seeds[0] if seeds and seeds[0] >= 0 else 0


class Solver:
    """A solver from a solver.prototxt path or text.

    net: overrides the solver's own net source (a path or prototxt text) -- Caffe resolves
    `net:` against the working directory, lamina also beside the solver file.
    input_shapes: shapes of the tops of data layers that read files.
    feed: callable(net, phase) -> {input blob: array}, called before every forward (train
    and test); leave None for nets that make their own data (DummyData).
    quiet: no Caffe-style log lines.
    python_layers: allow the nets' ``type: "Python"`` layers (see lamina.Net).
    """

    def __init__(
        self,
        solver: str | os.PathLike,
        net: str | os.PathLike | None = None,
        input_shapes: Mapping[str, Iterable[int]] | None = None,
        feed: Callable | None = None,
        quiet: bool = False,
        test_input_shapes: Mapping[str, Iterable[int]] | None = None,
        python_layers: bool = False,
    ):
        text = str(solver)
        is_text = "{" in text or "\n" in text or ":" in text and not os.path.exists(text)
        auto_feed = None
        if input_shapes is None and feed is None:
            # Data layers whose sources lamina reads (lamina.data) need neither shapes nor a feed.
            from .data import DataFeeder

            tree = _solver_tree(text, is_text)
            source = _net_source(tree, text, is_text, net)
            if source is not None:
                try:
                    input_shapes = DataFeeder.input_shapes(source, "train") or None
                    test_input_shapes = DataFeeder.input_shapes(source, "test") or None
                except _lamina.Error:
                    input_shapes = test_input_shapes = None
                if input_shapes:
                    auto_feed = DataFeeder(seed=_seed(tree))

        from . import distributed

        distributed._join()  # in a job of several processes: an uncaught exception aborts it

        def shapes(d):
            return {k: tuple(int(x) for x in v) for k, v in (d or {}).items()}

        self._solver = _lamina._Solver(text, is_text, "" if net is None else str(net), shapes(input_shapes),
                                       shapes(test_input_shapes), bool(quiet), bool(python_layers))
        self.net = Net._wrap(self._solver.net, owner=self)
        self.test_nets = [Net._wrap(self._solver.test_net(i), owner=self) for i in range(self._solver.num_test_nets)]
        self._callbacks: list = []
        self.feed = feed if feed is not None else auto_feed
        self._solver.set_feeder(self._feed_one)
        self._solver.add_callback(self._after_iteration)
        self._solver.set_hdf5_writer(self._write_hdf5)

    def _write_hdf5(self, base: str, iter_: int, learned_net: str, current_step: int, history) -> str:
        """snapshot_format: HDF5: Caffe's .caffemodel.h5 and .solverstate.h5 of the C++ state."""
        caffe_hdf5.write_weights(learned_net, self._solver.net.caffe_layers())
        state = base + ".solverstate.h5"
        caffe_hdf5.write_solver_state(state, iter_, learned_net, current_step, history)
        return state

    def _feed_one(self, index: int, phase: str):
        if self.feed is None:
            return None
        net = self.net if index < 0 else self.test_nets[index]
        inputs = self.feed(net, phase) or {}
        return {name: _as_tensor(value, net.blobs[name].data.dtype) for name, value in inputs.items()}

    def _after_iteration(self) -> None:
        for fn in self._callbacks:
            fn(self)

    def add_callback(self, fn: Callable[["Solver"], None]) -> None:
        """fn(solver) runs after every iteration (after the update)."""
        self._callbacks.append(fn)

    def step(self, iterations: int = 1) -> float:
        """Runs iterations (Caffe's Step); returns the smoothed loss."""
        return self._solver.step(int(iterations))

    def solve(self) -> None:
        """Trains to max_iter, then snapshots and tests as Caffe does."""
        self._solver.solve()

    def test(self, index: int = 0) -> dict:
        """{output: mean over test_iter forwards} of test net `index`."""
        return dict(self._solver.test(int(index)))

    def snapshot(self) -> str:
        """Writes <prefix>_iter_N.safetensors and .solverstate atomically (Caffe's .caffemodel and
        protobuf .solverstate when the solver says snapshot_format: BINARYPROTO, Caffe's
        .caffemodel.h5 and .solverstate.h5 for snapshot_format: HDF5); returns the state path."""
        return self._solver.snapshot()

    def restore(self, state: str | os.PathLike) -> None:
        """Continues from a .solverstate written by snapshot() (bit-identical to not stopping)
        or by Caffe (iteration, lr step and history restored, learned_net loaded), in its
        protobuf or HDF5 form."""
        path = os.fspath(state)
        if caffe_hdf5.is_hdf5(path):
            iter_, learned, step, history = caffe_hdf5.read_solver_state(path)
            weights = learned
            if weights and not os.path.exists(weights):  # beside the state file, as the C++ side looks
                weights = os.path.join(os.path.dirname(path), os.path.basename(weights))
            layers = caffe_hdf5.read_weights(weights) if weights and caffe_hdf5.is_hdf5(weights) else None
            self._solver.restore_caffe(iter_, learned, step, history, path, layers)
            return
        self._solver.restore(path)

    def last_test(self, index: int = 0) -> dict:
        """Scores of the latest test of test net `index` (see last_test_iter)."""
        return dict(self._solver.last_test(int(index)))

    last_test_iter = property(lambda self: self._solver.last_test_iter)
    iter = property(lambda self: self._solver.iter)
    max_iter = property(lambda self: self._solver.max_iter)
    learning_rate = property(lambda self: self._solver.learning_rate)
    smoothed_loss = property(lambda self: self._solver.smoothed_loss)
    # Data-parallel: seconds spent after the backward waiting for the gradient averaging.
    allreduce_wait_seconds = property(lambda self: self._solver.allreduce_wait_seconds)
    # How the gradients travel: "shared memory" (every rank on one machine) or "allreduce";
    # "" in a world of one process.
    allreduce_method = property(lambda self: self._solver.allreduce_method)
    type = property(lambda self: self._solver.type)
    param = property(lambda self: self._solver.param)

    def __repr__(self) -> str:
        return f"<lamina.Solver {self.type} iter={self.iter}/{self.max_iter}>"
