"""Module: parameters, buffers and submodules registered by assignment, as in torch.nn.

    class MLP(lamina.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = lamina.nn.Linear(64, 32)   # a submodule
            self.fc2 = lamina.nn.Linear(32, 10)
        def forward(self, x):
            return self.fc2(lamina.ops.relu(self.fc1(x)))

A tensor assigned to a module is a parameter when it is a leaf that requires grad
(``lamina.nn.Parameter(t)`` makes one); ``register_buffer`` keeps state that is saved but
not trained (batch norm's running statistics). Everything a module computes runs through
lamina.ops, so the tape gives every gradient.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Callable, Iterator

import numpy as np

from .. import _lamina
from .._lamina import Tensor

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict"]


def Parameter(data, requires_grad: bool = True) -> Tensor:  # noqa: N802 - torch's name
    """A leaf tensor that requires grad: assigned to a module, it becomes a parameter.

    A lamina Tensor is detached (sharing its memory); anything else is copied as float32.
    """
    t = data.detach() if isinstance(data, Tensor) else _lamina.tensor(np.asarray(data, dtype=np.float32))
    return t.requires_grad_(requires_grad)


def _is_parameter(value) -> bool:
    return isinstance(value, Tensor) and value.is_leaf and value.requires_grad


class Module:
    """Base class of every layer and model; subclasses define ``forward``."""

    training: bool

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration -------------------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise _lamina.AutogradError(
                f"{type(self).__name__}: assign parameters and modules after calling Module.__init__()")
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Module):
            self._modules[name] = value
        elif _is_parameter(value):
            self._parameters[name] = value
        elif name in self.__dict__.get("_buffer_names", ()) and (value is None or isinstance(value, Tensor)):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str):
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Tensor | None) -> None:
        """State saved with the module (state_dict) but not trained."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise _lamina.DTypeError(f"register_buffer: '{name}' must be a lamina.Tensor or None")
        self.__dict__.setdefault("_buffer_names", set()).add(name)
        self.__dict__.pop(name, None)
        self._parameters.pop(name, None)
        self._buffers[name] = tensor

    def register_parameter(self, name: str, tensor: Tensor | None) -> None:
        if tensor is not None and not _is_parameter(tensor):
            raise _lamina.AutogradError(f"register_parameter: '{name}' must be a leaf tensor that requires grad")
        if tensor is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, tensor)

    def add_module(self, name: str, module: "Module | None") -> None:
        if module is not None and not isinstance(module, Module):
            raise _lamina.InvalidValueError(f"add_module: '{name}' is a {type(module).__name__}, not a Module")
        self._modules[name] = module

    # ---- calling ----------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- traversal --------------------------------------------------------------------
    def named_modules(self, prefix: str = "", memo: set | None = None) -> Iterator[tuple[str, "Module"]]:
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def _named(self, table: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_prefix, m in mods:
            for name, t in getattr(m, table).items():
                if t is None or id(t) in seen:  # a tensor shared by two modules is listed once
                    continue
                seen.add(id(t))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients ----------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = _lamina.zeros(p.shape, dtype=p.dtype)

    # ---- dtype and device -------------------------------------------------------------
    def to(self, target) -> "Module":
        """``to("cpu")`` (the only device today) or ``to(lamina.float64)``: parameters and
        buffers are converted in place, keeping their names and requires_grad."""
        if isinstance(target, str):
            if target != "cpu":
                raise _lamina.DeviceError(f"Module.to: device '{target}' is not available in this build")
            return self
        dtype = np.dtype(target)
        for m in self.modules():
            for table in (m._parameters, m._buffers):
                for name, t in list(table.items()):
                    if t is not None and np.dtype(t.dtype) != dtype:
                        converted = t.detach().to(dtype)
                        table[name] = converted.requires_grad_(t.requires_grad) if table is m._parameters else converted
        return self

    def float(self) -> "Module":
        return self.to(np.float32)

    def double(self) -> "Module":
        return self.to(np.float64)

    # ---- state ------------------------------------------------------------------------
    def state_dict(self, prefix: str = "") -> "OrderedDict[str, Tensor]":
        """Every parameter and buffer by its dotted name (detached, sharing memory)."""
        out = OrderedDict()
        for mod_prefix, m in self.named_modules(prefix.rstrip(".")):
            for table in (m._parameters, m._buffers):
                for name, t in table.items():
                    if t is not None:
                        out[f"{mod_prefix}.{name}" if mod_prefix else name] = t.detach()
        return out

    def load_state_dict(self, state_dict, strict: bool = True) -> tuple[list, list]:
        """Copies tensors (or arrays) by name into the parameters and buffers. Every key,
        shape and dtype is checked before anything is copied: on an error nothing changed.
        strict: a missing or unexpected key is an error; otherwise they are returned as
        (missing, unexpected). A path loads the safetensors file ``save`` wrote."""
        if isinstance(state_dict, (str, os.PathLike)):
            state_dict = load(state_dict)
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing keys " + ", ".join(missing))
            if unexpected:
                parts.append("unexpected keys " + ", ".join(unexpected))
            raise _lamina.InvalidValueError(f"load_state_dict of {type(self).__name__}: " + "; ".join(parts))
        plan = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            src = value.detach() if isinstance(value, Tensor) else np.asarray(value)
            if tuple(src.shape) != tuple(target.shape):
                raise _lamina.ShapeError(f"load_state_dict of {type(self).__name__}: '{key}' has shape "
                                         f"{tuple(src.shape)}, the module's is {tuple(target.shape)}")
            if np.dtype(src.dtype).kind != np.dtype(target.dtype).kind:
                raise _lamina.DTypeError(f"load_state_dict of {type(self).__name__}: '{key}' is {src.dtype}, "
                                         f"the module's is {target.dtype}")
            plan.append((target, src))
        from ..autograd import no_grad

        with no_grad():
            for target, src in plan:  # through the tensor: the write bumps its version
                target[...] = src if isinstance(src, Tensor) else np.ascontiguousarray(src, dtype=target.dtype)
        return missing, unexpected

    def save(self, path: str | os.PathLike) -> None:
        """Writes state_dict() to a safetensors file, atomically."""
        save(self.state_dict(), path)

    # ---- printing ---------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ")" if not lines else head + "\n" + "\n".join(lines) + "\n)"


def save(state_dict, path: str | os.PathLike) -> None:
    """Writes named tensors to a safetensors file (atomically: a reader never sees half)."""
    _lamina.save_safetensors(os.fspath(path), [(k, v.detach().contiguous()) for k, v in state_dict.items()])


def load(path: str | os.PathLike) -> "OrderedDict[str, Tensor]":
    """Reads a safetensors file of named tensors (checked whole before anything is made)."""
    tensors, _ = _lamina.load_safetensors(os.fspath(path))
    return OrderedDict(tensors)


class Sequential(Module):
    """Modules applied in order: ``Sequential(Linear(4, 8), ReLU(), Linear(8, 2))``, or from
    an OrderedDict of named modules."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self._modules)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters the parent sees."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules) -> "ModuleList":
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of modules whose parameters the parent sees."""

    def __init__(self, modules=None):
        super().__init__()
        for name, m in (modules or {}).items():
            self.add_module(name, m)

    def __getitem__(self, name: str) -> Module:
        return self._modules[name]

    def __setitem__(self, name: str, module: Module) -> None:
        self.add_module(name, module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()
