"""caffe_pb2.BlobProto and caffe_pb2.Datum with protobuf's ParseFromString and
SerializeToString, read and written by lamina's C++ wire-format code (lamina.caffe_proto):
what scripts use to read a mean .binaryproto or to fill an LMDB. Other messages are not
here; nets and solvers are read from prototxt by lamina itself.
"""

from __future__ import annotations

import numpy as np

from ... import caffe_proto as _proto

__all__ = ["BlobProto", "Datum"]


class BlobProto:
    """A blob's data with its shape (array); num/channels/height/width as Caffe's legacy fields."""

    def __init__(self):
        self.array = np.zeros((0,), np.float32)

    def ParseFromString(self, data: bytes) -> int:
        self.array = _proto.decode_blob_proto(bytes(data))
        return len(data)

    def SerializeToString(self) -> bytes:
        return _proto.encode_blob_proto(self.array)

    @classmethod
    def FromString(cls, data: bytes) -> "BlobProto":
        blob = cls()
        blob.ParseFromString(data)
        return blob

    @property
    def data(self) -> list:
        return self.array.reshape(-1).tolist()

    def _legacy(self, i: int) -> int:
        shape = (1,) * (4 - self.array.ndim) + self.array.shape if self.array.ndim <= 4 else self.array.shape
        return int(shape[i])

    num = property(lambda self: self._legacy(0))
    channels = property(lambda self: self._legacy(1))
    height = property(lambda self: self._legacy(2))
    width = property(lambda self: self._legacy(3))


class Datum(_proto.Datum):
    """A record of an image data set: channels, height, width, data (bytes) or float_data, label, encoded."""

    def ParseFromString(self, data: bytes) -> int:
        parsed = _proto.decode_datum(bytes(data))
        for name in ("channels", "height", "width", "data", "label", "float_data", "encoded"):
            setattr(self, name, getattr(parsed, name))
        return len(data)

    def SerializeToString(self) -> bytes:
        return _proto.encode_datum(self)

    @classmethod
    def FromString(cls, data: bytes) -> "Datum":
        datum = cls()
        datum.ParseFromString(data)
        return datum
