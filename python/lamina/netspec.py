"""Nets written in Python that become prototxt (pycaffe's NetSpec, for lamina).

    from lamina import NetSpec, layers as L, params as P

    n = NetSpec()
    n.data, n.label = L.Input(ntop=2, shape=[dict(dim=[64, 1, 28, 28]), dict(dim=[64])])
    n.conv1 = L.Convolution(n.data, kernel_size=5, num_output=20, weight_filler=dict(type="xavier"))
    n.pool1 = L.Pooling(n.conv1, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n.relu1 = L.ReLU(n.pool1, in_place=True)
    n.loss = L.SoftmaxWithLoss(n.ip2, n.label)
    text = n.to_proto()            # prototxt; lamina.Net(text) builds it

`L.<Type>` exists for every registered layer type (lamina.layer_types(), including ones
registered from Python) with no Python per layer: keyword arguments that are fields of
LayerParameter (loss_weight, param, include, propagate_down, ...) go on the layer, the
others into its `<type>_param` message, as the schema says. `ntop` sets the number of
tops, `in_place=True` writes the top over the first bottom. A top is named by the
NetSpec attribute it is assigned to, a layer by its first top.
"""

from __future__ import annotations

from collections import OrderedDict

from . import _lamina

__all__ = ["TEST", "TRAIN", "NetSpec", "layers", "params", "to_prototxt"]


class Identifier(str):
    """An enum value: printed bare (MAX), not quoted."""


TRAIN, TEST = Identifier("TRAIN"), Identifier("TEST")  # for include=dict(phase=TEST)


def _layer_fields() -> dict:
    return {name: (kind, type_name, repeated) for name, kind, type_name, repeated in _lamina.schema.fields("LayerParameter")}


def param_field(layer_type: str) -> str | None:
    """The LayerParameter field holding a type's parameters: "convolution_param" for
    Convolution (and Deconvolution), "softmax_param" for SoftmaxWithLoss, ..., or None."""
    special = {"Deconvolution": "Convolution", "SoftmaxWithLoss": "Softmax", "RNN": "Recurrent", "LSTM": "Recurrent"}
    wanted = special.get(layer_type, layer_type) + "Parameter"
    for name, (kind, type_name, _) in _layer_fields().items():
        if kind == "message" and type_name.lower() == wanted.lower() and name.endswith("_param"):
            return name
    return None


def _emit(name: str, value, indent: str, out: list[str]) -> None:
    if isinstance(value, (list, tuple)):
        for item in value:
            _emit(name, item, indent, out)
    elif isinstance(value, dict):
        out.append(f"{indent}{name} {{")
        for k, v in value.items():
            _emit(k, v, indent + "  ", out)
        out.append(f"{indent}}}")
    elif isinstance(value, Identifier):
        out.append(f"{indent}{name}: {value}")
    elif isinstance(value, bool):
        out.append(f"{indent}{name}: {'true' if value else 'false'}")
    elif isinstance(value, (int, float)):
        out.append(f"{indent}{name}: {value!r}")
    elif isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        out.append(f'{indent}{name}: "{escaped}"')
    else:
        raise _lamina.InvalidValueError(f"NetSpec: field {name!r} has a value of type {type(value).__name__}")


class Top:
    """One output of a layer function, to be used as a bottom or assigned to a NetSpec."""

    def __init__(self, fn: "Function", index: int):
        self.fn, self.index = fn, index

    def to_proto(self) -> str:
        return to_prototxt({"top": self})


class Function:
    """A layer call: its type, bottoms (Tops) and keyword parameters."""

    def __init__(self, layer_type: str, inputs: tuple, kwargs: dict):
        self.type = layer_type
        for b in inputs:
            if not isinstance(b, Top):
                raise _lamina.InvalidValueError(f"L.{layer_type}: bottoms must be Tops from other layers, got {b!r}")
        self.inputs = inputs
        self.ntop = int(kwargs.pop("ntop", 1))
        self.in_place = bool(kwargs.pop("in_place", False))
        if self.in_place and not inputs:
            raise _lamina.InvalidValueError(f"L.{layer_type}: in_place needs a bottom")
        self.kwargs = kwargs
        self.tops = tuple(Top(self, i) for i in range(self.ntop))

    def lines(self, names: dict, autonames: dict) -> list[str]:
        def auto(kind: str) -> str:
            autonames[kind] = autonames.get(kind, 0) + 1
            return f"{kind}{autonames[kind]}"

        def blob_name(top: Top) -> str:
            if top.fn.in_place and top.index == 0:  # written over its first bottom
                return blob_name(top.fn.inputs[0])
            if top not in names:
                names[top] = auto(top.fn.type.lower())
            return names[top]

        if self.tops and self.tops[0] in names:
            layer_name = names[self.tops[0]]
        else:
            layer_name = names.setdefault(("layer", self), auto(self.type.lower()))
        top_names = [blob_name(t) for t in self.tops]
        fields = _layer_fields()
        own = param_field(self.type)
        layer = OrderedDict(name=layer_name, type=self.type)
        layer["bottom"] = [blob_name(b) for b in self.inputs]
        layer["top"] = top_names
        inner = OrderedDict()
        for key, value in self.kwargs.items():
            if key in fields:
                layer[key] = value
            elif own is not None:
                inner[key] = value
            else:
                raise _lamina.InvalidValueError(
                    f"L.{self.type}: {key!r} is not a LayerParameter field and {self.type} has no *_param message")
        if inner:
            layer[own] = dict(inner)
        out: list[str] = []
        _emit("layer", dict(layer), "", out)
        return out


