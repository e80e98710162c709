"""caffe.Layer: pycaffe's Python layers, with their own backward.

    class EuclideanLossLayer(caffe.Layer):
        def setup(self, bottom, top): ...
        def reshape(self, bottom, top): top[0].reshape(1)
        def forward(self, bottom, top): top[0].data[...] = ...
        def backward(self, top, propagate_down, bottom): bottom[0].diff[...] = ...

A net runs such a layer through lamina's Python-layer hook (lamina.Layer): reshape, then
forward on NumPy views of the bottoms and of fresh top tensors, and records the layer's
backward on the tape as a custom function (lamina.Function's record facility): the tape
calls backward(top, propagate_down, bottom) with top.diff set to the incoming gradient and
takes the bottoms' (and the layer's own blobs') diffs as the gradients it passes on.
"""

from __future__ import annotations

import numpy as np

from .. import _lamina
from ..autograd import no_grad
from ..net import Layer as _LaminaLayer
from .pycaffe import TEST, TRAIN, _LegacyShape

__all__ = ["Layer"]


class _LayerBlob(_LegacyShape):
    """A bottom, top or own blob of a Python layer: data over a lamina tensor, diff an array."""

    def __init__(self, tensor=None, shape=()):
        self.tensor = tensor
        self._shape = tuple(tensor.shape) if tensor is not None else tuple(shape)
        self._diff = None

    @property
    def data(self) -> np.ndarray:
        if self.tensor is None:
            raise _lamina.InvalidValueError("a top blob has no data until forward")
        return np.asarray(self.tensor)

    @property
    def diff(self) -> np.ndarray:
        if self._diff is None:
            self._diff = np.zeros(self._shape, self.data.dtype if self.tensor is not None else np.float32)
        return self._diff

    @property
    def shape(self) -> tuple:
        return self._shape

    def reshape(self, *shape) -> None:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        self._shape = tuple(int(d) for d in shape)


class _BlobVec(list):
    """A Python layer's own blobs (self.blobs): add_blob(*shape) in setup makes a learnable one."""

    def __init__(self, add_param):
        super().__init__()
        self._add_param = add_param

    def add_blob(self, *shape) -> None:
        self.append(_LayerBlob(self._add_param(shape)))


class Layer:
    """Base class of pycaffe Python layers; a subclass overrides setup, reshape, forward and
    backward (each taking lists of blobs). Caffe sets param_str and phase (caffe.TRAIN/TEST)."""

    param_str = ""
    phase = TRAIN

    def setup(self, bottom, top) -> None:
        pass

    def reshape(self, bottom, top) -> None:
        pass

    def forward(self, bottom, top) -> None:
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, top, propagate_down, bottom) -> None:
        raise NotImplementedError(f"{type(self).__name__}.backward")

    @classmethod
    def _lamina_layer(cls) -> "_Runner":
        """What lamina's `type: "Python"` hook instantiates for this class."""
        return _Runner(cls)


class _Runner(_LaminaLayer):
    """Runs a caffe.Layer subclass as a lamina.Layer (see the module's docstring)."""

    def __init__(self, cls):
        self._cls = cls

    def setup(self, bottoms) -> None:
        layer = self._layer = self._cls()
        layer.param_str = getattr(self, "param_str", "")
        layer.phase = TRAIN if self.phase == "train" else TEST
        layer.blobs = _BlobVec(self.add_param)
        self._tops = [_LayerBlob() for _ in self.param["top"]]
        bottom = [_LayerBlob(b) for b in bottoms]
        layer.setup(bottom, self._tops)
        layer.blobs._add_param = None  # lamina takes parameters during setup only
        layer.reshape(bottom, self._tops)

    def forward(self, bottoms):
        layer = self._layer
        bottom = [_LayerBlob(b) for b in bottoms]
        top = [_LayerBlob(shape=t.shape) for t in self._tops]  # this pass's tops, kept for its backward
        layer.reshape(bottom, top)
        dtype = bottoms[0].dtype if bottoms else np.float32
        outputs = [_lamina.zeros(t.shape, dtype=dtype) for t in top]
        for blob, tensor in zip(top, outputs):
            blob.tensor = tensor
        with no_grad():
            layer.forward(bottom, top)
        self._tops = top
        params = list(layer.blobs)
        propagate_down = [bool(b.requires_grad) for b in bottoms]

        def backward(*grads):
            for blob, g in zip(top, grads):
                blob._diff = np.array(g)
            for blob in bottom + params:
                blob._diff = None
            with no_grad():
                layer.backward(top, propagate_down, bottom)
            wanted = zip(bottom + params, propagate_down + [True] * len(params))
            return [_lamina.from_numpy(np.ascontiguousarray(b.diff)) if down else None for b, down in wanted]

        _lamina._record_function(f"{self.type}:{self.name}", list(bottoms) + [p.tensor for p in params], outputs,
                                 backward)
        return outputs
