"""Caffe's fillers for any tensor, run by the same C++ code as a prototxt layer's
``weight_filler`` (so the same seed gives the same weights in both worlds).

    lamina.nn.init.fill_(w, "xavier")                       # Caffe's defaults
    lamina.nn.init.fill_(w, "gaussian", std=0.01)
    lamina.nn.init.fill_(w, {"type": "msra", "variance_norm": "FAN_OUT"})

Fan-in is numel / shape[0] and fan-out numel / shape[1], as in Caffe. Draws come from
lamina's global generator (``lamina.manual_seed``).
"""

from __future__ import annotations

import math

from .. import _lamina
from .._lamina import Tensor

__all__ = ["fill_", "constant_", "zeros_", "ones_", "uniform_", "normal_", "xavier_", "msra_", "filler_text"]

_ENUM_FIELDS = {"variance_norm"}


def filler_text(filler, **params) -> str:
    """A FillerParameter as prototxt text, from a type name and fields or a dict."""
    fields = dict(filler) if isinstance(filler, dict) else {"type": filler}
    fields.update(params)
    parts = []
    for key, value in fields.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, str) and key not in _ENUM_FIELDS:
            value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(f"{key}: {value}")
    return " ".join(parts)


def fill_(tensor: Tensor, filler="constant", **params) -> Tensor:
    """Fills `tensor` in place by a Caffe filler (constant, uniform, gaussian, xavier, msra,
    bilinear, positive_unitball) with its FillerParameter fields; returns the tensor."""
    _lamina._fill(tensor, filler_text(filler, **params))
    return tensor


def constant_(tensor: Tensor, value: float) -> Tensor:
    return fill_(tensor, "constant", value=float(value))


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    return fill_(tensor, "uniform", min=float(a), max=float(b))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    return fill_(tensor, "gaussian", mean=float(mean), std=float(std))


def xavier_(tensor: Tensor, variance_norm: str = "FAN_IN") -> Tensor:
    """Caffe's xavier: uniform in +-sqrt(3 / n), n the fan by variance_norm."""
    return fill_(tensor, "xavier", variance_norm=variance_norm)


def msra_(tensor: Tensor, variance_norm: str = "FAN_IN") -> Tensor:
    """Caffe's msra (He): gaussian with std sqrt(2 / n)."""
    return fill_(tensor, "msra", variance_norm=variance_norm)


def torch_default_(weight: Tensor, bias: Tensor | None, fan_in: int) -> None:
    """PyTorch's default for Linear and Conv: weight and bias uniform in +-1/sqrt(fan_in)
    (its kaiming_uniform with a = sqrt(5) reduces to this bound)."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    uniform_(weight, -bound, bound)
    if bias is not None:
        uniform_(bias, -bound, bound)


def init_params(weight: Tensor, bias: Tensor | None, fan_in: int, weight_filler, bias_filler) -> None:
    """A module's weights: the fillers the user named, else PyTorch's defaults."""
    if weight_filler is None:
        torch_default_(weight, bias if bias_filler is None else None, fan_in)
    else:
        _fill_named(weight, weight_filler)
        if bias is not None and bias_filler is None:
            zeros_(bias)  # Caffe's default bias_filler: constant 0
    if bias is not None and bias_filler is not None:
        _fill_named(bias, bias_filler)


def _fill_named(tensor: Tensor, filler) -> None:
    if isinstance(filler, (str, dict)):
        fill_(tensor, filler)
    elif callable(filler):
        filler(tensor)
    else:
        raise _lamina.InvalidValueError(f"a filler is a type name, a dict of FillerParameter fields or a function, "
                                        f"got {filler!r}")
