"""Nets from Caffe prototxt, with pycaffe's way of reaching into them.

    net = lamina.Net("lenet_train_test.prototxt", phase="train",
                     input_shapes={"data": (64, 1, 28, 28), "label": (64,)})
    out = net.forward(data=images, label=labels)   # {output blob: ndarray}
    net.backward()
    net.blobs["conv1"].data, net.blobs["conv1"].diff   # NumPy views, no copies
    net.params["conv1"][0].data                         # weights, writable in place

The whole forward (and backward) runs in C++ in one call, without the GIL.
"""

from __future__ import annotations

import importlib
import os
from collections import OrderedDict
from typing import Iterable, Mapping

import numpy as np

from . import _lamina, caffe_hdf5

__all__ = ["Blob", "Layer", "LayerInfo", "Net", "register_layer"]


def _as_tensor(value, dtype=np.float32):
    if isinstance(value, _lamina.Tensor):
        return value
    return _lamina.from_numpy(np.require(value, dtype=dtype, requirements="C"))


class Blob:
    """A named blob of a net: ``data`` and ``diff`` are NumPy views of lamina's memory."""

    def __init__(self, net: "Net", name: str):
        self._net, self.name = net, name

    @property
    def tensor(self) -> _lamina.Tensor:
        return self._net._net.blob(self.name)

    @property
    def data(self) -> np.ndarray:
        return np.asarray(self.tensor)

    @property
    def diff(self) -> np.ndarray:
        return np.asarray(self._net._net.blob_grad(self.name))

    @property
    def shape(self) -> tuple:
        return tuple(self.tensor.shape)

    @property
    def count(self) -> int:
        return int(np.prod(self.shape))

    def reshape(self, *shape: int) -> None:
        """Gives an input blob a new shape (zeros); the next forward follows it."""
        self._net._net.set_input(self.name, _lamina.zeros(tuple(shape)))

    def __repr__(self) -> str:
        return f"<Blob {self.name} {self.shape}>"


class Param:
    """A layer's parameter blob: ``data`` (writable view) and ``diff`` (its gradient)."""

    def __init__(self, tensor: _lamina.Tensor, lr_mult: float, decay_mult: float):
        self.tensor, self.lr_mult, self.decay_mult = tensor, lr_mult, decay_mult

    @property
    def data(self) -> np.ndarray:
        return np.asarray(self.tensor)

    @property
    def diff(self) -> np.ndarray:
        g = self.tensor.grad
        return np.zeros(self.shape, np.asarray(self.tensor).dtype) if g is None else np.asarray(g)

    @property
    def shape(self) -> tuple:
        return tuple(self.tensor.shape)

    def __repr__(self) -> str:
        return f"<Param {self.shape} lr_mult={self.lr_mult}>"


class LayerInfo:
    """What ``net.layers`` lists: name, type, bottoms, tops, blobs (Params), fused."""

    def __init__(self, d: dict):
        self.name, self.type = d["name"], d["type"]
        self.bottoms, self.tops = list(d["bottoms"]), list(d["tops"])
        self.loss_weights = list(d["loss_weights"])
        self.line = d["line"]
        self.fused = d["fused"]  # run inside the first layer of its run (a Scale or ReLU after a BatchNorm)
        self.param = d["param"]  # the LayerParameter: param["convolution_param"]["num_output"]
        self.blobs = [Param(t, lr, dm) for t, lr, dm in zip(d["blobs"], d["lr_mult"], d["decay_mult"])]

    def __repr__(self) -> str:
        return f"<Layer {self.name} ({self.type})>"


