"""lamina: a C++17 deep-learning engine with a thin Python package.

Tensors share memory with NumPy both ways (``np.asarray(t)``, ``lamina.from_numpy(a)``);
every error lamina raises is a ``lamina.Error`` and also the matching builtin
(``lamina.ShapeError`` is a ``ValueError``, file errors are ``OSError``\\ s).
"""

from ._cpu import preload_openblas

preload_openblas()  # before the extension, which links it

from . import _lamina  # noqa: E402
from ._lamina import (  # noqa: E402
    AutogradError,
    backward,
    blas_info,
    cpu_info,
    deterministic,
    DeviceError,
    DistributedError,
    build_info,
    DTypeError,
    Error,
    FileError,
    FileFormatError,
    InvalidValueError,
    OutOfRangeError,
    PrototxtError,
    ShapeError,
    Tensor,
    __version__,
    arange,
    empty,
    empty_cache,
    bool_,
    float32,
    float64,
    from_dlpack,
    from_numpy,
    int32,
    int64,
    full,
    manual_seed,
    max_alloc_mb,
    num_threads,
    ones,
    rand,
    randn,
    set_deterministic,
    set_isa,
    set_max_alloc_mb,
    set_num_threads,
    tensor,
    zeros,
)
from ._lamina import layer_types, ops, prototxt, schema  # noqa: E402

bool = bool_  # lamina.bool, as torch.bool (not in __all__: it would shadow the builtin)
from .net import Layer, Net, register_layer  # noqa: E402
from .solver import Solver  # noqa: E402
from . import optim  # noqa: E402
from .netspec import NetSpec  # noqa: E402
from .netspec import layers, params  # noqa: E402
from .autograd import Context, Function, grad, gradcheck, no_grad  # noqa: E402
from . import nn  # noqa: E402
from . import functional  # noqa: E402
from . import distributed  # noqa: E402

__all__ = [
    "AutogradError",
    "Context",
    "Function",
    "Layer",
    "Net",
    "NetSpec",
    "nn",
    "layers",
    "params",
    "Solver",
    "optim",
    "layer_types",
    "register_layer",
    "schema",
    "backward",
    "grad",
    "gradcheck",
    "no_grad",
    "DeviceError",
    "DistributedError",
    "build_info",
    "distributed",
    "DTypeError",
    "Error",
    "FileError",
    "FileFormatError",
    "InvalidValueError",
    "OutOfRangeError",
    "PrototxtError",
    "ShapeError",
    "Tensor",
    "__version__",
    "blas_info",
    "cpu_info",
    "deterministic",
    "cmake_dir",
    "empty",
    "empty_cache",
    "arange",
    "bool_",
    "float32",
    "float64",
    "from_dlpack",
    "from_numpy",
    "int32",
    "int64",
    "full",
    "functional",
    "manual_seed",
    "max_alloc_mb",
    "num_threads",
    "ones",
    "ops",
    "prototxt",
    "rand",
    "randn",
    "set_deterministic",
    "set_isa",
    "set_max_alloc_mb",
    "set_num_threads",
    "tensor",
    "zeros",
]


def cmake_dir() -> str:
    """The folder holding laminaConfig.cmake inside this installed package.

    A C++ project embeds lamina with ``cmake -Dlamina_DIR=$(lamina --cmake-dir)`` and
    ``find_package(lamina CONFIG REQUIRED)``.
    """
    from pathlib import Path

    here = Path(__file__).resolve().parent
    for libdir in ("lib", "lib64"):
        candidate = here / libdir / "cmake" / "lamina"
        if (candidate / "laminaConfig.cmake").is_file():
            return str(candidate)
    raise FileError(f"lamina's CMake package files are not installed under {here}")


_lamina.isa()  # a LAMINA_ISA that names no level this CPU runs raises here, at import

del _lamina
