"""Classifies an image with a Transformer through a deploy net, as Caffe's classification
example does (the CIFAR-10 "quick" deploy net with random weights saved to a .caffemodel).

    python classify.py <caffe-models dir> <work dir>
"""

import os
import sys

import numpy as np
from PIL import Image

import lamina.caffe as caffe

models, work = sys.argv[1], sys.argv[2]
model_def = os.path.join(models, "cifar10_quick.prototxt")
model_weights = os.path.join(work, "cifar10_quick_random.caffemodel")

caffe.set_mode_cpu()
caffe.set_random_seed(7)
caffe.Net(model_def, caffe.TEST).save(model_weights)  # random weights, as Caffe's .caffemodel

# The mean image, through a .binaryproto as a mean file is read.
rng = np.random.default_rng(0)
mean_image = rng.uniform(100, 140, size=(1, 3, 32, 32)).astype(np.float32)
with open(os.path.join(work, "mean.binaryproto"), "wb") as f:
    f.write(caffe.io.array_to_blobproto(mean_image).SerializeToString())
blob = caffe.proto.caffe_pb2.BlobProto()
blob.ParseFromString(open(os.path.join(work, "mean.binaryproto"), "rb").read())
mu = np.array(caffe.io.blobproto_to_array(blob))[0].mean(1).mean(1)  # per-channel (BGR) mean
assert np.allclose(mu, mean_image[0].mean(axis=(1, 2)), rtol=1e-6)

net = caffe.Net(model_def,      # defines the structure of the model
                model_weights,  # contains the trained weights
                caffe.TEST)     # use test mode (e.g., don't perform dropout)

transformer = caffe.io.Transformer({"data": net.blobs["data"].data.shape})
transformer.set_transpose("data", (2, 0, 1))     # move image channels to outermost dimension
transformer.set_mean("data", mu)                 # subtract the dataset-mean value in each channel
transformer.set_raw_scale("data", 255)           # rescale from [0, 1] to [0, 255]
transformer.set_channel_swap("data", (2, 1, 0))  # swap channels from RGB to BGR

net.blobs["data"].reshape(4, 3, 32, 32)  # a batch of four

pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
Image.fromarray(pixels).save(os.path.join(work, "cat.png"))
image = caffe.io.load_image(os.path.join(work, "cat.png"))
assert image.dtype == np.float32 and image.shape == (32, 32, 3)
assert np.array_equal(image, pixels / np.float32(255))

transformed_image = transformer.preprocess("data", image)
expected = pixels.transpose(2, 0, 1)[::-1].astype(np.float64) / 255 * 255 - mu[:, None, None]
assert np.allclose(transformed_image, expected, atol=1e-4), "preprocess differs from NumPy"
assert np.allclose(transformer.deprocess("data", transformed_image), image, atol=1e-5)

net.blobs["data"].data[...] = transformed_image
output = net.forward()
output_prob = output["prob"][0]
print("predicted class is:", output_prob.argmax())
top_inds = output_prob.argsort()[::-1][:5]
print("top 5:", list(zip(output_prob[top_inds], top_inds)))

# lamina's own forward of the same input and weights.
import lamina  # noqa: E402

reference = lamina.Net(model_def, phase="test", input_shapes={"data": (4, 3, 32, 32)}, weights=model_weights)
want = reference.forward(data=np.broadcast_to(expected, (4, 3, 32, 32)).astype(np.float32))["prob"]
assert np.allclose(output["prob"], want, rtol=1e-5, atol=1e-7), "caffe.Net and lamina.Net disagree"
assert np.allclose(output["prob"].sum(axis=1), 1, atol=1e-5)

# A larger gray-scale image is resized to the input and tiled to three channels by the net's transform.
Image.fromarray(rng.integers(0, 256, size=(45, 40), dtype=np.uint8)).save(os.path.join(work, "gray.png"))
gray = caffe.io.load_image(os.path.join(work, "gray.png"), color=False)
assert gray.shape == (45, 40, 1)
color = caffe.io.load_image(os.path.join(work, "gray.png"))
assert color.shape == (45, 40, 3) and np.array_equal(color[..., 0], color[..., 2])
resized = transformer.preprocess("data", color)
assert resized.shape == (3, 32, 32)

crops = caffe.io.oversample([caffe.io.resize_image(color, (36, 36))], (32, 32))
assert crops.shape == (10, 32, 32, 3) and np.array_equal(crops[5], crops[0][:, ::-1])
probs = net.forward_all(data=np.asarray([transformer.preprocess("data", c) for c in crops]))["prob"]
assert probs.shape == (10, 10)
print("ok")