class Net:
    """A Caffe net built from a prototxt file path or prototxt text.

    phase: "train" (dropout on, BatchNorm on batch statistics, the forward records the
    tape) or "test". stages and level select layers by their include/exclude rules.
    input_shapes gives the top shapes of data layers that read files (Data, HDF5Data,
    ImageData, WindowData) or overrides an Input layer's shape. python_layers: allow
    ``type: "Python"`` layers, which import and run the module python_param names (off by
    default: loading a model file runs no code; a refused layer is a PrototxtError).
    """

    def __init__(
        self,
        model: str | os.PathLike,
        phase: str = "train",
        stages: Iterable[str] = (),
        level: int = 0,
        input_shapes: Mapping[str, Iterable[int]] | None = None,
        weights: str | os.PathLike | None = None,
        dtype="float32",
        python_layers: bool = False,
    ):
        text = str(model)
        is_text = "{" in text or "\n" in text
        shapes = {k: tuple(int(d) for d in v) for k, v in (input_shapes or {}).items()}
        self._attach(_lamina._Net(text, is_text, "<string>", phase, list(stages), int(level), shapes, dtype,
                                  bool(python_layers)))
        if weights is not None:
            self.load(weights)

    @classmethod
    def _wrap(cls, native: "_lamina._Net", owner=None) -> "Net":
        """A Net over a C++ net owned elsewhere (a Solver's); `owner` is kept alive."""
        net = cls.__new__(cls)
        net._owner = owner
        net._attach(native)
        return net

    def _attach(self, native) -> None:
        self._net = native
        self._layers = [LayerInfo(d) for d in self._net.layers()]
        self.blobs = OrderedDict((name, Blob(self, name)) for name in self._net.blob_names)
        self.params = OrderedDict((layer.name, layer.blobs) for layer in self._layers if layer.blobs)

    # ---- structure ---------------------------------------------------------------------
    name = property(lambda self: self._net.name)
    phase = property(lambda self: self._net.phase)
    layers = property(lambda self: list(self._layers))
    inputs = property(lambda self: list(self._net.inputs))
    outputs = property(lambda self: list(self._net.outputs))
    layer_dict = property(lambda self: OrderedDict((layer.name, layer) for layer in self._layers))

    def learnable_params(self) -> list:
        """Distinct learnable blobs as (name, Tensor, lr_mult, decay_mult); shared ones once."""
        return self._net.learnable_params()

    # ---- running -------------------------------------------------------------------------
    def forward(self, **inputs) -> dict:
        """Runs the net; keyword arguments replace input blobs (NumPy arrays or Tensors).

        Returns {output blob name: ndarray} for the blobs no layer consumes (losses,
        accuracies, predictions).
        """
        self._net.forward(self._feed(inputs))
        return {name: self.blobs[name].data for name in self.outputs}

    def _feed(self, inputs: Mapping) -> dict:
        feed = {}
        for name, value in inputs.items():
            blob = self.blobs.get(name)  # an unknown name is the C++ side's error to report
            feed[name] = _as_tensor(value, blob.data.dtype if blob is not None else np.float32)
        return feed

    def backward(self) -> None:
        """Backpropagates the weighted losses of the last forward into every .diff."""
        self._net.backward()

    def clear_param_diffs(self) -> None:
        self._net.clear_param_diffs()

    def loss(self) -> float:
        """The weighted sum of the loss tops after the last forward."""
        total = 0.0
        for layer in self._layers:
            for top, w in zip(layer.tops, layer.loss_weights):
                if w:
                    total += w * float(self.blobs[top].data.sum())
        return total

    # ---- weights and text ------------------------------------------------------------------
    def save(self, path: str | os.PathLike, format: str = "safetensors") -> None:
        """Writes every layer blob atomically: format "safetensors" (lamina's),
        "caffemodel" (Caffe's binary NetParameter, which Caffe's --weights reads) or "hdf5"
        (Caffe's .caffemodel.h5; h5py)."""
        if format == "hdf5":
            caffe_hdf5.write_weights(path, self._net.caffe_layers())
            return
        self._net.save(os.fspath(path), format)

    def load(self, path: str | os.PathLike) -> list[str]:
        """Reads weights from save() or a Caffe .caffemodel, telling them apart by content;
        checked completely before anything changes. A caffemodel's blobs are copied by layer
        name (Caffe's --weights); the names of its layers this net lacks are skipped and
        returned. Loading several files in turn applies each over the last. Caffe's HDF5
        .caffemodel.h5 is read with h5py and applied by the same rules."""
        if caffe_hdf5.is_hdf5(path):
            return self._net.copy_layers(caffe_hdf5.read_weights(path), os.fspath(path))
        return self._net.load(os.fspath(path))

    copy_from = load

    @classmethod
    def from_onnx(
        cls,
        path: str | os.PathLike,
        phase: str = "test",
        input_shapes: Mapping[str, Iterable[int]] | None = None,
        dtype="float32",
    ) -> "Net":
        """Reads an ONNX model as a net of layers (lamina/onnx_import.hpp lists the operators
        and the layers each becomes). Graph inputs become Input layers with the file's
        shapes; a symbolic extent (a batch "N") is 1 unless input_shapes gives the input's
        shape. The result is an ordinary Net: forward, train, save as .caffemodel, print
        with to_prototxt(). An unsupported operator or attribute raises
        lamina.InvalidValueError naming the node; a malformed file lamina.FileFormatError
        with the byte offset."""
        shapes = {k: tuple(int(d) for d in v) for k, v in (input_shapes or {}).items()}
        net = cls.__new__(cls)
        net._attach(_lamina._Net.from_onnx(os.fspath(path), phase, shapes, dtype))
        return net

    def to_onnx(self, path: str | os.PathLike, opset: int = 17) -> None:
        """Writes the net as an ONNX model (opset 17 to 21), atomically: its inputs with the
        shapes it has now, its outputs, every layer blob as a float32 initializer. A layer
        with no ONNX form raises lamina.InvalidValueError naming it (lamina/onnx_export.hpp lists
        the forms)."""
        self._net.to_onnx(os.fspath(path), opset)

    def onnx_model(self, opset: int = 17) -> bytes:
        """The ONNX ModelProto's bytes, as to_onnx writes them."""
        return self._net.onnx_model(opset)

    def to_prototxt(self) -> str:
        """The net as built (upgraded, filtered to this phase) as prototxt."""
        return self._net.to_prototxt()

    def time(self, iterations: int = 10) -> list:
        """[(layer, type, forward_ms, backward_ms)], medians over iterations (like caffe time)."""
        return self._net.time_layers(int(iterations))

    def __repr__(self) -> str:
        return f"<lamina.Net {self.name!r} phase={self.phase} layers={len(self._layers)}>"


