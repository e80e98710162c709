"""A Python loss layer with its own backward (Caffe's pyloss example): the net calls the
layer's backward, whose gradients match a float64 finite difference.

    python pyloss.py <work dir>
"""

import os
import sys

import numpy as np

import lamina.caffe as caffe
from caffe_pyloss import EuclideanLossLayer

here = os.path.dirname(os.path.abspath(__file__))
caffe.set_mode_cpu()

# ---- the example's net: DummyData, two InnerProducts, the Python loss ------------------------
net = caffe.Net(os.path.join(here, "linreg.prototxt"), caffe.TRAIN)
out = net.forward()
ipx, ipy = net.blobs["ipx"].data.copy(), net.blobs["ipy"].data.copy()
n = ipx.shape[0]
assert np.allclose(out["loss"], np.sum((ipx - ipy) ** 2) / n / 2, rtol=1e-5)
assert np.allclose(net.blobs["loss"].data, out["loss"])

calls = EuclideanLossLayer.backward_calls
net.backward()
assert EuclideanLossLayer.backward_calls == calls + 1, "the layer's own backward did not run"
assert np.allclose(net.blobs["ipx"].diff, (ipx - ipy) / n, rtol=1e-5, atol=1e-7)
assert np.allclose(net.blobs["ipy"].diff, -(ipx - ipy) / n, rtol=1e-5, atol=1e-7)
x = net.blobs["x"].data.reshape(n, -1)
assert np.allclose(net.params["ipx"][0].diff, net.blobs["ipx"].diff.T @ x, rtol=1e-4, atol=1e-6)
assert np.allclose(net.params["ipx"][1].diff, net.blobs["ipx"].diff.sum(axis=0), rtol=1e-4, atol=1e-6)

# ---- float64 finite differences through inputs and weights -------------------------------
net = caffe.Net(os.path.join(here, "linreg_inputs.prototxt"), caffe.TRAIN, dtype="float64")
rng = np.random.default_rng(5)
x, y = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2))
net.forward(x=x, y=y)
calls = EuclideanLossLayer.backward_calls
grads = net.backward(diffs=["ipx"])
assert EuclideanLossLayer.backward_calls == calls + 1
analytic = {"x": grads["x"].copy(), "y": grads["y"].copy(),
            "ipx/0": net.params["ipx"][0].diff.copy(), "ipy/1": net.params["ipy"][1].diff.copy()}
views = {"x": net.blobs["x"].data, "y": net.blobs["y"].data,
         "ipx/0": net.params["ipx"][0].data, "ipy/1": net.params["ipy"][1].data}
eps = 1e-6
for name, view in views.items():
    flat, got = view.reshape(-1), analytic[name].reshape(-1)
    for k in range(flat.size):
        keep = flat[k]
        flat[k] = keep + eps
        plus = net.forward()["loss"][0]
        flat[k] = keep - eps
        minus = net.forward()["loss"][0]
        flat[k] = keep
        numeric = (plus - minus) / (2 * eps)
        assert abs(numeric - got[k]) <= 1e-7 + 1e-6 * abs(numeric), (name, k, numeric, got[k])
print("ok")
