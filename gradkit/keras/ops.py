"""``keras.ops`` spellings over :mod:`gradkit.ops`: ``from gradkit.keras import ops``.

Every function here is a thin wrapper: it renames Keras's arguments
(``x1``/``x2``, ``newshape``, ``x_min``...) onto a gradkit op or composes a few
of them, so gradients, second order included, come from gradkit's primitives.
Functions whose Keras twins have no gradient (``argmax``, ``equal``, ``one_hot``,
``floor``...) return tensors that do not require grad. Keras 3's control-flow
ops (``cond``, ``fori_loop``, ``while_loop``, ``scan``, ``map``, ``switch``)
run eagerly: gradkit records as it computes, so there is nothing to trace.

A Keras 3 ``ops`` name gradkit does not have raises
:class:`~gradkit.keras.missing.NotInGradkitError` saying so.

Example::

    from gradkit.keras import ops
    x = ops.convert_to_tensor([[1.0, -2.0], [3.0, 0.5]])
    y = ops.sum(ops.square(ops.relu(x)), axis=-1)      # [1., 9.25]
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from gradkit import ops as _ops
from gradkit.backend import get_array_module, is_array
from gradkit.keras.missing import module_getattr
from gradkit.tensor import Tensor
from gradkit.utils.validation import check_choice, check_int, normalize_axes, normalize_axis

_LN2, _LN10 = math.log(2.0), math.log(10.0)
_slice = builtins.slice  # this module defines its own slice (Keras's ops.slice)


def _t(x, dtype=None):
    """``x`` as a Tensor (Python floats: float32, as Keras's floatx)."""
    if isinstance(x, Tensor) and (dtype is None or x.dtype == np.dtype(dtype)):
        return x
    return Tensor(x, dtype=dtype)


def _arr(x):
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def _const(a, dtype=None):
    """A result that has no gradient (Keras's integer and boolean ops)."""
    a = get_array_module(a).asarray(a)
    return Tensor._make(a if dtype is None else a.astype(np.dtype(dtype)), False, None)


def _ordered_axes(owner, axis, ndim):
    """``axis`` (an int or a sequence) as non-negative axes, in the order given."""
    return tuple(normalize_axis(owner, int(a), ndim) for a in np.atleast_1d(axis))


def _xp(*xs):
    return get_array_module(*(_arr(x) for x in xs))


# ---------------------------------------------------------------- tensors
def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """A Tensor for ``x``; ``sparse`` and ``ragged`` tensors are not supported."""
    if sparse or ragged:
        raise NotImplementedError("ops.convert_to_tensor: gradkit has no sparse or ragged "
                                  "tensors; pass sparse=None and ragged=None")
    return _t(x, dtype)


def array(x, dtype=None):
    """A new Tensor holding a copy of ``x``."""
    if isinstance(x, Tensor) or is_array(x):
        x = _arr(x).copy()  # arrays are not shared with the new tensor
    return Tensor(x, dtype=dtype)


def convert_to_numpy(x):
    """The values of ``x`` as a NumPy array."""
    return np.asarray(x.numpy() if isinstance(x, Tensor) else x)


def is_tensor(x):
    """True for a gradkit Tensor."""
    return isinstance(x, Tensor)


def shape(x):
    """The shape as a tuple of ints."""
    return tuple(_arr(x).shape)


def ndim(x):
    """The number of axes."""
    return _arr(x).ndim


def size(x):
    """The number of elements, as a 0-d integer tensor."""
    return _const(np.asarray(_arr(x).size, dtype=np.int64))


def dtype(x):
    """The dtype's name (``"float32"``)."""
    return str(_arr(x).dtype)


def cast(x, dtype):
    """Convert to ``dtype``; differentiable between floating dtypes."""
    return _ops.cast(_t(x), dtype)


def stop_gradient(variable):
    """The same values, cut from the graph."""
    return _t(variable).detach()


def copy(x):
    """A copy that gradients still flow through."""
    return _ops.multiply(_t(x), 1)


# ---------------------------------------------------------------- creation
def zeros(shape, dtype=None):
    """Zeros (float32 by default)."""
    return Tensor(np.zeros(shape, dtype or "float32"))


def ones(shape, dtype=None):
    """Ones (float32 by default)."""
    return Tensor(np.ones(shape, dtype or "float32"))


def full(shape, fill_value, dtype=None):
    """``shape`` filled with ``fill_value``."""
    return Tensor(np.full(shape, _arr(fill_value), dtype or _dtype_of(fill_value)))


def zeros_like(x, dtype=None):
    """Zeros shaped like ``x``."""
    return Tensor(np.zeros(_arr(x).shape, dtype or _arr(x).dtype))


def ones_like(x, dtype=None):
    """Ones shaped like ``x``."""
    return Tensor(np.ones(_arr(x).shape, dtype or _arr(x).dtype))


def full_like(x, fill_value, dtype=None):
    """``fill_value`` shaped like ``x``."""
    return Tensor(np.full(_arr(x).shape, _arr(fill_value), dtype or _arr(x).dtype))


def _dtype_of(value):
    kind = np.asarray(value).dtype.kind
    return "float32" if kind == "f" else "int32" if kind in "iu" else np.asarray(value).dtype


def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced values in ``[start, stop)``; int32 for integer bounds, else float32."""
    step = 1 if step is None else step
    values = np.arange(start, stop, step) if stop is not None else np.arange(0, start, step)
    return Tensor(values.astype(dtype or _dtype_of(values)))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop``."""
    out = np.linspace(_arr(start), _arr(stop), num, endpoint=endpoint, retstep=retstep,
                      axis=axis)
    if retstep:
        return Tensor(out[0].astype(dtype or "float32")), out[1]
    return Tensor(out.astype(dtype or "float32"))


def eye(N, M=None, k=0, dtype=None):  # noqa: N803 - Keras's names
    """Ones on the ``k``-th diagonal of an ``N x M`` matrix."""
    return Tensor(np.eye(N, M, k, dtype=dtype or "float32"))


def identity(n, dtype=None):
    """The ``n x n`` identity matrix."""
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):  # noqa: N803
    """Ones at and below the ``k``-th diagonal."""
    return Tensor(np.tri(N, M, k, dtype=dtype or "float32"))


# ---------------------------------------------------------------- elementwise
def add(x1, x2):
    """``x1 + x2``."""
    return _ops.add(x1, x2)


def subtract(x1, x2):
    """``x1 - x2``."""
    return _ops.subtract(x1, x2)


def multiply(x1, x2):
    """``x1 * x2``."""
    return _ops.multiply(x1, x2)


def divide(x1, x2):
    """``x1 / x2``."""
    return _ops.divide(x1, x2)


true_divide = divide


def divide_no_nan(x1, x2):
    """``x1 / x2``, and 0 where ``x2 == 0`` (with a zero gradient there)."""
    zero = _arr(x2) == 0
    return _ops.where(zero, 0.0, _ops.divide(x1, _ops.where(zero, 1.0, x2)))


def power(x1, x2):
    """``x1 ** x2``."""
    return _ops.power(x1, x2)


def negative(x):
    """``-x``."""
    return _ops.negative(_t(x))


def abs(x):  # noqa: A001 - Keras's name
    """``|x|``."""
    return _ops.abs(_t(x))


absolute = abs


def square(x):
    """``x * x``."""
    x = _t(x)
    return _ops.multiply(x, x)


def sqrt(x):
    """Square root."""
    return _ops.sqrt(_t(x))


def rsqrt(x):
    """``1 / sqrt(x)``."""
    return _ops.divide(1.0, _ops.sqrt(_t(x)))


def reciprocal(x):
    """``1 / x``."""
    return _ops.divide(1.0, _t(x))


def exp(x):
    """``e ** x``."""
    return _ops.exp(_t(x))


def exp2(x):
    """``2 ** x``."""
    return _ops.exp(_ops.multiply(_t(x), _LN2))


def expm1(x):
    """``e ** x - 1``, accurate near 0."""
    return _ops.expm1(_t(x))


def log(x):
    """Natural logarithm."""
    return _ops.log(_t(x))


def log1p(x):
    """``log(1 + x)``, accurate near 0."""
    return _ops.log1p(_t(x))


def log2(x):
    """Base-2 logarithm."""
    return _ops.divide(_ops.log(_t(x)), _LN2)


def log10(x):
    """Base-10 logarithm."""
    return _ops.divide(_ops.log(_t(x)), _LN10)


