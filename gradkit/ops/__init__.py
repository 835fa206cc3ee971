"""gradkit's differentiable operations, NumPy-like names.

Every function takes Tensors, arrays or Python scalars and returns a Tensor.
This module doubles as the math namespace of ``create_graph`` backward passes
(see :mod:`gradkit.autograd.function`), hence ``graph = True`` and the few
NumPy-style helpers (``zeros_like``, ``scatter_add``) a backward may call.
"""

from __future__ import annotations

import math
import numbers as _numbers

import numpy as _np

from gradkit import mixed_precision as _mp
from gradkit.autograd.function import Function, OpError  # noqa: F401
from gradkit.backend import get_array_module, is_array
from gradkit.ops import activation as _act
from gradkit.ops import elementwise as _el
from gradkit.ops import linalg as _la
from gradkit.ops import losses as _loss
from gradkit.ops import reduce as _red
from gradkit.ops import shape as _sh
from gradkit.tensor import Tensor
from gradkit.utils.validation import check_choice, check_number, normalize_axes, normalize_axis

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


def sin(a):
    """Sine (radians)."""
    return _el.Sin.apply(a)


def cos(a):
    """Cosine (radians)."""
    return _el.Cos.apply(a)


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


def log1p(a):
    """``log(1 + a)``, accurate for small ``a``."""
    return _el.Log1p.apply(a)


def expm1(a):
    """``e ** a - 1``, accurate for small ``a``."""
    return _el.Expm1.apply(a)


def arctan(a):
    """Inverse tangent, in ``(-pi/2, pi/2)``."""
    return _el.Arctan.apply(a)


def arcsin(a):
    """Inverse sine of ``a`` in ``[-1, 1]``, in ``[-pi/2, pi/2]``."""
    return _el.Arcsin.apply(a)
def to_device(a, device):
    """``a`` on ``device`` (a copy when it lives elsewhere); differentiable, the gradient
    flows back to ``a``'s device. ``Tensor.to(device)`` calls it."""
    from gradkit.devices import as_device, device_of
    from gradkit.ops.device import ToDevice

    device = as_device(device)
    a = a if isinstance(a, Tensor) else Tensor(a)
    if device_of(a._data) == device:
        return a
    return ToDevice.apply(a, device)


# ---------------------------------------------------------------- activations
_PLAIN_NUMBER = frozenset((int, float))


