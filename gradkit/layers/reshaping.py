"""Layers that resize their input: ``UpSampling2D``."""

from __future__ import annotations

import numpy as np

from gradkit import ops
from gradkit.devices import device_of, place
from gradkit.layers.base import Layer
from gradkit.layers.conv import ImageInputSpec, normalize_data_format, normalize_tuple
from gradkit.layers.registry import register_builtin
from gradkit.utils.validation import check_choice

__all__ = ["UpSampling2D", "bilinear_matrix"]


def bilinear_matrix(n, factor, dtype):  # host: a constant built from two sizes
    """``(n * factor, n)`` weights of linear interpolation with half-pixel centers.

    Output row ``o`` reads source position ``(o + 0.5) / factor - 0.5`` (clamped
    at the edges), as PyTorch's ``align_corners=False`` and Keras's resize.
    """
    # host: a constant matrix of interpolation weights (the layer places it on its device)
    src = np.maximum((np.arange(n * factor) + 0.5) / factor - 0.5, 0.0)  # host: constant
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n - 1)  # host: constant
    frac = src - lo
    a = np.zeros((n * factor, n))  # host: constant
    rows = np.arange(n * factor)
    np.add.at(a, (rows, lo), 1.0 - frac)
    np.add.at(a, (rows, hi), frac)
    return a.astype(dtype)


@register_builtin
class UpSampling2D(Layer):
    """Enlarge images by whole factors: repeat pixels (``"nearest"``) or interpolate
    linearly between them (``"bilinear"``).

    Args:
        size: the factors along height and width (an int for both).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        interpolation: ``"nearest"`` or ``"bilinear"`` (half-pixel centers, as
            PyTorch's ``Upsample(align_corners=False)``).

    Shapes:
        ``(N, H, W, C)`` -> ``(N, H * sh, W * sw, C)`` (channels_last).

    Example::

        UpSampling2D(2)(np.zeros((1, 7, 7, 8), "float32")).shape   # (1, 14, 14, 8)
    """

    supports_masking = False

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        who = f"UpSampling2D '{self.name}'"
        self.size = normalize_tuple(size, 2, "size", who)
        self.data_format = normalize_data_format(data_format, who)
        self.interpolation = check_choice(who, "interpolation", interpolation,
                                          ("nearest", "bilinear"))
        self.input_spec = ImageInputSpec(2, self.data_format)

    def call(self, inputs, training=None):
        x = inputs if inputs.dtype.kind == "f" else ops.cast(inputs, self.dtype)
        cf = self.data_format == "channels_first"
        if cf:
            x = ops.transpose(x, (0, 2, 3, 1))
        n, h, w, c = x.shape
        sh, sw = self.size
        if self.interpolation == "nearest":
            y = ops.broadcast_to(ops.reshape(x, (n, h, 1, w, 1, c)), (n, h, sh, w, sw, c))
            y = ops.reshape(y, (n, h * sh, w * sw, c))
        else:
            dev = device_of(x._data)
            y = ops.einsum("oh,nhwc->nowc", place(bilinear_matrix(h, sh, x.dtype), dev), x)
            y = ops.einsum("pw,nowc->nopc", place(bilinear_matrix(w, sw, x.dtype), dev), y)
        return ops.transpose(y, (0, 3, 1, 2)) if cf else y

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.input_spec.check(self, input_shape)
        axes = (2, 3) if self.data_format == "channels_first" else (1, 2)
        out = list(input_shape)
        for axis, f in zip(axes, self.size):
            out[axis] = None if out[axis] is None else out[axis] * f
        return tuple(out)

    def get_config(self):
        return {**super().get_config(), "size": list(self.size),
                "data_format": self.data_format, "interpolation": self.interpolation}
