"""caffe.Classifier: pycaffe's image classifier over a deploy net (a caffe.Net in TEST).

predict(images) resizes each H x W x K image to image_dims, takes the ten oversample crops
(or the center crop) of the net's input size, preprocesses them with a Transformer
(transpose to K x H x W, then channel swap, raw scale, mean, input scale) and runs them
through forward_all; with oversampling the ten crops' outputs are averaged.
"""

from __future__ import annotations

import numpy as np

from . import io
from .pycaffe import TEST, Net

__all__ = ["Classifier"]


class Classifier(Net):
    def __init__(self, model_file, pretrained_file, image_dims=None, mean=None, input_scale=None, raw_scale=None,
                 channel_swap=None):
        super().__init__(model_file, TEST, weights=pretrained_file)
        data = self.inputs[0]
        self.transformer = io.Transformer({data: self.blobs[data].data.shape})
        self.transformer.set_transpose(data, (2, 0, 1))
        if mean is not None:
            self.transformer.set_mean(data, mean)
        if input_scale is not None:
            self.transformer.set_input_scale(data, input_scale)
        if raw_scale is not None:
            self.transformer.set_raw_scale(data, raw_scale)
        if channel_swap is not None:
            self.transformer.set_channel_swap(data, channel_swap)
        self.crop_dims = np.array(self.blobs[data].data.shape[2:])
        self.image_dims = np.array(image_dims if image_dims is not None else self.crop_dims)

    def predict(self, inputs, oversample: bool = True) -> np.ndarray:
        """Class scores (N x classes) of the images (each H x W x K, as caffe.io.load_image gives)."""
        images = np.asarray([io.resize_image(image, self.image_dims) for image in inputs], np.float32)
        if oversample:
            crops = io.oversample(images, self.crop_dims)
        else:
            top, left = ((self.image_dims - self.crop_dims) / 2.0).astype(int)
            crops = images[:, top:top + self.crop_dims[0], left:left + self.crop_dims[1], :]
        data = self.inputs[0]
        batch = np.asarray([self.transformer.preprocess(data, crop) for crop in crops])
        predictions = self.forward_all(**{data: batch})[self.outputs[0]]
        if oversample:
            predictions = predictions.reshape((len(predictions) // 10, 10, -1)).mean(1)
        return predictions