def relu(x, max_value=None, negative_slope=0.0, threshold=0.0):
    """Rectified linear unit, with Keras's optional cap, leak and threshold.

    ``f(x) = max_value`` for ``x >= max_value``, ``x`` for ``threshold <= x < max_value``
    and ``negative_slope * (x - threshold)`` below; the defaults give ``max(x, 0)``
    (a separate, faster primitive).

    Args:
        x: input Tensor (any shape).
        max_value: optional upper bound (>= 0); None means unbounded (6.0: ReLU6).
        negative_slope: slope below ``threshold`` (>= 0).
        threshold: where the function switches from the slope to the identity.

    Returns:
        A Tensor shaped like ``x``. The gradient is 1 on ``[threshold, max_value)``,
        ``negative_slope`` below and 0 on the cap.

    Example::

        ops.relu(x)                   # max(x, 0)
        ops.relu(x, max_value=6.0)    # min(max(x, 0), 6)
    """
    if max_value is None and negative_slope.__class__ in _PLAIN_NUMBER and \
            threshold.__class__ in _PLAIN_NUMBER and not (negative_slope or threshold):
        return _act.ReLU.apply(x)
    if max_value is not None:
        max_value = check_number("relu", "max_value", max_value, 0.0)
    negative_slope = check_number("relu", "negative_slope", negative_slope, 0.0)
    threshold = check_number("relu", "threshold", threshold)
    if max_value is None and negative_slope == 0.0 and threshold == 0.0:
        return _act.ReLU.apply(x)
    return _act.ClippedReLU.apply(x, max_value, negative_slope, threshold)


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
    return _act.Softmax.apply(_mp.upcast(x), axis)


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``, stable for large logits."""
    return _act.LogSoftmax.apply(_mp.upcast(x), axis)


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


def cumsum(x, axis=None):
    """Running sum along ``axis`` (None: of the flattened tensor, as NumPy)."""
    if axis is None:
        return _red.CumSum.apply(reshape(x, (-1,)), 0)
    return _red.CumSum.apply(x, axis)


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
    shape.insert(normalize_axis(f"expand_dims (input shape {tuple(shape)})", axis,
                                len(shape) + 1), 1)
    return reshape(x, shape)


def squeeze(x, axis=None):
    """Remove length-1 axes (only ``axis``, when given)."""
    shape = _data(x).shape
    if axis is None:
        new = [n for n in shape if n != 1]
    else:
        axes = normalize_axes(f"squeeze (input shape {shape})", axis, len(shape))
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
    shape = _data(x).shape
    axis = normalize_axis(f"split (input shape {shape})", axis, len(shape))
    n = shape[axis]
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
    start_axis = normalize_axis(f"flatten (input shape {shape})", start_axis,
                                len(shape)) if shape else 0
    return reshape(x, shape[:start_axis] + (-1,))


def getitem(x, idx):
    """``x[idx]``: basic slicing, integer arrays and boolean masks."""
    if isinstance(idx, Tensor):
        idx = idx._data
    elif isinstance(idx, tuple):
        idx = tuple(i._data if isinstance(i, Tensor) else i for i in idx)
    elif isinstance(idx, list):
        idx = get_array_module(_data(x)).asarray(idx)
    return _sh.GetItem.apply(x, _index_on(_data(x), idx))


def _index_on(x, idx):
    """Index arrays given on the host moved to ``x``'s device (CuPy copies them too)."""
    xp = get_array_module(x)
    if xp is _np:
        return idx
    if isinstance(idx, tuple):
        return tuple(xp.asarray(i) if type(i) is _np.ndarray else i for i in idx)
    return xp.asarray(idx) if type(idx) is _np.ndarray else idx


def scatter_add(shape, index, values):
    """Zeros of ``shape`` with ``values`` added at ``index``; repeated indices add up."""
    return _sh.ScatterAdd.apply(tuple(shape), _index_on(_data(values), index), values)


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
    a, b = _mp.lower(a, b)  # autocast: the compute dtype
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
    check_choice("softmax_cross_entropy", "reduction", reduction, _loss.REDUCTIONS)
    return _loss.SoftmaxCrossEntropy.apply(logits, _target(labels, logits, True), reduction,
                                           probs)


def binary_cross_entropy_with_logits(logits, targets, reduction="mean"):
    """Binary cross-entropy of ``sigmoid(logits)`` against targets in [0, 1]; stable."""
    check_choice("binary_cross_entropy_with_logits", "reduction", reduction, _loss.REDUCTIONS)
    return _loss.SigmoidCrossEntropy.apply(logits, _target(targets, logits), reduction)


def mean_squared_error(pred, target, reduction="mean"):
    """``mean((pred - target) ** 2)``, fused."""
    check_choice("mean_squared_error", "reduction", reduction, _loss.REDUCTIONS)
    return _loss.MeanSquaredError.apply(pred, _target(target, pred), reduction)


mse = mean_squared_error


# ---- convolution and pooling
from gradkit.ops import conv as _conv  # noqa: E402
from gradkit.ops import pool as _pool  # noqa: E402


def conv2d(x, kernel, bias=None, strides=1, padding="valid", data_format="channels_last",
           dilation=1, activation=None):
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
        activation: None or ``"linear"`` (none), ``"relu"``, ``"tanh"`` (fused: applied in
            place on the result, its derivative read off the output in the backward), or
            any callable Tensor -> Tensor, applied to the result.

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
    x, kernel, bias = _mp.lower(x, kernel, bias)  # autocast: the compute dtype
    fused = _fused_activation("conv2d", activation)
    if fused is _UNFUSED:
        return activation(_conv.Conv2D.apply(x, kernel, bias, strides, padding, data_format,
                                             dilation))
    return _conv.Conv2D.apply(x, kernel, bias, strides, padding, data_format, dilation, fused)


