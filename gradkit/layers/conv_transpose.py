"""``Conv2DTranspose``: the transposed ("de-") convolution that upsamples images.

The math is :func:`gradkit.ops.conv2d_transpose`; the kernel is stored
``(kh, kw, filters, in_channels)`` in either data format, as Keras stores it,
so weights load from Keras models unchanged.
"""

from __future__ import annotations

from gradkit import ops
from gradkit.layers.base import shape_str
from gradkit.layers.conv import Conv2D, ImageInputSpec, _known_channels, normalize_tuple
from gradkit.layers.registry import register_builtin

__all__ = ["Conv2DTranspose"]


def deconv_output_length(n, window, padding, stride, dilation=1, output_padding=None):
    """Output length of a transposed convolution along one axis (``None`` stays ``None``).

    With ``output_padding=None``: ``n * stride`` ("same") or
    ``n * stride + max(eff - stride, 0)`` ("valid"), ``eff`` the dilated window; with it,
    ``(n - 1) * stride + eff % 2 + output_padding`` ("same") or
    ``(n - 1) * stride + eff + output_padding`` ("valid"), as Keras.
    """
    if n is None:
        return None
    eff = (window - 1) * dilation + 1
    if output_padding is None:
        return n * stride + (max(eff - stride, 0) if padding == "valid" else 0)
    return (n - 1) * stride + (eff if padding == "valid" else eff % 2) + output_padding


@register_builtin
class Conv2DTranspose(Conv2D):
    """Transposed 2-D convolution: each input pixel spreads ``kernel`` over a window of
    the output, ``strides`` apart (the gradient of Conv2D as a layer; upsamples by
    ``strides``).

    Args:
        filters: number of output channels.
        kernel_size: window height and width (an int for both).
        strides: upsampling step along height and width (an int for both).
        padding: ``"valid"`` or ``"same"`` (output ``H * stride`` when ``output_padding``
            is None), as Keras.
        output_padding: None, or an int / pair (each smaller than the stride or
            dilation): the output becomes ``(H - 1) * stride + eff % 2 + output_padding``
            ("same") or ``(H - 1) * stride + eff + output_padding`` ("valid").
        data_format, dilation_rate, activation, use_bias, kernel_initializer,
        bias_initializer, kernel_regularizer, bias_regularizer, **kwargs: as Conv2D.

    Shapes:
        input ``(N, H, W, C)`` (or ``(N, C, H, W)``); output ``(N, OH, OW, filters)``;
        kernel ``(kh, kw, filters, C)``.

    Example::

        up = Conv2DTranspose(16, 3, strides=2, padding="same")
        up(np.zeros((8, 7, 7, 32), "float32")).shape     # (8, 14, 14, 16)
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 output_padding=None, data_format="channels_last", dilation_rate=(1, 1),
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 **kwargs):
        # set before Conv2D.__init__, which builds at once when the input shape is given
        self.output_padding = None if output_padding is None else normalize_tuple(
            output_padding, 2, "output_padding", "Conv2DTranspose", minimum=0)
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, **kwargs)
        if self.output_padding is not None:
            for op, s, d in zip(self.output_padding, self.strides, self.dilation_rate):
                if op >= max(s, d):
                    raise ValueError(f"Conv2DTranspose '{self.name}': output_padding "
                                     f"{self.output_padding} must be smaller than the strides "
                                     f"{self.strides} (or the dilation_rate)")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self.input_spec.check(self, input_shape)
        cin = _known_channels(self, input_shape, self.data_format == "channels_first")
        self.kernel = self.add_weight(
            self.kernel_size + (self.filters, cin), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, name="kernel")
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, name="bias")
        self.input_spec = ImageInputSpec(2, self.data_format, channels=cin)
        self.built = True

    _fuses_activation = False  # its activation is applied as an op of its own

    def _conv(self, x, kernel, bias):
        if self.data_format == "channels_first":
            # the op takes (in, out, kh, kw) for channels_first; the weight stays (kh, kw, out, in)
            kernel = ops.transpose(kernel, (3, 2, 0, 1))
        return ops.conv2d_transpose(x, kernel, bias, strides=self.strides, padding=self.padding,
                                    output_padding=self.output_padding,
                                    data_format=self.data_format, dilation=self.dilation_rate)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.input_spec.check(self, input_shape)
        cf = self.data_format == "channels_first"
        spatial = input_shape[2:] if cf else input_shape[1:-1]
        pads = self.output_padding or (None, None)
        out = tuple(deconv_output_length(n, k, self.padding, s, d, p) for n, k, s, d, p in
                    zip(spatial, self.kernel_size, self.strides, self.dilation_rate, pads))
        if any(m is not None and m < 1 for m in out):
            raise ValueError(f"Conv2DTranspose '{self.name}': no output for inputs of shape "
                             f"{shape_str(input_shape)}")
        return (input_shape[0], self.filters) + out if cf else \
            (input_shape[0],) + out + (self.filters,)

    def get_config(self):
        cfg = super().get_config()
        cfg["output_padding"] = None if self.output_padding is None else \
            list(self.output_padding)
        return cfg
