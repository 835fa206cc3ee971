"""Collation: a list of samples into one batch, keeping the samples' structure.

:func:`default_collate` follows PyTorch's rules: arrays, Tensors and numbers at the same
place in every sample are stacked into one gradkit Tensor with a new first axis
(NumPy dtypes are kept; Python floats become float64, ints int64, bools bool);
dicts collate key by key, namedtuples field by field, tuples and lists position by
position (into a list, as PyTorch does); strings and bytes stay a list.
:func:`numpy_collate` is the same with NumPy arrays instead of Tensors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from gradkit import tensor as _tensor  # the module: gradkit.tensor imports gradkit.utils

__all__ = ["default_collate", "default_convert", "numpy_collate"]

_SCALARS = ((bool, np.bool_), (int, np.int64), (float, np.float64))


def _stack(batch, path):
    """One array from the same leaf of every sample; a clear error when shapes differ."""
    arrays = [b._data if isinstance(b, _tensor.Tensor) else np.asarray(b) for b in batch]
    shape = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != shape:
            raise ValueError(f"default_collate: samples differ in shape at {path or 'the top'}: "
                             f"{shape} in sample 0, {a.shape} in sample {i}; make them one "
                             "shape (pad or crop in the dataset) or pass a collate_fn")
        if a.dtype.kind in "OUSV":
            raise TypeError(f"default_collate: sample {i} holds an array of dtype {a.dtype} at "
                            f"{path or 'the top'}; only numeric arrays can be stacked")
    return np.stack(arrays)


def _leaf_dtype(elem):
    for kind, dtype in _SCALARS:
        if type(elem) is kind:
            return dtype
    return None


def _collate(batch, wrap, path=""):
    elem = batch[0]
    if isinstance(elem, (_tensor.Tensor, np.ndarray, np.generic)):
        return wrap(_stack(batch, path))
    dtype = _leaf_dtype(elem)
    if dtype is not None:
        return wrap(np.array(batch, dtype=dtype))
    if isinstance(elem, (str, bytes)) or elem is None:
        return list(batch)
    if isinstance(elem, Mapping):
        out = {k: _collate([d[k] for d in batch], wrap, f"{path}[{k!r}]") for k in elem}
        try:
            return type(elem)(out)
        except TypeError:  # a Mapping whose constructor takes something else
            return out
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple
        return type(elem)(*(_collate(list(s), wrap, f"{path}.{f}")
                            for f, s in zip(elem._fields, zip(*batch))))
    if isinstance(elem, Sequence):
        lengths = {len(b) for b in batch}
        if len(lengths) > 1:
            raise ValueError(f"default_collate: samples have different lengths at "
                             f"{path or 'the top'}: {sorted(lengths)}; every sample must have "
                             "the same structure")
        return [_collate(list(s), wrap, f"{path}[{i}]") for i, s in enumerate(zip(*batch))]
    raise TypeError(f"default_collate: cannot batch a {type(elem).__name__} at "
                    f"{path or 'the top'}; samples may hold arrays, Tensors, numbers, strings "
                    "and dicts/tuples/lists of them; pass a collate_fn for other types")


def default_collate(batch):
    """Stack a list of samples into a batch of gradkit Tensors (structure kept).

    Args:
        batch: a non-empty list of samples, all with the same structure.

    Returns:
        The batch: a Tensor per leaf, with the batch as its first axis.

    Raises:
        ValueError: samples differ in shape or structure (the place is named).
        TypeError: a leaf of a type that cannot be stacked.

    Example:
        >>> xb, yb = default_collate([(np.zeros(2), 1), (np.ones(2), 0)])
        >>> xb.shape, yb.tolist()
        ((2, 2), [1, 0])
    """
    if not len(batch):
        raise ValueError("default_collate: the batch is empty")
    return _collate(list(batch), _tensor.Tensor)


def numpy_collate(batch):
    """Like :func:`default_collate`, with NumPy arrays as leaves (for Keras-style code).

    Example:
        >>> numpy_collate([{"a": 1.5}, {"a": 2.0}])["a"]
        array([1.5, 2. ])
    """
    if not len(batch):
        raise ValueError("numpy_collate: the batch is empty")
    return _collate(list(batch), lambda a: a)


def default_convert(data):
    """One sample as it is, with NumPy arrays made Tensors (``DataLoader(batch_size=None)``).

    Example:
        >>> default_convert({"x": np.zeros(2), "id": "a"})["x"].shape
        (2,)
    """
    if isinstance(data, np.ndarray) and data.dtype.kind not in "OUSV":
        return _tensor.Tensor(data)
    if isinstance(data, Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, (list, tuple)):
        return type(data)(default_convert(v) for v in data)
    return data
