"""LSTM, GRU and RNN with PyTorch's interface and parameter names (weight_ih_l0 [G, D],
weight_hh_l0 [G, H], bias_ih_l0, bias_hh_l0; gate rows in PyTorch's order; a bidirectional
layer's reverse direction adds the same names with the suffix _reverse), over the C++
recurrent ops that Caffe's LSTM and RNN layers also run. A bidirectional layer runs the
reverse direction on the sequence reversed in time and joins the two outputs along the
features ([T, N, 2H]); h_n and c_n hold layer k's forward state at 2k, its reverse at 2k + 1."""

from __future__ import annotations

import math

from .. import _lamina
from .._lamina import arange, ops
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
        if not 0.0 <= dropout < 1.0:
            raise _lamina.InvalidValueError(f"{name}: dropout must be in [0, 1), got {dropout}")
        self.input_size = positive(input_size, "input_size", name)
        self.hidden_size = positive(hidden_size, "hidden_size", name)
        self.num_layers = positive(num_layers, "num_layers", name)
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional = bool(bidirectional)
        self._directions = ("", "_reverse") if self.bidirectional else ("",)
        g, bound = self._gates * hidden_size, 1.0 / math.sqrt(hidden_size)
        for k in range(num_layers):
            d = input_size if k == 0 else hidden_size * len(self._directions)
            for suffix in self._directions:
                names = [(f"weight_ih_l{k}{suffix}", (g, d)), (f"weight_hh_l{k}{suffix}", (g, hidden_size))]
                if bias:
                    names += [(f"bias_ih_l{k}{suffix}", (g,)), (f"bias_hh_l{k}{suffix}", (g,))]
                for pname, shape in names:
                    setattr(self, pname, init.uniform_(empty_param(*shape), -bound, bound))

    def _run(self, weights, x, h0, c0):
        raise NotImplementedError

    def _layer(self, k: int, x, h0s, c0s):
        """Layer k over x [T, N, D], each direction from its own initial state: (y, [h per
        direction], [c per direction])."""
        ys, hs, cs = [], [], []
        for j, suffix in enumerate(self._directions):
            back = arange(x.shape[0] - 1, -1, -1) if suffix else None
            y, h, c = self._run(self._weights(k, suffix), x[back] if suffix else x, h0s[j], c0s[j])
            ys.append(y[back] if suffix else y)
            hs.append(h)
            cs.append(c)
        return (ops.concat(ys, 2) if len(ys) > 1 else ys[0]), hs, cs

    def forward(self, x, hx=None):
        if x.ndim != 3:
            raise _lamina.ShapeError(f"{type(self).__name__}: expected x [T, N, D] (or [N, T, D] with batch_first), "
                                     f"got {tuple(x.shape)}")
        if self.batch_first:
            x = ops.transpose(x, [1, 0, 2])
        h0s, c0s = self._initial(hx)
        hs, cs = [], []
        n = len(self._directions)
        for k in range(self.num_layers):
            if k > 0 and self.dropout > 0:
                x = ops.dropout(x, self.dropout, self.training)
            x, h, c = self._layer(k, x, h0s[k * n:(k + 1) * n], c0s[k * n:(k + 1) * n])
            hs += [s.reshape(1, *s.shape) for s in h]
            cs += [s.reshape(1, *s.shape) for s in c if s is not None]
        y = ops.transpose(x, [1, 0, 2]) if self.batch_first else x
        return y, self._final(ops.concat(hs, 0), ops.concat(cs, 0) if cs else None)

    def _initial(self, hx):
        count = self.num_layers * len(self._directions)  # h0 and c0: [count, N, H]
        none = [None] * count
        if hx is None:
            return none, none
        h0, c0 = hx if isinstance(hx, tuple) else (hx, None)
        for s in (h0, c0):
            if s is not None and (s.ndim != 3 or s.shape[0] != count):
                raise _lamina.ShapeError(f"{type(self).__name__}: the initial state must be [{count}, N, "
                                         f"{self.hidden_size}] (layers x directions), got {tuple(s.shape)}")
        return [h0[k] for k in range(count)], (none if c0 is None else [c0[k] for k in range(count)])

    def _final(self, h, c):
        return h

    def _weights(self, k: int, suffix: str = ""):
        def get(name):
            return getattr(self, f"{name}_l{k}{suffix}")
        b = (get("bias_ih"), get("bias_hh")) if self.bias else (None, None)
        return get("weight_ih"), b[0], get("weight_hh"), b[1]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        s += ", batch_first=True" if self.batch_first else ""
        return s + (", bidirectional=True" if self.bidirectional else "")


class LSTM(_Recurrent):
    """forward(x, (h0, c0)=None) -> (y, (h_n, c_n)); h0, c0 [num_layers, N, H]."""

    _gates = 4

    def _run(self, weights, x, h0, c0):
        return ops.lstm(x, *weights, h0, c0, gates="pytorch")

    def _final(self, h, c):
        return (h, c)


class GRU(_Recurrent):
    """forward(x, h0=None) -> (y, h_n); gates r, z, n as in PyTorch."""

    _gates = 3

    def _run(self, weights, x, h0, c0):
        return ops.gru(x, *weights, h0)


class RNN(_Recurrent):
    """forward(x, h0=None) -> (y, h_n); h_t = tanh (or relu) of the gates."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False):
        if nonlinearity not in ("tanh", "relu"):
            raise _lamina.InvalidValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)
        self.nonlinearity = nonlinearity

    def _run(self, weights, x, h0, c0):
        return ops.rnn(x, *weights, h0, nonlinearity=self.nonlinearity)
