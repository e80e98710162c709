"""A Euclidean loss written as a pycaffe Python layer with its own backward, as Caffe's
pyloss example (examples/pycaffe/layers/pyloss.py) computes it."""

import numpy as np

import lamina.caffe as caffe


class EuclideanLossLayer(caffe.Layer):
    """sum((a - b)^2) / (2 N) over a batch of N; counts the backward calls it serves."""

    backward_calls = 0

    def setup(self, bottom, top):
        if len(bottom) != 2:
            raise Exception("Need two inputs to compute distance.")

    def reshape(self, bottom, top):
        if bottom[0].count != bottom[1].count:
            raise Exception("Inputs must have the same dimension.")
        self.diff = np.zeros_like(bottom[0].data, dtype=bottom[0].data.dtype)
        top[0].reshape(1)

    def forward(self, bottom, top):
        self.diff[...] = bottom[0].data - bottom[1].data
        top[0].data[...] = np.sum(self.diff ** 2) / bottom[0].num / 2.0

    def backward(self, top, propagate_down, bottom):
        type(self).backward_calls += 1
        for i in range(2):
            if not propagate_down[i]:
                continue
            sign = 1 if i == 0 else -1
            bottom[i].diff[...] = top[0].diff * sign * self.diff / bottom[i].num
