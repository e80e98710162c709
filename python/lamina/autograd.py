"""The tape's Python surface: no_grad, grad, custom differentiable functions, gradcheck.

Every gradient comes from the C++ tape; this module only adds Python conveniences.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Sequence

import numpy as np

from . import _lamina
from ._lamina import Tensor


@contextlib.contextmanager
def no_grad():
    """Ops inside the block record nothing (like torch.no_grad)."""
    previous = _lamina._grad_enabled()
    _lamina._set_grad_enabled(False)
    try:
        yield
    finally:
        _lamina._set_grad_enabled(previous)


def grad(outputs, inputs, grad_outputs=None, retain_graph=False, allow_unused=False):
    """Gradients of `outputs` with respect to `inputs`, without touching any .grad.

    Returns a list (one entry per input; None for an unused input when allow_unused).
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    seeds = [] if grad_outputs is None else ([grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs))
    return _lamina._grad(outputs, inputs, seeds, retain_graph, allow_unused)


class Context:
    """What a custom Function's forward leaves for its backward."""

    def __init__(self):
        self.saved_tensors: tuple = ()

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors


class Function:
    """A differentiable op written in Python. Subclass it with two static methods:

        class Cube(lamina.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x * x
            @staticmethod
            def backward(ctx, dy):
                (x,) = ctx.saved_tensors
                return dy * 3 * x * x

        y = Cube.apply(x)   # joins the tape like a built-in op

    forward runs without recording; backward gets one gradient per output and returns
    one per tensor argument of forward (None where none is needed).
    """

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        ctx = Context()
        with no_grad():
            result = cls.forward(ctx, *args)
        outputs = list(result) if isinstance(result, (tuple, list)) else [result]
        tensor_args = [a for a in args if isinstance(a, Tensor)]
        # An output that is an input would get this node as its history: give it a copy.
        outputs = [o.clone() if any(o is a for a in tensor_args) else o for o in outputs]

        def backward(*grads):
            with no_grad():
                return cls.backward(ctx, *grads)

        _lamina._record_function(cls.__name__, tensor_args, outputs, backward)
        return tuple(outputs) if isinstance(result, (tuple, list)) else outputs[0]


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence[Tensor], eps: float = 1e-6, rtol: float = 1e-4,
              atol: float = 1e-6, kink: float = 1e-3, seed: int = 0, raise_exception: bool = True) -> bool:
    """Checks the tape's gradients of `fn` at `inputs` against central finite differences.

    Inputs must be float64 tensors (the check is meaningless in float32). A non-scalar
    output is reduced with a fixed random projection, so every output element matters.
    An entry passes when |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|, 1).
    Entries within a kink (where the one-sided differences disagree by more than `kink`,
    e.g. relu at 0 or max-pool ties) are skipped, like Caffe's kink window.
    """
    for i, x in enumerate(inputs):
        if x.dtype != np.float64:
            raise _lamina.DTypeError(f"gradcheck: input {i} is {x.dtype}; gradcheck needs float64 inputs")
    leaves = [x.detach().clone().requires_grad_() for x in inputs]
    out = fn(*leaves)
    rng = np.random.default_rng(seed)
    projection = _lamina.from_numpy(rng.standard_normal(out.shape))

    def scalar(*xs):
        return float(np.sum(np.asarray(fn(*xs)) * np.asarray(projection)))

    analytic = grad((out * projection).sum(), leaves, allow_unused=True)
    with no_grad():
        f0 = scalar(*leaves)  # every perturbation is undone, so f at the point is computed once
        for i, x in enumerate(leaves):
            data = np.asarray(x)  # a view: perturbing it perturbs the input
            got = np.zeros(data.shape) if analytic[i] is None else np.asarray(analytic[i])
            flat, got_flat = data.reshape(-1), got.reshape(-1)
            for k in range(flat.size):
                orig = flat[k]
                flat[k] = orig + eps
                fp = scalar(*leaves)
                flat[k] = orig - eps
                fm = scalar(*leaves)
                flat[k] = orig
                numeric = (fp - fm) / (2 * eps)
                if abs((fp - f0) / eps - (f0 - fm) / eps) > kink * max(1.0, abs(numeric)):
                    continue  # a kink within eps: the derivative is not defined here
                a = got_flat[k]
                if abs(a - numeric) > atol + rtol * max(abs(a), abs(numeric), 1.0):
                    if raise_exception:
                        raise AssertionError(f"gradcheck: input {i} entry {k} (of shape {tuple(data.shape)}): "
                                             f"analytic {a:.8g} vs numeric {numeric:.8g}")
                    return False
    return True
