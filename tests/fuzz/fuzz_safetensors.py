"""Fuzz target: safetensors files: Net.load (which must change nothing when it fails) and
lamina's reader, _lamina.load_safetensors."""

import sys

import driver
import lamina
from lamina import _lamina
import numpy as np

TARGET = "safetensors"

NET_TEXT = """
layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }
layer { name: "fc" type: "InnerProduct" bottom: "x" top: "fc" inner_product_param { num_output: 2
        weight_filler { type: "gaussian" } bias_filler { type: "constant" value: 0.5 } } }
layer { name: "bn" type: "BatchNorm" bottom: "fc" top: "bn" }
"""
NET = lamina.Net(NET_TEXT, phase="test")


def seeds():
    out = []
    path = str(driver.SCRATCH / "seed.safetensors")
    NET.save(path)
    out.append(open(path, "rb").read())
    for dtype in ("float32", "float64", "int64", "int32", "uint8", "bool"):
        tensors = [("a", lamina.tensor(np.arange(6).reshape(2, 3).astype(dtype))), ("b", lamina.zeros(()))]
        _lamina.save_safetensors(path, tensors, {"format": "pt"})
        out.append(open(path, "rb").read())
    return out


def one_input(data: bytes) -> None:
    path = driver.scratch_file("input.safetensors", data)
    driver.guarded(_lamina.load_safetensors, path)
    before = [p.data.copy() for p in NET.params["fc"]]
    if driver.fails(NET.load, path):
        for p, b in zip(NET.params["fc"], before):
            if not np.array_equal(p.data, b, equal_nan=True):
                raise AssertionError("a failed Net.load changed the weights")


if __name__ == "__main__":
    driver.main(sys.modules[__name__])
