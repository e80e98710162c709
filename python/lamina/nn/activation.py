"""Activations as modules over lamina.ops."""

from __future__ import annotations

from .._lamina import ops
from . import init
from ._util import empty_param
from .module import Module

__all__ = ["ReLU", "LeakyReLU", "ELU", "PReLU", "Sigmoid", "Tanh", "Softplus", "Softmax", "LogSoftmax"]


class _Pointwise(Module):
    _op = staticmethod(ops.relu)

    def forward(self, x):
        return type(self)._op(x)


class ReLU(_Pointwise):
    _op = staticmethod(ops.relu)


class Sigmoid(_Pointwise):
    _op = staticmethod(ops.sigmoid)


class Tanh(_Pointwise):
    _op = staticmethod(ops.tanh)


class Softplus(_Pointwise):
    _op = staticmethod(ops.softplus)


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return ops.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x):
        return ops.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class PReLU(Module):
    """x > 0 ? x : a x with a learned slope, shared (num_parameters=1) or per channel."""

    def __init__(self, num_parameters: int = 1, init_value: float = 0.25):
        super().__init__()
        self.weight = init.constant_(empty_param(num_parameters), init_value)

    def forward(self, x):
        return ops.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.weight.shape[0]}"


class Softmax(Module):
    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return ops.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x):
        return ops.log_softmax(x, self.dim)