def conv2d_transpose(x, kernel, bias=None, strides=1, padding="valid", output_padding=None,
                     data_format="channels_last", dilation=1):
    """Transposed 2-D convolution (the gradient of :func:`conv2d` with respect to its input).

    Args:
        x: channels_last ``(N, H, W, C_in)`` or channels_first ``(N, C_in, H, W)``.
        kernel: channels_last ``(kh, kw, C_out, C_in)`` (Keras's Conv2DTranspose) or
            channels_first ``(C_in, C_out, kh, kw)`` (PyTorch's ConvTranspose2d weight).
        bias: optional ``(C_out,)``.
        strides: int or ``(sh, sw)``: the upsampling factor.
        padding: ``"valid"`` or ``"same"`` (Keras: with ``output_padding=None`` the
            output is ``H * sh`` for "same", ``H * sh + max(kh - sh, 0)`` for "valid"), or
            an int / ``(ph, pw)`` cropped from both sides (PyTorch's ``padding``).
        output_padding: None, an int or a pair added at the end of each axis (smaller
            than the stride or the dilation), as in Keras and PyTorch.
        data_format: ``"channels_last"`` or ``"channels_first"``.
        dilation: int or ``(dh, dw)``.

    Returns:
        ``(N, OH, OW, C_out)`` or ``(N, C_out, OH, OW)``, with (integer padding)
        ``OH = (H - 1) * sh - 2 * ph + (kh - 1) * dh + 1 + output_padding``.
        Gradients flow to ``x``, ``kernel`` and ``bias`` (first order only).

    Example::

        y = gradkit.ops.conv2d_transpose(x, k, strides=2, padding="same")  # 7x7 -> 14x14
    """
    return _conv.Conv2DTranspose.apply(x, kernel, bias, strides, padding, output_padding,
                                       data_format, dilation)


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


# ---- fused layer primitives
from gradkit.ops import nn as _nn  # noqa: E402

_UNFUSED = object()
_FUSED = {None: None, "linear": None, "relu": "relu", "tanh": "tanh", relu: "relu", tanh: "tanh"}


def _fused_activation(op, activation):
    """``activation`` as the name a layer primitive fuses (None, "relu", "tanh"), or
    ``_UNFUSED`` for another callable (applied to the result); anything else is an error."""
    try:
        fused = _FUSED.get(activation, _UNFUSED)
    except TypeError:  # an unhashable callable
        fused = _UNFUSED
    if fused is _UNFUSED and not callable(activation):
        raise ValueError(f"{op}: activation must be None, 'linear', 'relu', 'tanh' or a "
                         f"callable, received {activation!r}; pass another activation as "
                         "a function, e.g. activation=gradkit.ops.sigmoid")
    return fused


def _array(x):
    """Tensors and None as they are, anything else (lists, scalars) as an array."""
    return x if x is None or isinstance(x, Tensor) or is_array(x) else Tensor(x)


def dense(x, kernel, bias=None, activation=None):
    """``activation(x @ kernel + bias)``, the layer Keras calls Dense, as one primitive.

    relu and tanh are fused: one graph node, the bias and the activation applied in
    place on the matmul result, one backward that yields all three gradients.

    Args:
        x: ``(batch, ..., in)``; the kernel applies to the last axis.
        kernel: ``(in, out)`` (Keras's layout; PyTorch's ``Linear.weight`` transposed).
        bias: optional ``(out,)``.
        activation: None or ``"linear"`` (none), ``"relu"``, ``"tanh"`` (fused), or
            any callable Tensor -> Tensor, applied to the result (``ops.relu`` and
            ``ops.tanh`` are fused too).

    Returns:
        A Tensor ``(batch, ..., out)``.

    Example::

        h = ops.dense(x, w1, b1, "relu")     # x (128, 784), w1 (784, 512) -> (128, 512)
        logits = ops.dense(h, w2, b2)
    """
    x, kernel, bias = _mp.lower(x, kernel, bias)  # autocast: the compute dtype
    fused = _fused_activation("dense", activation)
    if fused is _UNFUSED:
        return activation(_nn.Dense.apply(x, _array(kernel), _array(bias), None))
    return _nn.Dense.apply(x, _array(kernel), _array(bias), fused)


