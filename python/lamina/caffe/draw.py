"""caffe.draw: a net's graph through lamina.draw. The net is a prototxt path or text, or a
caffe.Net (where pycaffe takes a NetParameter message); rankdir is accepted for pycaffe's
signature, lamina draws bottom to top."""

from __future__ import annotations

from .. import draw as _draw
from .pycaffe import TRAIN, _phase_name

__all__ = ["draw_net", "draw_net_to_file"]


def _model(net) -> str:
    return net.to_prototxt() if hasattr(net, "to_prototxt") else str(net)


def draw_net(caffe_net, rankdir: str = "LR", ext: str = "dot", phase=None) -> str:
    """The graph as Graphviz DOT text (lamina draws other formats to files: draw_net_to_file)."""
    if ext != "dot":
        raise _draw._lamina.InvalidValueError("caffe.draw.draw_net: lamina returns DOT text; write other formats "
                                              "with draw_net_to_file")
    return _draw.to_dot(_model(caffe_net), _phase_name(TRAIN if phase is None else phase))


def draw_net_to_file(caffe_net, filename: str, rankdir: str = "LR", phase=None) -> None:
    """Writes the graph to filename (.dot as text; .svg, .png, .pdf through graphviz)."""
    _draw.draw(_model(caffe_net), filename, _phase_name(TRAIN if phase is None else phase))
