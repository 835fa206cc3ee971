"""PyTorch's names and signatures for gradkit's tensor functions (``import gradkit as torch``).

Thin wrappers over :mod:`gradkit.ops`, :mod:`gradkit.creation` and :mod:`gradkit.random`:
no math is defined here. Where a name is already gradkit's with NumPy's arguments
(``max(x, axis, keepdims)``), the NumPy form keeps working and PyTorch's keywords
(``dim=``, ``keepdim=``) select PyTorch's meaning, e.g. ``max(x, dim=1)`` returns
``(values, indices)``.

Example::

    import gradkit as torch
    torch.manual_seed(0)
    x = torch.linspace(-3.14, 3.14, 2000)
    y = torch.sin(x)
    values, indices = torch.max(torch.randn(4, 3), dim=1)
"""

from __future__ import annotations

import builtins
import numbers
from collections import namedtuple

import numpy as np

from gradkit import ops
from gradkit import random as _random
from gradkit.creation import place_new, size_and_dtype
from gradkit.tensor import Tensor, _default_float
from gradkit.utils.validation import check_int, normalize_axis

__all__ = [
    "argmax", "argmin", "bmm", "bool", "cat", "clamp", "cos", "double", "empty_like",
    "flatten", "float",
    "from_numpy", "full_like", "half", "int", "is_tensor", "log_softmax", "long",
    "manual_seed", "max", "mean", "min", "mm", "numel", "ones_like", "rand", "rand_like",
    "randint", "randn", "randn_like", "randperm", "sin", "softmax", "squeeze", "stack", "sum",
    "transpose", "unsqueeze", "zeros_like",
]

# dtypes by PyTorch's short names (``gradkit.float32`` etc. exist already)
float = np.dtype("float32")  # noqa: A001
double = np.dtype("float64")
half = np.dtype("float16")
long = np.dtype("int64")
int = np.dtype("int32")  # noqa: A001
bool = np.dtype("bool")  # noqa: A001

#: what ``max(x, dim=...)`` / ``min(x, dim=...)`` return, as in PyTorch
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _dim(owner, axis, dim, default=None):
    """One axis argument from NumPy's ``axis`` or PyTorch's ``dim`` (not both)."""
    if axis is not None and dim is not None:
        raise TypeError(f"{owner}: pass axis (NumPy) or dim (PyTorch), not both")
    return default if axis is None and dim is None else (dim if axis is None else axis)


def _keep(owner, keepdims, keepdim):
    if keepdims is not None and keepdim is not None:
        raise TypeError(f"{owner}: pass keepdims (NumPy) or keepdim (PyTorch), not both")
    return builtins.bool(keepdim if keepdims is None else keepdims)


# ---------------------------------------------------------------- random
def manual_seed(seed):
    """Seed the global generator every gradkit draw comes from; returns that generator."""
    _random.seed(seed)
    return _random.generator()


def _draw(owner, size, dtype, requires_grad, device, generator, draw):
    shape, dtype = size_and_dtype(owner, size, dtype)
    arr = draw(_random.rng(generator, owner=owner), shape)
    kind = np.dtype(dtype).kind if dtype is not None else "f"
    arr = arr.astype(np.dtype(dtype) if dtype is not None else _default_float, copy=False) \
        if kind == "f" else arr
    return place_new(arr, requires_grad, device)


def randn(*size, dtype=None, requires_grad=False, device=None, generator=None):
    """Standard normal samples: ``randn(2, 3)`` or ``randn((2, 3))``.

    ``generator``: None (the global generator), an int seed or a NumPy Generator.
    """
    return _draw("randn", size, dtype, requires_grad, device, generator,
                 lambda g, s: g.standard_normal(s))


def rand(*size, dtype=None, requires_grad=False, device=None, generator=None):
    """Uniform samples in ``[0, 1)``: ``rand(2, 3)``."""
    return _draw("rand", size, dtype, requires_grad, device, generator,
                 lambda g, s: g.random(s))


def randint(low, high=None, size=None, *, dtype=None, requires_grad=False, device=None,
            generator=None):
    """Integers in ``[low, high)`` (``randint(high, size)`` means ``low=0``), int64.

    Example::

        labels = gradkit.randint(0, 10, (64,))
    """
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint: expected randint(low, high, size) or randint(high, size) "
                            "with size a tuple, e.g. randint(0, 10, (64,))")
        low, high, size = 0, low, high
    low, high = check_int("randint", "low", low), check_int("randint", "high", high)
    if high <= low:
        raise ValueError(f"randint: high must be > low, received low={low}, high={high}")
    shape, _ = size_and_dtype("randint", tuple(size), None)
    arr = _random.rng(generator, owner="randint").integers(low, high, size=shape)
    arr = arr.astype(np.dtype(dtype) if dtype is not None else np.int64, copy=False)
    return place_new(arr, requires_grad, device)


