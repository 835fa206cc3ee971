"""Pooling layers: windowed max/average and global max/average over images.

``MaxPooling2D``/``AveragePooling2D`` wrap :func:`gradkit.ops.max_pool2d` /
:func:`gradkit.ops.avg_pool2d` (Keras semantics: ``"same"`` pads the extra
row/column at the bottom/right, and average pooling leaves padding out of the
count). The global layers reduce the spatial axes with ``mean``/``max``.
"""

from __future__ import annotations

from gradkit import ops
from gradkit.backend import get_array_module
from gradkit.devices import device_of, place
from gradkit.layers.base import Layer, shape_str
from gradkit.layers.conv import (
    ImageInputSpec,
    conv_output_length,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
)
from gradkit.layers.registry import register_builtin
from gradkit.tensor import Tensor

__all__ = [
    "AveragePooling2D", "AvgPool2D", "GlobalAveragePooling2D", "GlobalAvgPool2D",
    "GlobalMaxPool2D", "GlobalMaxPooling2D", "MaxPool2D", "MaxPooling2D",
    "GlobalAveragePooling1D", "GlobalAvgPool1D", "GlobalMaxPool1D", "GlobalMaxPooling1D",
]


class _Pooling2D(Layer):
    """Shared code of the windowed 2-D pooling layers (no weights)."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid",
                 data_format="channels_last", **kwargs):
        super().__init__(**kwargs)
        who = f"{type(self).__name__} '{self.name}'"
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size", who)
        self.strides = self.pool_size if strides is None else \
            normalize_tuple(strides, 2, "strides", who)
        self.padding = normalize_padding(padding, who)
        self.data_format = normalize_data_format(data_format, who)
        self.input_spec = ImageInputSpec(2, self.data_format)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.input_spec.check(self, input_shape)
        cf = self.data_format == "channels_first"
        spatial = input_shape[2:] if cf else input_shape[1:3]
        out = []
        for n, p, s in zip(spatial, self.pool_size, self.strides):
            m = conv_output_length(n, p, self.padding, s)
            if m is not None and m <= 0:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': the pool window {self.pool_size} "
                    f"does not fit inputs of shape {shape_str(input_shape)} with "
                    f"padding='{self.padding}'; use padding='same' or a smaller pool_size")
            out.append(m)
        if cf:
            return input_shape[:2] + tuple(out)
        return (input_shape[0],) + tuple(out) + (input_shape[3],)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(pool_size=list(self.pool_size), strides=list(self.strides),
                   padding=self.padding, data_format=self.data_format)
        return cfg


@register_builtin
class MaxPooling2D(_Pooling2D):
    """Maximum over ``pool_size`` windows of each channel.

    Args:
        pool_size: window height and width (an int for both). Default ``(2, 2)``.
        strides: step (default: ``pool_size``, non-overlapping windows).
        padding: ``"valid"`` or ``"same"`` (output ``ceil(in / stride)``; padding
            never wins the max).
        data_format: ``"channels_last"`` ``(N, H, W, C)`` or ``"channels_first"``
            ``(N, C, H, W)``.

    Shapes:
        ``(N, H, W, C)`` -> ``(N, OH, OW, C)`` with ``OH = floor((H - pool) / stride) + 1``
        (valid) or ``ceil(H / stride)`` (same). The gradient goes to one element
        per window (the first maximum).

    Example::

        MaxPooling2D(2)(np.zeros((8, 26, 26, 32), "float32")).shape   # (8, 13, 13, 32)
    """

    def call(self, inputs, training=None):
        return ops.max_pool2d(inputs, pool_size=self.pool_size, strides=self.strides,
                              padding=self.padding, data_format=self.data_format)


@register_builtin
class AveragePooling2D(_Pooling2D):
    """Mean over ``pool_size`` windows of each channel.

    Args:
        pool_size: window height and width (an int for both). Default ``(2, 2)``.
        strides: step (default: ``pool_size``).
        padding: ``"valid"`` or ``"same"`` (padded positions are left out of the mean,
            as in Keras).
        data_format: ``"channels_last"`` or ``"channels_first"``.

    Shapes:
        as :class:`MaxPooling2D`.

    Example::

        AveragePooling2D(2)(np.ones((1, 4, 4, 1), "float32")).shape   # (1, 2, 2, 1)
    """

    def call(self, inputs, training=None):
        return ops.avg_pool2d(inputs, pool_size=self.pool_size, strides=self.strides,
                              padding=self.padding, data_format=self.data_format)


class _GlobalPooling2D(Layer):
    """Shared code of the global 2-D pooling layers (no weights)."""

    def __init__(self, data_format="channels_last", keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, f"{type(self).__name__} "
                                                 f"'{self.name}'")
        self.keepdims = bool(keepdims)
        self.input_spec = ImageInputSpec(self.rank, self.data_format)

    rank = 2  # spatial axes (1 for sequences)

    @property
    def _axes(self):
        first = 2 if self.data_format == "channels_first" else 1
        return tuple(range(first, first + self.rank))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.input_spec.check(self, input_shape)
        if self.keepdims:
            return tuple(1 if i in self._axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in self._axes)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(data_format=self.data_format, keepdims=self.keepdims)
        return cfg


@register_builtin
class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over the spatial axes: one value per channel.

    Args:
        data_format: ``"channels_last"`` ``(N, H, W, C)`` or ``"channels_first"``
            ``(N, C, H, W)``.
        keepdims: keep the spatial axes with length 1.

    Shapes:
        ``(N, H, W, C)`` -> ``(N, C)`` (``(N, 1, 1, C)`` with ``keepdims``).

    Example::

        GlobalAveragePooling2D()(np.ones((8, 7, 7, 64), "float32")).shape   # (8, 64)
    """

    def call(self, inputs, training=None):
        return ops.mean(inputs, axis=self._axes, keepdims=self.keepdims)


