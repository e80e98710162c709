"""The two binary Caffe messages data files hold, in protobuf's wire format, with no
protobuf library: ``Datum`` (a record of an LMDB made by convert_imageset) and
``BlobProto`` (a .binaryproto mean file).

Wire format: each field is a varint key (field number << 3 | wire type) then its value:
type 0 a varint, 1 eight bytes, 2 a varint length and that many bytes (strings, nested
messages, packed repeated numbers), 5 four bytes.

    Datum:     1 channels, 2 height, 3 width (int32), 4 data (bytes), 5 label (int32),
               6 float_data (repeated float), 7 encoded (bool)
    BlobProto: 1 num, 2 channels, 3 height, 4 width (int32), 5 data (repeated float, packed),
               6 diff, 7 shape (BlobShape: 1 dim, repeated int64, packed), 8 double_data
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from . import _lamina

__all__ = ["Datum", "decode_blob_proto", "decode_datum", "encode_blob_proto", "encode_datum"]


class WireError(ValueError):
    pass


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if i >= len(buf) or shift > 63:
            raise WireError("truncated or overlong varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def _put_varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # negative int32/int64 are ten-byte varints
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _fields(buf: bytes):
    """(field number, wire type, value) for each field; value is an int or bytes."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            if i + 8 > len(buf):
                raise WireError("truncated 64-bit field")
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise WireError(f"field {number} claims {n} bytes, {len(buf) - i} left")
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            if i + 4 > len(buf):
                raise WireError("truncated 32-bit field")
            value, i = buf[i:i + 4], i + 4
        else:
            raise WireError(f"wire type {wire} is not one Caffe's messages use")
        yield number, wire, value


def _int32(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= 1 << 63 else v


def _floats(out: list, wire: int, value, fmt: str) -> None:
    size = struct.calcsize(fmt)
    if wire == 2:  # packed
        if len(value) % size:
            raise WireError("packed floats of a ragged length")
        out.extend(struct.unpack(f"<{len(value) // size}{fmt}", value))
    elif wire in (1, 5) and len(value) == size:
        out.append(struct.unpack(f"<{fmt}", value)[0])
    else:
        raise WireError("a float field with the wrong wire type")


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
    return image_to_chw(Image.open(io.BytesIO(raw)).convert("L" if channels == 1 else "RGB"))


def image_to_chw(image) -> np.ndarray:
    """A Pillow image (L or RGB) as uint8 [channels, height, width] in Caffe's channel
    order: BGR, as OpenCV, which Caffe reads images with, gives them."""
    a = np.asarray(image)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)[::-1].copy()


def decode_datum(buf: bytes) -> Datum:
    d = Datum()
    for number, wire, value in _fields(buf):
        if number in (1, 2, 3, 5) and wire == 0:
            setattr(d, {1: "channels", 2: "height", 3: "width", 5: "label"}[number], _int32(value))
        elif number == 4 and wire == 2:
            d.data = bytes(value)
        elif number == 6:
            _floats(d.float_data, wire, value, "f")
        elif number == 7 and wire == 0:
            d.encoded = bool(value)
        else:
            raise WireError(f"field {number} (wire type {wire}) is not a Datum field")
    if min(d.channels, d.height, d.width) < 0:
        raise WireError("negative dimensions")
    return d


def encode_datum(d: Datum) -> bytes:
    out = bytearray()
    for number, value in ((1, d.channels), (2, d.height), (3, d.width)):
        out += _put_varint(number << 3) + _put_varint(value)
    if d.data:
        out += _put_varint(4 << 3 | 2) + _put_varint(len(d.data)) + d.data
    out += _put_varint(5 << 3) + _put_varint(d.label)
    if d.float_data:
        packed = struct.pack(f"<{len(d.float_data)}f", *d.float_data)
        out += _put_varint(6 << 3 | 2) + _put_varint(len(packed)) + packed
    if d.encoded:
        out += _put_varint(7 << 3) + _put_varint(1)
    return bytes(out)


def decode_blob_proto(buf: bytes) -> np.ndarray:
    """A BlobProto as an array of its shape (or [num, channels, height, width])."""
    legacy = {1: 0, 2: 0, 3: 0, 4: 0}
    shape, values = None, []
    for number, wire, value in _fields(buf):
        if number in legacy and wire == 0:
            legacy[number] = _int32(value)
        elif number == 5:
            _floats(values, wire, value, "f")
        elif number == 8:
            _floats(values, wire, value, "d")
        elif number in (6, 9):
            continue  # diffs: not needed for a mean
        elif number == 7 and wire == 2:
            shape = []
            for n2, w2, v2 in _fields(value):
                if n2 != 1:
                    raise WireError("BlobShape has only dim")
                if w2 == 2:
                    i = 0
                    while i < len(v2):
                        d, i = _varint(v2, i)
                        shape.append(_int32(d))
                else:
                    shape.append(_int32(v2))
        else:
            raise WireError(f"field {number} (wire type {wire}) is not a BlobProto field")
    if shape is None:
        shape = [legacy[1], legacy[2], legacy[3], legacy[4]]
    if any(d < 0 for d in shape) or int(np.prod(shape)) != len(values):
        raise WireError(f"shape {shape} does not match {len(values)} values")
    return np.asarray(values, np.float32).reshape(shape)


def encode_blob_proto(array: np.ndarray) -> bytes:
    a = np.asarray(array, np.float32)
    dims = b"".join(_put_varint(d) for d in a.shape)
    shape = _put_varint(1 << 3 | 2) + _put_varint(len(dims)) + dims
    data = a.astype("<f4").tobytes()
    return (_put_varint(7 << 3 | 2) + _put_varint(len(shape)) + shape +
            _put_varint(5 << 3 | 2) + _put_varint(len(data)) + data)
