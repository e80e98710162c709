"""A prototxt net as a module: its learnable blobs are the module's parameters, and calling
it returns its output blobs as tensors on the tape, so Python code around it (a loss, an
optimizer, another module) trains it like any module."""

from __future__ import annotations

from collections import OrderedDict

from .. import _lamina
from ..net import Net
from .module import Module

__all__ = ["NetModule"]


class NetModule(Module):
    """``NetModule(lamina.Net(...))`` or ``NetModule("deploy.prototxt", phase="train", ...)``.

    forward(**blobs) feeds the named input blobs and returns the net's output blobs: one
    tensor when the net has one output, else an OrderedDict by name. The forward records on
    the tape when the net's phase is TRAIN (or force_backward is set), as Net.backward needs.
    Parameter names are the net's ("conv1/0", "conv1/1", or a shared param's name), the same
    keys ``Net.save`` writes.
    """

    def __init__(self, net, **net_kwargs):
        super().__init__()
        object.__setattr__(self, "net", net if isinstance(net, Net) else Net(net, **net_kwargs))
        for name, tensor, _lr_mult, _decay_mult in self.net.learnable_params():
            self._parameters[name] = tensor

    def forward(self, **inputs):
        self.net._net.forward(self.net._feed(inputs))
        outs = OrderedDict((name, self.net._net.blob(name)) for name in self.net.outputs)
        if not outs:
            raise _lamina.InvalidValueError(f"NetModule: net '{self.net.name}' has no output blobs")
        return next(iter(outs.values())) if len(outs) == 1 else outs

    def extra_repr(self) -> str:
        return f"net='{self.net.name}', phase={self.net.phase}"
