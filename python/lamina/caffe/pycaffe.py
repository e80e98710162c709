"""caffe.Net and the solvers with pycaffe's signatures, over lamina.Net and lamina.Solver.

Everything runs in lamina's C++ core; this module only maps pycaffe's names, argument
forms and return values onto it (forward(start=, end=) is Net::forward_range,
backward(start=, end=) Net::backward_range, blob.diff Net::blob_diff).
"""

from __future__ import annotations

import functools
import os
from collections import OrderedDict

import numpy as np

from .. import _lamina
from ..net import Blob as _LaminaBlob
from ..net import Net as _LaminaNet
from ..net import Param as _LaminaParam
from ..solver import Solver as _LaminaSolver
from ..solver import _net_source

TRAIN, TEST = 0, 1

__all__ = ["TRAIN", "TEST", "Net", "Solver", "SGDSolver", "NesterovSolver", "AdaGradSolver", "RMSPropSolver",
           "AdaDeltaSolver", "AdamSolver", "get_solver"]


def _phase_name(phase) -> str:
    if phase is TRAIN or phase is TEST or (isinstance(phase, (int, np.integer)) and int(phase) in (TRAIN, TEST)):
        return "train" if int(phase) == TRAIN else "test"
    raise _lamina.InvalidValueError(f"caffe.Net: phase must be caffe.TRAIN or caffe.TEST, got {phase!r}")


class _LegacyShape:
    """Caffe's Blob accessors beside .shape: count and the legacy num/channels/height/width
    (1 past the blob's axes, as Caffe's LegacyShape)."""

    def _axis(self, i: int) -> int:
        shape = self.shape
        return int(shape[i]) if i < len(shape) else 1

    count = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))
    num = property(lambda self: self._axis(0))
    channels = property(lambda self: self._axis(1))
    height = property(lambda self: self._axis(2))
    width = property(lambda self: self._axis(3))