def randperm(n, *, dtype=None, device=None, generator=None):
    """A random permutation of ``0 .. n-1`` (int64)."""
    n = check_int("randperm", "n", n, minimum=0)
    arr = _random.rng(generator, owner="randperm").permutation(n)
    return place_new(arr.astype(np.dtype(dtype) if dtype is not None else np.int64), False,
                     device)


def _like(owner, x, dtype, make):
    x = _tensor(x)
    dt = np.dtype(dtype) if dtype is not None else x.dtype
    return make(x.shape, dt)


def zeros_like(input, dtype=None, requires_grad=False, device=None):  # noqa: A002
    """Zeros shaped (and typed, unless ``dtype``) like ``input``."""
    arr = _like("zeros_like", input, dtype, np.zeros)
    return place_new(arr, requires_grad, device)


def ones_like(input, dtype=None, requires_grad=False, device=None):  # noqa: A002
    """Ones shaped like ``input``."""
    return place_new(_like("ones_like", input, dtype, np.ones), requires_grad, device)


def empty_like(input, dtype=None, requires_grad=False, device=None):  # noqa: A002
    """A tensor shaped like ``input`` whose values are not meant to be read (zeros)."""
    return zeros_like(input, dtype, requires_grad, device)


def full_like(input, fill_value, dtype=None, requires_grad=False, device=None):  # noqa: A002
    """``fill_value`` everywhere, shaped like ``input``."""
    arr = _like("full_like", input, dtype, lambda s, d: np.full(s, fill_value, d))
    return place_new(arr, requires_grad, device)


def rand_like(input, dtype=None, requires_grad=False, device=None):  # noqa: A002
    """Uniform ``[0, 1)`` samples shaped like ``input`` (its dtype unless ``dtype``)."""
    x = _tensor(input)
    return rand(x.shape, dtype=x.dtype if dtype is None else dtype,
                requires_grad=requires_grad, device=device)


def randn_like(input, dtype=None, requires_grad=False, device=None):  # noqa: A002
    """Standard normal samples shaped like ``input``."""
    x = _tensor(input)
    return randn(x.shape, dtype=x.dtype if dtype is None else dtype,
                 requires_grad=requires_grad, device=device)


def from_numpy(array):
    """A Tensor over ``array`` (sharing its memory, keeping its dtype)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, received "
                        f"{type(array).__name__}")
    return Tensor(array)


def is_tensor(obj):
    """True for a gradkit Tensor."""
    return isinstance(obj, Tensor)


def numel(input):  # noqa: A002
    """Number of elements."""
    return _tensor(input).size


# ---------------------------------------------------------------- math
sin = ops.sin
cos = ops.cos


def clamp(input, min=None, max=None):  # noqa: A002
    """Limit to ``[min, max]`` (either may be None)."""
    return ops.clip(input, min, max)


def cat(tensors, dim=0, *, axis=None):
    """Join tensors along an existing axis (``torch.cat``)."""
    return ops.concatenate(list(tensors), dim if axis is None else axis)


def stack(tensors, axis=0, *, dim=None):
    """Join equally shaped tensors along a new axis (``dim=`` or NumPy's ``axis``)."""
    return ops.stack(list(tensors), dim if dim is not None else axis)


def flatten(input, start_dim=0, end_dim=-1, *, start_axis=None):  # noqa: A002
    """Collapse axes ``start_dim .. end_dim`` (inclusive) into one (``start_axis``: gradkit's
    older name of ``start_dim``)."""
    if start_axis is not None:
        start_dim = start_axis
    x = _tensor(input)
    if x.ndim == 0:
        return ops.reshape(x, (1,))
    s = normalize_axis(f"flatten (input shape {x.shape})", start_dim, x.ndim)
    e = normalize_axis(f"flatten (input shape {x.shape})", end_dim, x.ndim)
    if e < s:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                         f"(input shape {x.shape})")
    return ops.reshape(x, x.shape[:s] + (-1,) + x.shape[e + 1:])


def squeeze(input, axis=None, *, dim=None):  # noqa: A002
    """Remove length-1 axes (only ``dim``, when given)."""
    return ops.squeeze(input, _dim("squeeze", axis, dim))


def unsqueeze(input, dim):  # noqa: A002
    """Insert a length-1 axis at ``dim``."""
    return ops.expand_dims(input, dim)


def transpose(input, *axes, dim0=None, dim1=None):  # noqa: A002
    """``transpose(x, dim0, dim1)`` swaps two axes (PyTorch); ``transpose(x)`` or
    ``transpose(x, (2, 0, 1))`` permutes them (NumPy)."""
    if dim0 is not None or dim1 is not None:
        axes = (dim0, dim1)
    if len(axes) == 2 and all(isinstance(a, numbers.Integral) for a in axes):
        return ops.swapaxes(input, *axes)
    if len(axes) > 1:
        raise TypeError(f"transpose: expected two axes to swap or one permutation, "
                        f"received {axes!r}")
    return ops.transpose(input, axes[0] if axes else None)