def _feature_axes(op, axis, ndim):
    """The normalized axes: an int or a tuple of ints (None, "all axes", is not one)."""
    if axis is None:
        raise TypeError(f"{op}: axis must be an int or a tuple of ints, received None")
    return normalize_axes(op, axis, ndim)


def _norm_params(op, x, axes, gamma, beta, stats):
    """Shapes for normalizing ``x`` with per-feature ``axes``: the parameter shape and its
    broadcast shape; ``gamma``, ``beta`` and the ``stats`` (name, value) pairs must have it."""
    shape = _data(x).shape
    pshape = tuple(n if i in axes else 1 for i, n in enumerate(shape))
    param = tuple(shape[a] for a in axes)
    for name, value in (("gamma", gamma), ("beta", beta)) + stats:
        got = getattr(_data(value), "shape", None)
        if value is not None and got is None:
            got = _np.shape(value)  # host: a list or number
        if value is not None and got != param:
            raise ValueError(f"{op}: {name} must have shape {param} (the sizes of axes "
                             f"{axes} of the input, shape {shape}), received "
                             f"{got}")
    return pshape


def layer_norm(x, gamma=None, beta=None, axis=-1, epsilon=1e-3):
    """Layer normalization: ``(x - mean) / sqrt(var + epsilon) * gamma + beta``, with the
    mean and (biased) variance of each sample taken over ``axis``.

    Args:
        x: input of any rank.
        gamma, beta: optional scale and offset shaped like the normalized axes
            (``(C,)`` for ``axis=-1`` on ``(..., C)``).
        axis: int or tuple of ints, the normalized axes (Keras; PyTorch's
            ``normalized_shape=(C,)`` is ``axis=-1``).
        epsilon: added to the variance (Keras's default 1e-3; PyTorch's is 1e-5).

    Returns:
        A Tensor shaped like ``x``; gradients flow to ``x``, ``gamma`` and ``beta``.

    Example::

        y = ops.layer_norm(x, gamma, beta)        # x (batch, seq, 512), gamma (512,)
    """
    x = _mp.upcast(x if isinstance(x, Tensor) else Tensor(x))  # autocast: in float32
    axes = _feature_axes("layer_norm", axis, x.ndim)
    epsilon = check_number("layer_norm", "epsilon", epsilon, 0.0, min_open=True)
    pshape = _norm_params("layer_norm", x, axes, gamma, beta, ())
    return _nn.Normalize.apply(x, _array(gamma), _array(beta), None, None, axes, pshape,
                               epsilon, None)


