"""Convolution layers: ``Conv2D`` and ``Conv1D`` (Keras semantics).

Both keep ONE kernel layout in their weights, whatever ``data_format``:
``(kh, kw, in_channels, filters)`` for Conv2D and ``(k, in_channels, filters)``
for Conv1D, as Keras stores them, so weights and configs are interchangeable
between data formats. The math is :func:`gradkit.ops.conv2d` (im2col and one
GEMM); Conv1D is a Conv2D over a height-1 image.

The shape helpers here (:func:`conv_output_length`, :class:`ImageInputSpec`,
:func:`normalize_tuple`...) are shared with :mod:`gradkit.layers.pooling`.
"""

from __future__ import annotations

import math

from gradkit import activations, ops
from gradkit.layers.base import InputSpec, Layer, shape_str
from gradkit.layers.core import serialize_arg
from gradkit.layers.registry import register_builtin
from gradkit.utils.validation import check_choice, check_int

__all__ = ["Conv1D", "Conv2D"]

FORMATS = ("channels_last", "channels_first")


# ------------------------------------------------------------------ argument checks
def normalize_tuple(value, n, what, layer, minimum=1):
    """``value`` (an int or ``n`` ints) as a tuple of ``n`` ints ``>= minimum``."""
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"{layer}: {what} must be an int or a tuple of {n} ints, "
                             f"received {value!r}")
        return tuple(check_int(layer, what, v, minimum=minimum) for v in value)
    return (check_int(layer, what, value, minimum=minimum),) * n


def normalize_padding(padding, layer, allowed=("valid", "same")):
    if not isinstance(padding, str):
        raise TypeError(f"{layer}: padding must be a string, received {padding!r}")
    return check_choice(layer, "padding", padding.lower(), allowed)


def normalize_data_format(data_format, layer):
    if data_format is None:
        return "channels_last"
    return check_choice(layer, "data_format", data_format, FORMATS)


