"""Pooling: MaxPool2d, AvgPool2d (PyTorch's floor rounding by default; ceil_mode=True is
Caffe's), AdaptiveAvgPool2d."""

from __future__ import annotations

from .. import _lamina
from .._lamina import ops
from ._util import pair
from .module import Module

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"]


class _Pool2d(Module):
    _op = staticmethod(ops.max_pool2d)

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = pair(kernel_size, "kernel_size", name)
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", name)
        self.padding = pair(padding, "padding", name)
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x):
        return type(self)._op(x, kernel=self.kernel_size, stride=self.stride, pad=self.padding,
                              ceil_mode=self.ceil_mode)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, ceil_mode={self.ceil_mode}"


class MaxPool2d(_Pool2d):
    """Max over each window; the gradient goes to the window's first maximum."""

    _op = staticmethod(ops.max_pool2d)


class AvgPool2d(_Pool2d):
    """Mean over each window, counting padding (PyTorch's count_include_pad=True, Caffe's rule)."""

    _op = staticmethod(ops.avg_pool2d)

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True):
        if not count_include_pad:
            raise _lamina.InvalidValueError("AvgPool2d: count_include_pad=False is not supported; lamina's average "
                                            "pooling divides by the window clipped to the padded input")
        super().__init__(kernel_size, stride, padding, ceil_mode)


class AdaptiveAvgPool2d(Module):
    """Averages into a fixed output size (windows of PyTorch's adaptive rule)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = pair(output_size, "output_size", "AdaptiveAvgPool2d")

    def forward(self, x):
        return ops.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