class Blob(_LegacyShape, _LaminaBlob):
    """net.blobs[name]: data and diff are NumPy views of the net's memory; writes reach the net
    (a diff written before backward() seeds it, as in Caffe)."""

    @property
    def diff(self) -> np.ndarray:
        return np.asarray(self._net._net.blob_diff(self.name))

    def reshape(self, *shape) -> None:
        """Gives an input blob a new shape (zeros); the layers after it follow on the next forward."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        super().reshape(*shape)


class Param(_LegacyShape, _LaminaParam):
    """A learnable blob (net.params[layer][i], net.layers[i].blobs[j]): data and diff are
    NumPy views of the parameter and its gradient."""

    @property
    def diff(self) -> np.ndarray:
        if self.tensor.grad is None:
            self.tensor.grad = _lamina.zeros(self.shape, dtype=self.tensor.dtype)
        return np.asarray(self.tensor.grad)


class _NetLayer:
    """net.layers[i]: type, name, blobs (Params), bottom and top names."""

    def __init__(self, info):
        self.name, self.type = info.name, info.type
        self.bottoms, self.tops, self.param = info.bottoms, info.tops, info.param
        self.blobs = [Param(p.tensor, p.lr_mult, p.decay_mult) for p in info.blobs]

    def __repr__(self) -> str:
        return f"<caffe layer {self.name} ({self.type})>"


class Net(_LaminaNet):
    """caffe.Net(prototxt, phase, weights=None, level=0, stages=None) or the older
    caffe.Net(prototxt, weights, phase). Python layers are allowed, as in Caffe.
    input_shapes and dtype are lamina's (see lamina.Net)."""

    def __init__(self, network_file, *args, phase=None, weights=None, level=0, stages=None, input_shapes=None,
                 dtype="float32"):
        if len(args) == 1:
            phase = args[0]
        elif len(args) == 2:
            weights, phase = args
        elif args:
            raise _lamina.InvalidValueError("caffe.Net(prototxt, phase) or caffe.Net(prototxt, weights, phase)")
        if phase is None:
            raise _lamina.InvalidValueError("caffe.Net: give the phase, caffe.TRAIN or caffe.TEST")
        model, phase = os.fspath(network_file), _phase_name(phase)
        feeder = None
        if input_shapes is None:
            # Data layers that read sources lamina knows (lamina.data): shaped from their first
            # records, and each forward() reads the next batch, as in Caffe.
            from ..data import DataFeeder

            input_shapes = DataFeeder.input_shapes(model, phase) or None
            feeder = DataFeeder() if input_shapes else None
        super().__init__(model, phase=phase, stages=tuple(stages or ()), level=int(level), input_shapes=input_shapes,
                         weights=weights, dtype=dtype, python_layers=True)
        if feeder is not None:
            self._next_batch = lambda: feeder(self, phase)

    _next_batch = None  # () -> {data top: batch}: what a forward from the first layer reads

    def _attach(self, native) -> None:
        super()._attach(native)
        self.blobs = OrderedDict((name, Blob(self, name)) for name in native.blob_names)
        self._caffe_layers = [_NetLayer(info) for info in self._layers]
        self.params = OrderedDict((layer.name, layer.blobs) for layer in self._caffe_layers if layer.blobs)

    layers = property(lambda self: list(self._caffe_layers))
    _layer_names = property(lambda self: [layer.name for layer in self._layers])
    _blob_names = property(lambda self: list(self.blobs))
    top_names = property(lambda self: OrderedDict((layer.name, list(layer.tops)) for layer in self._layers))
    bottom_names = property(lambda self: OrderedDict((layer.name, list(layer.bottoms)) for layer in self._layers))

    def _layer_index(self, name: str, what: str) -> int:
        names = self._layer_names
        if name not in names:
            raise _lamina.OutOfRangeError(f"Net.{what}: net '{self.name}' has no layer '{name}'")
        return names.index(name)

    def forward(self, blobs=None, start=None, end=None, **kwargs) -> dict:
        """Runs layers start..end (names; default all). kwargs give input blobs. Returns
        {blob: data} for the net's outputs (or end's tops) and the names in `blobs`."""
        blobs = list(blobs or [])
        first = 0 if start is None else self._layer_index(start, "forward")
        last = len(self._layers) - 1 if end is None else self._layer_index(end, "forward")
        outputs = (self.top_names[end] if end is not None else self.outputs) + blobs
        for name, value in kwargs.items():
            if name not in self.inputs:
                raise _lamina.InvalidValueError(f"Net.forward: '{name}' is not an input of net '{self.name}' "
                                                f"(inputs: {', '.join(self.inputs)})")
        if self._next_batch is not None and first == 0:
            self._net_feed({**self._next_batch(), **kwargs})
        else:
            self._net_feed(kwargs)
        if self._layers:
            self._net.forward_range(first, last)
        return {name: self.blobs[name].data for name in dict.fromkeys(outputs)}

    def _net_feed(self, inputs) -> None:
        for name, tensor in self._feed(inputs).items():
            self._net.set_input(name, tensor)

    def backward(self, diffs=None, start=None, end=None, **kwargs) -> dict:
        """Backpropagates from layer `start` (default the last) down; kwargs set the diffs of
        output blobs (or of start's tops) first. Returns {blob: diff} for the net's inputs
        (or end's bottoms) and the names in `diffs`."""
        diffs = list(diffs or [])
        first = len(self._layers) - 1 if start is None else self._layer_index(start, "backward")
        last = 0 if end is None else self._layer_index(end, "backward")
        outputs = (self.bottom_names[end] if end is not None else self.inputs) + diffs
        seedable = self.top_names[start] if start is not None else self.outputs
        for name, value in kwargs.items():
            if name not in seedable:
                raise _lamina.InvalidValueError(f"Net.backward: '{name}' is not a top blob to start from "
                                                f"(those are: {', '.join(seedable)})")
            self.blobs[name].diff[...] = value
        if self._layers:
            self._net.backward_range(first, last)
        return {name: self.blobs[name].diff for name in dict.fromkeys(outputs)}

    def _batches(self, arrays: dict):
        """The items of `arrays` in batches of the net's batch size (its first input's first
        axis), the last padded with zeros; yields (batch dict, count)."""
        total = len(next(iter(arrays.values())))
        batch = self.blobs[self.inputs[0]].shape[0] if self.inputs else total
        for begin in range(0, total, batch):
            chunk = {}
            for name, value in arrays.items():
                part = np.asarray(value)[begin:begin + batch]
                if len(part) < batch:
                    part = np.concatenate([part, np.zeros((batch - len(part),) + part.shape[1:], part.dtype)])
                chunk[name] = part
            yield chunk

    @staticmethod
    def _collect(collected: dict, results: dict) -> None:
        for name, value in results.items():
            collected.setdefault(name, []).append(np.array(value, copy=True, ndmin=1))

    def forward_all(self, blobs=None, **kwargs) -> dict:
        """forward() over inputs of any number of items, in batches of the net's batch size
        (the last one padded with zeros); the outputs concatenated, padding dropped."""
        if not kwargs:
            return {name: value.copy() for name, value in self.forward(blobs).items()}
        total = len(next(iter(kwargs.values())))
        collected: dict = {}
        for chunk in self._batches(kwargs):
            self._collect(collected, self.forward(blobs, **chunk))
        return {name: np.concatenate(parts)[:total] for name, parts in collected.items()}

    def forward_backward_all(self, blobs=None, diffs=None, **kwargs) -> tuple:
        """forward_all and backward over the same batches: kwargs name inputs and output
        diffs; returns (outputs, diffs), each concatenated with the padding dropped."""
        inputs = {k: v for k, v in kwargs.items() if k in self.inputs}
        seeds = {k: v for k, v in kwargs.items() if k not in self.inputs}
        arrays = {**inputs, **seeds}
        total = len(next(iter(arrays.values()))) if arrays else None
        outs: dict = {}
        grads: dict = {}
        for chunk in self._batches(arrays) if arrays else [{}]:
            self._collect(outs, self.forward(blobs, **{k: chunk[k] for k in inputs}))
            self._collect(grads, self.backward(diffs, **{k: chunk[k] for k in seeds}))
        return ({k: np.concatenate(v)[:total] for k, v in outs.items()},
                {k: np.concatenate(v)[:total] for k, v in grads.items()})

    def reshape(self) -> None:
        """Caffe's Net.Reshape: in lamina every layer follows its bottoms' shapes on the next
        forward, so there is nothing to do now."""

    def save(self, filename, format: str = "caffemodel") -> None:
        """Writes the weights as a Caffe .caffemodel (format="safetensors" for lamina's)."""
        super().save(filename, format)

    def copy_from(self, filename) -> list:
        """Caffe's CopyTrainedLayersFrom: weights by layer name from a .caffemodel (or lamina's file)."""
        return self.load(filename)

    def share_with(self, other: "Net") -> None:
        """Caffe's ShareTrainedLayersWith: this net's layers use `other`'s blobs of the same name."""
        self._net.share_weights_from(other._net)
        self._attach(self._net)

    def __repr__(self) -> str:
        return f"<caffe.Net {self.name!r} phase={self.phase} layers={len(self._layers)}>"


