"""caffe.io: images in, pycaffe's Transformer, and Caffe's BlobProto / Datum messages.

Transformer.preprocess applies, in Caffe's order: float32, resize to the input's spatial
size, transpose, channel swap, raw scale, mean subtraction, input scale; deprocess undoes
them in reverse. BlobProto and Datum bytes are read and written by lamina's C++ wire-format
code (lamina.caffe_proto).
"""

from __future__ import annotations

import numpy as np

from .. import _lamina
from .. import caffe_proto as _proto
from .proto import caffe_pb2

__all__ = ["Transformer", "array_to_blobproto", "array_to_datum", "blobproto_to_array", "datum_to_array",
           "load_image", "oversample", "resize_image"]


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise _lamina.InvalidValueError("caffe.io images need Pillow: pip install Pillow") from None
    return Image


def load_image(filename, color: bool = True) -> np.ndarray:
    """An image as float32 in [0, 1], H x W x 3 (RGB) when color, else H x W x 1 (Pillow's
    luminance, ITU-R 601)."""
    Image = _pillow()
    with Image.open(filename) as image:
        wide = image.mode.startswith("I;16") or image.mode == "I"
        if wide and not color:
            array = np.asarray(image, np.float32) / 65535.0
        else:
            array = np.asarray(image.convert("RGB" if color else "L"), np.float32) / 255.0
    return array if array.ndim == 3 else array[:, :, None]


_RESAMPLE = {0: "NEAREST", 1: "BILINEAR", 2: "BILINEAR", 3: "BICUBIC"}


def resize_image(im: np.ndarray, new_dims, interp_order: int = 1) -> np.ndarray:
    """im (H x W x K) resized to new_dims (height, width), channel by channel, interpolated
    with order 0 (nearest), 1 (bilinear) or 3 (bicubic); float32. A constant image stays it."""
    im = np.asarray(im, np.float32)
    height, width = int(new_dims[0]), int(new_dims[1])
    if im.shape[:2] == (height, width):
        return im.copy()
    if im.max() == im.min():
        return np.full((height, width, im.shape[-1]), im.min(), np.float32)
    Image = _pillow()
    resample = getattr(Image, _RESAMPLE.get(int(interp_order), "BILINEAR"))
    planes = (Image.fromarray(np.ascontiguousarray(im[:, :, k])) for k in range(im.shape[-1]))  # float32: mode F
    channels = [np.asarray(plane.resize((width, height), resample)) for plane in planes]
    return np.stack(channels, axis=-1).astype(np.float32)


def oversample(images, crop_dims) -> np.ndarray:
    """Ten crops of each H x W x K image: the four corners and the center, then the same
    mirrored left-right (N*10 x crop_h x crop_w x K)."""
    crop_h, crop_w = int(crop_dims[0]), int(crop_dims[1])
    out = []
    for im in images:
        h, w = im.shape[:2]
        top, left = int(h / 2.0 - crop_h / 2.0), int(w / 2.0 - crop_w / 2.0)
        corners = [(0, 0), (0, w - crop_w), (h - crop_h, 0), (h - crop_h, w - crop_w), (top, left)]
        crops = [im[y:y + crop_h, x:x + crop_w, :] for y, x in corners]
        out.extend(crops + [c[:, ::-1, :] for c in crops])
    return np.asarray(out, np.float32)


