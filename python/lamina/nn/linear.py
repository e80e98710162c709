"""Linear, Bilinear-free basics: Linear, Identity, Flatten, Embedding, Dropout."""

from __future__ import annotations

from .. import _lamina
from .._lamina import ops
from . import init
from ._util import empty_param, positive
from .module import Module

__all__ = ["Linear", "Identity", "Flatten", "Embedding", "Dropout"]


class Linear(Module):
    """y = x weight^T + bias, weight [out_features, in_features] (Caffe's InnerProduct layout).

    Fillers: PyTorch's default (uniform in +-1/sqrt(in_features)) unless weight_filler /
    bias_filler name a Caffe filler ("xavier", {"type": "gaussian", "std": 0.01}, ...).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, weight_filler=None,
                 bias_filler=None):
        super().__init__()
        self.in_features = positive(in_features, "in_features", "Linear")
        self.out_features = positive(out_features, "out_features", "Linear")
        self.weight = empty_param(out_features, in_features)
        self.bias = empty_param(out_features) if bias else None
        init.init_params(self.weight, self.bias, in_features, weight_filler, bias_filler)

    def forward(self, x):
        if x.ndim == 2:
            return ops.linear(x, self.weight, self.bias)
        lead = tuple(x.shape[:-1])  # any leading axes, like torch.nn.Linear
        return ops.linear(x.reshape(-1, self.in_features), self.weight, self.bias).reshape(*lead, self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    def forward(self, x):
        return x


class Flatten(Module):
    """Joins axes start_dim..end_dim into one (a view)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        nd = x.ndim
        s = self.start_dim + nd if self.start_dim < 0 else self.start_dim
        e = self.end_dim + nd if self.end_dim < 0 else self.end_dim
        if not (0 <= s <= e < nd):
            raise _lamina.OutOfRangeError(f"Flatten: dims {self.start_dim}..{self.end_dim} do not fit a {nd}-d input")
        shape = tuple(x.shape)
        return x.reshape(*shape[:s], -1, *shape[e + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Embedding(Module):
    """Rows of weight [num_embeddings, embedding_dim] picked by integer indices (Caffe's
    Embed layer runs the same op). Default filler: standard normal, as PyTorch."""

    def __init__(self, num_embeddings: int, embedding_dim: int, weight_filler=None):
        super().__init__()
        self.num_embeddings = positive(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = positive(embedding_dim, "embedding_dim", "Embedding")
        self.weight = empty_param(num_embeddings, embedding_dim)
        init._fill_named(self.weight, weight_filler or {"type": "gaussian", "std": 1.0})

    def forward(self, indices):
        return ops.embedding(indices, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class Dropout(Module):
    """Inverted dropout in training mode, the identity in eval mode."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise _lamina.InvalidValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = float(p)

    def forward(self, x):
        return ops.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
