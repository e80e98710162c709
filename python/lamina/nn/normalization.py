"""BatchNorm1d/2d (batch statistics in training, running ones in eval, as PyTorch and
Caffe's BatchNorm + Scale pair) and LRN (Caffe's across-channel local response norm)."""

from __future__ import annotations

from .. import _lamina
from .._lamina import ops
from . import init
from ._util import empty_param, positive
from .module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "LRN", "LocalResponseNorm"]


class _BatchNorm(Module):
    _dims: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True,
                 track_running_stats: bool = True):
        super().__init__()
        name = type(self).__name__
        self.num_features = positive(num_features, "num_features", name)
        self.eps, self.momentum, self.affine = float(eps), float(momentum), bool(affine)
        self.track_running_stats = bool(track_running_stats)
        self.weight = init.ones_(empty_param(num_features)) if affine else None
        self.bias = empty_param(num_features) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", _lamina.zeros(num_features))
            self.register_buffer("running_var", _lamina.ones(num_features))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)

    def forward(self, x):
        if x.ndim not in self._dims or x.shape[1] != self.num_features:
            raise _lamina.ShapeError(f"{type(self).__name__}({self.num_features}): expected a "
                                     f"{' or '.join(f'{d}-d' for d in self._dims)} input with {self.num_features} "
                                     f"channels on axis 1, got {tuple(x.shape)}")
        use_batch = self.training or not self.track_running_stats
        return ops.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, training=use_batch,
                              momentum=self.momentum, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class BatchNorm1d(_BatchNorm):
    """Over [N, C] or [N, C, L]: per-channel statistics over every other axis."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Over [N, C, H, W]: per-channel statistics over N, H and W."""

    _dims = (4,)


class LRN(Module):
    """Caffe's LRN: across channels x / (k + alpha/size * sum of x^2 over `size` channels)^beta
    (PyTorch's LocalResponseNorm for odd sizes), or within each channel's size x size window."""

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0,
                 across_channels: bool = True):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, float(alpha), float(beta), float(k)
        self.across_channels = bool(across_channels)

    def forward(self, x):
        return ops.lrn(x, self.size, self.alpha, self.beta, self.k, self.across_channels)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class LocalResponseNorm(LRN):
    """PyTorch's name for LRN across channels."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__(size, alpha, beta, k, True)