def logaddexp(x1, x2):
    """``log(e ** x1 + e ** x2)`` without overflow."""
    big = _ops.maximum(x1, x2)
    return _ops.add(big, _ops.log1p(_ops.exp(_ops.negative(_ops.abs(_ops.subtract(x1, x2))))))


def sign(x):
    """-1, 0 or 1."""
    return _ops.sign(_t(x))


def sin(x):
    """Sine."""
    return _ops.sin(_t(x))


def cos(x):
    """Cosine."""
    return _ops.cos(_t(x))


def tan(x):
    """Tangent, ``sin / cos``."""
    x = _t(x)
    return _ops.divide(_ops.sin(x), _ops.cos(x))


def sinh(x):
    """Hyperbolic sine."""
    x = _t(x)
    return _ops.multiply(_ops.subtract(_ops.expm1(x), _ops.expm1(_ops.negative(x))), 0.5)


def cosh(x):
    """Hyperbolic cosine."""
    x = _t(x)
    return _ops.multiply(_ops.add(_ops.exp(x), _ops.exp(_ops.negative(x))), 0.5)


def tanh(x):
    """Hyperbolic tangent."""
    return _ops.tanh(_t(x))


def erf(x):
    """The error function."""
    return _ops.erf(_t(x))


def maximum(x1, x2):
    """Elementwise larger value."""
    return _ops.maximum(x1, x2)


def minimum(x1, x2):
    """Elementwise smaller value."""
    return _ops.minimum(x1, x2)


def clip(x, x_min, x_max):
    """Limit to ``[x_min, x_max]``."""
    return _ops.clip(_t(x), x_min, x_max)