class Transformer:
    """pycaffe's input preprocessing for a net: inputs = {input name: its 4-d shape}."""

    def __init__(self, inputs):
        self.inputs = {name: tuple(int(d) for d in shape) for name, shape in inputs.items()}
        self.transpose, self.channel_swap, self.raw_scale, self.mean, self.input_scale = {}, {}, {}, {}, {}

    def _check(self, name: str) -> None:
        if name not in self.inputs:
            raise _lamina.InvalidValueError(f"Transformer: '{name}' is not one of the net inputs: "
                                            f"{sorted(self.inputs)}")

    def preprocess(self, in_: str, data) -> np.ndarray:
        """An image (H x W x K, as load_image gives) to the net's layout for input in_."""
        self._check(in_)
        x = np.asarray(data).astype(np.float32, copy=False)
        dims = self.inputs[in_][2:]
        if x.shape[:2] != dims:
            x = resize_image(x, dims)
        if in_ in self.transpose:
            x = x.transpose(self.transpose[in_])
        if in_ in self.channel_swap:
            x = x[list(self.channel_swap[in_]), :, :]
        x = np.array(x, np.float32)  # owned from here: the scalings below are in place
        if in_ in self.raw_scale:
            x *= self.raw_scale[in_]
        if in_ in self.mean:
            x -= self.mean[in_]
        if in_ in self.input_scale:
            x *= self.input_scale[in_]
        return x

    def deprocess(self, in_: str, data) -> np.ndarray:
        """preprocess undone: back to H x W x K as loaded (without the resize)."""
        self._check(in_)
        x = np.array(data, copy=True).squeeze()
        if in_ in self.input_scale:
            x /= self.input_scale[in_]
        if in_ in self.mean:
            x += self.mean[in_]
        if in_ in self.raw_scale:
            x /= self.raw_scale[in_]
        if in_ in self.channel_swap:
            x = x[np.argsort(self.channel_swap[in_]), :, :]
        if in_ in self.transpose:
            x = x.transpose(np.argsort(self.transpose[in_]))
        return x

    def set_transpose(self, in_: str, order) -> None:
        """The axis order from the loaded layout to the net's, e.g. (2, 0, 1) for HWC -> CHW."""
        self._check(in_)
        if len(order) != len(self.inputs[in_]) - 1:
            raise _lamina.InvalidValueError("Transformer: the transpose order needs as many axes as the input has "
                                            f"beyond its first ({len(self.inputs[in_]) - 1}), got {tuple(order)}")
        self.transpose[in_] = tuple(order)

    def set_channel_swap(self, in_: str, order) -> None:
        """The channel order after transposing, e.g. (2, 1, 0) for RGB -> BGR."""
        self._check(in_)
        if len(order) != self.inputs[in_][1]:
            raise _lamina.InvalidValueError(f"Transformer: the channel swap needs {self.inputs[in_][1]} channels, "
                                            f"got {tuple(order)}")
        self.channel_swap[in_] = tuple(order)

    def set_raw_scale(self, in_: str, scale: float) -> None:
        """Multiplies the (transposed, swapped) input, e.g. 255 for [0, 1] images into [0, 255]."""
        self._check(in_)
        self.raw_scale[in_] = scale

    def set_mean(self, in_: str, mean) -> None:
        """Subtracted after the raw scale: per channel (K values) or per element (K x H x W or H x W)."""
        self._check(in_)
        mean = np.asarray(mean)
        if mean.ndim == 1:
            if mean.shape[0] != self.inputs[in_][1]:
                raise _lamina.ShapeError(f"Transformer: mean of {mean.shape[0]} channels for an input of "
                                         f"{self.inputs[in_][1]}")
            mean = mean[:, np.newaxis, np.newaxis]
        else:
            shape = (1,) + mean.shape if mean.ndim == 2 else mean.shape
            if shape != self.inputs[in_][1:]:
                raise _lamina.ShapeError(f"Transformer: mean of shape {mean.shape} for an input of shape "
                                         f"{self.inputs[in_][1:]}")
        self.mean[in_] = mean

    def set_input_scale(self, in_: str, scale: float) -> None:
        """Multiplies the input after the mean is subtracted."""
        self._check(in_)
        self.input_scale[in_] = scale


def blobproto_to_array(blob, return_diff: bool = False) -> np.ndarray:
    """A BlobProto (caffe_pb2.BlobProto or its bytes) as float32 of its shape."""
    if return_diff:
        raise _lamina.InvalidValueError("blobproto_to_array: lamina reads a BlobProto's data, not its diff")
    if isinstance(blob, (bytes, bytearray, memoryview)):
        return _proto.decode_blob_proto(bytes(blob))
    return np.array(blob.array, np.float32)


def array_to_blobproto(arr, diff=None) -> "caffe_pb2.BlobProto":
    """A caffe_pb2.BlobProto holding arr (its SerializeToString() is the .binaryproto bytes)."""
    if diff is not None:
        raise _lamina.InvalidValueError("array_to_blobproto: lamina writes a BlobProto's data, not its diff")
    blob = caffe_pb2.BlobProto()
    blob.array = np.array(arr, np.float32)
    return blob


def array_to_datum(arr, label=None) -> "caffe_pb2.Datum":
    """A 3-d array (channels x height x width) as a Datum: uint8 into data, else float_data."""
    arr = np.asarray(arr)
    if arr.ndim != 3:
        raise _lamina.ShapeError(f"array_to_datum: the array must be 3-d (channels, height, width), got {arr.shape}")
    datum = caffe_pb2.Datum(channels=arr.shape[0], height=arr.shape[1], width=arr.shape[2])
    if arr.dtype == np.uint8:
        datum.data = arr.tobytes()
    else:
        datum.float_data = [float(v) for v in arr.flat]
    if label is not None:
        datum.label = int(label)
    return datum


def datum_to_array(datum) -> np.ndarray:
    """A Datum (or its bytes) as channels x height x width: uint8 from data, float from float_data."""
    if isinstance(datum, (bytes, bytearray, memoryview)):
        datum = caffe_pb2.Datum.FromString(bytes(datum))
    return datum.array()
