"""The Python layer pycaffe_linreg.prototxt names (module pyloss, class EuclideanLossLayer),
written for lamina: the forward in lamina ops, the backward from the tape."""

import lamina
from lamina import ops


class EuclideanLossLayer(lamina.Layer):
    """sum((a - b)^2) / (2 N) over a batch of N."""

    def setup(self, bottoms):
        if len(bottoms) != 2 or bottoms[0].shape != bottoms[1].shape:
            raise lamina.ShapeError(f"{self.name}: needs two bottoms of one shape")

    def forward(self, bottoms):
        a, b = bottoms
        return ops.affine(ops.sum(ops.square(ops.sub(a, b))), 0.5 / a.shape[0])
