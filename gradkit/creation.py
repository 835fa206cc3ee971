"""Tensor constructors: made on ``device`` (default: the default device) by its array module."""

from __future__ import annotations

import numpy as np

from gradkit.devices import array_module, as_device, using
from gradkit.tensor import Tensor, _default_float


def _dt(dtype):
    return np.dtype(dtype) if dtype is not None else _default_float


def _make(device, fn, *args, requires_grad=False, **kwargs):
    """``xp.fn(*args, **kwargs)`` on ``device`` as a Tensor."""
    dev = as_device(device)
    with using(dev):
        arr = getattr(array_module(dev), fn)(*args, **kwargs)
    return Tensor._make(arr, False, None).requires_grad_(requires_grad)


def zeros(shape, dtype=None, requires_grad=False, device=None):
    """A tensor of zeros (float32 unless ``dtype`` says otherwise) on ``device``."""
    return _make(device, "zeros", shape, _dt(dtype), requires_grad=requires_grad)


def ones(shape, dtype=None, requires_grad=False, device=None):
    """A tensor of ones."""
    return _make(device, "ones", shape, _dt(dtype), requires_grad=requires_grad)


def full(shape, value, dtype=None, requires_grad=False, device=None):
    """A tensor filled with ``value``."""
    return _make(device, "full", shape, value, _dt(dtype), requires_grad=requires_grad)


def arange(*args, dtype=None, device=None):
    """``numpy.arange`` as a tensor."""
    return _make(device, "arange", *args, dtype=dtype)


def eye(n, m=None, dtype=None, device=None):
    """Identity matrix."""
    return _make(device, "eye", n, m, dtype=_dt(dtype))


def convert_to_tensor(value, dtype=None, device=None):
    """A Tensor for ``value`` (returned as is when it already is one of that dtype, on
    ``device`` when one is given)."""
    if isinstance(value, Tensor) and (dtype is None or value.dtype == np.dtype(dtype)) and (
            device is None or value.device == as_device(device)):
        return value
    return Tensor(value, dtype=dtype, device=device)


as_tensor = convert_to_tensor