def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` holds, else ``x2``; with ``condition`` alone, the indices
    of its nonzero entries (a tuple of integer tensors, one per axis)."""
    if x1 is None and x2 is None:
        return nonzero(condition)
    if x1 is None or x2 is None:
        raise ValueError("ops.where: pass both x1 and x2, or neither (for the indices of "
                         "the nonzero entries)")
    return _ops.where(_arr(condition).astype(bool), x1, x2)


def _rounding(fn):
    def op(x):
        return _const(fn(_xp(x), _arr(x)))
    return op


floor = _rounding(lambda xp, a: xp.floor(a))
floor.__doc__ = "Round down (no gradient, as in Keras)."
ceil = _rounding(lambda xp, a: xp.ceil(a))
ceil.__doc__ = "Round up (no gradient)."
trunc = _rounding(lambda xp, a: xp.trunc(a))
trunc.__doc__ = "Round toward zero (no gradient)."


def round(x, decimals=0):  # noqa: A001
    """Round half to even to ``decimals`` places (no gradient)."""
    return _const(_xp(x).round(_arr(x), decimals))


def floor_divide(x1, x2):
    """``floor(x1 / x2)`` (no gradient)."""
    return _const(_xp(x1, x2).floor_divide(_arr(x1), _arr(x2)))


def mod(x1, x2):
    """``x1 - floor(x1 / x2) * x2``: the remainder with the sign of ``x2``."""
    return _ops.subtract(x1, _ops.multiply(floor_divide(x1, x2), x2))


# ---------------------------------------------------------------- comparisons and logic
def _boolean(name, ufunc):
    def op(x1, x2):
        return _const(getattr(_xp(x1, x2), ufunc)(_arr(x1), _arr(x2)))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise ``{ufunc}`` (a boolean tensor, no gradient)."
    return op


equal = _boolean("equal", "equal")
not_equal = _boolean("not_equal", "not_equal")
greater = _boolean("greater", "greater")
greater_equal = _boolean("greater_equal", "greater_equal")
less = _boolean("less", "less")
less_equal = _boolean("less_equal", "less_equal")
logical_and = _boolean("logical_and", "logical_and")
logical_or = _boolean("logical_or", "logical_or")
logical_xor = _boolean("logical_xor", "logical_xor")


def logical_not(x):
    """Elementwise not (a boolean tensor)."""
    return _const(_xp(x).logical_not(_arr(x)))


def isnan(x):
    """True where ``x`` is NaN."""
    return _const(_xp(x).isnan(_arr(x)))


def isinf(x):
    """True where ``x`` is infinite."""
    return _const(_xp(x).isinf(_arr(x)))


def isfinite(x):
    """True where ``x`` is neither infinite nor NaN."""
    return _const(_xp(x).isfinite(_arr(x)))


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """``|x1 - x2| <= atol + rtol * |x2|`` elementwise."""
    return _const(_xp(x1, x2).isclose(_arr(x1), _arr(x2), rtol, atol, equal_nan))


def _reduce_axes(x, axis):
    return None if axis is None else normalize_axes("keras.ops", axis, _arr(x).ndim)


def all(x, axis=None, keepdims=False):  # noqa: A001
    """True where every entry along ``axis`` is nonzero."""
    return _const(_arr(x).all(axis=_reduce_axes(x, axis), keepdims=keepdims))


def any(x, axis=None, keepdims=False):  # noqa: A001
    """True where some entry along ``axis`` is nonzero."""
    return _const(_arr(x).any(axis=_reduce_axes(x, axis), keepdims=keepdims))


def count_nonzero(x, axis=None):
    """How many entries along ``axis`` are nonzero (int64)."""
    return _const((_arr(x) != 0).sum(axis=_reduce_axes(x, axis)), "int64")


# ---------------------------------------------------------------- reductions
def sum(x, axis=None, keepdims=False):  # noqa: A001
    """Sum over ``axis`` (all axes when None)."""
    return _ops.sum(_t(x), axis, keepdims)


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis``."""
    return _ops.mean(_t(x), axis, keepdims)


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    """Maximum over ``axis``; ``initial`` also takes part."""
    out = _ops.max(_t(x), axis, keepdims)
    return out if initial is None else _ops.maximum(out, initial)


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    """Minimum over ``axis``; ``initial`` also takes part."""
    out = _ops.min(_t(x), axis, keepdims)
    return out if initial is None else _ops.minimum(out, initial)


def amax(x, axis=None, keepdims=False):
    """Maximum over ``axis``."""
    return max(x, axis, keepdims)


def amin(x, axis=None, keepdims=False):
    """Minimum over ``axis``."""
    return min(x, axis, keepdims)


def std(x, axis=None, keepdims=False):
    """Standard deviation over ``axis``."""
    return _ops.std(_t(x), axis, keepdims)


def var(x, axis=None, keepdims=False):
    """Variance over ``axis``."""
    return _ops.var(_t(x), axis, keepdims)


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, stably."""
    return _ops.logsumexp(_t(x), axis, keepdims)


def cumsum(x, axis=None, dtype=None):
    """Running sum along ``axis`` (of the flattened tensor when None)."""
    x = _t(x) if dtype is None else cast(x, dtype)
    return _ops.cumsum(x, axis)


def average(x, axis=None, weights=None):
    """The mean over ``axis``, weighted by ``weights`` (shaped like ``x``, or 1-D along
    one ``axis``)."""
    x = _t(x)
    if weights is None:
        return _ops.mean(x, axis)
    w = weights if isinstance(weights, Tensor) else Tensor(np.asarray(weights), dtype=x.dtype)
    if w.ndim == 1 and x.ndim > 1:
        if axis is None:
            raise ValueError("ops.average: 1-D weights need an axis (they weigh one axis)")
        ax = normalize_axis("ops.average", axis, x.ndim)
        w = _ops.reshape(w, [-1 if i == ax else 1 for i in range(x.ndim)])
    return _ops.divide(_ops.sum(_ops.multiply(x, w), axis),
                       _ops.sum(_ops.multiply(_ops.ones_like(x), w), axis))


def moments(x, axes, keepdims=False, synchronized=False):
    """``(mean, variance)`` over ``axes``."""
    if synchronized:
        raise NotImplementedError("ops.moments: synchronized=True (across devices) is not "
                                  "supported; gradkit runs on one device")
    x = _t(x)
    return _ops.mean(x, axes, keepdims), _ops.var(x, axes, keepdims)


def _index(op, x, axis):
    a = _arr(x)
    if axis is None:
        return a.reshape(-1), 0
    return a, normalize_axis(f"ops.{op} (input shape {a.shape})", axis, a.ndim)


def argmax(x, axis=None, keepdims=False):
    """Index of the largest value along ``axis`` (of the flattened tensor when None)."""
    a, ax = _index("argmax", x, axis)
    out = a.argmax(axis=ax)
    return _const(_keep(out, x, ax, axis, keepdims), "int32")


def argmin(x, axis=None, keepdims=False):
    """Index of the smallest value along ``axis``."""
    a, ax = _index("argmin", x, axis)
    out = a.argmin(axis=ax)
    return _const(_keep(out, x, ax, axis, keepdims), "int32")


def _keep(out, a, ax, axis, keepdims):
    if not keepdims:
        return out
    if axis is None:
        return out.reshape((1,) * _arr(a).ndim)
    return get_array_module(out).expand_dims(out, ax)


def argsort(x, axis=-1):
    """The indices that sort ``x`` along ``axis`` (stable, ascending)."""
    a, ax = _index("argsort", x, axis)
    return _const(get_array_module(a).argsort(a, axis=ax, kind="stable"), "int32")


# ---------------------------------------------------------------- shape
def reshape(x, newshape):
    """Same values, new shape (one entry may be -1)."""
    return _ops.reshape(_t(x), newshape)


def transpose(x, axes=None):
    """Permute axes (reverse them when None)."""
    return _ops.transpose(_t(x), axes)


def swapaxes(x, axis1, axis2):
    """Exchange two axes."""
    return _ops.swapaxes(_t(x), axis1, axis2)


def moveaxis(x, source, destination):
    """Move axes ``source`` to positions ``destination``."""
    x = _t(x)
    src = _ordered_axes("ops.moveaxis", source, x.ndim)
    dst = _ordered_axes("ops.moveaxis", destination, x.ndim)
    if len(src) != len(dst):
        raise ValueError(f"ops.moveaxis: source {source} and destination {destination} "
                         "need as many axes")
    order = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return _ops.transpose(x, order)


def expand_dims(x, axis):
    """Insert length-1 axes at ``axis`` (an int or a tuple)."""
    x = _t(x)
    axes = normalize_axes("ops.expand_dims", axis, x.ndim + len(np.atleast_1d(axis)))
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return _ops.reshape(x, shape)


def squeeze(x, axis=None):
    """Remove length-1 axes (only ``axis`` when given)."""
    return _ops.squeeze(_t(x), axis)


def ravel(x):
    """Flatten to 1-D."""
    return _ops.reshape(_t(x), (-1,))


def broadcast_to(x, shape):
    """Repeat ``x`` along length-1 (or missing) axes to ``shape``."""
    return _ops.broadcast_to(_t(x), shape)


def concatenate(xs, axis=0):
    """Join tensors along an existing axis."""
    return _ops.concatenate([_t(x) for x in xs], axis)


def append(x1, x2, axis=None):
    """``x2`` joined after ``x1`` (both flattened when ``axis`` is None)."""
    if axis is None:
        return concatenate([ravel(x1), ravel(x2)])
    return concatenate([x1, x2], axis)


def stack(x, axis=0):
    """Join equally shaped tensors along a new axis."""
    return _ops.stack([_t(t) for t in x], axis)


def unstack(x, num=None, axis=0):
    """The slices of ``x`` along ``axis``, as a list."""
    x = _t(x)
    ax = normalize_axis("ops.unstack", axis, x.ndim)
    if num is not None and num != x.shape[ax]:
        raise ValueError(f"ops.unstack: num={num} but axis {axis} has length {x.shape[ax]}")
    return [x[(_slice(None),) * ax + (i,)] for i in range(x.shape[ax])]


def split(x, indices_or_sections, axis=0):
    """Split into a list of tensors, as ``numpy.split``."""
    return _ops.split(_t(x), indices_or_sections, axis)


def pad(x, pad_width, mode="constant", constant_values=None):
    """Pad with a constant (``mode="constant"`` only)."""
    check_choice("ops.pad", "mode", mode, ("constant",))
    return _ops.pad(_t(x), pad_width, 0 if constant_values is None else constant_values)


def tile(x, repeats):
    """Repeat the whole of ``x`` ``repeats[i]`` times along axis ``i``."""
    x = _t(x)
    reps = tuple(np.atleast_1d(repeats).tolist())
    nd = builtins.max(x.ndim, len(reps))
    reps = (1,) * (nd - len(reps)) + reps
    shape = (1,) * (nd - x.ndim) + x.shape
    # (r0, s0, r1, s1, ...) broadcast, then merged pairwise: the copies come out in order
    spread = _ops.reshape(x, [d for s in shape for d in (1, s)])
    full_shape = [d for r, s in zip(reps, shape) for d in (r, s)]
    return _ops.reshape(_ops.broadcast_to(spread, full_shape),
                        [r * s for r, s in zip(reps, shape)])


def take(x, indices, axis=None):
    """The entries at integer ``indices`` along ``axis`` (of the flattened ``x`` when None);
    negative indices count from the end."""
    x = _t(x)
    idx = _arr(indices).astype(np.int64)
    if axis is None:
        return _ops.getitem(_ops.reshape(x, (-1,)), idx)
    ax = normalize_axis(f"ops.take (input shape {x.shape})", axis, x.ndim)
    return _ops.getitem(x, (_slice(None),) * ax + (idx,))


def take_along_axis(x, indices, axis=None):
    """``x`` picked along ``axis`` at ``indices`` (shaped like ``x`` but along ``axis``)."""
    x = _t(x)
    idx = _arr(indices).astype(np.int64)
    if axis is None:
        return _ops.getitem(_ops.reshape(x, (-1,)), idx.reshape(-1))
    ax = normalize_axis(f"ops.take_along_axis (input shape {x.shape})", axis, x.ndim)
    shape = list(np.broadcast_shapes(tuple(s if i != ax else 1 for i, s in enumerate(x.shape)),
                                     tuple(s if i != ax else 1 for i, s in enumerate(idx.shape))))
    shape[ax] = idx.shape[ax]
    idx = np.broadcast_to(idx, shape)
    grid = list(np.ogrid[tuple(_slice(n) for n in shape)])
    grid[ax] = idx
    src = _ops.broadcast_to(x, [n if i == ax else s for i, (n, s) in
                                enumerate(zip(x.shape, shape))])
    return _ops.getitem(src, tuple(grid))


def sort(x, axis=-1):
    """``x`` sorted ascending along ``axis``; gradients go back to where values came from."""
    return take_along_axis(x, argsort(x, axis), axis)


def top_k(x, k, sorted=True):  # noqa: A002
    """The ``k`` largest values along the last axis and their indices, largest first
    (``sorted=False`` allows any order; this order is one)."""
    x = _t(x)
    k = check_int("ops.top_k", "k", k, minimum=1)
    if k > x.shape[-1]:
        raise ValueError(f"ops.top_k: k={k} is larger than the last axis ({x.shape[-1]})")
    order = _xp(x).argsort(-x._data, axis=-1, kind="stable")[..., :k]
    return take_along_axis(x, order, -1), _const(order, "int32")


def flip(x, axis=None):
    """Reverse the order along ``axis`` (every axis when None)."""
    x = _t(x)
    axes = range(x.ndim) if axis is None else normalize_axes("ops.flip", axis, x.ndim)
    return _ops.getitem(x, tuple(_slice(None, None, -1) if i in axes else _slice(None)
                                 for i in range(x.ndim)))


def roll(x, shift, axis=None):
    """Shift entries cyclically by ``shift`` along ``axis`` (of the flattened ``x`` when None)."""
    x = _t(x)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), x.shape)
    shifts, axes = np.atleast_1d(shift), _ordered_axes("ops.roll", axis, x.ndim)
    for s, a in zip(np.broadcast_to(shifts, (len(axes),)), axes):
        x = take(x, (np.arange(x.shape[a]) - int(s)) % x.shape[a], a)
    return x


def repeat(x, repeats, axis=None):
    """Repeat each entry ``repeats`` times along ``axis`` (of the flattened ``x`` when None)."""
    x = _t(x)
    if axis is None:
        x, axis = ravel(x), 0
    ax = normalize_axis("ops.repeat", axis, x.ndim)
    return take(x, np.repeat(np.arange(x.shape[ax]), _arr(repeats)), ax)


def slice(inputs, start_indices, shape):  # noqa: A001
    """The block of ``shape`` starting at ``start_indices``."""
    x = _t(inputs)
    return x[tuple(_slice(int(s), int(s) + int(n))
                   for s, n in zip(_arr(start_indices).tolist(), shape))]


def get_item(x, key):
    """``x[key]``."""
    return _t(x)[key]


def _diag_mask(x, k, lower):
    n, m = x.shape[-2:]
    return np.tri(n, m, k, dtype=bool) if lower else ~np.tri(n, m, k - 1, dtype=bool)


def tril(x, k=0):
    """Zeros above the ``k``-th diagonal of the last two axes."""
    x = _t(x)
    return _ops.where(_diag_mask(x, k, True), x, 0.0)


def triu(x, k=0):
    """Zeros below the ``k``-th diagonal of the last two axes."""
    x = _t(x)
    return _ops.where(_diag_mask(x, k, False), x, 0.0)


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The ``offset``-th diagonal of axes ``axis1`` and ``axis2``, appended as the last axis."""
    x = _t(x)
    a1, a2 = (normalize_axis("ops.diagonal", a, x.ndim) for a in (axis1, axis2))
    rest = [i for i in range(x.ndim) if i not in (a1, a2)]
    x = _ops.transpose(x, rest + [a1, a2])
    n, m = x.shape[-2:]
    i = np.arange(builtins.max(0, -offset), builtins.min(n, m - offset))
    return x[(Ellipsis, i, i + offset)]


def diag(x, k=0):
    """The ``k``-th diagonal of a matrix, or a matrix with vector ``x`` on it."""
    x = _t(x)
    if x.ndim == 2:
        return diagonal(x, k)
    if x.ndim != 1:
        raise ValueError(f"ops.diag: expected a 1-D or 2-D input, received shape {x.shape}")
    n = x.shape[0] + builtins.abs(k)
    rows = np.arange(x.shape[0]) + builtins.max(0, -k)
    return _ops.scatter_add((n, n), (rows, rows + k), x)


def trace(x, offset=0, axis1=0, axis2=1):
    """The sum of the ``offset``-th diagonal."""
    return _ops.sum(diagonal(x, offset, axis1, axis2), -1)


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """One-hot vectors for integer labels ``x`` (a label out of range gives zeros)."""
    if sparse:
        raise NotImplementedError("ops.one_hot: sparse=True; gradkit has no sparse tensors")
    labels = _arr(x).astype(np.int64)
    num_classes = check_int("ops.one_hot", "num_classes", num_classes, minimum=1)
    out = (labels[..., None] == np.arange(num_classes)).astype(dtype or "float32")
    return _const(np.moveaxis(out, -1, normalize_axis("ops.one_hot", axis, out.ndim)))


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """Multi-hot rows: 1 at every label in each row of integer ``inputs``."""
    if sparse or kwargs:
        raise NotImplementedError(f"ops.multi_hot: {'sparse=True' if sparse else kwargs} is "
                                  "not supported")
    if num_classes is None:
        raise ValueError("ops.multi_hot: num_classes is required")
    hot = one_hot(inputs, num_classes, -1, dtype)._data
    out = hot.max(axis=-2) if hot.ndim > 1 else hot
    return _const(np.moveaxis(out, -1, normalize_axis("ops.multi_hot", axis, out.ndim)))


def nonzero(x):
    """The indices of the nonzero entries, one integer tensor per axis."""
    return tuple(_const(i, "int32") for i in _xp(x).nonzero(_arr(x)))


# ---------------------------------------------------------------- linear algebra
def matmul(x1, x2):
    """Matrix product (batched over leading axes)."""
    return _ops.matmul(_t(x1), _t(x2))


def tensordot(x1, x2, axes=2):
    """Sum of products over ``axes`` (an int: the last ``axes`` of ``x1`` with the first of
    ``x2``; or two lists of axes), as ``numpy.tensordot``."""
    a, b = _t(x1), _t(x2)
    if isinstance(axes, int):
        ax_a, ax_b = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        ax_a, ax_b = ([x] if isinstance(x, int) else list(x) for x in axes)
    ax_a = _ordered_axes("ops.tensordot", ax_a, a.ndim)
    ax_b = _ordered_axes("ops.tensordot", ax_b, b.ndim)
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]
    k = int(np.prod([a.shape[i] for i in ax_a]))
    left = _ops.reshape(_ops.transpose(a, free_a + list(ax_a)), (-1, k))
    right = _ops.reshape(_ops.transpose(b, list(ax_b) + free_b), (k, -1))
    return _ops.reshape(_ops.matmul(left, right),
                        [a.shape[i] for i in free_a] + [b.shape[i] for i in free_b])


def dot(x1, x2):
    """``numpy.dot``: products summed over the last axis of ``x1`` and the second-to-last
    of ``x2`` (the only one of a vector); scalars multiply."""
    a, b = _t(x1), _t(x2)
    if a.ndim == 0 or b.ndim == 0:
        return _ops.multiply(a, b)
    return tensordot(a, b, ([a.ndim - 1], [builtins.max(b.ndim - 2, 0)]))


def outer(x1, x2):
    """Outer product of the flattened inputs."""
    return _ops.multiply(_ops.reshape(_t(x1), (-1, 1)), _ops.reshape(_t(x2), (1, -1)))


def einsum(subscripts, *operands, **kwargs):
    """Einstein summation (``"bij,bjk->bik"``)."""
    if kwargs:
        raise NotImplementedError(f"ops.einsum: keyword arguments {sorted(kwargs)} are not "
                                  "supported")
    return _ops.einsum(subscripts, *(_t(o) for o in operands))


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    """Vector norms (``ord`` None/2, 1, inf, -inf, or p) or the Frobenius norm of a matrix
    (``ord`` None or ``"fro"`` over two axes)."""
    x = _t(x)
    axes = tuple(range(x.ndim)) if axis is None else normalize_axes("ops.norm", axis, x.ndim)
    if len(axes) == 2 and ord not in (None, "fro"):
        raise NotImplementedError(f"ops.norm: matrix norm ord={ord!r}; gradkit has the "
                                  "Frobenius norm (ord=None or 'fro')")
    if len(axes) > 2 or (axis is None and x.ndim == 2 and ord not in (None, "fro", 2)):
        if ord not in (None, "fro"):
            raise NotImplementedError(f"ops.norm: ord={ord!r} over {len(axes)} axes")
    if ord in (None, 2, "fro"):
        return _ops.sqrt(_ops.sum(_ops.multiply(x, x), axes, keepdims))
    if ord == 1:
        return _ops.sum(_ops.abs(x), axes, keepdims)
    if ord == np.inf:
        return _ops.max(_ops.abs(x), axes, keepdims)
    if ord == -np.inf:
        return _ops.min(_ops.abs(x), axes, keepdims)
    p = float(ord)
    return _ops.power(_ops.sum(_ops.power(_ops.abs(x), p), axes, keepdims), 1.0 / p)


def normalize(x, axis=-1, order=2, epsilon=None):
    """``x / norm(x)`` along ``axis`` (the norm kept at least ``epsilon``)."""
    x = _t(x)
    n = norm(x, order, axis, keepdims=True)
    return _ops.divide(x, _ops.maximum(n, 1e-12 if epsilon is None else epsilon))


# ---------------------------------------------------------------- neural-network functions
def relu(x):
    """``max(x, 0)``."""
    return _ops.relu(_t(x))


def relu6(x):
    """``min(max(x, 0), 6)``."""
    return _ops.relu(_t(x), max_value=6.0)


def leaky_relu(x, negative_slope=0.2):
    """``x`` if positive else ``negative_slope * x``."""
    return _ops.leaky_relu(_t(x), negative_slope)


def elu(x, alpha=1.0):
    """``x`` if positive else ``alpha * (e^x - 1)``."""
    return _ops.elu(_t(x), alpha)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def selu(x):
    """Scaled ELU with the self-normalizing constants."""
    return _ops.multiply(_ops.elu(_t(x), _SELU_ALPHA), _SELU_SCALE)


def celu(x, alpha=1.0):
    """``max(x, 0) + min(alpha * (e^(x / alpha) - 1), 0)``."""
    x = _t(x)
    return _ops.multiply(_ops.elu(_ops.divide(x, alpha), 1.0), alpha)


def gelu(x, approximate=True):
    """Gaussian error linear unit (Keras's default is the tanh approximation)."""
    return _ops.gelu(_t(x), approximate)


def sigmoid(x):
    """``1 / (1 + e^-x)``."""
    return _ops.sigmoid(_t(x))


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, stable."""
    return _ops.negative(_ops.softplus(_ops.negative(_t(x))))


def hard_sigmoid(x):
    """``relu6(x + 3) / 6``."""
    return _ops.divide(_ops.relu(_ops.add(_t(x), 3.0), max_value=6.0), 6.0)


def hard_silu(x):
    """``x * hard_sigmoid(x)``."""
    x = _t(x)
    return _ops.multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


def hard_tanh(x):
    """``clip(x, -1, 1)``."""
    return _ops.clip(_t(x), -1.0, 1.0)


def silu(x):
    """``x * sigmoid(x)``."""
    x = _t(x)
    return _ops.multiply(x, _ops.sigmoid(x))


swish = silu


def softplus(x):
    """``log(1 + e^x)``."""
    return _ops.softplus(_t(x))


def softsign(x):
    """``x / (1 + |x|)``."""
    x = _t(x)
    return _ops.divide(x, _ops.add(_ops.abs(x), 1.0))


def glu(x, axis=-1):
    """Gated linear unit: ``a * sigmoid(b)`` for the two halves of ``axis``."""
    a, b = _ops.split(_t(x), 2, axis)
    return _ops.multiply(a, _ops.sigmoid(b))


def softmax(x, axis=-1):
    """``e^x / sum(e^x)`` along ``axis``."""
    return _ops.softmax(_t(x), axis)


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``."""
    return _ops.log_softmax(_t(x), axis)


_EPSILON = 1e-7  # Keras's backend epsilon: probabilities are clipped to [eps, 1 - eps]


def _clipped_log(p):
    return _ops.log(_ops.clip(p, _EPSILON, 1.0 - _EPSILON))


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary cross-entropy (no reduction)."""
    output = _t(output)
    target = _ops.cast(_t(target), output.dtype)
    if from_logits:
        return _ops.binary_cross_entropy_with_logits(output, target, reduction="none")
    return _ops.negative(_ops.add(
        _ops.multiply(target, _clipped_log(output)),
        _ops.multiply(_ops.subtract(1.0, target), _clipped_log(_ops.subtract(1.0, output)))))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy of one-hot (or probability) targets along ``axis``, per sample."""
    output = _t(output)
    target = _ops.cast(_t(target), output.dtype)
    if from_logits:
        logp = _ops.log_softmax(output, axis)
    else:
        logp = _clipped_log(_ops.divide(output, _ops.sum(output, axis, keepdims=True)))
    return _ops.negative(_ops.sum(_ops.multiply(target, logp), axis))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy of integer labels against the class axis ``axis``, per sample."""
    output = _t(output)
    nclass = output.shape[normalize_axis("ops.sparse_categorical_crossentropy", axis,
                                         output.ndim)]
    hot = one_hot(target, nclass, axis, output.dtype)
    return categorical_crossentropy(hot, output, from_logits, axis)


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None,
                          is_causal=False, flash_attention=None, attn_logits_soft_cap=None):
    """Attention over inputs shaped ``(batch, length, heads, dim)`` (Keras's layout).

    ``bias`` (a constant: a bias that requires grad raises NotImplementedError) is
    added to the scores; ``mask`` (booleans, True = attend) and ``is_causal`` hide
    positions. Computed by :func:`gradkit.ops.scaled_dot_product_attention` on
    ``(batch, heads, length, dim)``.
    """
    if isinstance(bias, Tensor) and bias.requires_grad:
        raise NotImplementedError("ops.dot_product_attention: gradients with respect to bias; "
                                  "pass a constant bias, or add a learned bias to the scores "
                                  "with ops.matmul and ops.softmax")
    if flash_attention:
        raise NotImplementedError("ops.dot_product_attention: flash_attention=True; gradkit "
                                  "has no fused attention kernel, pass None or False")
    if attn_logits_soft_cap is not None:
        raise NotImplementedError("ops.dot_product_attention: attn_logits_soft_cap")
    q, k, v = (_ops.swapaxes(_t(t), 1, 2) for t in (query, key, value))
    combined = None
    if bias is not None:
        combined = _arr(bias)
        if mask is not None:
            combined = np.where(_arr(mask).astype(bool), combined, -np.inf)
    elif mask is not None:
        combined = _arr(mask).astype(bool)
    out = _ops.scaled_dot_product_attention(q, k, v, mask=combined, is_causal=is_causal,
                                            scale=scale)
    return _ops.swapaxes(out, 1, 2)


def _data_format(fmt):
    return "channels_last" if fmt is None else fmt


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """2-D convolution of ``(N, H, W, C)`` inputs with an ``(kh, kw, C, F)`` kernel."""
    x = _t(inputs)
    if x.ndim != 4:
        raise NotImplementedError(f"ops.conv: gradkit convolves 2-D images (4-D inputs); "
                                  f"received shape {x.shape}")
    return _ops.conv2d(x, _t(kernel), None, strides, padding, _data_format(data_format),
                       dilation_rate)


def _pool2d(name, fn, inputs, pool_size, strides, padding, data_format):
    x = _t(inputs)
    if x.ndim != 4:
        raise NotImplementedError(f"ops.{name}: gradkit pools 2-D images (4-D inputs); "
                                  f"received shape {x.shape}")
    return fn(x, pool_size, strides, padding, _data_format(data_format))


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """2-D max pooling of ``(N, H, W, C)`` inputs."""
    return _pool2d("max_pool", _ops.max_pool2d, inputs, pool_size, strides, padding,
                   data_format)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """2-D average pooling of ``(N, H, W, C)`` inputs."""
    return _pool2d("average_pool", _ops.avg_pool2d, inputs, pool_size, strides, padding,
                   data_format)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """``(x - mean) / sqrt(variance + epsilon) * scale + offset`` with the statistics given
    for feature axis ``axis``; differentiable in every argument."""
    x = _t(x)
    ax = normalize_axis("ops.batch_normalization", axis, x.ndim)
    shape = [-1 if i == ax else 1 for i in range(x.ndim)]

    def feature(t):
        return _ops.reshape(t if isinstance(t, Tensor) else Tensor(_arr(t), dtype=x.dtype),
                            shape)

    y = _ops.divide(_ops.subtract(x, feature(mean)),
                    _ops.sqrt(_ops.add(feature(variance), epsilon)))
    if scale is not None:
        y = _ops.multiply(y, feature(scale))
    return y if offset is None else _ops.add(y, feature(offset))


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """Layer normalization over ``axis`` (epsilon 1e-3 by default, as Keras's layer)."""
    if kwargs:
        raise NotImplementedError(f"ops.layer_normalization: {sorted(kwargs)} not supported")
    return _ops.layer_norm(_t(x), gamma, beta, axis, 1e-3 if epsilon is None else epsilon)


# ---------------------------------------------------------------- more numpy-style ops
def arctan(x):
    """Inverse tangent."""
    return _ops.arctan(_t(x))


def arcsin(x):
    """Inverse sine."""
    return _ops.arcsin(_t(x))


def arccos(x):
    """Inverse cosine, ``pi/2 - arcsin(x)``."""
    return _ops.subtract(math.pi / 2, _ops.arcsin(_t(x)))


def arctan2(x1, x2):
    """The angle of the point ``(x2, x1)``, in ``(-pi, pi]``."""
    y, x = _t(x1), _t(x2)
    on_axis = _arr(x) == 0
    base = _ops.arctan(_ops.divide(y, _ops.where(on_axis, 1.0, x)))
    turn = _ops.where(_arr(y) >= 0, math.pi, -math.pi)
    vertical = _ops.multiply(_ops.sign(y), math.pi / 2)
    return _ops.where(on_axis, vertical, _ops.where(_arr(x) > 0, base, _ops.add(base, turn)))


def arcsinh(x):
    """Inverse hyperbolic sine, ``sign(x) log(|x| + sqrt(x^2 + 1))``."""
    x = _t(x)
    a = _ops.abs(x)
    return _ops.multiply(_ops.sign(x), _ops.log(_ops.add(a, _ops.sqrt(_ops.add(square(a), 1.0)))))


def arccosh(x):
    """Inverse hyperbolic cosine (``x >= 1``)."""
    x = _t(x)
    return _ops.log(_ops.add(x, _ops.sqrt(_ops.subtract(square(x), 1.0))))


def arctanh(x):
    """Inverse hyperbolic tangent (``|x| < 1``)."""
    x = _t(x)
    return _ops.multiply(_ops.subtract(_ops.log1p(x), _ops.log1p(_ops.negative(x))), 0.5)


fabs = abs


def cbrt(x):
    """Cube root (negative for negative ``x``)."""
    x = _t(x)
    return _ops.multiply(_ops.sign(x), _ops.power(_ops.abs(x), 1.0 / 3.0))


def sinc(x):
    """``sin(pi x) / (pi x)``, 1 at 0."""
    x = _t(x)
    zero = _arr(x) == 0
    px = _ops.multiply(_ops.where(zero, 1.0, x), math.pi)
    return _ops.where(zero, 1.0, _ops.divide(_ops.sin(px), px))


def deg2rad(x):
    """Degrees to radians."""
    return _ops.multiply(_t(x), math.pi / 180.0)


def rad2deg(x):
    """Radians to degrees."""
    return _ops.multiply(_t(x), 180.0 / math.pi)


def hypot(x1, x2):
    """``sqrt(x1^2 + x2^2)``."""
    return _ops.sqrt(_ops.add(square(x1), square(x2)))


def logaddexp2(x1, x2):
    """``log2(2^x1 + 2^x2)``."""
    return _ops.divide(logaddexp(_ops.multiply(_t(x1), _LN2), _ops.multiply(_t(x2), _LN2)),
                       _LN2)


def ldexp(x1, x2):
    """``x1 * 2^x2``."""
    return _ops.multiply(x1, _ops.power(2.0, cast(x2, "float32")))


def fmax(x1, x2):
    """Elementwise maximum that ignores a NaN when the other value is a number."""
    a1, a2 = _arr(x1), _arr(x2)
    return _ops.where(_xp(a1).isnan(a1), x2, _ops.where(_xp(a2).isnan(a2), x1,
                                                        _ops.maximum(x1, x2)))


def fmin(x1, x2):
    """Elementwise minimum that ignores a NaN when the other value is a number."""
    a1, a2 = _arr(x1), _arr(x2)
    return _ops.where(_xp(a1).isnan(a1), x2, _ops.where(_xp(a2).isnan(a2), x1,
                                                        _ops.minimum(x1, x2)))


def heaviside(x1, x2):
    """0 where ``x1 < 0``, ``x2`` where ``x1 == 0``, 1 where ``x1 > 0`` (no gradient)."""
    return _const(_xp(x1, x2).heaviside(_arr(x1), _arr(x2)))


def signbit(x):
    """True where the sign bit is set (negative numbers, -0.0)."""
    return _const(_xp(x).signbit(_arr(x)))


def isneginf(x):
    """True at ``-inf``."""
    return _const(_xp(x).isneginf(_arr(x)))


def isposinf(x):
    """True at ``+inf``."""
    return _const(_xp(x).isposinf(_arr(x)))


def isreal(x):
    """True everywhere: gradkit's tensors are real."""
    return _const(_xp(x).isreal(_arr(x)))


def real(x):
    """The real part: ``x`` itself (gradkit's tensors are real)."""
    return _t(x)


def imag(x):
    """The imaginary part: zeros (gradkit's tensors are real)."""
    return zeros_like(x)


conj = conjugate = real


def angle(x):
    """The complex argument of a real ``x``: 0 for ``x >= 0``, pi below (no gradient)."""
    return _const(_xp(x).angle(_arr(x)).astype(_arr(x).dtype if _arr(x).dtype.kind == "f"
                                           else "float32"))


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """NaN and infinities replaced (by ``nan``, ``posinf``/``neginf`` or the dtype's
    extremes); gradients flow where ``x`` was finite."""
    x = _t(x)
    a = x._data
    xp = _xp(a)
    return _ops.where(xp.isfinite(a), x, xp.nan_to_num(a, nan=nan, posinf=posinf,
                                                      neginf=neginf))


def ptp(x, axis=None, keepdims=False):
    """``max - min`` over ``axis``."""
    x = _t(x)
    return _ops.subtract(_ops.max(x, axis, keepdims), _ops.min(x, axis, keepdims))


def _nan_free(x, fill):
    x = _t(x)
    return _ops.where(_xp(x).isnan(x._data), fill, x)


def nansum(x, axis=None, keepdims=False):
    """Sum over ``axis``, NaNs counted as 0."""
    return _ops.sum(_nan_free(x, 0.0), axis, keepdims)


def nanmean(x, axis=None, keepdims=False):
    """Mean of the non-NaN entries over ``axis``."""
    count = (~_xp(x).isnan(_arr(x))).sum(axis=_reduce_axes(x, axis), keepdims=keepdims)
    return _ops.divide(nansum(x, axis, keepdims), count.astype(_arr(x).dtype))


def nanmax(x, axis=None, keepdims=False):
    """Maximum over ``axis``, NaNs ignored."""
    return _ops.max(_nan_free(x, -np.inf), axis, keepdims)


def nanmin(x, axis=None, keepdims=False):
    """Minimum over ``axis``, NaNs ignored."""
    return _ops.min(_nan_free(x, np.inf), axis, keepdims)


_QUANTILE_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def quantile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-th quantiles (``q`` in [0, 1], a number or a 1-D list) over ``axis``, as
    ``numpy.quantile``; differentiable (gradients go to the entries picked)."""
    check_choice("ops.quantile", "method", method, _QUANTILE_METHODS)
    x = _t(x)
    axes = tuple(range(x.ndim)) if axis is None else normalize_axes("ops.quantile", axis,
                                                                    x.ndim)
    rest = [i for i in range(x.ndim) if i not in axes]
    flat = _ops.reshape(_ops.transpose(x, rest + list(axes)),
                        [x.shape[i] for i in rest] + [-1])
    ordered = sort(flat, -1)
    n = flat.shape[-1]
    qs = np.atleast_1d(np.asarray(_arr(q), dtype=np.float64))
    outs = []
    for qi in qs:
        pos = qi * (n - 1)
        lo, hi = int(np.floor(pos)), int(np.ceil(pos))
        low, high = ordered[..., lo], ordered[..., hi]
        if method == "lower":
            v = low
        elif method == "higher":
            v = high
        elif method == "nearest":
            v = ordered[..., int(np.round(pos))]
        elif method == "midpoint":
            v = _ops.multiply(_ops.add(low, high), 0.5)
        else:
            v = _ops.add(low, _ops.multiply(_ops.subtract(high, low), pos - lo))
        if keepdims:
            v = _ops.reshape(v, [1 if i in axes else s for i, s in enumerate(x.shape)])
        outs.append(v)
    return outs[0] if np.ndim(_arr(q)) == 0 else _ops.stack(outs, 0)


def percentile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-th percentiles (``q`` in [0, 100]) over ``axis``."""
    return quantile(x, np.asarray(_arr(q), dtype=np.float64) / 100.0, axis, method, keepdims)


def median(x, axis=None, keepdims=False):
    """The median over ``axis``."""
    return quantile(x, 0.5, axis, keepdims=keepdims)


def diff(a, n=1, axis=-1):
    """The ``n``-th differences along ``axis``."""
    x = _t(a)
    ax = normalize_axis("ops.diff", axis, x.ndim)
    pre = (_slice(None),) * ax
    for _ in range(check_int("ops.diff", "n", n, minimum=0)):
        x = _ops.subtract(x[pre + (_slice(1, None),)], x[pre + (_slice(None, -1),)])
    return x


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The integral of ``y`` along ``axis`` by the trapezoidal rule (spacing ``x`` or ``dx``)."""
    y = _t(y)
    ax = normalize_axis("ops.trapezoid", axis, y.ndim)
    pre = (_slice(None),) * ax
    mid = _ops.multiply(_ops.add(y[pre + (_slice(1, None),)], y[pre + (_slice(None, -1),)]),
                        0.5)
    step = dx if x is None else diff(x, 1, -1 if _arr(x).ndim == 1 else ax)
    if x is not None and _arr(x).ndim == 1:
        step = _ops.reshape(step, [-1 if i == ax else 1 for i in range(y.ndim)])
    return _ops.sum(_ops.multiply(mid, step), ax)


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Cross product of 3-vectors along the last axis."""
    if (axisa, axisb, axisc, axis) != (-1, -1, -1, None):
        raise NotImplementedError("ops.cross: only the last axis (the default axes) is "
                                  "supported")
    a, b = _t(x1), _t(x2)
    if a.shape[-1] != 3 or b.shape[-1] != 3:
        raise NotImplementedError(f"ops.cross: gradkit crosses 3-vectors; received shapes "
                                  f"{a.shape} and {b.shape}")
    (a0, a1, a2), (b0, b1, b2) = ([t[..., i] for i in range(3)] for t in (a, b))
    return _ops.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], -1)


def inner(x1, x2):
    """Sum of products over the last axes (a product for scalars)."""
    a, b = _t(x1), _t(x2)
    if a.ndim == 0 or b.ndim == 0:
        return _ops.multiply(a, b)
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 1]))


def vdot(x1, x2):
    """Dot product of the flattened inputs."""
    return _ops.sum(_ops.multiply(ravel(x1), ravel(x2)))


def vstack(xs):
    """Stack along the first axis (1-D inputs become rows)."""
    return concatenate([_ops.reshape(t, (1, -1)) if _t(t).ndim < 2 else t for t in xs], 0)


def hstack(xs):
    """Stack along the second axis (the first for 1-D inputs)."""
    xs = [_t(t) for t in xs]
    return concatenate(xs, 0 if xs[0].ndim == 1 else 1)


def dstack(xs):
    """Stack along the third axis (inputs padded to 3-D as ``numpy.atleast_3d``)."""
    def three(t):
        t = _t(t)
        shape = {0: (1, 1, 1), 1: (1, -1, 1), 2: t.shape + (1,)}.get(t.ndim, t.shape)
        return _ops.reshape(t, shape)
    return concatenate([three(t) for t in xs], 2)


def array_split(x, indices_or_sections, axis=0):
    """Split into sections that may differ in length by one (``numpy.array_split``)."""
    x = _t(x)
    ax = normalize_axis("ops.array_split", axis, x.ndim)
    if isinstance(indices_or_sections, (int, np.integer)):
        k = check_int("ops.array_split", "indices_or_sections", indices_or_sections, minimum=1)
        n = x.shape[ax]
        sizes = [n // k + 1] * (n % k) + [n // k] * (k - n % k)
        indices_or_sections = list(np.cumsum(sizes)[:-1])
    return _ops.split(x, [int(i) for i in indices_or_sections], ax)


def vsplit(x, indices_or_sections):
    """Split along the first axis."""
    return split(x, indices_or_sections, 0)


def hsplit(x, indices_or_sections):
    """Split along the second axis (the first for 1-D)."""
    return split(x, indices_or_sections, 0 if _arr(x).ndim == 1 else 1)


def dsplit(x, indices_or_sections):
    """Split along the third axis."""
    return split(x, indices_or_sections, 2)


def meshgrid(*x, indexing="xy"):
    """Coordinate grids from 1-D inputs (``indexing="xy"``: the first two axes swapped)."""
    check_choice("ops.meshgrid", "indexing", indexing, ("xy", "ij"))
    xs = [ravel(t) for t in x]
    shape = [t.shape[0] for t in xs]
    if indexing == "xy" and len(xs) > 1:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, t in enumerate(xs):
        at = (1 - i if i < 2 else i) if indexing == "xy" and len(xs) > 1 else i
        view = [-1 if j == at else 1 for j in range(len(xs))]
        out.append(_ops.broadcast_to(_ops.reshape(t, view), shape))
    return out


def empty(shape, dtype=None):
    """A tensor of ``shape`` (zeros: gradkit never hands out uninitialized memory)."""
    return zeros(shape, dtype)


def empty_like(x, dtype=None):
    """A tensor shaped like ``x`` (zeros)."""
    return zeros_like(x, dtype)


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    """``base ** linspace(start, stop, num)``."""
    return Tensor(np.logspace(start, stop, num, endpoint, base, axis=axis).astype(
        dtype or "float32"))


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """``num`` values evenly spaced on a log scale from ``start`` to ``stop``."""
    return Tensor(np.geomspace(start, stop, num, endpoint, axis=axis).astype(dtype or "float32"))


def bincount(x, weights=None, minlength=0, sparse=False):
    """How often each non-negative integer occurs (weighted), per row for 2-D ``x``."""
    if sparse:
        raise NotImplementedError("ops.bincount: sparse=True; gradkit has no sparse tensors")
    a = _arr(x).astype(np.int64)
    w = None if weights is None else _arr(weights)
    if a.ndim == 1:
        return _const(np.bincount(a, w, minlength))
    length = builtins.max(int(a.max()) + 1 if a.size else 0, minlength)
    return _const(np.stack([np.bincount(r, None if w is None else w[i], length)
                            for i, r in enumerate(a)]))


def digitize(x, bins):
    """The index of the bin each value falls in (``numpy.digitize``), int32."""
    return _const(np.digitize(_arr(x), _arr(bins)), "int32")


def searchsorted(sorted_sequence, values, side="left"):
    """Where ``values`` would be inserted into the 1-D ``sorted_sequence``."""
    check_choice("ops.searchsorted", "side", side, ("left", "right"))
    return _const(np.searchsorted(_arr(sorted_sequence), _arr(values), side), "int32")


def unravel_index(indices, shape):
    """Flat indices as a tuple of coordinate tensors."""
    return tuple(_const(i) for i in np.unravel_index(_arr(indices), shape))


def in_top_k(targets, predictions, k):
    """True where the target class is among the ``k`` highest predictions of its row."""
    p = _arr(predictions)
    t = _arr(targets).astype(np.int64)
    score = np.take_along_axis(p, t[:, None], axis=-1)
    return _const((p > score).sum(-1) < k)


def saturate_cast(x, dtype):
    """Cast to ``dtype``, clipping to its range first (no wrap-around)."""
    x = _t(x)
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return cast(_ops.clip(x, float(info.min), float(info.max)), dt)
    return cast(x, dt)


def sparse_plus(x):
    """0 below -1, ``(x + 1)^2 / 4`` on [-1, 1], ``x`` above 1."""
    x = _t(x)
    a = x._data
    mid = _ops.multiply(square(_ops.add(x, 1.0)), 0.25)
    return _ops.where(a <= -1, 0.0, _ops.where(a >= 1, x, mid))


def sparse_sigmoid(x):
    """0 below -1, ``(x + 1) / 2`` on [-1, 1], 1 above."""
    x = _t(x)
    a = x._data
    return _ops.where(a <= -1, 0.0, _ops.where(a >= 1, 1.0, _ops.multiply(_ops.add(x, 1.0),
                                                                         0.5)))


def squareplus(x, b=4):
    """``(x + sqrt(x^2 + b)) / 2``."""
    x = _t(x)
    return _ops.multiply(_ops.add(x, _ops.sqrt(_ops.add(square(x), b))), 0.5)


def soft_shrink(x, threshold=0.5):
    """``x - threshold`` above it, ``x + threshold`` below ``-threshold``, else 0."""
    x = _t(x)
    a = x._data
    return _ops.where(a > threshold, _ops.subtract(x, threshold),
                      _ops.where(a < -threshold, _ops.add(x, threshold), 0.0))


def hard_shrink(x, threshold=0.5):
    """``x`` where ``|x| > threshold``, else 0."""
    x = _t(x)
    return _ops.where(_xp(x).abs(x._data) > threshold, x, 0.0)


def tanh_shrink(x):
    """``x - tanh(x)``."""
    x = _t(x)
    return _ops.subtract(x, _ops.tanh(x))


def threshold(x, threshold, default_value):
    """``x`` where ``x > threshold``, else ``default_value``."""
    x = _t(x)
    return _ops.where(x._data > threshold, x, default_value)


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """``x / sqrt(mean(x^2, axis) + epsilon) * scale`` (epsilon 1e-7 by default)."""
    x = _t(x)
    ms = _ops.mean(square(x), axis, keepdims=True)
    y = _ops.divide(x, _ops.sqrt(_ops.add(ms, 1e-7 if epsilon is None else epsilon)))
    return y if scale is None else _ops.multiply(y, scale)


def psnr(x1, x2, max_val):
    """Peak signal-to-noise ratio ``20 log10(max_val) - 10 log10(mse)``, in dB."""
    mse = _ops.mean(square(_ops.subtract(x1, x2)))
    return _ops.subtract(20.0 * math.log10(max_val), _ops.multiply(log10(mse), 10.0))


def segment_sum(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """Sums of the rows of ``data`` that share a segment id (``sorted``, a hint that the ids
    are sorted, changes nothing: the sums are the same either way)."""
    data = _t(data)
    ids = _arr(segment_ids).astype(np.int64)
    n = int(ids.max()) + 1 if num_segments is None else int(num_segments)
    keep = ids < n  # rows of segments past num_segments are dropped, as Keras does
    return _ops.scatter_add((n,) + data.shape[ids.ndim:], ids[keep], data[keep])


def scatter(indices, values, shape):
    """Zeros of ``shape`` with ``values`` added at ``indices`` (``(N, len(shape))``)."""
    idx = _arr(indices).astype(np.int64)
    return _ops.scatter_add(tuple(shape), tuple(idx[..., i] for i in range(idx.shape[-1])),
                            _t(values))


def scatter_update(inputs, indices, updates, reduction=None):
    """``inputs`` with the entries at ``indices`` replaced by ``updates``."""
    if reduction is not None:
        raise NotImplementedError(f"ops.scatter_update: reduction={reduction!r}; gradkit "
                                  "replaces (reduction=None)")
    x = _t(inputs)
    idx = _arr(indices).astype(np.int64)
    at = tuple(idx[..., i] for i in range(idx.shape[-1]))
    hit = np.zeros(x.shape, bool)
    hit[at] = True
    return _ops.where(hit, _ops.scatter_add(x.shape, at, _t(updates)), x)


def slice_update(inputs, start_indices, updates):
    """``inputs`` with the block at ``start_indices`` replaced by ``updates``."""
    x, u = _t(inputs), _t(updates)
    start = [int(s) for s in _arr(start_indices).tolist()]
    block = tuple(_slice(s, s + n) for s, n in zip(start, u.shape))
    hit = np.zeros(x.shape, bool)
    hit[block] = True
    padded = _ops.pad(u, [(s, n - s - m) for s, n, m in zip(start, x.shape, u.shape)])
    return _ops.where(hit, padded, x)


def erfc(x):
    """``1 - erf(x)``."""
    return _ops.subtract(1.0, _ops.erf(_t(x)))


def fliplr(x):
    """Reverse the second axis."""
    return flip(x, 1)


def flipud(x):
    """Reverse the first axis."""
    return flip(x, 0)


def rot90(array, k=1, axes=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``axes`` (first toward second)."""
    x = _t(array)
    a, b = _ordered_axes("ops.rot90", axes, x.ndim)
    for _ in range(int(k) % 4):
        x = swapaxes(flip(x, b), a, b)
    return x


def diagflat(x, k=0):
    """A matrix with the flattened ``x`` on its ``k``-th diagonal."""
    return diag(ravel(x), k)


def select(condlist, choicelist, default=0):
    """The first ``choicelist[i]`` whose ``condlist[i]`` holds, else ``default``."""
    out = _t(default) if not isinstance(default, (int, float)) else default
    for cond_, choice in reversed(list(zip(condlist, choicelist))):
        out = _ops.where(_arr(cond_).astype(bool), choice, out)
    return out if isinstance(out, Tensor) else _t(out)


def cdist(x, y):
    """Euclidean distances between the rows of ``x`` (..., m, d) and ``y`` (..., n, d)."""
    x, y = _t(x), _t(y)
    d = _ops.subtract(expand_dims(x, -2), expand_dims(y, -3))
    return _ops.sqrt(_ops.sum(square(d), -1))


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """True when every pair is close (``isclose``), as a boolean tensor."""
    return _const(_xp(x1, x2).allclose(_arr(x1), _arr(x2), rtol, atol, equal_nan))


def isin(x1, x2, assume_unique=False, invert=False):
    """True where an entry of ``x1`` occurs in ``x2`` (or does not, with ``invert``)."""
    return _const(_xp(x1, x2).isin(_arr(x1), _arr(x2), assume_unique=assume_unique,
                                    invert=invert))


def _integer(name, ufunc):
    def op(x, y):
        return _const(getattr(_xp(x, y), ufunc)(_arr(x), _arr(y)))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise ``{ufunc}`` of integers (no gradient)."
    return op


bitwise_and = _integer("bitwise_and", "bitwise_and")
bitwise_or = _integer("bitwise_or", "bitwise_or")
bitwise_xor = _integer("bitwise_xor", "bitwise_xor")
bitwise_left_shift = left_shift = _integer("left_shift", "left_shift")
bitwise_right_shift = right_shift = _integer("right_shift", "right_shift")
gcd = _integer("gcd", "gcd")
lcm = _integer("lcm", "lcm")


def bitwise_invert(x):
    """Elementwise bitwise not of integers (``~x``)."""
    return _const(_xp(x).invert(_arr(x)))


bitwise_not = bitwise_invert


def nextafter(x1, x2):
    """The next float after ``x1`` toward ``x2`` (no gradient)."""
    return _const(_xp(x1, x2).nextafter(_arr(x1), _arr(x2)))


def nanargmax(x, axis=None, keepdims=False):
    """``argmax`` with NaNs ignored."""
    return argmax(_nan_free(x, -np.inf), axis, keepdims)


def nanargmin(x, axis=None, keepdims=False):
    """``argmin`` with NaNs ignored."""
    return argmin(_nan_free(x, np.inf), axis, keepdims)


def nancumsum(x, axis=None, dtype=None):
    """Running sum with NaNs counted as 0."""
    return cumsum(_nan_free(x, 0.0), axis, dtype)


def nanvar(x, axis=None, keepdims=False):
    """Variance of the non-NaN entries over ``axis``."""
    x = _t(x)
    centered = _ops.subtract(_nan_free(x, 0.0), nanmean(x, axis, keepdims=True))
    return nanmean(_ops.where(_xp(x).isnan(x._data), np.nan, square(centered)), axis,
                   keepdims)


def nanstd(x, axis=None, keepdims=False):
    """Standard deviation of the non-NaN entries over ``axis``."""
    return _ops.sqrt(nanvar(x, axis, keepdims))


def _window(fn):
    def op(x):
        return Tensor(fn(int(_arr(x))).astype("float32"))
    op.__name__ = op.__qualname__ = fn.__name__
    op.__doc__ = f"The ``numpy.{fn.__name__}`` window of length ``x`` (float32)."
    return op


hamming = _window(np.hamming)
hanning = _window(np.hanning)
bartlett = _window(np.bartlett)
blackman = _window(np.blackman)


def kaiser(x, beta):
    """The Kaiser window of length ``x`` and shape ``beta`` (float32)."""
    return Tensor(np.kaiser(int(_arr(x)), float(beta)).astype("float32"))


def i0(x):
    """The modified Bessel function of the first kind, order 0 (no gradient)."""
    return _const(np.i0(_arr(x)))


def histogram(x, bins=10, range=None):  # noqa: A002
    """``(counts, bin_edges)`` of the values of ``x``."""
    counts, edges = np.histogram(_arr(x), bins, range)
    return _const(counts, "int32"), _const(edges, _arr(x).dtype if _arr(x).dtype.kind == "f"
                                           else "float32")


# ---------------------------------------------------------------- control flow (eager)
def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` else ``false_fn()``."""
    return true_fn() if bool(_arr(pred)) else false_fn()


def switch(index, branches, *operands):
    """``branches[index](*operands)``, the index clamped to the branches."""
    i = builtins.min(builtins.max(int(_arr(index)), 0), len(branches) - 1)
    return branches[i](*operands)


def fori_loop(lower, upper, body_fun, init_val):
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``."""
    val = init_val
    for i in range(int(_arr(lower)), int(_arr(upper))):
        val = body_fun(i, val)
    return val


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Apply ``body`` while ``cond`` holds (at most ``maximum_iterations`` times)."""
    single = not isinstance(loop_vars, (list, tuple))
    state = (loop_vars,) if single else tuple(loop_vars)
    n = 0
    while bool(_arr(cond(*state))) and (maximum_iterations is None or n < maximum_iterations):
        out = body(*state)
        state = (out,) if single else tuple(out)
        n += 1
    return state[0] if single else type(loop_vars)(state)


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns the last carry
    and the ``y``s stacked. ``unroll`` (a compiler hint) changes nothing in an eager loop."""
    if xs is None:
        if length is None:
            raise ValueError("ops.scan: pass xs or length")
        steps = [None] * length
    else:
        steps = list(_t(xs)) if not isinstance(xs, (list, tuple)) else list(xs)
    carry, ys = init, []
    for x in (reversed(steps) if reverse else steps):
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    return carry, (stack(ys) if ys and ys[0] is not None else None)


def map(f, xs):  # noqa: A001
    """``f`` applied to each slice of ``xs`` along its leading axis, stacked."""
    return stack([f(x) for x in _t(xs)])


def vectorized_map(function, elements):
    """``function`` applied to each slice along the leading axis (a loop here), stacked."""
    return map(function, elements)


__getattr__ = module_getattr("ops")