def mm(input, mat2):  # noqa: A002
    """Matrix product of two 2-D tensors."""
    a, b = _tensor(input), _tensor(mat2)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: expected two 2-D tensors, received shapes {a.shape} and "
                         f"{b.shape}; use matmul for other ranks")
    return ops.matmul(a, b)


def bmm(input, mat2):  # noqa: A002
    """Batched matrix product ``(b, n, m) @ (b, m, p)``."""
    a, b = _tensor(input), _tensor(mat2)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm: expected (b, n, m) and (b, m, p) tensors, received shapes "
                         f"{a.shape} and {b.shape}")
    return ops.matmul(a, b)


def softmax(input, axis=-1, *, dim=None, dtype=None):  # noqa: A002
    """Softmax along ``dim`` (or NumPy's ``axis``)."""
    x = _tensor(input) if dtype is None else ops.cast(input, dtype)
    return ops.softmax(x, dim if dim is not None else axis)


def log_softmax(input, axis=-1, *, dim=None, dtype=None):  # noqa: A002
    """Log-softmax along ``dim`` (or NumPy's ``axis``)."""
    x = _tensor(input) if dtype is None else ops.cast(input, dtype)
    return ops.log_softmax(x, dim if dim is not None else axis)


# ---------------------------------------------------------------- reductions
def sum(input, axis=None, keepdims=None, *, dim=None, keepdim=None, dtype=None):  # noqa: A001,A002
    """Sum over ``axis``/``dim`` (all axes when None)."""
    x = _tensor(input) if dtype is None else ops.cast(input, dtype)
    return ops.sum(x, _dim("sum", axis, dim), _keep("sum", keepdims, keepdim))


def mean(input, axis=None, keepdims=None, *, dim=None, keepdim=None, dtype=None):  # noqa: A002
    """Mean over ``axis``/``dim`` (all axes when None)."""
    x = _tensor(input) if dtype is None else ops.cast(input, dtype)
    return ops.mean(x, _dim("mean", axis, dim), _keep("mean", keepdims, keepdim))


def extreme(owner, x, axis, keepdims, dim, keepdim, pick):
    """``max``/``min``: NumPy's form gives values; ``dim=`` gives ``(values, indices)``
    whose gradient goes to the chosen index only (as PyTorch's)."""
    x = _tensor(x)
    if dim is None:
        if isinstance(axis, Tensor):  # torch.max(a, b): elementwise
            return (ops.maximum if owner == "max" else ops.minimum)(x, axis)
        reduce = ops.max if owner == "max" else ops.min
        return reduce(x, axis, _keep(owner, keepdims, keepdim))
    if axis is not None:
        raise TypeError(f"{owner}: pass axis (NumPy) or dim (PyTorch), not both")
    d = normalize_axis(f"{owner} (input shape {x.shape})", dim, x.ndim)
    idx = getattr(x._data, pick)(axis=d)
    grid = list(np.indices(idx.shape, sparse=True))
    grid.insert(d, idx)
    values = ops.getitem(x, tuple(grid))
    keep = _keep(owner, keepdims, keepdim)
    if keep:
        values, idx = ops.expand_dims(values, d), np.expand_dims(idx, d)
    return ValuesIndices(values, Tensor(idx.astype(np.int64)))


def argmax(input, axis=-1, keepdims=False, *, dim=None, keepdim=None):  # noqa: A002
    """Index of the largest value: along ``axis`` (TensorFlow's default, the last axis) or
    PyTorch's ``dim`` (``dim=None`` is not reachable here: use ``x.argmax()`` to search the
    flattened tensor); int64."""
    x = _tensor(input)
    return x.argmax(dim if dim is not None else axis, _keep("argmax", keepdims, keepdim))


def argmin(input, axis=-1, keepdims=False, *, dim=None, keepdim=None):  # noqa: A002
    """Index of the smallest value; arguments as in :func:`argmax`."""
    x = _tensor(input)
    return x.argmin(dim if dim is not None else axis, _keep("argmin", keepdims, keepdim))


def max(input, axis=None, keepdims=None, *, dim=None, keepdim=None):  # noqa: A001,A002
    """Largest value: over ``axis`` (NumPy: the values), over ``dim`` (PyTorch:
    ``(values, indices)``), or elementwise ``max(a, b)`` with a tensor ``b``."""
    return extreme("max", input, axis, keepdims, dim, keepdim, "argmax")


def min(input, axis=None, keepdims=None, *, dim=None, keepdim=None):  # noqa: A001,A002
    """Smallest value; arguments as in :func:`max`."""
    return extreme("min", input, axis, keepdims, dim, keepdim, "argmin")
