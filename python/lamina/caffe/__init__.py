"""pycaffe's surface over lamina: ``import lamina.caffe as caffe`` and a pycaffe script runs.

    net = caffe.Net("deploy.prototxt", "weights.caffemodel", caffe.TEST)
    net.blobs["data"].data[...] = transformer.preprocess("data", caffe.io.load_image(path))
    prob = net.forward()["prob"]

Net (blobs, params, layers, forward/backward with start and end, copy_from, save as a
.caffemodel, share_with), Classifier, the solvers (SGDSolver ... AdamSolver, get_solver), Layer (Python
layers with their own backward), io (Transformer, load_image, BlobProto and Datum), proto
(caffe_pb2.BlobProto, Datum), NetSpec / layers / params, draw. Everything runs in lamina;
these modules map pycaffe's names onto it. Python layers are allowed, as in Caffe.
"""

from __future__ import annotations

from .. import _lamina
from .. import __version__  # noqa: F401
from ..netspec import NetSpec, layers, params  # noqa: F401
from . import draw, io, proto  # noqa: F401
from .classifier import Classifier  # noqa: F401
from .layer import Layer  # noqa: F401
from .pycaffe import (  # noqa: F401
    TEST,
    TRAIN,
    AdaDeltaSolver,
    AdaGradSolver,
    AdamSolver,
    Net,
    NesterovSolver,
    RMSPropSolver,
    SGDSolver,
    Solver,
    get_solver,
)

__all__ = ["TRAIN", "TEST", "Net", "Classifier", "Layer", "NetSpec", "layers", "params", "Solver", "SGDSolver",
           "NesterovSolver", "AdaGradSolver", "RMSPropSolver", "AdaDeltaSolver", "AdamSolver", "get_solver",
           "set_mode_cpu", "set_mode_gpu", "set_device", "set_random_seed", "layer_type_list", "io", "draw", "proto"]


def set_mode_cpu() -> None:
    """lamina runs on the CPU: nothing to switch."""


def _no_gpu(what: str):
    raise _lamina.DeviceError(f"caffe.{what}: this lamina build runs on the CPU only (no CUDA device support "
                              "yet); use caffe.set_mode_cpu()")


def set_mode_gpu() -> None:
    _no_gpu("set_mode_gpu")


def set_device(device_id: int) -> None:
    _no_gpu("set_device")


def set_random_seed(seed: int) -> None:
    """Seeds lamina's generator (fillers, dropout)."""
    _lamina.manual_seed(int(seed))


def layer_type_list() -> list:
    return list(_lamina.layer_types())