def _stated_type(tree):
    for field in tree.fields:
        if field.name in ("type", "solver_type"):
            return str(field.value).lower()
    return None


class Solver(_LaminaSolver):
    """A solver from a solver.prototxt path, of the type that file states (get_solver) or of
    the subclass's type. net, test_nets are caffe.Nets; step, solve, snapshot, restore, iter."""

    _type: str | None = None

    def __init__(self, filename, **kwargs):
        path = os.fspath(filename)
        source, net = path, kwargs.pop("net", None)
        if self._type is not None:
            tree = _lamina.prototxt.parse_file(path)
            stated = _stated_type(tree)
            if stated is not None and stated != self._type.lower():
                raise _lamina.InvalidValueError(f"caffe.{type(self).__name__}: {path} states solver type '{stated}'")
            if stated is None and self._type != "SGD":
                source = _lamina.prototxt.print(tree) + f'\ntype: "{self._type}"\n'
                net = _net_source(tree, path, False, net)
        kwargs.setdefault("python_layers", True)
        super().__init__(source, net=net, **kwargs)
        self.net = Net._wrap(self._solver.net, owner=self)
        self.test_nets = [Net._wrap(self._solver.test_net(i), owner=self) for i in range(self._solver.num_test_nets)]
        for net, phase in [(self.net, "train")] + [(n, "test") for n in self.test_nets]:
            net._next_batch = functools.partial(self._next_batch, net, phase)

    def _next_batch(self, net: Net, phase: str) -> dict:
        """A batch from the solver's feed for a forward() called from Python (solver.net.forward())."""
        return (self.feed(net, phase) or {}) if self.feed is not None else {}

    def __repr__(self) -> str:
        return f"<caffe.{type(self).__name__} {self.type} iter={self.iter}>"


def _solver_class(kind: str) -> type:
    return type(f"{kind}Solver", (Solver,), {"_type": kind, "__doc__": f"Caffe's {kind} solver (see Solver)."})


SGDSolver = _solver_class("SGD")
NesterovSolver = _solver_class("Nesterov")
AdaGradSolver = _solver_class("AdaGrad")
RMSPropSolver = _solver_class("RMSProp")
AdaDeltaSolver = _solver_class("AdaDelta")
AdamSolver = _solver_class("Adam")


def get_solver(filename, **kwargs) -> Solver:
    """The solver the file's type (or solver_type) names, SGD by default."""
    return Solver(filename, **kwargs)
