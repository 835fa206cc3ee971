"""PyTorch's ``torch.nn.functional`` (``import gradkit.nn.functional as F``).

Thin: each function maps PyTorch's arguments (NCHW images, ``dim=``, weights shaped
``(out, in)``) onto the gradkit op that does the math (``ops.dense``,
``ops.conv2d(data_format="channels_first")``, ``ops.batch_norm``...). The losses
live in :mod:`gradkit.nn.loss` and are re-exported here.
"""

from __future__ import annotations

import numbers

import numpy as np

from gradkit import ops
from gradkit.autograd.function import is_grad_enabled
from gradkit.backend import get_array_module
from gradkit.compat.torch import flatten, log_softmax, softmax  # noqa: F401 - F.softmax(x, dim)
from gradkit.nn.loss import (  # noqa: F401
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from gradkit.tensor import Tensor
from gradkit.utils.validation import check_choice, check_int, check_number

__all__ = [
    "adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "conv2d", "cross_entropy", "dropout", "elu",
    "embedding", "flatten", "gelu", "huber_loss", "kl_div", "l1_loss", "layer_norm",
    "leaky_relu", "linear", "log_softmax", "logsigmoid", "max_pool2d", "mse_loss", "nll_loss",
    "normalize", "one_hot", "pad", "relu", "scaled_dot_product_attention", "sigmoid", "silu",
    "smooth_l1_loss", "softmax", "softplus", "tanh",
]


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _inplace(owner, x, out, inplace):
    """``inplace=True``: write ``out`` into ``x`` and return ``x`` when no graph is recorded
    through ``x``; while one is, the result is returned out of place (same values)."""
    if not inplace or not isinstance(x, Tensor) or (x.requires_grad and is_grad_enabled()):
        return out
    x._data[...] = out._data
    x._version += 1
    return x


def pair(owner, name, v):
    if isinstance(v, numbers.Integral):
        return (check_int(owner, name, v, minimum=0),) * 2
    v = tuple(v)
    if len(v) != 2:
        raise ValueError(f"{owner}: {name} must be an int or a pair, received {v!r}")
    return tuple(check_int(owner, name, n, minimum=0) for n in v)


def _batched(owner, x, ndim):
    """Input with a batch axis (PyTorch accepts unbatched ``(C, H, W)``) and whether one
    was added."""
    x = _t(x)
    if x.ndim == ndim - 1:
        return ops.expand_dims(x, 0), True
    if x.ndim != ndim:
        raise ValueError(f"{owner}: expected a {ndim}-D (batched) or {ndim - 1}-D input, "
                         f"received shape {x.shape}")
    return x, False


def _unbatch(y, added):
    return ops.squeeze(y, 0) if added else y


# ---------------------------------------------------------------- activations
def relu(input, inplace=False):  # noqa: A002
    """``max(x, 0)``."""
    return _inplace("relu", input, ops.relu(input), inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002
    """``x`` if ``x > 0`` else ``negative_slope * x`` (PyTorch's default slope 0.01)."""
    return _inplace("leaky_relu", input, ops.leaky_relu(input, negative_slope), inplace)


def elu(input, alpha=1.0, inplace=False):  # noqa: A002
    """``x`` if ``x > 0`` else ``alpha * (e^x - 1)``."""
    return _inplace("elu", input, ops.elu(input, alpha), inplace)


def gelu(input, approximate="none"):  # noqa: A002
    """GELU, exact (``"none"``) or with the tanh approximation (``"tanh"``)."""
    check_choice("gelu", "approximate", approximate, ("none", "tanh"))
    return ops.gelu(input, approximate == "tanh")


def sigmoid(input):  # noqa: A002
    """``1 / (1 + e^-x)``."""
    return ops.sigmoid(input)


def tanh(input):  # noqa: A002
    """Hyperbolic tangent."""
    return ops.tanh(input)


def silu(input, inplace=False):  # noqa: A002
    """``x * sigmoid(x)`` (swish)."""
    return _inplace("silu", input, input * ops.sigmoid(input), inplace)


def softplus(input, beta=1.0, threshold=20.0):  # noqa: A002
    """``log(1 + e^(beta x)) / beta``, and ``x`` where ``beta x > threshold``."""
    beta = check_number("softplus", "beta", beta, 0, min_open=True)
    x = _t(input)
    soft = ops.softplus(x * beta) / beta if beta != 1.0 else ops.softplus(x)
    return ops.where(x._data * beta > threshold, x, soft)


def logsigmoid(input):  # noqa: A002
    """``log(sigmoid(x)) = -softplus(-x)``, stable."""
    return -ops.softplus(-_t(input))


# ---------------------------------------------------------------- layers
def linear(input, weight, bias=None):  # noqa: A002
    """``input @ weight.T + bias`` with ``weight`` shaped ``(out, in)`` (PyTorch's layout)."""
    return ops.dense(input, ops.transpose(_t(weight)), bias)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """2-D convolution on ``(N, C, H, W)`` with ``weight`` ``(out, in, kh, kw)``.

    ``padding``: an int, a pair, ``"valid"`` or ``"same"``. ``groups`` other than 1 is
    not supported.
    """
    if groups != 1:
        raise NotImplementedError(f"conv2d: groups={groups} is not supported (only groups=1)")
    if not isinstance(padding, str):
        padding = pair("conv2d", "padding", padding)
    x, added = _batched("conv2d", input, 4)
    y = ops.conv2d(x, weight, bias, pair("conv2d", "stride", stride), padding,
                   "channels_first", pair("conv2d", "dilation", dilation))
    return _unbatch(y, added)


def pool_args(owner, kernel_size, stride, padding, dilation, ceil_mode):
    if dilation not in (1, (1, 1)):
        raise NotImplementedError(f"{owner}: dilation={dilation!r} is not supported")
    if ceil_mode:
        raise NotImplementedError(f"{owner}: ceil_mode=True is not supported")
    k = pair(owner, "kernel_size", kernel_size)
    s = k if stride is None or stride == () else pair(owner, "stride", stride)
    return k, s, pair(owner, "padding", padding)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    """2-D max pooling on ``(N, C, H, W)``; ``stride`` defaults to ``kernel_size``."""
    if return_indices:
        raise NotImplementedError("max_pool2d: return_indices=True is not supported")
    k, s, p = pool_args("max_pool2d", kernel_size, stride, padding, dilation, ceil_mode)
    x, added = _batched("max_pool2d", input, 4)
    return _unbatch(ops.max_pool2d(x, k, s, p, "channels_first"), added)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,  # noqa: A002
               count_include_pad=True, divisor_override=None):
    """2-D average pooling on ``(N, C, H, W)``.

    With padding, gradkit averages over the real pixels only: pass
    ``count_include_pad=False`` (``True``, PyTorch's default, is supported without
    padding only).
    """
    if divisor_override is not None:
        raise NotImplementedError("avg_pool2d: divisor_override is not supported")
    k, s, p = pool_args("avg_pool2d", kernel_size, stride, padding, 1, ceil_mode)
    if count_include_pad and p != (0, 0):
        raise NotImplementedError("avg_pool2d: count_include_pad=True with padding is not "
                                  "supported; pass count_include_pad=False")
    x, added = _batched("avg_pool2d", input, 4)
    return _unbatch(ops.avg_pool2d(x, k, s, p, "channels_first"), added)


def adaptive_avg_pool2d(input, output_size):  # noqa: A002
    """Average pooling to a fixed ``output_size`` ``(oh, ow)`` (None keeps that axis):
    window ``i`` covers ``floor(i * H / oh)`` to ``ceil((i + 1) * H / oh)``, as in PyTorch."""
    x, added = _batched("adaptive_avg_pool2d", input, 4)
    h, w = x.shape[2:]
    sizes = (output_size, output_size) if isinstance(output_size, numbers.Integral) \
        else tuple(output_size)
    oh, ow = (h if sizes[0] is None else sizes[0]), (w if sizes[1] is None else sizes[1])
    if h % oh == 0 and w % ow == 0:  # equal windows: one pooling op
        y = ops.avg_pool2d(x, (h // oh, w // ow), (h // oh, w // ow), "valid",
                           "channels_first")
    else:
        rows = []
        for i in range(oh):
            r0, r1 = (i * h) // oh, -((-(i + 1) * h) // oh)
            cells = [ops.mean(x[:, :, r0:r1, (j * w) // ow:-((-(j + 1) * w) // ow)], (2, 3))
                     for j in range(ow)]
            rows.append(ops.stack(cells, -1))
        y = ops.stack(rows, -2)
    return _unbatch(y, added)


def dropout(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)`` when
    ``training`` (else the input unchanged)."""
    p = check_number("dropout", "p", p, 0.0, 1.0)
    if not training or p == 0.0:
        return input
    x = _t(input)
    out = ops.multiply(x, 0.0) if p == 1.0 else ops.dropout(x, p)
    return _inplace("dropout", x, out, inplace)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,  # noqa: A002
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` ``(num_embeddings, dim)`` picked by integer ``input``; the row
    ``padding_idx`` gets no gradient."""
    for name, value, default in (("max_norm", max_norm, None),
                                 ("scale_grad_by_freq", scale_grad_by_freq, False),
                                 ("sparse", sparse, False)):
        if value != default:
            raise NotImplementedError(f"embedding: {name}={value!r} is not supported")
    idx = np.asarray(input._data if isinstance(input, Tensor) else input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, received dtype {idx.dtype}")
    w = _t(weight)
    if idx.size and (idx.min() < 0 or idx.max() >= w.shape[0]):
        raise IndexError(f"embedding: index out of range [0, {w.shape[0]}) (min "
                         f"{int(idx.min())}, max {int(idx.max())})")
    out = ops.getitem(w, idx)
    if padding_idx is not None:
        pad = np.expand_dims(idx == padding_idx % w.shape[0], -1)
        if pad.any():
            out = ops.where(pad, ops.getitem(w.detach(), idx), out)
    return out


def batch_norm(input, running_mean, running_var, weight=None, bias=None,  # noqa: A002
               training=False, momentum=0.1, eps=1e-5):
    """Batch normalization over axis 1 of ``(N, C, ...)``, PyTorch's conventions.

    Training normalizes with the batch statistics and updates the running ones in
    place: ``running = (1 - momentum) * running + momentum * batch`` (the variance
    unbiased, as PyTorch keeps it). Inference uses the running statistics.
    """
    x = _t(input)
    if not training:
        return ops.batch_norm(x, running_mean, running_var, weight, bias, False,
                              epsilon=eps, axis=1)
    momentum = check_number("batch_norm", "momentum", momentum, 0.0, 1.0)
    c = x.shape[1]
    n = x.size // c
    if n <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"received input of shape {x.shape}")
    xp = get_array_module(x._data)
    mean = xp.zeros(c, x.dtype)
    var = xp.zeros(c, x.dtype)
    # momentum 0 leaves the batch's statistics (variance biased) in mean and var
    y = ops.batch_norm(x, mean, var, weight, bias, True, momentum=0.0, epsilon=eps, axis=1)
    for running, batch in ((running_mean, mean), (running_var, var * (n / (n - 1)))):
        if running is not None:
            d = running._data if isinstance(running, Tensor) else running
            d *= 1.0 - momentum
            d += momentum * batch
            if isinstance(running, Tensor):
                running._version += 1
    return y


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Layer normalization over the last ``len(normalized_shape)`` axes."""
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) \
        else tuple(normalized_shape)
    x = _t(input)
    if x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(f"layer_norm: normalized_shape {shape} does not match the last "
                         f"axes of the input, shape {x.shape}")
    return ops.layer_norm(x, weight, bias, tuple(range(-len(shape), 0)), eps)


def normalize(input, p=2.0, dim=1, eps=1e-12):  # noqa: A002
    """``x / max(||x||_p, eps)`` along ``dim``."""
    x = _t(input)
    norm = ops.power(ops.sum(ops.power(ops.abs(x), p), dim, True), 1.0 / p)
    return x / ops.maximum(norm, eps)


def pad(input, pad, mode="constant", value=0.0):  # noqa: A002
    """Pad the last axes: ``pad = (left, right[, top, bottom[, ...]])``, last axis first."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode={mode!r} is not supported (only 'constant')")
    x = _t(input)
    pad = tuple(pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: expected pairs for at most {x.ndim} axes, received {pad!r}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return ops.pad(x, widths, value)


def one_hot(tensor, num_classes=-1):
    """``(..., num_classes)`` int64 one-hot rows (``num_classes=-1``: max + 1)."""
    idx = np.asarray(tensor._data if isinstance(tensor, Tensor) else tensor)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class indices, received {idx.dtype}")
    n = int(idx.max()) + 1 if num_classes == -1 else check_int("one_hot", "num_classes",
                                                               num_classes, minimum=1)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"one_hot: class values must be in [0, {n}), received min "
                         f"{int(idx.min())}, max {int(idx.max())}")
    return Tensor((idx[..., None] == np.arange(n)).astype(np.int64))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None):
    """``softmax(q k^T * scale + mask) v`` (boolean ``attn_mask``: True = may attend)."""
    return ops.scaled_dot_product_attention(query, key, value, attn_mask, is_causal, scale,
                                            dropout_p)
