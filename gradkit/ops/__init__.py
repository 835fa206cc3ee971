"""gradkit's differentiable operations, NumPy-like names.

Every function takes Tensors, arrays or Python scalars and returns a Tensor.
This module doubles as the math namespace of ``create_graph`` backward passes
(see :mod:`gradkit.autograd.function`), hence ``graph = True`` and the few
NumPy-style helpers (``zeros_like``, ``scatter_add``) a backward may call.
"""

from __future__ import annotations

import numbers as _numbers

import numpy as _np

from gradkit.autograd.function import Function, OpError  # noqa: F401
from gradkit.backend import get_array_module
from gradkit.ops import activation as _act
from gradkit.ops import elementwise as _el
from gradkit.ops import linalg as _la
from gradkit.ops import losses as _loss
from gradkit.ops import reduce as _red
from gradkit.ops import shape as _sh
from gradkit.tensor import Tensor

graph = True


def _data(x):
    return x._data if isinstance(x, Tensor) else x


def _weak(x):
    """NumPy scalars (and 0-d arrays) act as Python scalars do: they don't promote a tensor's
    dtype (a float32 tensor times a NumPy float64 scalar stays float32, as in PyTorch).
    Tensors pass unchanged."""
    if isinstance(x, _np.generic) or (type(x) is _np.ndarray and x.ndim == 0):
        return x.item()
    return x


def _axis(op, axis, ndim):
    """``axis`` in ``[0, ndim)``; an out-of-range axis is an error, never wrapped around."""
    if not -ndim <= axis < ndim:
        raise OpError(f"{op}: axis {axis} is out of range for a tensor with {ndim} axes")
    return int(axis) % ndim


# ---------------------------------------------------------------- elementwise
def add(a, b):
    """``a + b`` with broadcasting."""
    return _el.Add.apply(_weak(a), _weak(b))


def subtract(a, b):
    """``a - b`` with broadcasting."""
    return _el.Subtract.apply(_weak(a), _weak(b))


def multiply(a, b):
    """``a * b`` with broadcasting."""
    return _el.Multiply.apply(_weak(a), _weak(b))


def divide(a, b):
    """``a / b`` with broadcasting."""
    return _el.Divide.apply(_weak(a), _weak(b))


def power(a, b):
    """``a ** b``; the gradient with respect to ``b`` is 0 where ``a <= 0``."""
    return _el.Power.apply(_weak(a), _weak(b))


def negative(a):
    """``-a``."""
    return _el.Negative.apply(a)


def exp(a):
    """``e ** a``."""
    return _el.Exp.apply(a)


def log(a):
    """Natural logarithm."""
    return _el.Log.apply(a)


def sqrt(a):
    """Square root."""
    return _el.Sqrt.apply(a)


def abs(a):  # noqa: A001 - NumPy's name
    """Absolute value (gradient 0 at 0)."""
    return _el.Abs.apply(a)


def sign(a):
    """-1, 0 or 1 (zero gradient)."""
    return _el.Sign.apply(a)


def maximum(a, b):
    """Elementwise larger of ``a`` and ``b`` (ties split the gradient)."""
    return _el.Maximum.apply(_weak(a), _weak(b))


def minimum(a, b):
    """Elementwise smaller of ``a`` and ``b`` (ties split the gradient)."""
    return _el.Minimum.apply(_weak(a), _weak(b))


def where(condition, a, b):
    """``a`` where ``condition`` is true, else ``b``."""
    return _el.Where.apply(_data(condition), _weak(a), _weak(b))


def clip(a, lo=None, hi=None):
    """Limit ``a`` to ``[lo, hi]`` (gradient 0 outside)."""
    return _el.Clip.apply(a, _weak(lo), _weak(hi))


def cast(a, dtype):
    """Convert to ``dtype``; differentiable between floating dtypes."""
    import numpy as np

    dtype = np.dtype(dtype)
    if not isinstance(a, Tensor):  # straight to dtype: no float32 detour for Python floats
        return Tensor(a, dtype=dtype)
    if a.dtype == dtype:
        return a
    out = _el.Cast.apply(a, dtype)
    if dtype.kind != "f" and out.requires_grad:
        out = out.detach()
    return out


# ---------------------------------------------------------------- activations
def relu(x):
    """``max(x, 0)``."""
    return _act.ReLU.apply(x)


def leaky_relu(x, negative_slope=0.2):
    """``x`` if ``x > 0`` else ``negative_slope * x``."""
    return _act.LeakyReLU.apply(x, _weak(negative_slope))


