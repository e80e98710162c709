"""Net surgery as in Caffe's example: designer filters written into a net's parameters,
then a fully-connected net cast into a fully-convolutional one by copying its parameters.

    python net_surgery.py <caffe-models dir> <work dir>
"""

import os
import sys

import numpy as np

import lamina.caffe as caffe

models, work = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
caffe.set_mode_cpu()

# ---- designer filters -------------------------------------------------------------------
net = caffe.Net(os.path.join(models, "net_surgery_conv.prototxt"), caffe.TEST)
print("blobs {}\nparams {}".format(list(net.blobs.keys()), list(net.params.keys())))
rng = np.random.default_rng(3)
im = rng.uniform(0, 1, size=(100, 100)).astype(np.float32)
net.blobs["data"].reshape(*((1, 1) + im.shape))
net.blobs["data"].data[...] = im
net.forward()
assert net.blobs["conv"].data.shape == (1, 3, 96, 96)

# An edge detector as the first filter, the identity's center tap as the second, zero biases.
net.params["conv"][0].data[0] = 0
net.params["conv"][0].data[0, 0, 2, 1:4] = [-1, 0, 1]
net.params["conv"][0].data[1] = 0
net.params["conv"][0].data[1, 0, 2, 2] = 1
net.params["conv"][1].data[...] = 0.0
net.forward()
conv = net.blobs["conv"].data
assert np.allclose(conv[0, 0], im[2:98, 3:99] - im[2:98, 1:97], atol=1e-6)
assert np.allclose(conv[0, 1], im[2:98, 2:98], atol=1e-6)
net.save(os.path.join(work, "designer.caffemodel"))
again = caffe.Net(os.path.join(models, "net_surgery_conv.prototxt"), caffe.TEST,
                  weights=os.path.join(work, "designer.caffemodel"))
assert np.array_equal(again.params["conv"][0].data, net.params["conv"][0].data)

# ---- fully connected to fully convolutional ------------------------------------------------
caffe.set_random_seed(11)
caffe.Net(os.path.join(here, "fc_deploy.prototxt"), caffe.TEST).save(os.path.join(work, "fc.caffemodel"))
net = caffe.Net(os.path.join(here, "fc_deploy.prototxt"), os.path.join(work, "fc.caffemodel"), caffe.TEST)
params = ["fc6", "fc7"]
# fc_params = {name: (weights, biases)}
fc_params = {pr: (net.params[pr][0].data, net.params[pr][1].data) for pr in params}
for fc in params:
    print("{} weights are {} dimensional and biases are {} dimensional".format(
        fc, fc_params[fc][0].shape, fc_params[fc][1].shape))

net_full_conv = caffe.Net(os.path.join(here, "fc_full_conv.prototxt"), os.path.join(work, "fc.caffemodel"),
                          caffe.TEST)
params_full_conv = ["fc6-conv", "fc7-conv"]
conv_params = {pr: (net_full_conv.params[pr][0].data, net_full_conv.params[pr][1].data) for pr in params_full_conv}
for pr, pr_conv in zip(params, params_full_conv):
    conv_params[pr_conv][0].flat = fc_params[pr][0].flat  # flat unrolls the arrays
    conv_params[pr_conv][1][...] = fc_params[pr][1]
net_full_conv.save(os.path.join(work, "fc_full_conv.caffemodel"))

image = rng.uniform(-1, 1, size=(1, 3, 16, 16)).astype(np.float32)
out = net_full_conv.forward(data=image)
assert out["prob"].shape == (1, 5, 3, 3)
print(out["prob"][0].argmax(axis=0))
for i in range(3):
    for j in range(3):  # each output position is the fc net on the 12x12 window at stride 2
        window = image[:, :, 2 * i:2 * i + 12, 2 * j:2 * j + 12]
        want = net.forward(data=window)["prob"][0]
        assert np.allclose(out["prob"][0, :, i, j], want, rtol=1e-4, atol=1e-6), (i, j)

reloaded = caffe.Net(os.path.join(here, "fc_full_conv.prototxt"), caffe.TEST)
reloaded.copy_from(os.path.join(work, "fc_full_conv.caffemodel"))
assert np.allclose(reloaded.forward(data=image)["prob"], out["prob"])
print("ok")
