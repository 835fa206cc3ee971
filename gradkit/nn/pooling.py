"""Pooling on NCHW images: ``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``."""

from __future__ import annotations

from gradkit.nn import functional as F
from gradkit.nn.module import Module, builtin


@builtin
class MaxPool2d(Module):
    """Max over ``kernel_size`` windows (``stride`` defaults to ``kernel_size``).

    Example::

        pool = nn.MaxPool2d(2)           # (N, C, 28, 28) -> (N, C, 14, 14)
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode
        F.pool_args("MaxPool2d", kernel_size, stride, padding, dilation, ceil_mode)
        if return_indices:
            raise NotImplementedError("MaxPool2d: return_indices=True is not supported")

    def forward(self, input):  # noqa: A002
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding)

    def get_config(self):
        return {"kernel_size": self.kernel_size, "stride": self.stride,
                "padding": self.padding}

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, " \
               f"padding={self.padding}"


@builtin
class AvgPool2d(Module):
    """Mean over ``kernel_size`` windows; with padding, pass ``count_include_pad=False``."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.count_include_pad = count_include_pad
        F.pool_args("AvgPool2d", kernel_size, stride, padding, 1, ceil_mode)
        if divisor_override is not None:
            raise NotImplementedError("AvgPool2d: divisor_override is not supported")
        if count_include_pad and padding not in (0, (0, 0)):
            raise NotImplementedError("AvgPool2d: count_include_pad=True with padding is not "
                                      "supported; pass count_include_pad=False")

    def forward(self, input):  # noqa: A002
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding,
                            count_include_pad=self.count_include_pad)

    def get_config(self):
        return {"kernel_size": self.kernel_size, "stride": self.stride,
                "padding": self.padding, "count_include_pad": self.count_include_pad}


@builtin
class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, e.g. ``AdaptiveAvgPool2d((1, 1))``."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):  # noqa: A002
        return F.adaptive_avg_pool2d(input, self.output_size)

    def get_config(self):
        size = self.output_size
        return {"output_size": size if isinstance(size, int) else list(size)}

    def extra_repr(self):
        return f"output_size={self.output_size}"
