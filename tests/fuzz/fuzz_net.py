"""Fuzz target: the prototxt parser and the net builder in both phases, then one forward
(lamina.Net from text). First byte: phase and whether to run the forward."""

import gc
import sys

import driver
import lamina

TARGET = "net"
# Zoo nets (AlexNet, VGG) would spend the time filling 100 MB weights; a size past this is a
# ShapeError before any allocation, which is what the builder must give.
lamina.set_max_alloc_mb(16)

TINY = b"""
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 4 dim: 4 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 2 kernel_size: 3 } }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param { pool: MAX kernel_size: 2 } }
layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 3 } }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
"""


def seeds():
    return [b"\x00" + TINY, b"\x03" + TINY] + [b"\x01" + t for t in driver.caffe_model_texts("net")]


def one_input(data: bytes) -> None:
    if not data:
        return
    phase = "train" if data[0] & 1 else "test"
    # A leading newline keeps any text prototxt text (lamina.Net reads a path otherwise).
    text = "\n" + driver.text_of(data[1:])
    net = driver.guarded(lamina.Net, text, phase=phase)
    if net is not None and data[0] & 2:
        driver.guarded(net.forward)
    # A Net and its Blobs refer to each other: collect now, or hundreds of nets wait for the
    # collector and libFuzzer's RSS limit reads them as a leak.
    del net
    gc.collect()


if __name__ == "__main__":
    driver.main(sys.modules[__name__])
