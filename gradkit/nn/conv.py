"""``Conv2d``: 2-D convolution on NCHW images, PyTorch's weights and initialization."""

from __future__ import annotations

import math

from gradkit.nn import init
from gradkit.nn.functional import conv2d, pair
from gradkit.nn.module import Module, builtin, factory_dtype, new_parameter
from gradkit.utils.validation import check_choice, check_int


@builtin
class Conv2d(Module):
    """2-D convolution: ``(N, C_in, H, W) -> (N, C_out, OH, OW)``.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size, stride, padding, dilation: ints or pairs; ``padding`` may also be
            ``"valid"`` or ``"same"``.
        groups: only 1 is supported.
        bias: learn a per-channel bias.
        padding_mode: only ``"zeros"`` is supported.

    ``weight`` is ``(out, in, kh, kw)`` with ``kaiming_uniform_(a=sqrt(5))``, the bias
    ``U(-1/sqrt(fan_in), ...)``, as in PyTorch. The math is ``ops.conv2d`` with
    ``data_format="channels_first"``.

    Example::

        conv = nn.Conv2d(1, 32, 3, padding=1)
        y = conv(images)                 # (N, 1, 28, 28) -> (N, 32, 28, 28)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        dt = factory_dtype("Conv2d", device, dtype)
        super().__init__(dtype=dt)
        if groups != 1:
            raise NotImplementedError(f"Conv2d: groups={groups} is not supported (only 1)")
        check_choice("Conv2d", "padding_mode", padding_mode, ("zeros",))
        self.in_channels = check_int("Conv2d", "in_channels", in_channels, minimum=1)
        self.out_channels = check_int("Conv2d", "out_channels", out_channels, minimum=1)
        self.kernel_size = pair("Conv2d", "kernel_size", kernel_size)
        self.stride = pair("Conv2d", "stride", stride)
        self.padding = padding if isinstance(padding, str) else pair("Conv2d", "padding",
                                                                      padding)
        if isinstance(padding, str):
            check_choice("Conv2d", "padding", padding, ("valid", "same"))
        self.dilation = pair("Conv2d", "dilation", dilation)
        self.groups = groups
        self.weight = new_parameter((out_channels, in_channels) + self.kernel_size, dt)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        fan_in = in_channels * self.kernel_size[0] * self.kernel_size[1]
        self.bias = new_parameter((out_channels,), dt, 1 / math.sqrt(fan_in)) if bias else None

    def forward(self, input):  # noqa: A002
        return conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def get_config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": self.padding if isinstance(self.padding, str)
                else list(self.padding), "dilation": list(self.dilation),
                "bias": self.bias is not None}

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")
