"""Preprocessing layers inside the model: ``Rescaling`` and ``Normalization`` (with
``adapt``), so a saved model takes raw inputs."""

from __future__ import annotations

import math

import numpy as np

from gradkit import ops
from gradkit.backend import get_array_module, is_array
from gradkit.devices import device_of, place
from gradkit.layers.base import Layer, shape_str
from gradkit.layers.registry import register_builtin
from gradkit.tensor import Tensor
from gradkit.utils.validation import check_int, check_number, normalize_axes

__all__ = ["Normalization", "Rescaling"]

#: Keras's backend epsilon: the smallest standard deviation Normalization divides by
EPSILON = 1e-7


@register_builtin
class Rescaling(Layer):
    """``inputs * scale + offset`` (e.g. ``Rescaling(1 / 255)`` for 8-bit pixels).

    Args:
        scale: a number.
        offset: a number added after scaling (default 0).

    Example::

        Rescaling(1 / 127.5, offset=-1)(np.array([[0, 255]]))   # [[-1., 1.]]
    """

    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = check_number("Rescaling", "scale", scale)
        self.offset = check_number("Rescaling", "offset", offset)

    def call(self, inputs, training=None):
        x = inputs if inputs.dtype == self.dtype else ops.cast(inputs, self.dtype)
        y = x * self.dtype.type(self.scale)
        return y + self.dtype.type(self.offset) if self.offset else y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


