"""Optimizers with torch.optim's interface over lamina tensors; the update is C++.

Every class is one rule of lamina/optim.hpp (the header gives the formulas), run by the same
code as lamina.Solver: clipping by the global gradient norm, then one fused pass per
parameter (decay, the rule's step, w -= step).

Semantics. ``semantics="torch"`` (the default) gives torch.optim's results: SGD's velocity
sums gradients and today's lr multiplies all of it (``v = m v + g; w -= lr v``), and Adam's
eps is added after the bias correction of sqrt(v). ``semantics="caffe"`` gives Caffe's (and
lamina.Solver's) results: ``v = m v + lr g; w -= v``, and ``w -= lr sqrt(1 - b2^t) / (1 -
b1^t) m / (sqrt(v) + eps)``. The two agree for SGD while lr is constant; the other rules are
the same formulas either way. Further differences from torch.optim, all exact:

- a parameter whose ``grad`` is None is skipped, as in torch (``semantics="caffe"`` updates
  it with a zero gradient, as the Solver does);
- state tensors exist (zeros) from the start: ``state_dict()`` lists every parameter, and
  SGD keeps a momentum buffer even with momentum 0;
- torch options lamina does not implement only take their neutral value (``dampening=0``,
  ``lr_decay=0``, ``initial_accumulator_value=0``, RMSprop ``momentum=0`` and
  ``centered=False``, ``amsgrad=False``, ``maximize=False``); anything else raises
  lamina.InvalidValueError naming the option.

Caffe's options work in every class and in every param group: ``lr_mult`` and
``decay_mult`` (the group's lr and weight_decay are multiplied by them), ``regularization``
("L2", or "L1": the decay term is weight_decay * sign(w)); and per optimizer
``clip_gradients`` (the cap on the global L2 norm of all gradients) and ``clip_weights``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import _lamina

__all__ = ["Optimizer", "SGD", "AdaGrad", "Adagrad", "RMSProp", "RMSprop", "AdaDelta", "Adadelta", "Adam", "AdamW"]

# Keys a scheduler or user may keep in a group that lamina does not read.
_PASSIVE_KEYS = {"params", "initial_lr"}


class Optimizer:
    """Base class: an update rule over param groups, torch.optim's interface.

    params: an iterable of lamina.Tensors, or of dicts (param groups) with a "params" entry
    and any of the class's options, which override its defaults for that group.
    """

    _rule = ""          # the C++ rule's name (lamina/optim.hpp)
    _fields: dict = {}  # torch-named option -> GroupOptions field ("momentum", ...)
    _neutral: dict = {}  # torch options lamina takes only at this value

    def __init__(self, params, defaults: dict, *, semantics: str = "torch", clip_gradients: float | None = None,
                 clip_weights: float | None = None, lr_mult: float = 1.0, decay_mult: float = 1.0,
                 regularization: str = "L2"):
        name = type(self).__name__
        if semantics not in ("torch", "caffe"):
            raise _lamina.InvalidValueError(f"{name}: semantics must be 'torch' or 'caffe', got {semantics!r}")
        for key, value in (("clip_gradients", clip_gradients), ("clip_weights", clip_weights)):
            if value is not None and not value >= 0:
                raise _lamina.InvalidValueError(f"{name}: {key} must be >= 0 (or None: off), got {value}")
        self.defaults = {**defaults, "lr_mult": lr_mult, "decay_mult": decay_mult, "regularization": regularization}
        self._semantics, self._clips = semantics, (clip_gradients, clip_weights)
        torch = semantics == "torch"
        self._opt = _lamina._Optimizer(self._rule_for(self.defaults), torch, torch,
                                       -1.0 if clip_gradients is None else float(clip_gradients),
                                       -1.0 if clip_weights is None else float(clip_weights), not torch)
        self.param_groups: list[dict] = []
        if isinstance(params, _lamina.Tensor):
            raise _lamina.DTypeError(f"{name}: params must be an iterable of Tensors or of dicts, got one Tensor")
        groups = list(params)
        if not groups:
            raise _lamina.InvalidValueError(f"{name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ---- groups ----
    def _rule_for(self, group: dict) -> str:
        return self._rule

    def _options(self, group: dict) -> dict:
        """The group's torch-named options as lamina/optim.hpp's GroupOptions fields."""
        name = type(self).__name__

        def number(key, value):
            try:
                return float(value)
            except (TypeError, ValueError):
                raise _lamina.InvalidValueError(f"{name}: {key} must be a number, got {value!r}") from None

        out = {"lr_mult": number("lr_mult", group["lr_mult"]), "decay_mult": number("decay_mult", group["decay_mult"])}
        regularization = group["regularization"]
        if regularization not in ("L1", "L2"):
            raise _lamina.InvalidValueError(f"{name}: regularization must be 'L1' or 'L2', got {regularization!r}")
        out["l1"] = regularization == "L1"
        for key, neutral in self._neutral.items():
            if group.get(key, neutral) != neutral:
                raise _lamina.InvalidValueError(f"{name}: {key}={group[key]!r} is not supported (only {neutral!r})")
        if self._rule_for(group) != self._opt_rule:
            raise _lamina.InvalidValueError(f"{name}: every param group needs the same rule; this one asks for "
                                            f"{self._rule_for(group)}, the optimizer is {self._opt_rule}")
        for key, field in self._fields.items():
            value = group[key]
            if isinstance(field, tuple):  # betas
                values = list(value) if isinstance(value, (tuple, list)) else []
                if len(values) != len(field):
                    raise _lamina.InvalidValueError(f"{name}: {key} must be {len(field)} numbers, got {value!r}")
                out.update({f: number(key, v) for f, v in zip(field, values)})
            else:
                out[field] = number(key, value)
        return out

    semantics = property(lambda self: self._semantics, doc="'torch' or 'caffe' (fixed at construction).")
    clip_gradients = property(lambda self: self._clips[0], doc="The global gradient norm cap (None: off).")
    clip_weights = property(lambda self: self._clips[1], doc="The weights' clamp (None: off).")

    @property
    def _opt_rule(self) -> str:
        return self._rule_for(self.defaults)

    def add_param_group(self, param_group: dict) -> None:
        """Adds a group: its options default to the optimizer's; unknown keys raise."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise _lamina.DTypeError(f"{name}: a param group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        if "params" not in group:
            raise _lamina.InvalidValueError(f"{name}: a param group needs a 'params' entry")
        params = group["params"]
        params = [params] if isinstance(params, _lamina.Tensor) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, _lamina.Tensor):
                raise _lamina.DTypeError(f"{name}: params[{i}] is a {type(p).__name__}, not a lamina.Tensor")
        unknown = sorted(set(group) - set(self.defaults) - _PASSIVE_KEYS)
        if unknown:
            raise _lamina.InvalidValueError(f"{name}: unknown option {unknown[0]!r} in a param group (known: "
                                            f"{', '.join(sorted(self.defaults))})")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        group["params"] = params
        self._opt.add_param_group(params, self._options(group))
        self.param_groups.append(group)

    # ---- training ----
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears every parameter's grad: to None, or to zeros in place."""
        self._opt.zero_grad(bool(set_to_none))

    def step(self, closure: Callable[[], Any] | None = None, *, iter_size: int = 1):
        """One update of every parameter from its grad (a closure, if given, runs first and
        its result is returned). iter_size: the grads sum that many passes (Caffe's
        iter_size); they are divided by it."""
        loss = closure() if closure is not None else None
        for i, group in enumerate(self.param_groups):
            self._opt.set_group_options(i, self._options(group))
        self._opt.step(int(iter_size))
        return loss

    # ---- state ----
    def _history_names(self) -> list[str]:
        return list(self._opt.history_names)

    def state_dict(self) -> dict:
        """{"state": {index: {"step": int, <history name>: Tensor}}, "param_groups": [{options,
        "params": [indices]}], "rule", "semantics"}: copies, for an exact resume."""
        names = self._history_names()
        state = {i: {"step": int(step), **{n: t.clone() for n, t in zip(names, history)}}
                 for i, (step, history) in enumerate(self._opt.state())}
        groups, start = [], 0
        for group in self.param_groups:
            g = {k: v for k, v in group.items() if k != "params"}
            g["params"] = list(range(start, start + len(group["params"])))
            start += len(group["params"])
            groups.append(g)
        return {"state": state, "param_groups": groups, "rule": self._opt_rule, "semantics": self.semantics}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restores a state_dict() of an optimizer of the same class over parameters of the
        same shapes: training continues bit-identically. Everything is checked first."""
        name = type(self).__name__
        if not isinstance(state_dict, dict):
            raise _lamina.InvalidValueError(f"{name}.load_state_dict: expected a dict, got {type(state_dict).__name__}")
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise _lamina.InvalidValueError(f"{name}.load_state_dict: the state dict has no '{key}'")
        for key, mine in (("rule", self._opt_rule), ("semantics", self.semantics)):
            if state_dict.get(key, mine) != mine:
                raise _lamina.InvalidValueError(f"{name}.load_state_dict: '{key}' is {state_dict[key]!r}, "
                                                f"this optimizer's is {mine!r}")
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise _lamina.InvalidValueError(f"{name}.load_state_dict: {len(groups)} param groups for "
                                            f"{len(self.param_groups)}")
        for i, (saved, group) in enumerate(zip(groups, self.param_groups)):
            if len(saved.get("params", ())) != len(group["params"]):
                raise _lamina.InvalidValueError(f"{name}.load_state_dict: param group {i} has "
                                                f"{len(saved.get('params', ()))} params for {len(group['params'])}")
            unknown = sorted(set(saved) - set(self.defaults) - _PASSIVE_KEYS)
            if unknown:
                raise _lamina.InvalidValueError(f"{name}.load_state_dict: param group {i} has unknown option "
                                                f"{unknown[0]!r}")
        names, count = self._history_names(), sum(len(g["params"]) for g in self.param_groups)
        state = state_dict["state"]
        entries = []
        for i in range(count):
            entry = state.get(i, state.get(str(i)))
            if entry is None:
                raise _lamina.InvalidValueError(f"{name}.load_state_dict: no state for parameter {i}")
            for key in ["step", *names]:
                if key not in entry:
                    raise _lamina.InvalidValueError(f"{name}.load_state_dict: parameter {i}'s state has no '{key}'")
            tensors = [v if isinstance(v, _lamina.Tensor) else _lamina.from_numpy(np.ascontiguousarray(v))
                       for v in (entry[n] for n in names)]
            entries.append((int(entry["step"]), tensors))
        merged = [{**group, **{k: v for k, v in saved.items() if k != "params"}}
                  for saved, group in zip(groups, self.param_groups)]
        for i, group in enumerate(merged):
            self._opt.set_group_options(i, self._options(group))  # checked; step() syncs from param_groups
        self._opt.load_state(entries)
        for group, new in zip(self.param_groups, merged):
            group.update({k: v for k, v in new.items() if k != "params"})

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])


class SGD(Optimizer):
    """Stochastic gradient descent with momentum and Nesterov momentum (torch.optim.SGD;
    Caffe's SGD and Nesterov solvers with semantics="caffe")."""

    _fields = {"lr": "lr", "momentum": "momentum", "weight_decay": "weight_decay"}
    _neutral = {"dampening": 0, "maximize": False}

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0, weight_decay: float = 0,
                 nesterov: bool = False, *, maximize: bool = False, **kw):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                           nesterov=bool(nesterov), maximize=maximize), **kw)

    def _rule_for(self, group: dict) -> str:
        return "Nesterov" if group.get("nesterov", self.defaults["nesterov"]) else "SGD"