class Layer:
    """Base for layers written in Python with lamina ops (their backward comes from the tape).

    A subclass implements forward(bottoms) -> Tensor or list of Tensors and may implement
    setup(bottoms), where add_param(shape, filler) creates learnable blobs. The net sets
    name, type, phase ("train"/"test"), param (the layer's LayerParameter as schema.Params)
    and, for `type: "Python"` layers, param_str.
    """

    def setup(self, bottoms: list) -> None:  # noqa: B027 - optional hook
        pass

    def forward(self, bottoms: list):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def add_param(self, shape, filler: str = 'type: "constant"') -> _lamina.Tensor:
        """A new parameter blob filled as the FillerParameter text says (e.g. 'type: "xavier"')."""
        adder = getattr(self, "_add_param", None)
        if adder is None:
            raise _lamina.InvalidValueError("add_param: call it from setup()")
        return adder(tuple(int(d) for d in shape), filler)

    def _lamina_setup(self, bottoms, add_param) -> None:
        self._add_param = add_param
        try:
            self.setup(list(bottoms))
        finally:
            del self._add_param


def register_layer(
    type_name: str,
    cls: type,
    bottoms: tuple[int, int] = (1, -1),
    tops: tuple[int, int] = (1, -1),
    loss: bool = False,
    schema: str | None = None,
) -> None:
    """Registers a new layer type usable from prototxt (``type: "<type_name>"``).

    cls: a lamina.Layer subclass. bottoms/tops: allowed counts (min, max; -1 = any).
    loss: its first top gets loss_weight 1 by default. schema: declarations for its
    *_param message, e.g.::

        message ScaleByParameter
          float factor = 1
        extend LayerParameter
          ScaleByParameter scale_by_param
    """
    if schema:
        _lamina.schema.define(schema, f"<schema of {type_name}>")
    _lamina._register_layer(type_name, cls, bottoms[0], bottoms[1], tops[0], tops[1], bool(loss))


def _resolve_python_layer(module: str, layer: str) -> type:
    try:
        cls = getattr(importlib.import_module(module), layer)
    except (ImportError, AttributeError) as e:
        raise _lamina.InvalidValueError(f"Python layer {module}.{layer} cannot be loaded: {e}") from e
    return getattr(cls, "_lamina_layer", cls)  # a caffe.Layer runs through its adapter (lamina.caffe)


_lamina._install_python_layer(_resolve_python_layer)
