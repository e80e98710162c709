"""Fuzz target: lamina.data's readers: IDX (plain and .gz), ImageData's image decode and
its list file. First byte picks the reader."""

import gzip
import io
import struct
import sys

import driver
import lamina
import numpy as np
from lamina import data

TARGET = "data_readers"


def _idx(dtype_code: int, array: np.ndarray) -> bytes:
    return bytes([0, 0, dtype_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + \
        array.astype(array.dtype.newbyteorder(">")).tobytes()


def _image(fmt: str, mode: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    a = np.arange(3 * 5 * 3, dtype=np.uint8).reshape(3, 5, 3)
    Image.fromarray(a if mode == "RGB" else a[..., 0]).save(out, format=fmt)
    return out.getvalue()


def _image_list(raw: bytes) -> None:
    image = driver.scratch_file("image.png", _image("PNG", "RGB"))
    path = driver.scratch_file("list.txt", raw.replace(b"@", image.encode()))
    source = data._ImageListSource({"source": path, "root_folder": "", "is_color": True, "new_height": 3,
                                    "new_width": 2})
    for i in range(min(len(source), 4)):
        source.record(i)


READERS = [
    lambda raw: data.read_idx(driver.scratch_file("in.idx", raw)),
    lambda raw: data.read_idx(driver.scratch_file("in.idx.gz", raw)),
    lambda raw: data._load_image(driver.scratch_file("in.img", raw), True, 0, 0, "fuzz"),
    lambda raw: data._load_image(driver.scratch_file("in.img", raw), False, 4, 3, "fuzz"),
    _image_list,
]


def seeds():
    arrays = [(0x08, np.arange(12, dtype=np.uint8).reshape(3, 4)), (0x09, np.arange(-3, 3, dtype=np.int8)),
              (0x0B, np.arange(6, dtype=np.int16).reshape(1, 2, 3)), (0x0C, np.arange(4, dtype=np.int32)),
              (0x0D, np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)), (0x0E, np.ones(2))]
    idx = [_idx(code, a) for code, a in arrays]
    images = [_image(fmt, mode) for fmt in ("PNG", "BMP", "JPEG", "GIF", "PPM") for mode in ("RGB", "L")]
    return ([b"\x00" + raw for raw in idx] + [b"\x01" + gzip.compress(raw) for raw in idx] +
            [bytes([2 + i % 2]) + raw for i, raw in enumerate(images)] +
            [b"\x04@ 1\n@ 2\n", b"\x04 @ 0 \n\n@\t-7\n"])


def one_input(raw: bytes) -> None:
    if raw:
        driver.guarded(READERS[raw[0] % len(READERS)], raw[1:])


if __name__ == "__main__":
    driver.main(sys.modules[__name__])
