"""Tensor constructors: NumPy's and PyTorch's spellings in one set of functions.

``zeros((2, 3))`` and ``zeros((2, 3), "float64")`` (NumPy style) work, and so do
``zeros(2, 3, dtype=gradkit.float64, requires_grad=True, device="cpu")`` (PyTorch
style). Arrays are made on ``device`` (default: the default device, see
:mod:`gradkit.devices`) by its array module.
"""

from __future__ import annotations

import numbers

import numpy as np

from gradkit.devices import array_module, as_device, using
from gradkit.tensor import Tensor, _default_float


def _dt(dtype):
    return np.dtype(dtype) if dtype is not None else _default_float


def size_and_dtype(owner, args, dtype):
    """The shape given as ``(2, 3)``, ``[2, 3]``, ``2, 3`` or ``()``, and the dtype.

    NumPy style puts the dtype second: ``zeros((2, 3), "float64")``; in PyTorch style
    every positional argument is a size. Raises TypeError for anything else.
    """
    if args and isinstance(args[0], (tuple, list)):
        if len(args) > 2 or (len(args) == 2 and dtype is not None):
            raise TypeError(f"{owner}: expected a shape and at most a dtype, received "
                            f"{args!r} (dtype={dtype!r})")
        if len(args) == 2:
            dtype = args[1]
        args = tuple(args[0])
    for n in args:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"{owner}: sizes must be integers, received {args!r}; write "
                            f"{owner}(2, 3) or {owner}((2, 3))")
    return tuple(int(n) for n in args), dtype


def place_new(array, requires_grad=False, device=None):
    """A new Tensor holding ``array`` (made on the host), moved to ``device`` (default:
    the default device)."""
    from gradkit.devices import place

    return Tensor(place(array, as_device(device)), requires_grad=requires_grad)


def _make(device, fn, *args, requires_grad=False, **kwargs):
    """``xp.fn(*args, **kwargs)`` made directly on ``device`` as a Tensor."""
    dev = as_device(device)
    with using(dev):
        arr = getattr(array_module(dev), fn)(*args, **kwargs)
    return Tensor._make(arr, False, None).requires_grad_(requires_grad)


def zeros(*size, dtype=None, requires_grad=False, device=None):
    """A tensor of zeros (float32 unless ``dtype`` says otherwise).

    Example::

        gradkit.zeros(2, 3)                      # PyTorch style
        gradkit.zeros((2, 3), "float64")         # NumPy style
    """
    shape, dtype = size_and_dtype("zeros", size, dtype)
    return _make(device, "zeros", shape, _dt(dtype), requires_grad=requires_grad)


def ones(*size, dtype=None, requires_grad=False, device=None):
    """A tensor of ones (sizes as in :func:`zeros`)."""
    shape, dtype = size_and_dtype("ones", size, dtype)
    return _make(device, "ones", shape, _dt(dtype), requires_grad=requires_grad)


def empty(*size, dtype=None, requires_grad=False, device=None):
    """PyTorch's ``empty``: a tensor whose values are not meant to be read (zeros here)."""
    shape, dtype = size_and_dtype("empty", size, dtype)
    return _make(device, "zeros", shape, _dt(dtype), requires_grad=requires_grad)


def full(shape, value, dtype=None, requires_grad=False, device=None):
    """A tensor of ``shape`` filled with ``value`` (``torch.full(size, fill_value)``)."""
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    return _make(device, "full", shape, value, _dt(dtype), requires_grad=requires_grad)


def arange(*args, dtype=None, requires_grad=False, device=None):
    """``arange(end)``, ``arange(start, end[, step])``: integers stay int64, floats
    become float32 unless ``dtype`` says otherwise (as in PyTorch)."""
    t = _make(device, "arange", *args, dtype=dtype)
    if dtype is None and t.dtype.kind == "f":
        t = Tensor._make(t._data.astype(_default_float), False, None)
    return t.requires_grad_(requires_grad) if requires_grad else t


def linspace(start, end, steps, dtype=None, requires_grad=False, device=None):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (float32)."""
    from gradkit.utils.validation import check_int

    steps = check_int("linspace", "steps", steps, minimum=0)
    return _make(device, "linspace", start, end, steps, dtype=_dt(dtype),
                 requires_grad=requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False, device=None):
    """Identity matrix ``(n, m or n)``."""
    return _make(device, "eye", n, m, dtype=_dt(dtype), requires_grad=requires_grad)


def convert_to_tensor(value, dtype=None, device=None):
    """A Tensor for ``value`` (returned as is when it already is one of that dtype, on
    ``device`` when one is given)."""
    if isinstance(value, Tensor) and (dtype is None or value.dtype == np.dtype(dtype)) and (
            device is None or value.device == as_device(device)):
        return value
    return Tensor(value, dtype=dtype, device=device)


as_tensor = convert_to_tensor
