"""``lamina draw``: a net as a graph, through the optional ``graphviz`` package.

Drawing reads the prototxt alone (no net is built, so data layers need no shapes):
layers are boxes, blobs ovals, and a layer is kept when its include/exclude phase rules
admit the requested phase.
"""

from __future__ import annotations

import os

from . import _lamina


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _layers(model: str, phase: str):
    tree = _lamina.prototxt.parse_file(model) if os.path.exists(model) else _lamina.prototxt.parse(model)
    _lamina.schema.validate(tree, "NetParameter", model if os.path.exists(model) else "<string>")
    wanted = phase.upper()
    for field in tree.fields:
        if field.name not in ("layer", "layers"):
            continue
        layer = field.value

        def phases(rule_field):
            return [[p.value for p in rule.value.all("phase")] for rule in layer.all(rule_field)]

        include, exclude = phases("include"), phases("exclude")
        if include and not any(not p or wanted in p for p in include):
            continue
        if any(wanted in p for p in exclude):
            continue
        name = [f.value for f in layer.all("name")]
        kind = [f.value for f in layer.all("type")]
        yield (name[0] if name else "?", kind[0] if kind else "?",
               [f.value for f in layer.all("bottom")], [f.value for f in layer.all("top")])


def to_dot(model: str, phase: str = "train") -> str:
    """Graphviz DOT text for the net in `model` (a path or prototxt text)."""
    lines = ["digraph net {", "  rankdir=BT;", '  node [fontname="Helvetica", fontsize=10];']
    blobs = set()
    for name, kind, bottoms, tops in _layers(model, phase):
        label = _quote(name)[:-1] + "\\n(" + _quote(kind)[1:-1] + ')"'  # DOT's \n line break
        lines.append(f'  {_quote("layer:" + name)} [label={label}, shape=box, style=filled, fillcolor="#f7e8d8"];')
        for b in bottoms:
            lines.append(f"  {_quote('blob:' + b)} -> {_quote('layer:' + name)};")
        for t in tops:
            lines.append(f"  {_quote('layer:' + name)} -> {_quote('blob:' + t)};")
        blobs.update(bottoms + tops)
    for blob in sorted(blobs):
        lines.append(f'  {_quote("blob:" + blob)} [label={_quote(blob)}, shape=oval, style=filled, fillcolor="#e8eef7"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(model: str, output: str, phase: str = "train") -> None:
    """Writes the graph to `output`: .dot as text; .svg, .png, .pdf through graphviz."""
    dot = to_dot(model, phase)
    fmt = os.path.splitext(output)[1].lstrip(".") or "svg"
    if fmt == "dot":
        with open(output, "w", encoding="utf-8") as f:
            f.write(dot)
        return
    try:
        import graphviz
    except ImportError:
        raise _lamina.InvalidValueError(
            "lamina draw needs the graphviz package for ." + fmt + " (pip install graphviz); .dot output works without it"
        ) from None
    try:
        graphviz.Source(dot).render(outfile=output, format=fmt, cleanup=True)
    except graphviz.ExecutableNotFound:
        raise _lamina.InvalidValueError(
            "lamina draw needs Graphviz's dot program (apt-get install graphviz) for ." + fmt
        ) from None