def batch_norm(x, moving_mean, moving_variance, gamma=None, beta=None, training=False,
               momentum=0.99, epsilon=1e-3, axis=-1):
    """Batch normalization: ``(x - mean) / sqrt(var + epsilon) * gamma + beta`` per feature.

    With ``training=True`` the mean and (biased) variance of the batch are used
    (over every axis but ``axis``; gradients flow through them) and the moving
    statistics are updated in place, as PyTorch's ``F.batch_norm`` does:
    ``moving = moving * momentum + batch_stat * (1 - momentum)``. With
    ``training=False`` the moving statistics are used as constants.

    Args:
        x: input with the feature axis, e.g. ``(N, C)``, ``(N, H, W, C)``.
        moving_mean, moving_variance: running statistics shaped like the feature
            axes (``(C,)``): Tensors or NumPy arrays, updated in place when
            training; None is allowed with ``training=True`` (no running statistics).
        gamma, beta: optional scale and offset, shaped like the statistics.
        training: normalize with the batch statistics (and update the moving ones).
        momentum: Keras's convention, the weight of the old value: 0.99 keeps 99%
            (PyTorch's ``momentum=0.1`` is ``momentum=0.9`` here).
        epsilon: added to the variance (Keras's default 1e-3; PyTorch's is 1e-5).
        axis: the feature axis or axes (channels-last ``-1``, channels-first ``1``).

    Returns:
        A Tensor shaped like ``x``.

    Example::

        y = ops.batch_norm(x, mean, var, gamma, beta, training=True)   # x (32, 64)
        y = ops.batch_norm(x, mean, var, gamma, beta)                   # inference
    """
    x = _mp.upcast(x if isinstance(x, Tensor) else Tensor(x))  # autocast: in float32
    axes = _feature_axes("batch_norm", axis, x.ndim)
    epsilon = check_number("batch_norm", "epsilon", epsilon, 0.0, min_open=True)
    momentum = check_number("batch_norm", "momentum", momentum, 0.0, 1.0)
    moving = (("moving_mean", moving_mean), ("moving_variance", moving_variance))
    pshape = _norm_params("batch_norm", x, axes, gamma, beta, moving)
    for name, m in moving:
        if m is not None and not isinstance(m, Tensor) and not is_array(m):
            raise TypeError(f"batch_norm: {name} must be a Tensor or an array (it is updated "
                            f"in place), received {type(m).__name__}")
    gamma, beta = _array(gamma), _array(beta)
    red = tuple(i for i in range(x.ndim) if i not in axes)
    if not training:
        if moving_mean is None or moving_variance is None:
            raise ValueError("batch_norm: inference (training=False) normalizes with "
                             "moving_mean and moving_variance; pass both, or training=True")
        dtype = x.dtype  # statistics in x's dtype: float64 ones don't promote a float32 x
        return _nn.Normalize.apply(
            x, gamma, beta, _data(moving_mean).reshape(pshape).astype(dtype, copy=False),
            _data(moving_variance).reshape(pshape).astype(dtype, copy=False), red, pshape,
            epsilon, None)
    stats = {}
    y = _nn.Normalize.apply(x, gamma, beta, None, None, red, pshape, epsilon, stats)
    for moving, batch in ((moving_mean, stats["mean"]), (moving_variance, stats["var"])):
        if moving is not None:
            d = _data(moving)
            d *= momentum
            d += batch.reshape(d.shape) * (1.0 - momentum)
            if isinstance(moving, Tensor):
                moving._version += 1  # an in-place change: graphs that used it will know
    return y


# ---- composite layer math shared by the Keras and PyTorch front ends
def dropout(x, rate, noise_shape=None, seed=None):
    """Inverted dropout: zero each entry with probability ``rate``, scale the rest by
    ``1 / (1 - rate)`` (so the expected value is unchanged). Always applies: callers
    decide whether they are training.

    Args:
        x: a floating-point Tensor or array.
        rate: drop probability, ``0 <= rate < 1``.
        noise_shape: shape of the mask, broadcast against ``x`` (``None`` entries take
            ``x``'s size), e.g. ``(None, 1, 1, C)`` to drop whole channels.
        seed: read by :func:`gradkit.random.rng` (None: the global generator).

    Returns:
        A Tensor shaped like ``x``; its gradient is the same mask.

    Example::

        y = ops.dropout(x, 0.5, seed=0)   # about half of x zeroed, the rest doubled
    """
    from gradkit.devices import rng as device_rng
    from gradkit.devices import using

    x = x if isinstance(x, Tensor) else Tensor(x)
    rate = check_number("dropout", "rate", rate, 0, 1, max_open=True)
    if rate == 0.0:
        return x
    if x.dtype.kind != "f":
        raise TypeError(f"dropout needs floating-point input, received {x.dtype}")
    shape = x.shape
    if noise_shape is not None:
        noise_shape = tuple(noise_shape)
        if len(noise_shape) != len(shape):
            raise ValueError(f"dropout: noise_shape {noise_shape} has {len(noise_shape)} "
                             f"axes, the input {len(shape)} (shape {shape})")
        shape = tuple(s if n is None else n for n, s in zip(noise_shape, shape))
    dev = x.device
    with using(dev):  # the mask is drawn on x's device
        keep = device_rng(seed, dev, owner="dropout").random(shape, dtype=_np.float32) >= rate
        mask = get_array_module(keep).multiply(keep, x.dtype.type(1.0 / (1.0 - rate)),
                                               dtype=x.dtype)
    return multiply(x, mask)


