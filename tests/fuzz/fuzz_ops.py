"""Fuzz target: the ops' Python boundary. The bytes drive a generator: an op of
lamina.ops, one of its pybind11 signatures (read from its docstring), and for each
argument a small tensor of a random shape and dtype, an extreme integer or float, a bool,
a tuple, None or a word, as the signature's type asks.

Integer and float arguments are converted by lamina (bind/args.hpp), so an int past its
type's range is a lamina.InvalidValueError; pybind11's own dispatcher still rejects a value
that is not a Tensor for a Tensor parameter with TypeError("incompatible function
arguments") before lamina runs (a known open item), so the target lets that one TypeError
through and fails on every other non-lamina exception."""

import re
import sys

import atheris
import driver
import lamina
import numpy as np

TARGET = "ops"

DTYPES = ["float32", "float64", "int64", "int32", "uint8", "bool"]
INTS = [0, 1, -1, 2, 3, -2, 7, 2**31 - 1, 2**31, -2**31, 2**32, 2**63 - 1, -2**63, 2**40]
FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-300, 1e300, float("inf"), -float("inf"), float("nan"), 1e-8, -1e10]
WORDS = ["", "mean", "sum", "none", "batchmean", "max", "ave", "float32", "zeros", "reflect", "\xe9\x00"]
_SIGNATURE = re.compile(r"^(?:\d+\. )?(\w+)\((.*)\) -> ", re.M)


def _params(text: str) -> list[tuple[str, str, bool]]:
    """'x: Tensor, size: int = 5' -> [(name, type, has default)] (commas inside [] kept)."""
    out, depth, start = [], 0, 0
    parts = []
    for i, c in enumerate(text + ","):
        depth += c in "[(" and 1 or (c in "])" and -1 or 0)
        if c == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    for p in filter(None, parts):
        if p in ("*", "/") or p.startswith("*"):
            continue
        name, _, rest = p.partition(":")
        annotation, _, default = rest.partition("=")
        out.append((name.strip(), annotation.strip(), bool(default.strip())))
    return out


def _table():
    table = []
    for name in sorted(dir(lamina.ops)):
        fn = getattr(lamina.ops, name)
        if name.startswith("_") or not callable(fn):
            continue
        for m in _SIGNATURE.finditer(fn.__doc__ or ""):
            if m.group(1) == name:
                table.append((name, fn, _params(m.group(2))))
    return table


TABLE = _table()


def _tensor(fdp, shape):
    dtype = DTYPES[fdp.ConsumeIntInRange(0, len(DTYPES) - 1)]
    n = int(np.prod(shape, dtype=np.int64))
    kind = fdp.ConsumeIntInRange(0, 3)
    if kind == 0:
        values = np.arange(n, dtype=np.float64) - n / 2
    elif kind == 1:
        values = np.array([FLOATS[fdp.ConsumeIntInRange(0, len(FLOATS) - 1)] for _ in range(n)], np.float64)
    else:
        values = np.random.default_rng(fdp.ConsumeIntInRange(0, 255)).standard_normal(n) * 3
    with np.errstate(all="ignore"):
        array = values.astype(dtype).reshape(shape)
    t = driver.guarded(lamina.tensor, array)
    return lamina.tensor(array.astype(np.float32)) if t is None else t


def _shape(fdp):
    return tuple(fdp.ConsumeIntInRange(0, 4) for _ in range(fdp.ConsumeIntInRange(0, 4)))


def _int(fdp):
    return INTS[fdp.ConsumeIntInRange(0, len(INTS) - 1)] if fdp.ConsumeBool() else fdp.ConsumeIntInRange(-5, 5)


def _value(fdp, annotation: str, shape):
    a = annotation.replace("lamina._lamina.", "")
    if a == "Tensor":
        return _tensor(fdp, shape if fdp.ConsumeIntInRange(0, 3) else _shape(fdp))
    if a.startswith(("list[Tensor]", "List[Tensor]", "collections.abc.Sequence[Tensor]")):
        return [_tensor(fdp, shape) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    if a == "int" or a.startswith("typing.SupportsInt"):
        return _int(fdp)
    if a == "float" or a.startswith("typing.SupportsFloat"):
        return FLOATS[fdp.ConsumeIntInRange(0, len(FLOATS) - 1)] if fdp.ConsumeBool() else fdp.ConsumeRegularFloat()
    if a == "bool":
        return fdp.ConsumeBool()
    if a == "str":
        return WORDS[fdp.ConsumeIntInRange(0, len(WORDS) - 1)]
    if "int" in a and ("list" in a.lower() or "sequence" in a.lower()):
        return [_int(fdp) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    choice = fdp.ConsumeIntInRange(0, 6)  # object, Optional[...]: anything the op might take
    return [None, _int(fdp), FLOATS[fdp.ConsumeIntInRange(0, len(FLOATS) - 1)],
            tuple(_int(fdp) for _ in range(fdp.ConsumeIntInRange(0, 3))),
            _tensor(fdp, shape), WORDS[fdp.ConsumeIntInRange(0, len(WORDS) - 1)], fdp.ConsumeBool()][choice]


def seeds():
    return [bytes([i]) + bytes(range(40)) for i in range(len(TABLE))]


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    name, fn, params = TABLE[fdp.ConsumeIntInRange(0, len(TABLE) - 1)]
    shape = _shape(fdp)
    args, kwargs = [], {}
    for pname, annotation, has_default in params:
        if has_default and fdp.ConsumeBool():
            continue
        value = _value(fdp, annotation, shape)
        if re.fullmatch(r"arg\d+", pname):  # pybind11's name for a positional-only argument
            args.append(value)
        else:
            kwargs[pname] = value
    try:
        with np.errstate(all="ignore"):
            out = driver.guarded(fn, *args, **kwargs)
        if isinstance(out, lamina.Tensor):
            np.asarray(out)
    except TypeError as e:
        if "incompatible function arguments" not in str(e):
            raise


if __name__ == "__main__":
    driver.main(sys.modules[__name__])
