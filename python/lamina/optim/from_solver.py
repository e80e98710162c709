"""A solver.prototxt's update for tensors of your own: Caffe's solver settings for lamina.nn
modules (or any leaf tensors), with the results lamina.Solver would give them.

    opt, sched = lamina.optim.from_solver(model.parameters(), "lenet_solver.prototxt")
    for it in range(max_iter):
        opt.zero_grad(); loss(model).backward(); opt.step(); sched.step()
"""

from __future__ import annotations

import os

from .. import _lamina
from . import lr_scheduler
from .optimizer import SGD, AdaDelta, AdaGrad, Adam, AdamW, RMSProp

__all__ = ["from_solver"]

_CLASSES = {"SGD": SGD, "Nesterov": SGD, "AdaGrad": AdaGrad, "RMSProp": RMSProp, "AdaDelta": AdaDelta,
            "Adam": Adam, "AdamW": AdamW}


def from_solver(params, solver: str | os.PathLike, semantics: str = "caffe"):
    """(optimizer, scheduler) for `params` (tensors or param-group dicts, which may carry
    lr_mult / decay_mult) with the update of `solver`: a solver.prototxt path, or its text.
    Type, base_lr, momentum(2), delta, rms_decay, weight_decay, regularization_type,
    clip_gradients, clip_weights and the lr policy are read by the C++ code the Solver uses;
    fields about nets, testing and snapshots are ignored. semantics="caffe" (the default)
    updates exactly as lamina.Solver does. The scheduler starts at iteration 0; call its
    step() after each optimizer step."""
    source = os.fspath(solver)
    is_text = not os.path.exists(source) and (":" in source or "{" in source)
    kind, group, clip_gradients, clip_weights, policy = _lamina._solver_settings(source, is_text)
    cls = _CLASSES.get(kind)
    if cls is None:
        raise _lamina.InvalidValueError(f"from_solver: solver type {kind!r} has no lamina.optim class")
    kwargs = {}
    for torch_name, field in cls._fields.items():
        kwargs[torch_name] = tuple(group[f] for f in field) if isinstance(field, tuple) else group[field]
    if kind == "Nesterov":
        kwargs["nesterov"] = True
    opt = cls(params, **kwargs, semantics=semantics, regularization="L1" if group["l1"] else "L2",
              clip_gradients=None if clip_gradients < 0 else clip_gradients,
              clip_weights=None if clip_weights < 0 else clip_weights)
    name = policy.pop("policy")
    return opt, lr_scheduler.LRScheduler(opt, name, **policy)
