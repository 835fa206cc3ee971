"""Elements of a :class:`~gradkit.data.Dataset`: nested tuples/dicts of arrays.

As in ``tf.data``, tuples (and namedtuples) and dicts are structure, everything else
is a leaf converted to a NumPy array; a list is a leaf (one array), not a structure.
Python floats become float32 and Python ints int32 (TensorFlow's defaults); NumPy
arrays and gradkit Tensors keep their dtype.
"""

from __future__ import annotations

import numpy as np

from gradkit.tensor import Tensor

__all__ = ["as_array", "flatten", "map_structure", "to_numpy", "to_tensors"]

_PYTHON_DEFAULTS = {np.dtype(np.float64): np.float32, np.dtype(np.int64): np.int32}


def as_array(value):
    """One leaf as a NumPy array (TensorFlow's dtype defaults for Python numbers)."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, Tensor):
        return value.numpy()
    if isinstance(value, np.generic):
        return np.asarray(value)
    array = np.asarray(value)
    return array.astype(_PYTHON_DEFAULTS.get(array.dtype, array.dtype), copy=False)


def map_structure(fn, element):
    """``fn`` applied to every leaf, the structure kept."""
    if isinstance(element, dict):
        return {k: map_structure(fn, v) for k, v in element.items()}
    if isinstance(element, tuple):
        items = [map_structure(fn, v) for v in element]
        return type(element)(*items) if hasattr(element, "_fields") else tuple(items)
    return fn(element)


def flatten(element):
    """The leaves of ``element`` in order (dicts in insertion order)."""
    if isinstance(element, dict):
        return [leaf for v in element.values() for leaf in flatten(v)]
    if isinstance(element, tuple):
        return [leaf for v in element for leaf in flatten(v)]
    return [element]


def _tensor(array):
    return Tensor(array) if array.dtype.kind in "biuf" else array


def to_numpy(element):
    """Every leaf as a NumPy array."""
    return map_structure(as_array, element)


def to_tensors(element):
    """Every numeric leaf as a gradkit Tensor (strings stay NumPy arrays)."""
    return map_structure(lambda a: _tensor(as_array(a)), element)


def pack(structure, leaves):
    """``structure`` with its leaves replaced, in order, by ``leaves`` (the inverse of
    :func:`flatten`)."""
    it = iter(leaves)
    return map_structure(lambda _: next(it), structure)