def to_prototxt(tops: dict, name: str | None = None, extra: dict | None = None) -> str:
    """Prototxt for every layer the named tops depend on, in dependency order."""
    names = {top: n for n, top in tops.items()}
    order: list[Function] = []
    seen = set()

    def visit(fn: Function) -> None:
        if fn in seen:
            return
        seen.add(fn)
        for b in fn.inputs:
            visit(b.fn)
        order.append(fn)

    for top in tops.values():
        visit(top.fn)
    lines: list[str] = []
    if name:
        lines.append(f'name: "{name}"')
    for key, value in (extra or {}).items():
        _emit(key, value, "", lines)
    autonames: dict = {}
    for fn in order:
        lines.extend(fn.lines(names, autonames))
    text = "\n".join(lines) + "\n"
    _lamina.schema.validate(_lamina.prototxt.parse(text, "<NetSpec>"), "NetParameter", "<NetSpec>")
    return text


class NetSpec:
    """Assign layer outputs to attributes (n.conv1 = L.Convolution(...)); to_proto() writes them."""

    def __init__(self, name: str | None = None, **net_fields):
        super().__setattr__("tops", OrderedDict())
        super().__setattr__("_name", name)
        super().__setattr__("_fields", net_fields)

    def __setattr__(self, key: str, value) -> None:
        if not isinstance(value, Top):
            raise _lamina.InvalidValueError(f"NetSpec.{key}: assign a layer's output (a Top), got {value!r}")
        self.tops[key] = value

    def __getattr__(self, key: str) -> Top:
        try:
            return self.tops[key]
        except KeyError:
            raise AttributeError(key) from None

    __setitem__ = __setattr__
    __getitem__ = __getattr__

    def to_proto(self) -> str:
        return to_prototxt(self.tops, self._name, self._fields)


class _Layers:
    """L.<Type>(*bottoms, **params) for every registered layer type."""

    def __getattr__(self, layer_type: str):
        if layer_type.startswith("_"):
            raise AttributeError(layer_type)
        if layer_type not in _lamina.layer_types():
            from difflib import get_close_matches

            close = get_close_matches(layer_type, _lamina.layer_types(), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise AttributeError(f"no layer type {layer_type!r}{hint}")

        def make(*bottoms, **kwargs):
            fn = Function(layer_type, bottoms, kwargs)
            if fn.ntop == 0:
                return fn
            return fn.tops[0] if fn.ntop == 1 else fn.tops

        make.__name__ = layer_type
        return make

    def __dir__(self):
        return sorted(_lamina.layer_types())


class _EnumValues:
    def __init__(self, message: str):
        self._message = message

    def __getattr__(self, value: str) -> Identifier:
        for name, kind, type_name, _ in _lamina.schema.fields(self._message):
            if kind == "enum" and value in _lamina.schema.enum_values(type_name):
                return Identifier(value)
        raise AttributeError(f"{self._message} has no enum value {value!r}")


class _Params:
    """P.<Type>.<ENUM VALUE>, e.g. P.Pooling.MAX, P.Eltwise.SUM, P.LRN.WITHIN_CHANNEL."""

    def __getattr__(self, layer_type: str) -> _EnumValues:
        if layer_type.startswith("_"):
            raise AttributeError(layer_type)
        field = param_field(layer_type)
        kinds = {name: type_name for name, _, type_name, _ in _lamina.schema.fields("LayerParameter")}
        if field is None:
            raise AttributeError(f"layer type {layer_type!r} has no parameter message")
        return _EnumValues(kinds[field])


layers = _Layers()
params = _Params()