def scaled_dot_product_attention(query, key, value, mask=None, is_causal=False, scale=None,
                                 dropout_rate=0.0, seed=None, return_weights=False):
    """``softmax(q k^T * scale + mask) v``, the attention of Transformers.

    Composed of differentiable ops (matmul, softmax, where), so its gradients, second
    order included, come from theirs. Keras's ``MultiHeadAttention`` and PyTorch's
    ``nn.MultiheadAttention`` / ``F.scaled_dot_product_attention`` both use it.

    Args:
        query: ``(..., L, E)``; key: ``(..., S, E)``; value: ``(..., S, Ev)``.
        mask: broadcastable to ``(..., L, S)``: booleans (True = may attend, as in both
            Keras and PyTorch) or floats added to the scores (``-inf`` = may not).
        is_causal: position ``i`` attends only to ``j <= i`` (combined with ``mask``).
        scale: multiplies the scores; default ``1 / sqrt(E)``.
        dropout_rate: dropout on the attention weights (pass 0 at inference).
        seed: the dropout's generator, read by :func:`gradkit.random.rng`.
        return_weights: also return the ``(..., L, S)`` attention weights.

    Returns:
        ``(..., L, Ev)``, or ``(output, weights)`` with ``return_weights=True``. A row
        whose every position is masked gets zero weights (not NaN).

    Example::

        out = ops.scaled_dot_product_attention(q, k, v, is_causal=True)
    """
    from gradkit.devices import place

    query, key, value = (t if isinstance(t, Tensor) else Tensor(t) for t in (query, key, value))
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2 or query.shape[-1] != key.shape[-1] \
            or key.shape[-2] != value.shape[-2]:
        raise OpError(f"scaled_dot_product_attention: expected query (..., L, E), key "
                      f"(..., S, E) and value (..., S, Ev), received {query.shape}, "
                      f"{key.shape} and {value.shape}")
    e = query.shape[-1]
    scale = 1.0 / math.sqrt(e) if scale is None else check_number(
        "scaled_dot_product_attention", "scale", scale)
    scores = matmul(query, swapaxes(key, -1, -2)) * query.dtype.type(scale)
    length, source = query.shape[-2], key.shape[-2]
    allowed = None
    xp = get_array_module(scores._data)
    if is_causal:
        allowed = xp.tril(xp.ones((length, source), dtype=bool))
    if mask is not None:
        m = _data(mask) if isinstance(mask, Tensor) else place(mask, scores.device)
        if m.dtype == bool:
            allowed = m if allowed is None else allowed & m
        else:
            scores = scores + m.astype(scores.dtype, copy=False)
    if allowed is not None:
        allowed = xp.broadcast_to(allowed, scores.shape)
        scores = where(allowed, scores, scores.dtype.type(-_np.inf))
        # a row with nothing allowed: softmax of all -inf is NaN; give it zero weights
        empty = ~allowed.any(axis=-1, keepdims=True)
        if empty.any():
            scores = where(xp.broadcast_to(empty, scores.shape), scores.dtype.type(0), scores)
            weights = where(allowed, softmax(scores, -1), scores.dtype.type(0))
        else:
            weights = softmax(scores, -1)
    else:
        weights = softmax(scores, -1)
    dropped = dropout(weights, dropout_rate, seed=seed) if dropout_rate else weights
    out = matmul(dropped, value)
    return (out, weights) if return_weights else out
