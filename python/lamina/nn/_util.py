"""Small helpers shared by the module files."""

from __future__ import annotations

from .. import _lamina


def pair(v, name: str, module: str) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(k, int) for k in v):
        return (int(v[0]), int(v[1]))
    raise _lamina.InvalidValueError(f"{module}: {name} must be an int or an (h, w) pair, got {v!r}")


def empty_param(*shape: int):
    """A new float32 leaf that requires grad (filled by the caller)."""
    return _lamina.zeros(tuple(shape)).requires_grad_()


def positive(v, name: str, module: str) -> int:
    if not isinstance(v, int) or v < 1:
        raise _lamina.InvalidValueError(f"{module}: {name} must be a positive int, got {v!r}")
    return v
