"""The two binary Caffe messages data files hold: ``Datum`` (a record of an LMDB made by
convert_imageset) and ``BlobProto`` (a .binaryproto mean file). The protobuf wire format
is read and written by lamina's C++ core (cpp/src/io/caffe_binary.cpp); this module gives
those calls Python shapes. Malformed bytes raise lamina.FileFormatError (``WireError``)
naming the byte offset and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _lamina

__all__ = ["Datum", "decode_blob_proto", "decode_datum", "encode_blob_proto", "encode_datum"]

# What malformed bytes raise; kept under this name for callers that catch it.
WireError = _lamina.FileFormatError


@dataclass
class Datum:
    channels: int = 0
    height: int = 0
    width: int = 0
    data: bytes = b""
    label: int = 0
    float_data: list = field(default_factory=list)
    encoded: bool = False

    def array(self) -> np.ndarray:
        """The image as [channels, height, width]: uint8 from data, float32 from float_data.
        Encoded (JPEG/PNG) records are decoded with Pillow."""
        if self.encoded:
            return _decode_image(self.data, self.channels)
        n = self.channels * self.height * self.width
        if self.data:
            if len(self.data) != n:
                raise WireError(f"data holds {len(self.data)} bytes for {self.channels}x{self.height}x{self.width}")
            return np.frombuffer(self.data, np.uint8).reshape(self.channels, self.height, self.width)
        if len(self.float_data) != n:
            raise WireError(f"float_data holds {len(self.float_data)} values for {self.channels}x{self.height}x{self.width}")
        return np.asarray(self.float_data, np.float32).reshape(self.channels, self.height, self.width)


def _decode_image(raw: bytes, channels: int) -> np.ndarray:
    try:
        import io

        from PIL import Image
    except ImportError:
        raise _lamina.InvalidValueError("encoded records need Pillow: pip install Pillow") from None
    try:
        image = Image.open(io.BytesIO(raw)).convert("L" if channels == 1 else "RGB")
    except Exception as e:  # Pillow's errors (OSError, ValueError, SyntaxError, decompression bombs, ...)
        raise WireError(f"the encoded image cannot be decoded: {type(e).__name__}: {e}") from None
    return image_to_chw(image)


def image_to_chw(image) -> np.ndarray:
    """A Pillow image (L or RGB) as uint8 [channels, height, width] in Caffe's channel
    order: BGR, as OpenCV, which Caffe reads images with, gives them."""
    a = np.asarray(image)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)[::-1].copy()


def decode_datum(buf: bytes, what: str = "<bytes>") -> Datum:
    channels, height, width, data, label, float_data, encoded = _lamina.decode_datum(bytes(buf), what)
    return Datum(channels, height, width, data, label, list(float_data), encoded)


def encode_datum(d: Datum) -> bytes:
    return _lamina.encode_datum(d.channels, d.height, d.width, bytes(d.data), d.label, list(d.float_data),
                                bool(d.encoded))


def decode_blob_proto(buf: bytes, what: str = "<bytes>") -> np.ndarray:
    """A BlobProto as a float32 array of its shape (or [num, channels, height, width])."""
    return np.asarray(_lamina.decode_blob_proto(bytes(buf), what), np.float32)


def encode_blob_proto(array: np.ndarray) -> bytes:
    """A BlobProto with shape and packed float32 data."""
    return _lamina.encode_blob_proto(np.ascontiguousarray(array, np.float32))
