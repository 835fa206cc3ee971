"""``BatchNorm1d``, ``BatchNorm2d`` and ``LayerNorm`` with PyTorch's parameters and buffers
(``weight``, ``bias``, ``running_mean``, ``running_var``, ``num_batches_tracked``)."""

from __future__ import annotations

import numbers

import numpy as np

from gradkit.nn import functional as F
from gradkit.nn.module import Module, builtin, factory_dtype
from gradkit.nn.parameter import Parameter
from gradkit.utils.validation import check_int, check_number


class _BatchNorm(Module):
    """Batch normalization over axis 1; see :class:`BatchNorm1d`."""

    _ndims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None):
        dt = factory_dtype(type(self).__name__, device, dtype)
        super().__init__(dtype=dt)
        owner = type(self).__name__
        self.num_features = check_int(owner, "num_features", num_features, minimum=1)
        self.eps = check_number(owner, "eps", eps, 0, min_open=True)
        self.momentum = None if momentum is None else check_number(owner, "momentum",
                                                                   momentum, 0, 1)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        if affine:
            self.weight = Parameter(np.ones(num_features, dt))
            self.bias = Parameter(np.zeros(num_features, dt))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dt))
            self.register_buffer("running_var", np.ones(num_features, dt))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, input):  # noqa: A002
        if input.ndim not in self._ndims or input.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}) expected input of "
                             f"{' or '.join(f'{n}-D' for n in self._ndims)} shape (N, "
                             f"{self.num_features}, ...), received {tuple(input.shape)}")
        use_batch = self.training or not self.track_running_stats
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data += 1
            self.num_batches_tracked._version += 1
            if momentum is None:  # a cumulative average
                momentum = 1.0 / int(self.num_batches_tracked._data)
        track = self.track_running_stats and self.training
        return F.batch_norm(input, self.running_mean if track or not use_batch else None,
                            self.running_var if track or not use_batch else None,
                            self.weight, self.bias, use_batch, momentum or 0.0, self.eps)

    def get_config(self):
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum,
                "affine": self.affine, "track_running_stats": self.track_running_stats}

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


@builtin
class BatchNorm1d(_BatchNorm):
    """Batch normalization of ``(N, C)`` or ``(N, C, L)`` over all axes but 1.

    Training normalizes with the batch's statistics and updates ``running_mean`` /
    ``running_var`` (``momentum`` is the new batch's share, 0.1; None: a cumulative
    average); ``eval()`` uses the running statistics.

    Example::

        bn = nn.BatchNorm1d(64)
        y = bn(x)                        # x (32, 64)
    """

    _ndims = (2, 3)


@builtin
class BatchNorm2d(_BatchNorm):
    """Batch normalization of ``(N, C, H, W)`` per channel; see :class:`BatchNorm1d`."""

    _ndims = (4,)


@builtin
class LayerNorm(Module):
    """Normalize over the last axes (``normalized_shape``), then scale and shift.

    Example::

        ln = nn.LayerNorm(512)
        y = ln(x)                        # x (batch, seq, 512)
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        dt = factory_dtype("LayerNorm", device, dtype)
        super().__init__(dtype=dt)
        shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) \
            else tuple(normalized_shape)
        self.normalized_shape = tuple(check_int("LayerNorm", "normalized_shape", n, minimum=1)
                                      for n in shape)
        self.eps = check_number("LayerNorm", "eps", eps, 0, min_open=True)
        self.elementwise_affine = bool(elementwise_affine)
        self.weight = Parameter(np.ones(shape, dt)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, dt)) if elementwise_affine and bias else None

    def forward(self, input):  # noqa: A002
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def get_config(self):
        return {"normalized_shape": list(self.normalized_shape), "eps": self.eps,
                "elementwise_affine": self.elementwise_affine, "bias": self.bias is not None}

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