@register_builtin
class GlobalMaxPooling2D(_GlobalPooling2D):
    """Maximum over the spatial axes: one value per channel.

    Args:
        data_format: ``"channels_last"`` or ``"channels_first"``.
        keepdims: keep the spatial axes with length 1.

    Shapes:
        ``(N, H, W, C)`` -> ``(N, C)`` (``(N, 1, 1, C)`` with ``keepdims``). Ties
        share the gradient.

    Example::

        GlobalMaxPooling2D()(np.ones((8, 7, 7, 64), "float32")).shape   # (8, 64)
    """

    def call(self, inputs, training=None):
        return ops.max(inputs, axis=self._axes, keepdims=self.keepdims)


@register_builtin
class GlobalAveragePooling1D(_GlobalPooling2D):
    """Mean over the steps of a sequence: one value per channel; masked steps (the
    input's mask, e.g. from ``Embedding(mask_zero=True)``) are left out of the mean (a
    sequence with every step masked gives zeros, where Keras gives NaN).

    Args:
        data_format: ``"channels_last"`` ``(N, steps, C)`` or ``"channels_first"``
            ``(N, C, steps)``.
        keepdims: keep the steps axis with length 1.

    Shapes:
        ``(N, steps, C)`` -> ``(N, C)`` (``(N, 1, C)`` with ``keepdims``).

    Example::

        GlobalAveragePooling1D()(np.ones((8, 20, 16), "float32")).shape   # (8, 16)
    """

    rank = 1
    supports_masking = True

    def call(self, inputs, training=None, mask=None):
        axis = self._axes[0]
        if mask is None:
            return ops.mean(inputs, axis=axis, keepdims=self.keepdims)
        data = inputs._data
        xp = get_array_module(data)
        w = place(mask._data if isinstance(mask, Tensor) else mask,
                  device_of(data)).astype(inputs.dtype)
        w = w[:, None, :] if axis == 2 else w[:, :, None]
        total = ops.sum(inputs * w, axis=axis, keepdims=self.keepdims)
        count = w.sum(axis=axis, keepdims=self.keepdims)
        return total * (1.0 / xp.maximum(count, 1.0)).astype(inputs.dtype)

    def compute_mask(self, inputs, mask=None):
        return None  # the steps axis is gone


@register_builtin
class GlobalMaxPooling1D(_GlobalPooling2D):
    """Maximum over the steps of a sequence: one value per channel.

    Args:
        data_format: ``"channels_last"`` ``(N, steps, C)`` or ``"channels_first"``.
        keepdims: keep the steps axis with length 1.

    Shapes:
        ``(N, steps, C)`` -> ``(N, C)`` (``(N, 1, C)`` with ``keepdims``).

    Example::

        GlobalMaxPooling1D()(np.ones((8, 20, 16), "float32")).shape   # (8, 16)
    """

    rank = 1

    def call(self, inputs, training=None):
        return ops.max(inputs, axis=self._axes[0], keepdims=self.keepdims)


# Keras's short aliases (the same classes)
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D
