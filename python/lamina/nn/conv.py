"""Convolutions: Conv1d, Conv2d, ConvTranspose2d (the ops Caffe's Convolution and
Deconvolution layers run)."""

from __future__ import annotations

from .. import _lamina
from .._lamina import ops
from . import init
from ._util import empty_param, pair, positive
from .module import Module

__all__ = ["Conv1d", "Conv2d", "ConvTranspose2d"]


def _check_groups(module: str, in_channels: int, out_channels: int, groups: int) -> None:
    positive(groups, "groups", module)
    if in_channels % groups or out_channels % groups:
        raise _lamina.InvalidValueError(f"{module}: in_channels {in_channels} and out_channels {out_channels} must "
                                        f"be divisible by groups {groups}")


class Conv2d(Module):
    """x [N, C, H, W] -> [N, out_channels, OH, OW]; weight [out, in/groups, KH, KW]."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, weight_filler=None, bias_filler=None):
        super().__init__()
        _check_groups("Conv2d", positive(in_channels, "in_channels", "Conv2d"),
                      positive(out_channels, "out_channels", "Conv2d"), groups)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d")
        self.stride, self.padding = pair(stride, "stride", "Conv2d"), pair(padding, "padding", "Conv2d")
        self.dilation = pair(dilation, "dilation", "Conv2d")
        kh, kw = self.kernel_size
        self.weight = empty_param(out_channels, in_channels // groups, kh, kw)
        self.bias = empty_param(out_channels) if bias else None
        init.init_params(self.weight, self.bias, in_channels // groups * kh * kw, weight_filler, bias_filler)

    def forward(self, x):
        return ops.conv2d(x, self.weight, self.bias, stride=self.stride, pad=self.padding, dilation=self.dilation,
                          groups=self.groups)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + ("" if self.bias is not None else ", bias=False")


class Conv1d(Module):
    """x [N, C, L] -> [N, out_channels, OL]; weight [out, in/groups, K]."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 dilation: int = 1, groups: int = 1, bias: bool = True, weight_filler=None, bias_filler=None):
        super().__init__()
        _check_groups("Conv1d", positive(in_channels, "in_channels", "Conv1d"),
                      positive(out_channels, "out_channels", "Conv1d"), groups)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = positive(kernel_size, "kernel_size", "Conv1d")
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.weight = empty_param(out_channels, in_channels // groups, kernel_size)
        self.bias = empty_param(out_channels) if bias else None
        init.init_params(self.weight, self.bias, in_channels // groups * kernel_size, weight_filler, bias_filler)

    def forward(self, x):
        return ops.conv1d(x, self.weight, self.bias, stride=self.stride, pad=self.padding, dilation=self.dilation,
                          groups=self.groups)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"


class ConvTranspose2d(Module):
    """The adjoint of Conv2d in its input (Caffe's Deconvolution): weight
    [in, out/groups, KH, KW]; OH = (H - 1) stride - 2 padding + dilation (KH - 1) + 1 + output_padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, weight_filler=None, bias_filler=None):
        super().__init__()
        _check_groups("ConvTranspose2d", positive(in_channels, "in_channels", "ConvTranspose2d"),
                      positive(out_channels, "out_channels", "ConvTranspose2d"), groups)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = pair(kernel_size, "kernel_size", "ConvTranspose2d")
        self.stride = pair(stride, "stride", "ConvTranspose2d")
        self.padding = pair(padding, "padding", "ConvTranspose2d")
        self.output_padding = pair(output_padding, "output_padding", "ConvTranspose2d")
        self.dilation = pair(dilation, "dilation", "ConvTranspose2d")
        kh, kw = self.kernel_size
        self.weight = empty_param(in_channels, out_channels // groups, kh, kw)
        self.bias = empty_param(out_channels) if bias else None
        # PyTorch's fan-in for a transposed convolution is weight.size(1) * KH * KW.
        init.init_params(self.weight, self.bias, out_channels // groups * kh * kw, weight_filler, bias_filler)

    def forward(self, x):
        return ops.conv_transpose2d(x, self.weight, self.bias, stride=self.stride, pad=self.padding,
                                    dilation=self.dilation, groups=self.groups, output_pad=self.output_padding)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