@register_builtin
class Normalization(Layer):
    """Standardize features: ``(x - mean) / max(sqrt(variance), 1e-7)``.

    The statistics are given, or learned from data with :meth:`adapt` (kept as
    non-trainable weights, so they are saved with the model).

    Args:
        axis: the axis (or tuple of axes) that keeps its own statistics (default -1:
            one mean per feature); None: one mean and variance for everything.
        mean, variance: the statistics, broadcastable to the kept axes; give both or
            neither (then call :meth:`adapt`).
        invert: undo a normalization instead: ``mean + x * sqrt(variance)``.

    Example::

        norm = Normalization()
        norm.adapt(x_train)                 # per-feature mean and variance
        model = Sequential([norm, Dense(1)])
    """

    supports_masking = True

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            self.axis = ()
        elif isinstance(axis, (tuple, list)):
            self.axis = tuple(check_int("Normalization", "axis", a) for a in axis)
        else:
            self.axis = (check_int("Normalization", "axis", axis),)
        if (mean is None) != (variance is None):
            raise ValueError("Normalization: pass both mean and variance, or neither (then "
                             f"call adapt()); received mean={mean!r}, variance={variance!r}")
        self.invert = bool(invert)
        # mean and variance are config values (saved by get_config), kept on the host
        self.input_mean = self.input_variance = None
        if mean is not None:
            self.input_mean = np.asarray(mean, dtype=self.dtype)  # host: config value
            self.input_variance = np.asarray(variance, dtype=self.dtype)  # host: config value
        if self.input_variance is not None and (self.input_variance < 0).any():
            raise ValueError("Normalization: variance must be >= 0")
        self.mean = self.variance = None
        self._kept = None  # the kept axes, as non-negative numbers

    def _kept_axes(self, input_shape):
        if self.axis == () or any(a == 0 or a == -len(input_shape) for a in self.axis):
            if self.axis != ():
                raise ValueError(f"Normalization '{self.name}': axis {self.axis} includes the "
                                 "batch axis 0; statistics are over the batch")
            return ()
        return normalize_axes(f"Normalization '{self.name}' (input shape "
                              f"{shape_str(input_shape)})", self.axis, len(input_shape))

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self._kept = tuple(sorted(self._kept_axes(input_shape)))
        sizes = tuple(input_shape[a] for a in self._kept)
        if any(d is None for d in sizes):
            raise ValueError(f"Normalization '{self.name}' needs known sizes on axis "
                             f"{self.axis}, received shape {shape_str(input_shape)}")
        self._rank = len(input_shape)
        if self.input_mean is None:
            self.mean = self.add_weight(sizes, "zeros", trainable=False, name="mean")
            self.variance = self.add_weight(sizes, "ones", trainable=False, name="variance")
        else:
            # host constants from the config, placed on the input's device in call()
            self.mean = np.broadcast_to(self.input_mean, sizes)  # host: config value
            self.variance = np.broadcast_to(self.input_variance, sizes)  # host: config value
        self.built = True

    def _broadcast_shape(self):
        return tuple(self.mean.shape[self._kept.index(a)] if a in self._kept else 1
                     for a in range(self._rank))

    def adapt(self, data, batch_size=None, steps=None):
        """Set mean and variance from ``data`` (an array, or an iterable of batches).

        Args:
            data: samples ``(n, ...)``, or an iterable yielding such arrays (or
                ``(x, ...)`` tuples, whose ``x`` is used).
            batch_size: with an array, read it in batches of this size (same result).
            steps: read at most this many batches of an iterable.
        """
        if self.input_mean is not None:
            raise ValueError(f"Normalization '{self.name}' was given mean and variance; "
                             "adapt() would overwrite them: create it without them")
        if isinstance(data, (Tensor, list)) or is_array(data):
            arr = place(data._data if isinstance(data, Tensor) else data,
                        device_of(data._data if isinstance(data, Tensor) else data))
            size = arr.shape[0] if batch_size is None else check_int(
                "Normalization.adapt", "batch_size", batch_size, minimum=1)
            batches = (arr[i:i + size] for i in range(0, len(arr), max(size, 1)))
        else:
            batches = iter(data)
        count, mean, m2 = 0, None, None
        for i, b in enumerate(batches):
            if steps is not None and i >= steps:
                break
            if isinstance(b, (tuple, list)):
                b = b[0]
            b = b._data if isinstance(b, Tensor) else b
            b = place(b, device_of(b)).astype(np.float64)  # a list becomes a host array
            if not self.built:
                self._maybe_build((None,) + b.shape[1:])
            reduce = tuple(a for a in range(b.ndim) if a not in self._kept)
            n = math.prod(b.shape[a] for a in reduce)
            bm = b.mean(axis=reduce)
            bv = b.var(axis=reduce)
            if mean is None:
                count, mean, m2 = n, bm, bv * n
            else:  # Chan et al.: merge the running and the batch statistics
                delta = bm - mean
                total = count + n
                mean = mean + delta * (n / total)
                m2 = m2 + bv * n + delta ** 2 * (count * n / total)
                count = total
        if mean is None:
            raise ValueError(f"Normalization '{self.name}'.adapt: the data is empty")
        self.mean.assign(mean.astype(self.dtype).reshape(self.mean.shape))
        self.variance.assign((m2 / count).astype(self.dtype).reshape(self.variance.shape))

    def call(self, inputs, training=None):
        x = inputs if inputs.dtype == self.dtype else ops.cast(inputs, self.dtype)
        shape = self._broadcast_shape()
        dev = device_of(x._data)
        xp = get_array_module(x._data)
        mean = ops.reshape(self.mean, shape) if isinstance(self.mean, Tensor) else \
            place(self.mean, dev).reshape(shape)
        var = place(self.variance._data if isinstance(self.variance, Tensor) else
                    self.variance, dev)
        std = xp.maximum(xp.sqrt(var), EPSILON).reshape(shape).astype(self.dtype)
        if self.invert:
            return x * std + mean
        return (x - mean) * (1.0 / std).astype(self.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = {**super().get_config(), "invert": self.invert,
               "axis": None if self.axis == () else
               (self.axis[0] if len(self.axis) == 1 else list(self.axis))}
        if self.input_mean is not None:
            cfg["mean"] = self.input_mean.tolist()
            cfg["variance"] = self.input_variance.tolist()
        return cfg
