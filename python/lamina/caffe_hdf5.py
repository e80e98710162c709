"""Caffe's HDF5 files (``snapshot_format: HDF5``), through h5py (the ``data`` extra):

- ``.caffemodel.h5`` (Caffe's Net::ToHDF5): a group ``data`` holding one group per layer, in
  the net's order, each with the layer's blobs as float32 datasets ``0``, ``1``, ... of their
  shapes (a layer without blobs has an empty group).
- ``.solverstate.h5`` (Caffe's SnapshotSolverStateToHDF5): datasets ``iter`` and
  ``current_step`` (int32, one value), ``learned_net`` (a string: the weights file) and a
  group ``history`` with the history blobs ``0``, ``1``, ... in Caffe's order.

Only the file format lives here: which blobs and which state are written, and how they are
applied when read, is lamina's C++ (Net::caffe_layers / copy_layers, Solver::restore_caffe).
Files are written to a temporary name beside the target, then renamed.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from . import _lamina

__all__ = ["is_hdf5", "read_solver_state", "read_weights", "write_solver_state", "write_weights"]

_MAGIC = b"\x89HDF\r\n\x1a\n"


def _h5py():
    try:
        import h5py
    except ImportError:
        raise _lamina.InvalidValueError("Caffe's HDF5 files need h5py: pip install h5py (or 'lamina[data]')") from None
    return h5py


def is_hdf5(path) -> bool:
    """Whether the file starts with HDF5's signature (at offset 0, as Caffe writes them)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(_MAGIC)) == _MAGIC
    except (OSError, ValueError):  # unreadable, or not a path (a NUL): the C++ reader says why
        return False


def _atomic(path, write) -> None:
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=os.path.dirname(path) or ".")
    os.close(fd)
    try:
        with _h5py().File(tmp, "w") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _open(path):
    h5py = _h5py()
    try:
        return h5py.File(os.fspath(path), "r")
    except OSError as e:
        raise _lamina.FileFormatError(f"{os.fspath(path)}: not a readable HDF5 file ({e})") from None


def _blobs(group, where: str) -> list:
    if not isinstance(group, _h5py().Group):
        raise _lamina.FileFormatError(f"{where}: a dataset where a group of blobs belongs")
    names = sorted(group.keys(), key=lambda k: int(k) if k.isdigit() else -1)
    if any(not k.isdigit() for k in names) or [int(k) for k in names] != list(range(len(names))):
        raise _lamina.FileFormatError(f"{where}: datasets must be named 0, 1, ..., got {sorted(group.keys())}")
    out = []
    for k in names:
        data = group[k]
        if not hasattr(data, "dtype") or data.dtype.kind != "f":
            raise _lamina.FileFormatError(f"{where}/{k}: not a floating-point dataset")
        out.append(_lamina.from_numpy(np.ascontiguousarray(data[()], np.float32)))
    return out


def write_weights(path, layers) -> None:
    """layers: [(name, type, [Tensor, ...]), ...] as lamina._Net.caffe_layers() gives them."""

    def write(f):
        data = f.create_group("data")
        for name, _type, blobs in layers:
            group = data.create_group(name)
            for k, blob in enumerate(blobs):
                group.create_dataset(str(k), data=np.asarray(blob, np.float32))

    _atomic(path, write)


def read_weights(path) -> list:
    """[(layer name, [Tensor, ...]), ...] from a .caffemodel.h5, in the file's order."""
    with _open(path) as f:
        if "data" not in f:
            raise _lamina.FileFormatError(f"{os.fspath(path)}: no group 'data' (not a Caffe .caffemodel.h5)")
        data = f["data"]
        if not isinstance(data, _h5py().Group):
            raise _lamina.FileFormatError(f"{os.fspath(path)}: 'data' is not a group (not a Caffe .caffemodel.h5)")
        order = list(data.keys())
        return [(name, _blobs(data[name], f"{os.fspath(path)}: data/{name}")) for name in order]


def write_solver_state(path, iter_: int, learned_net: str, current_step: int, history) -> None:
    def write(f):
        f.create_dataset("iter", data=np.array([iter_], np.int32))
        f.create_dataset("learned_net", data=np.bytes_(learned_net.encode("utf-8")))
        f.create_dataset("current_step", data=np.array([current_step], np.int32))
        group = f.create_group("history")
        for k, blob in enumerate(history):
            group.create_dataset(str(k), data=np.asarray(blob, np.float32))

    _atomic(path, write)


def read_solver_state(path) -> tuple:
    """(iter, learned_net, current_step, [history Tensor, ...]) from a .solverstate.h5."""
    where = os.fspath(path)
    with _open(path) as f:
        for key in ("iter", "learned_net", "current_step", "history"):
            if key not in f:
                raise _lamina.FileFormatError(f"{where}: no '{key}' (not a Caffe .solverstate.h5)")
            if key != "history" and not isinstance(f[key], _h5py().Dataset):
                raise _lamina.FileFormatError(f"{where}: '{key}' must be a dataset")

        def whole(key):
            value = np.asarray(f[key][()]).reshape(-1)
            if value.size != 1 or value.dtype.kind not in "iu":
                raise _lamina.FileFormatError(f"{where}: '{key}' must hold one integer")
            return int(value[0])

        learned = f["learned_net"][()]
        if not isinstance(learned, (bytes, str)):
            raise _lamina.FileFormatError(f"{where}: 'learned_net' must be a string")
        learned = learned.decode("utf-8", "replace") if isinstance(learned, bytes) else learned
        return whole("iter"), learned, whole("current_step"), _blobs(f["history"], f"{where}: history")
