"""Fuzz target: Caffe's binary readers: .caffemodel (also through Net.load), .binaryproto
(bytes and file), .solverstate and Datum (with its image). First byte picks the reader."""

import io
import sys

import driver
import lamina
import numpy as np
from lamina import _lamina, caffe_proto

TARGET = "caffe_binary"

NET_TEXT = """
layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 1 dim: 4 dim: 4 } } }
layer { name: "conv" type: "Convolution" bottom: "x" top: "conv" convolution_param { num_output: 2 kernel_size: 3
        weight_filler { type: "gaussian" } } }
layer { name: "fc" type: "InnerProduct" bottom: "conv" top: "fc" inner_product_param { num_output: 2 } }
"""
NET = lamina.Net(NET_TEXT, phase="test")


def _caffemodel() -> bytes:
    path = str(driver.SCRATCH / "seed.caffemodel")
    NET.save(path, format="caffemodel")
    return open(path, "rb").read()


def _solverstate() -> bytes:
    folder = driver.SCRATCH / "caffe-state"
    folder.mkdir(exist_ok=True)
    text = (f'base_lr: 0.01 momentum: 0.9 lr_policy: "fixed" snapshot_format: BINARYPROTO '
            f'snapshot_prefix: "{folder}/s"')
    net = NET_TEXT.replace('"Input"', '"DummyData"').replace("input_param", "dummy_data_param") + \
        'layer { name: "loss" type: "EuclideanLoss" bottom: "fc" bottom: "fc" top: "loss" }'
    solver = lamina.Solver(text, net=net, quiet=True)
    solver.step(1)
    return open(solver.snapshot(), "rb").read()


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3)).save(out, format="PNG")
    return out.getvalue()


def seeds():
    datum = caffe_proto.Datum(3, 2, 2, bytes(range(12)), 7)
    floats = caffe_proto.Datum(1, 1, 2, b"", 1, [0.5, -2.0])
    encoded = caffe_proto.Datum(3, 4, 4, _png(), 2, encoded=True)
    blob = caffe_proto.encode_blob_proto(np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4))
    return [b"\x00" + _caffemodel(), b"\x01" + _caffemodel(), b"\x02" + blob, b"\x03" + blob,
            b"\x04" + _solverstate()] + [b"\x05" + caffe_proto.encode_datum(d) for d in (datum, floats, encoded)]


def _datum(raw: bytes) -> None:
    caffe_proto.decode_datum(raw, "fuzz").array()


READERS = [
    lambda raw: _lamina.read_caffemodel(driver.scratch_file("in.caffemodel", raw)),
    lambda raw: NET.load(driver.scratch_file("in.caffemodel", raw)),
    lambda raw: caffe_proto.decode_blob_proto(raw, "fuzz"),
    lambda raw: _lamina.read_blob_proto(driver.scratch_file("in.binaryproto", raw)),
    lambda raw: _lamina.read_caffe_solver_state(driver.scratch_file("in.solverstate", raw)),
    _datum,
]


def one_input(data: bytes) -> None:
    if data:
        driver.guarded(READERS[data[0] % len(READERS)], data[1:])


if __name__ == "__main__":
    driver.main(sys.modules[__name__])