class AdaGrad(Optimizer):
    """AdaGrad (torch.optim.Adagrad, Caffe's AdaGrad): v += g^2; w -= lr g / (sqrt(v) + eps)."""

    _rule = "AdaGrad"
    _fields = {"lr": "lr", "eps": "delta", "weight_decay": "weight_decay"}
    _neutral = {"lr_decay": 0, "initial_accumulator_value": 0, "maximize": False}

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *, maximize: bool = False, **kw):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                           initial_accumulator_value=initial_accumulator_value, eps=eps,
                                           maximize=maximize), **kw)


class RMSProp(Optimizer):
    """RMSProp (torch.optim.RMSprop without momentum or centering, Caffe's RMSProp):
    v = alpha v + (1 - alpha) g^2; w -= lr g / (sqrt(v) + eps)."""

    _rule = "RMSProp"
    _fields = {"lr": "lr", "alpha": "rms_decay", "eps": "delta", "weight_decay": "weight_decay"}
    _neutral = {"momentum": 0, "centered": False, "maximize": False}

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
                 momentum: float = 0, centered: bool = False, *, maximize: bool = False, **kw):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                           centered=centered, maximize=maximize), **kw)


class AdaDelta(Optimizer):
    """AdaDelta (torch.optim.Adadelta, Caffe's AdaDelta, whose momentum is rho)."""

    _rule = "AdaDelta"
    _fields = {"lr": "lr", "rho": "momentum", "eps": "delta", "weight_decay": "weight_decay"}
    _neutral = {"maximize": False}

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0, *,
                 maximize: bool = False, **kw):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize), **kw)


class Adam(Optimizer):
    """Adam (torch.optim.Adam, Caffe's Adam with momentum, momentum2, delta = betas, eps);
    weight_decay is the L2 term added to the gradient."""

    _rule = "Adam"
    _fields = {"lr": "lr", "betas": ("momentum", "momentum2"), "eps": "delta", "weight_decay": "weight_decay"}
    _neutral = {"amsgrad": False, "maximize": False}

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False, **kw):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                           amsgrad=amsgrad, maximize=maximize), **kw)


class AdamW(Adam):
    """Adam with decoupled weight decay (torch.optim.AdamW): w *= 1 - lr weight_decay, then
    Adam's step from the gradient alone."""

    _rule = "AdamW"

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False, **kw):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, **kw)


Adagrad, RMSprop, Adadelta = AdaGrad, RMSProp, AdaDelta
