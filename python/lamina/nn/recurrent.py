"""LSTM, GRU and RNN with PyTorch's interface and parameter names (weight_ih_l0 [G, D],
weight_hh_l0 [G, H], bias_ih_l0, bias_hh_l0; gate rows in PyTorch's order), over the C++
recurrent ops that Caffe's LSTM and RNN layers also run."""

from __future__ import annotations

import math

from .. import _lamina
from .._lamina import ops
from . import init
from ._util import empty_param, positive
from .module import Module

__all__ = ["LSTM", "GRU", "RNN"]


class _Recurrent(Module):
    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False):
        super().__init__()
        name = type(self).__name__
        if bidirectional:
            raise _lamina.InvalidValueError(f"{name}: bidirectional layers are not supported")
        if not 0.0 <= dropout < 1.0:
            raise _lamina.InvalidValueError(f"{name}: dropout must be in [0, 1), got {dropout}")
        self.input_size = positive(input_size, "input_size", name)
        self.hidden_size = positive(hidden_size, "hidden_size", name)
        self.num_layers = positive(num_layers, "num_layers", name)
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        g, bound = self._gates * hidden_size, 1.0 / math.sqrt(hidden_size)
        for k in range(num_layers):
            d = input_size if k == 0 else hidden_size
            names = [(f"weight_ih_l{k}", (g, d)), (f"weight_hh_l{k}", (g, hidden_size))]
            if bias:
                names += [(f"bias_ih_l{k}", (g,)), (f"bias_hh_l{k}", (g,))]
            for pname, shape in names:
                setattr(self, pname, init.uniform_(empty_param(*shape), -bound, bound))

    def _layer(self, k: int, x, h0, c0):
        raise NotImplementedError

    def forward(self, x, hx=None):
        if x.ndim != 3:
            raise _lamina.ShapeError(f"{type(self).__name__}: expected x [T, N, D] (or [N, T, D] with batch_first), "
                                     f"got {tuple(x.shape)}")
        if self.batch_first:
            x = ops.transpose(x, [1, 0, 2])
        h0s, c0s = self._initial(hx)
        hs, cs = [], []
        for k in range(self.num_layers):
            if k > 0 and self.dropout > 0:
                x = ops.dropout(x, self.dropout, self.training)
            x, h, c = self._layer(k, x, h0s[k], c0s[k])
            hs.append(h.reshape(1, *h.shape))
            if c is not None:
                cs.append(c.reshape(1, *c.shape))
        y = ops.transpose(x, [1, 0, 2]) if self.batch_first else x
        return y, self._final(ops.concat(hs, 0), ops.concat(cs, 0) if cs else None)

    def _initial(self, hx):
        none = [None] * self.num_layers
        if hx is None:
            return none, none
        h0, c0 = hx if isinstance(hx, tuple) else (hx, None)
        return [h0[k] for k in range(self.num_layers)], (none if c0 is None else [c0[k] for k in range(self.num_layers)])

    def _final(self, h, c):
        return h

    def _weights(self, k: int):
        b = (getattr(self, f"bias_ih_l{k}"), getattr(self, f"bias_hh_l{k}")) if self.bias else (None, None)
        return getattr(self, f"weight_ih_l{k}"), b[0], getattr(self, f"weight_hh_l{k}"), b[1]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        return s + (", batch_first=True" if self.batch_first else "")


class LSTM(_Recurrent):
    """forward(x, (h0, c0)=None) -> (y, (h_n, c_n)); h0, c0 [num_layers, N, H]."""

    _gates = 4

    def _layer(self, k, x, h0, c0):
        w_x, b_x, w_h, b_h = self._weights(k)
        return ops.lstm(x, w_x, b_x, w_h, b_h, h0, c0, gates="pytorch")

    def _final(self, h, c):
        return (h, c)


class GRU(_Recurrent):
    """forward(x, h0=None) -> (y, h_n); gates r, z, n as in PyTorch."""

    _gates = 3

    def _layer(self, k, x, h0, c0):
        w_x, b_x, w_h, b_h = self._weights(k)
        return ops.gru(x, w_x, b_x, w_h, b_h, h0)


class RNN(_Recurrent):
    """forward(x, h0=None) -> (y, h_n); h_t = tanh (or relu) of the gates."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False):
        if nonlinearity not in ("tanh", "relu"):
            raise _lamina.InvalidValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)
        self.nonlinearity = nonlinearity

    def _layer(self, k, x, h0, c0):
        w_x, b_x, w_h, b_h = self._weights(k)
        return ops.rnn(x, w_x, b_x, w_h, b_h, h0, nonlinearity=self.nonlinearity)