def conv_output_length(n, window, padding, stride, dilation=1):
    """Output length of a convolution/pooling along one axis (``None`` stays ``None``).

    ``"valid"``: ``floor((n - eff) / stride) + 1`` with the dilated window
    ``eff = (window - 1) * dilation + 1``; ``"same"`` and ``"causal"``:
    ``ceil(n / stride)`` (``"causal"`` pads ``eff - 1`` in front).
    Returns 0 or less when the window does not fit.
    """
    if n is None:
        return None
    eff = (window - 1) * dilation + 1
    if padding == "valid":
        return (n - eff) // stride + 1 if n >= eff else 0
    if padding == "causal":
        return (n - 1) // stride + 1
    return -(-n // stride)  # same



# ------------------------------------------------------------------ input checks
class ImageInputSpec(InputSpec):
    """``InputSpec`` of layers on ``rank``-D images: rank, and the channel count once built.

    The rank error carries a hint for the common mistakes (images without a
    channel axis, flat vectors); the channel error names both sizes.
    """

    def __init__(self, rank, data_format, channels=None):
        super().__init__(ndim=rank + 2)
        self.rank = rank
        self.channels_first = data_format == "channels_first"
        self.channels = channels

    def _rank_hint(self, layer, shape):
        spatial = shape[1:]
        if len(shape) == self.ndim - 1 and all(d is not None for d in spatial):
            # one axis short: the channel axis is missing
            if self.channels_first:
                target = (1,) + tuple(spatial)
                fix = "x[:, None]"
            else:
                target = tuple(spatial) + (1,)
                fix = "x[..., None]"
            return (f"add a channel axis, e.g. {fix} or "
                    f"Reshape({shape_str(target)})")
        if self.rank == 1:
            what = "(batch, channels, steps)" if self.channels_first else \
                "(batch, steps, channels)"
        else:
            what = "(batch, channels, height, width)" if self.channels_first else \
                "(batch, height, width, channels)"
        hint = f"{type(layer).__name__} takes inputs shaped {what}"
        if len(shape) == 2 and shape[1] is not None and self.rank == 2:
            side = math.isqrt(shape[1])
            if side * side == shape[1]:
                target = (1, side, side) if self.channels_first else (side, side, 1)
                hint += f"; reshape flat vectors into images, e.g. Reshape({shape_str(target)})"
        return hint

    def check(self, layer, shape):
        shape = tuple(shape)
        if len(shape) != self.ndim:
            self.hint = self._rank_hint(layer, shape)
            super().check(layer, shape)
        if self.channels is not None:
            axis = 1 if self.channels_first else len(shape) - 1
            got = shape[axis]
            if got is not None and got != self.channels:
                fmt = "channels_first" if self.channels_first else "channels_last"
                raise ValueError(
                    f"{type(layer).__name__} '{layer.name}' was built for {self.channels} input "
                    f"channels but received {got} channels (axis {axis} of shape "
                    f"{shape_str(shape)}, {fmt}); a layer keeps the channel count of its "
                    "first input: create a new layer for other inputs")


def _known_channels(layer, input_shape, channels_first):
    axis = 1 if channels_first else -1
    c = input_shape[axis]
    if c is None:
        raise ValueError(f"{type(layer).__name__} '{layer.name}' needs a known channel "
                         f"axis to create its kernel, received shape {shape_str(input_shape)}")
    return int(c)


# ------------------------------------------------------------------ Conv2D
@register_builtin
class Conv2D(Layer):
    """2-D convolution (cross-correlation) over images, plus bias and activation.

    Args:
        filters: number of output channels.
        kernel_size: window height and width (an int for both).
        strides: step along height and width (an int for both).
        padding: ``"valid"`` (no padding) or ``"same"`` (output ``ceil(in / stride)``,
            the odd extra row/column of padding at the bottom/right, as Keras).
        data_format: ``"channels_last"`` (inputs ``(N, H, W, C)``, the default)
            or ``"channels_first"`` (``(N, C, H, W)``).
        dilation_rate: spacing between kernel taps (an int for both axes).
        activation: name or callable applied to the output (None: linear).
        use_bias: add a learned bias per filter.
        kernel_initializer, bias_initializer: initializers (names or callables).
        kernel_regularizer, bias_regularizer: optional penalties added to ``losses``.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape``.

    Shapes:
        input ``(N, H, W, C)`` (channels_last) or ``(N, C, H, W)``;
        output ``(N, OH, OW, filters)`` or ``(N, filters, OH, OW)`` with
        ``OH = floor((H - (kh - 1) * dilation - 1) / stride) + 1`` (valid) or
        ``ceil(H / stride)`` (same). Kernel ``(kh, kw, C, filters)`` in either format.

    Example::

        conv = Conv2D(32, 3, activation="relu")
        y = conv(np.zeros((8, 28, 28, 1), "float32"))   # (8, 26, 26, 32)
        conv.count_params()                              # 3*3*1*32 + 32 = 320
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 data_format="channels_last", dilation_rate=(1, 1), activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        who = f"{type(self).__name__} '{self.name}'"
        self.filters = check_int(who, "filters", filters, minimum=1)
        n = self.rank
        self.kernel_size = normalize_tuple(kernel_size, n, "kernel_size", who)
        self.strides = normalize_tuple(strides, n, "strides", who)
        self.dilation_rate = normalize_tuple(dilation_rate, n, "dilation_rate", who)
        self.padding = normalize_padding(padding, who, self._paddings)
        self.data_format = normalize_data_format(data_format, who)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.input_spec = ImageInputSpec(n, self.data_format)
        self.kernel = self.bias = None
        if self._build_input_shape is not None:  # sizes known: create the weights now
            self._maybe_build(self._build_input_shape)

    _paddings = ("valid", "same")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self.input_spec.check(self, input_shape)
        channels_first = self.data_format == "channels_first"
        cin = _known_channels(self, input_shape, channels_first)
        self.kernel = self.add_weight(
            self.kernel_size + (cin, self.filters), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, name="kernel")
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, name="bias")
        self.input_spec = ImageInputSpec(self.rank, self.data_format, channels=cin)
        self.built = True

    #: whether ``_conv`` takes ``activation`` (relu/tanh applied inside ops.conv2d)
    _fuses_activation = True

    def _conv(self, x, kernel, bias, activation=None):
        if self.data_format == "channels_first":
            # the op takes (out, in, kh, kw) for channels_first; the weight stays (kh, kw, in, out)
            kernel = ops.transpose(kernel, (3, 2, 0, 1))
        return ops.conv2d(x, kernel, bias, strides=self.strides, padding=self.padding,
                          data_format=self.data_format, dilation=self.dilation_rate,
                          activation=activation)

    def call(self, inputs, training=None):
        x = inputs if inputs.dtype == self.dtype else ops.cast(inputs, self.dtype)
        # relu and tanh are fused into ops.conv2d: applied in place, one graph node
        fused = self._fuses_activation and activations.fused_name(self.activation)
        if fused:
            return self._conv(x, self.kernel, self.bias, fused)
        y = self._conv(x, self.kernel, self.bias)
        return y if self.activation is activations.linear else self.activation(y)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.input_spec.check(self, input_shape)
        channels_first = self.data_format == "channels_first"
        spatial = input_shape[2:] if channels_first else input_shape[1:-1]
        out = []
        for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate):
            m = conv_output_length(n, k, self.padding, s, d)
            if m is not None and m <= 0:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': the kernel {self.kernel_size} "
                    f"(dilation {self.dilation_rate}) does not fit inputs of shape "
                    f"{shape_str(input_shape)} with padding='{self.padding}'; use "
                    "padding='same', a smaller kernel or larger inputs")
            out.append(m)
        if channels_first:
            return (input_shape[0], self.filters) + tuple(out)
        return (input_shape[0],) + tuple(out) + (self.filters,)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(
            filters=self.filters, kernel_size=list(self.kernel_size), strides=list(self.strides),
            padding=self.padding, data_format=self.data_format,
            dilation_rate=list(self.dilation_rate),
            activation=activations.serialize(self.activation), use_bias=self.use_bias,
            kernel_initializer=serialize_arg(self.kernel_initializer, "initializers"),
            bias_initializer=serialize_arg(self.bias_initializer, "initializers"),
            kernel_regularizer=serialize_arg(self.kernel_regularizer, "regularizers"),
            bias_regularizer=serialize_arg(self.bias_regularizer, "regularizers"))
        return cfg


# ------------------------------------------------------------------ Conv1D
@register_builtin
class Conv1D(Conv2D):
    """1-D convolution over sequences (a Conv2D over height-1 images).

    Args:
        filters: number of output channels.
        kernel_size: window length.
        strides: step.
        padding: ``"valid"``, ``"same"`` or ``"causal"`` (pads ``(k - 1) * dilation``
            in front only: output ``t`` sees inputs up to ``t``).
        data_format: ``"channels_last"`` (``(N, steps, C)``) or ``"channels_first"``
            (``(N, C, steps)``).
        dilation_rate, activation, use_bias, *_initializer, *_regularizer: as Conv2D.

    Shapes:
        input ``(N, L, C)``; output ``(N, OL, filters)`` (channels_last).
        Kernel ``(k, C, filters)``.

    Example::

        conv = Conv1D(16, 5, padding="causal")
        conv(np.zeros((4, 100, 3), "float32")).shape   # (4, 100, 16)
    """

    rank = 1
    _paddings = ("valid", "same", "causal")

    def __init__(self, filters, kernel_size, strides=1, padding="valid",
                 data_format="channels_last", dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, **kwargs)

    def _conv(self, x, kernel, bias, activation=None):
        cf = self.data_format == "channels_first"
        padding = self.padding
        if padding == "causal":
            front = (self.kernel_size[0] - 1) * self.dilation_rate[0]
            if front:
                width = [(0, 0), (0, 0), (front, 0)] if cf else [(0, 0), (front, 0), (0, 0)]
                x = ops.pad(x, width)
            padding = "valid"
        k, cin, cout = kernel.shape
        if cf:
            x4 = ops.expand_dims(x, 2)                                    # (N, C, 1, L)
            k4 = ops.reshape(ops.transpose(kernel, (2, 1, 0)), (cout, cin, 1, k))
        else:
            x4 = ops.expand_dims(x, 1)                                    # (N, 1, L, C)
            k4 = ops.reshape(kernel, (1, k, cin, cout))
        y = ops.conv2d(x4, k4, bias, strides=(1, self.strides[0]), padding=padding,
                       data_format=self.data_format, dilation=(1, self.dilation_rate[0]),
                       activation=activation)
        return ops.squeeze(y, 2 if cf else 1)

    def get_config(self):
        cfg = super().get_config()
        for key in ("kernel_size", "strides", "dilation_rate"):
            cfg[key] = cfg[key][0]
        return cfg
