"""Tensor constructors and random numbers (seeded through gradkit.utils)."""

from __future__ import annotations

import numpy as np

from gradkit.tensor import Tensor, _default_float


def _dt(dtype):
    return np.dtype(dtype) if dtype is not None else _default_float


def zeros(shape, dtype=None, requires_grad=False):
    """A tensor of zeros (float32 unless ``dtype`` says otherwise)."""
    return Tensor(np.zeros(shape, _dt(dtype)), requires_grad=requires_grad)


def ones(shape, dtype=None, requires_grad=False):
    """A tensor of ones."""
    return Tensor(np.ones(shape, _dt(dtype)), requires_grad=requires_grad)


def full(shape, value, dtype=None, requires_grad=False):
    """A tensor filled with ``value``."""
    return Tensor(np.full(shape, value, _dt(dtype)), requires_grad=requires_grad)


def arange(*args, dtype=None):
    """``numpy.arange`` as a tensor."""
    return Tensor(np.arange(*args, dtype=dtype))


def eye(n, m=None, dtype=None):
    """Identity matrix."""
    return Tensor(np.eye(n, m, dtype=_dt(dtype)))


def convert_to_tensor(value, dtype=None):
    """A Tensor for ``value`` (returned as is when it already is one of that dtype)."""
    if isinstance(value, Tensor) and (dtype is None or value.dtype == np.dtype(dtype)):
        return value
    return Tensor(value, dtype=dtype)


as_tensor = convert_to_tensor
