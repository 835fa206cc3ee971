"""Turning what users pass to ``fit``/``evaluate``/``predict`` into batches.

NumPy arrays and Tensors (one, or a list/dict for several inputs) are
checked once up front (lengths, dtypes, NaN/inf, emptiness) and converted to
the model's float dtype once, so the per-batch work is only slicing.
Iterables of ``(x, y)`` batches (generators, ``batch_iterator``) pass through.
"""

from __future__ import annotations

import numpy as np

from gradkit.tensor import Tensor
from gradkit.utils.validation import check_int


_KIND_WORDS = {"U": "strings", "S": "bytes", "O": "Python objects", "c": "complex numbers",
               "M": "datetimes", "m": "timedeltas", "V": "raw records"}


def is_array_like(x):
    if isinstance(x, (np.ndarray, Tensor)):
        return True
    if isinstance(x, (list, tuple)) and x and all(isinstance(i, (np.ndarray, Tensor)) for i in x):
        return True
    if isinstance(x, dict) and x and all(isinstance(i, (np.ndarray, Tensor)) for i in x.values()):
        return True
    return False


def _flat(x):
    if isinstance(x, dict):
        return list(x.values())
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _rebuild(like, items):
    if isinstance(like, dict):
        return dict(zip(like, items))
    if isinstance(like, (list, tuple)):
        return type(like)(items)
    return items[0]


def prepare_array(a, what, caller, float_dtype, check_finite=True):
    """Validate one array and convert floats (and bools) to ``float_dtype`` once."""
    arr = a.numpy() if isinstance(a, Tensor) else np.asarray(a)
    if arr.dtype.kind not in "fiub":
        words = _KIND_WORDS.get(arr.dtype.kind, "non-numeric values")
        raise TypeError(f"{caller}: {what} has dtype {arr.dtype} ({words}); gradkit trains on "
                        "real numbers: convert with np.asarray(..., dtype='float32')")
    if arr.ndim == 0:
        raise ValueError(f"{caller}: {what} is a scalar; it needs a batch axis (shape (n, ...))")
    if arr.shape[0] == 0:
        raise ValueError(f"{caller}: {what} is empty (shape {arr.shape}); pass at least one "
                         "sample")
    if arr.dtype.kind == "f":
        if check_finite and not _all_finite(arr):
            bad = _first_nonfinite(arr)
            value = arr[tuple(bad)]
            where = tuple(int(i) for i in bad)
            raise ValueError(f"{caller}: {what} contains {value} at index {where}; clean or "
                             "impute the data first (e.g. np.nan_to_num)")
        if arr.dtype != float_dtype:
            arr = arr.astype(float_dtype)
    elif arr.dtype.kind == "b":
        arr = arr.astype(float_dtype)
    return arr


def _all_finite(arr):
    # One float64 sum is NaN/inf iff some element is (float32 values can't overflow it),
    # without the full-size boolean mask np.isfinite(arr) would allocate.
    total = np.add.reduce(arr, axis=None, dtype=np.float64)
    return bool(np.isfinite(total)) or (arr.dtype == np.float64 and _chunks_finite(arr))


def _chunks_finite(arr, rows=4096):
    return all(np.isfinite(arr[i:i + rows]).all() for i in range(0, len(arr), rows))


def _first_nonfinite(arr, rows=4096):
    for i in range(0, len(arr), rows):
        bad = np.argwhere(~np.isfinite(arr[i:i + rows]))
        if len(bad):
            bad[0][0] += i
            return bad[0]
    raise AssertionError("no non-finite value found")  # pragma: no cover


def prepare(x, what, caller, float_dtype, int_ok=True):
    """Validate ``x`` (an array or a list/dict of them) and return ``(x, n)``."""
    items = [prepare_array(a, f"{what}[{i}]" if len(_flat(x)) > 1 else what, caller, float_dtype)
             for i, a in enumerate(_flat(x))]
    n = items[0].shape[0]
    for i, a in enumerate(items[1:], 1):
        if a.shape[0] != n:
            raise ValueError(f"{caller}: all {what} arrays need the same number of samples: "
                             f"{what}[0] has {n}, {what}[{i}] has {a.shape[0]}")
    return _rebuild(x, items), n


def take(x, idx):
    """Rows ``idx`` (a slice or index array) of ``x`` (an array or a list/dict of them)."""
    if isinstance(x, np.ndarray):
        return x[idx]
    if x is None:
        return None
    return _rebuild(x, [a[idx] for a in _flat(x)])


def check_batch_size(batch_size, caller):
    if batch_size is None:
        return 32
    return check_int(caller, "batch_size", batch_size, minimum=1)


def split_xy(batch, caller):
    """An item of a batch iterable: ``(x, y)``, ``(x, y, sample_weight)`` or ``x``."""
    if isinstance(batch, tuple):
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch
        if len(batch) == 1:
            return batch[0], None, None
        raise ValueError(f"{caller}: a batch must be (x, y) or (x, y, sample_weight), got a "
                         f"tuple of {len(batch)}")
    return batch, None, None