def elu(x, alpha=1.0):
    """``x`` if ``x > 0`` else ``alpha * (e^x - 1)``."""
    return _act.ELU.apply(x, _weak(alpha))


def gelu(x, approximate=False):
    """Gaussian error linear unit ``x * Phi(x)`` (``approximate``: the tanh form)."""
    return _act.GELU.apply(x, bool(approximate))


def sigmoid(x):
    """``1 / (1 + e^-x)``, stable for large ``|x|``."""
    return _act.Sigmoid.apply(x)


def tanh(x):
    """Hyperbolic tangent."""
    return _act.Tanh.apply(x)


def softplus(x):
    """``log(1 + e^x)``, stable for large ``|x|``."""
    return _act.Softplus.apply(x)


def erf(x):
    """The error function."""
    return _act.Erf.apply(x)


def softmax(x, axis=-1):
    """``e^x / sum(e^x)`` along ``axis`` (shifted by the max: no overflow)."""
    return _act.Softmax.apply(x, axis)


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``, stable for large logits."""
    return _act.LogSoftmax.apply(x, axis)


# ---------------------------------------------------------------- reductions
def sum(x, axis=None, keepdims=False):  # noqa: A001
    """Sum over ``axis`` (all axes when None)."""
    return _red.Sum.apply(x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis``."""
    return _red.Mean.apply(x, axis, keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    """Maximum over ``axis`` (ties share the gradient)."""
    return _red.Max.apply(x, axis, keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    """Minimum over ``axis`` (ties share the gradient)."""
    return _red.Min.apply(x, axis, keepdims)


def var(x, axis=None, keepdims=False, ddof=0):
    """Variance over ``axis`` (``ddof=1`` for the unbiased estimate)."""
    return _red.Var.apply(x, axis, keepdims, ddof)


def std(x, axis=None, keepdims=False, ddof=0):
    """Standard deviation over ``axis``."""
    return _red.Std.apply(x, axis, keepdims, ddof)


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, computed stably."""
    return _red.LogSumExp.apply(x, axis, keepdims)


# ---------------------------------------------------------------- shape
def reshape(x, shape):
    """Same data, new shape (one axis may be -1)."""
    shape = (shape,) if isinstance(shape, _numbers.Integral) else shape
    return _sh.Reshape.apply(x, tuple(int(n) for n in shape))


def transpose(x, axes=None):
    """Permute axes (reverse them when ``axes`` is None)."""
    return _sh.Transpose.apply(x, None if axes is None else tuple(axes))


permute = transpose


def swapaxes(x, a, b):
    """Exchange two axes."""
    return _sh.SwapAxes.apply(x, a, b)


def expand_dims(x, axis):
    """Insert a length-1 axis at ``axis``."""
    shape = list(_data(x).shape)
    nd = len(shape) + 1
    if not -nd <= axis < nd:
        raise OpError(f"expand_dims: axis {axis} is out of range for a result with {nd} axes")
    shape.insert(axis % nd, 1)
    return reshape(x, shape)


def squeeze(x, axis=None):
    """Remove length-1 axes (only ``axis``, when given)."""
    shape = _data(x).shape
    if axis is None:
        new = [n for n in shape if n != 1]
    else:
        axes = {_axis("squeeze", a, len(shape)) for a in
                ((axis,) if isinstance(axis, _numbers.Integral) else axis)}
        for a in axes:
            if shape[a] != 1:
                raise OpError(f"squeeze: axis {a} has length {shape[a]}, not 1 "
                              f"(shape {shape})")
        new = [n for i, n in enumerate(shape) if i not in axes]
    return reshape(x, new)


def broadcast_to(x, shape):
    """Repeat ``x`` along length-1 (or missing leading) axes to ``shape``."""
    return _sh.BroadcastTo.apply(x, tuple(shape))


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis."""
    return _sh.Concatenate.apply(*tensors, axis=axis)


concat = concatenate


def stack(tensors, axis=0):
    """Join equally shaped tensors along a new axis."""
    return _sh.Stack.apply(*tensors, axis=axis)


def split(x, indices_or_sections, axis=0):
    """Split into a list of tensors, like ``numpy.split``."""
    axis = _axis("split", axis, _data(x).ndim)
    n = _data(x).shape[axis]
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        if k <= 0 or n % k:
            raise OpError(f"split: an axis of length {n} does not split into {k} equal parts")
        cuts = [i * (n // k) for i in range(1, k)]
    else:
        cuts = list(indices_or_sections)
    bounds = [0] + cuts + [n]
    pre = (slice(None),) * axis
    return [x[pre + (slice(a, b),)] for a, b in zip(bounds[:-1], bounds[1:])]


def pad(x, pad_width, constant_values=0):
    """Pad with a constant; ``pad_width`` as in ``numpy.pad``: ``((before, after), ...)``
    per axis, or ``n`` / ``(n,)`` / ``(before, after)`` for every axis."""
    nd = _data(x).ndim
    if isinstance(pad_width, _numbers.Integral):
        pad_width = [pad_width]
    pad_width = list(pad_width)
    if pad_width and len(pad_width) <= 2 and all(
            isinstance(p, _numbers.Integral) for p in pad_width):
        pad_width = [tuple(pad_width) * (3 - len(pad_width))] * nd  # NumPy: the same for all
    pad_width = [tuple(p) if not isinstance(p, _numbers.Integral) else (p, p)
                 for p in pad_width]
    pad_width = [(p[0], p[0]) if len(p) == 1 else p for p in pad_width]
    if len(pad_width) == 1:
        pad_width = pad_width * nd  # NumPy: ((before, after),) for every axis
    if len(pad_width) != nd:
        raise OpError(f"pad: pad_width has {len(pad_width)} entries for a tensor with {nd} axes")
    if nd == 0:
        return reshape(x, ())  # nothing to pad (np.pad would reject the empty widths)
    return _sh.Pad.apply(x, tuple(pad_width), _weak(constant_values))


def flatten(x, start_axis=0):
    """Collapse axes from ``start_axis`` on into one (``start_axis=1`` keeps the batch)."""
    shape = _data(x).shape
    start_axis = _axis("flatten", start_axis, len(shape)) if shape else 0
    return reshape(x, shape[:start_axis] + (-1,))


def getitem(x, idx):
    """``x[idx]``: basic slicing, integer arrays and boolean masks."""
    if isinstance(idx, Tensor):
        idx = idx._data
    elif isinstance(idx, tuple):
        idx = tuple(i._data if isinstance(i, Tensor) else i for i in idx)
    elif isinstance(idx, list):
        idx = get_array_module(_data(x)).asarray(idx)
    return _sh.GetItem.apply(x, idx)


def scatter_add(shape, index, values):
    """Zeros of ``shape`` with ``values`` added at ``index``; repeated indices add up."""
    return _sh.ScatterAdd.apply(tuple(shape), index, values)


def zeros_like(x):
    """A tensor of zeros shaped and typed like ``x`` (requires no grad)."""
    d = _data(x)
    return Tensor._make(get_array_module(d).zeros_like(d), False, None)


def ones_like(x):
    """A tensor of ones shaped and typed like ``x`` (requires no grad)."""
    d = _data(x)
    return Tensor._make(get_array_module(d).ones_like(d), False, None)


# ---------------------------------------------------------------- linalg
def matmul(a, b):
    """Matrix product: 1-D, 2-D and batched (``...ij,...jk``), like ``numpy.matmul``."""
    return _la.MatMul.apply(a, b)


def dot(a, b):
    """Dot product of vectors or matrices (``matmul`` for up to 2 axes)."""
    if _data(a).ndim > 2 or _data(b).ndim > 2:
        raise OpError("dot: inputs with more than 2 axes are ambiguous; use matmul or einsum")
    return matmul(a, b)


def einsum(spec, *operands):
    """Einstein summation, e.g. ``einsum("bij,bjk->bik", a, b)`` (no ellipsis or traces)."""
    return _la.Einsum.apply(spec, *operands)


# ---------------------------------------------------------------- losses
def _target(t, pred, keep_int=False):
    """Targets given as lists, scalars or arrays become arrays in the float dtype of the
    predictions (integer labels stay integers with ``keep_int``), as Keras casts y_true:
    float64 NumPy targets don't turn a float32 loss into float64. Tensors pass unchanged."""
    if isinstance(t, Tensor):
        return t
    dtype = getattr(_data(pred), "dtype", None)
    arr = get_array_module(_data(pred)).asarray(t)
    if dtype is not None and dtype.kind == "f" and (
            arr.dtype.kind == "f" or (arr.dtype.kind in "biu" and not keep_int)):
        arr = arr.astype(dtype, copy=False)
    return arr


def softmax_cross_entropy(logits, labels, reduction="mean", probs=None):
    """Cross-entropy of ``softmax(logits)`` against integer labels (...,) or
    one-hot / probability targets (..., C); fused and stable.

    ``probs``: optionally ``softmax(logits)`` already computed (an array, e.g. a
    softmax layer's output); the loss and its gradient then reuse it instead of
    exponentiating again. The gradient still flows to ``logits`` only.
    """
    if isinstance(probs, Tensor):
        probs = probs._data
    return _loss.SoftmaxCrossEntropy.apply(logits, _target(labels, logits, True), reduction,
                                           probs)


def binary_cross_entropy_with_logits(logits, targets, reduction="mean"):
    """Binary cross-entropy of ``sigmoid(logits)`` against targets in [0, 1]; stable."""
    return _loss.SigmoidCrossEntropy.apply(logits, _target(targets, logits), reduction)


def mean_squared_error(pred, target, reduction="mean"):
    """``mean((pred - target) ** 2)``, fused."""
    return _loss.MeanSquaredError.apply(pred, _target(target, pred), reduction)


mse = mean_squared_error


# ---- convolution and pooling
from gradkit.ops import conv as _conv  # noqa: E402
from gradkit.ops import pool as _pool  # noqa: E402


def conv2d(x, kernel, bias=None, strides=1, padding="valid", data_format="channels_last",
           dilation=1):
    """2-D convolution (cross-correlation, like every deep-learning framework).

    Args:
        x: channels_last ``(N, H, W, C_in)`` or channels_first ``(N, C_in, H, W)``.
        kernel: channels_last ``(kh, kw, C_in, C_out)`` (Keras) or channels_first
            ``(C_out, C_in, kh, kw)`` (PyTorch).
        bias: optional ``(C_out,)``, added to every output pixel.
        strides: int or ``(sh, sw)``.
        padding: ``"valid"`` (none), ``"same"`` (Keras: output ``ceil(in / stride)``,
            the odd extra row/column at the bottom/right), an int or ``(ph, pw)``
            (symmetric zero padding, as in PyTorch).
        data_format: ``"channels_last"`` or ``"channels_first"``; the output uses it too.
        dilation: int or ``(dh, dw)``: spacing between kernel taps.

    Returns:
        ``(N, OH, OW, C_out)`` (channels_last) or ``(N, C_out, OH, OW)``, with
        ``OH = (H + pad_h - (kh - 1) * dh - 1) // sh + 1`` (and likewise OW).
        Float32 stays float32. Gradients flow to ``x``, ``kernel`` and ``bias``
        (first order only: create_graph through conv2d is not supported).

    Example::

        x = gradkit.Tensor(np.zeros((8, 28, 28, 1), np.float32))
        k = gradkit.Variable(np.random.randn(3, 3, 1, 32).astype(np.float32))
        y = gradkit.ops.conv2d(x, k, padding="same")      # (8, 28, 28, 32)
    """
    return _conv.Conv2D.apply(x, kernel, bias, strides, padding, data_format, dilation)


def max_pool2d(x, pool_size=2, strides=None, padding="valid", data_format="channels_last"):
    """2-D max pooling.

    Args:
        x: ``(N, H, W, C)`` (channels_last) or ``(N, C, H, W)`` (channels_first).
        pool_size: int or ``(ph, pw)``.
        strides: int or pair; None means ``pool_size`` (Keras).
        padding: ``"valid"``, ``"same"`` (Keras: output ``ceil(in / stride)``) or an
            int / pair of at most half the pool size (PyTorch); pads with ``-inf``.
        data_format: ``"channels_last"`` or ``"channels_first"``.

    Returns:
        ``(N, OH, OW, C)`` or ``(N, C, OH, OW)``. The gradient of each window goes
        to its first maximum in row-major order (as PyTorch: ties match it).

    Example::

        y = gradkit.ops.max_pool2d(x)    # (8, 28, 28, 32) -> (8, 14, 14, 32)
    """
    return _pool.MaxPool2D.apply(x, pool_size, strides, padding, data_format)


def avg_pool2d(x, pool_size=2, strides=None, padding="valid", data_format="channels_last"):
    """2-D average pooling; padding is excluded from each window's count.

    Args:
        x: ``(N, H, W, C)`` (channels_last) or ``(N, C, H, W)`` (channels_first).
        pool_size: int or ``(ph, pw)``.
        strides: int or pair; None means ``pool_size`` (Keras).
        padding: ``"valid"``, ``"same"`` (Keras semantics, padding not counted) or an
            int / pair of at most half the pool size (like PyTorch's
            ``count_include_pad=False``).
        data_format: ``"channels_last"`` or ``"channels_first"``.

    Returns:
        ``(N, OH, OW, C)`` or ``(N, C, OH, OW)``: the mean of each window.

    Example::

        y = gradkit.ops.avg_pool2d(x, 2)    # (8, 28, 28, 32) -> (8, 14, 14, 32)
    """
    return _pool.AvgPool2D.apply(x, pool_size, strides, padding, data_format)
