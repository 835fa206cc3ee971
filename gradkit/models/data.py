"""Turning what users pass to ``fit``/``evaluate``/``predict`` into batches.

NumPy arrays and Tensors (one, or a list/dict for several inputs) are
checked once up front (lengths, dtypes, NaN/inf, emptiness) and converted to
the model's float dtype once, so the per-batch work is only slicing.
Iterables of ``(x, y)`` or ``(x, y, sample_weight)`` batches (generators,
``batch_iterator``) pass through; DataLoaders, ``gradkit.data.Dataset`` s and
PyDatasets go through :class:`BatchStream`. Per-sample weights are checked here too, and
``class_weight`` dicts are turned into them.
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
    if is_rows(x):
        return True
    if isinstance(x, (list, tuple)) and x and all(isinstance(i, (np.ndarray, Tensor)) for i in x):
        return True
    if isinstance(x, dict) and x and all(isinstance(i, (np.ndarray, Tensor)) for i in x.values()):
        return True
    return False


def is_rows(x):
    """A list/tuple of numbers or of (nested) rows of numbers: one array, as np.asarray sees
    it (``fit([[0, 1], [1, 0]], [1, 0])``), not a list of arrays or of (x, y) batches."""
    if not isinstance(x, (list, tuple)) or not x:
        return False
    first = x[0]
    while isinstance(first, (list, tuple)) and first:
        first = first[0]
    if isinstance(first, bool) or not isinstance(first, (int, float, np.number)):
        return False
    try:
        return np.asarray(x).dtype.kind in "fiu"
    except ValueError:  # ragged rows: meant as one array, but not one
        raise ValueError("x (or y) is a list of rows of different lengths; fit, evaluate and "
                         "predict take one array: make every row the same length") from None


def _flat(x):
    if is_rows(x):
        return [np.asarray(x)]
    if isinstance(x, dict):
        return list(x.values())
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _rebuild(like, items):
    if is_rows(like):
        return items[0]
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
        if arr.dtype != float_dtype:  # cast first: float64 1e300 is inf in float32
            with np.errstate(over="ignore"):
                arr = arr.astype(float_dtype)
        if check_finite and not _all_finite(arr):
            bad = _first_nonfinite(arr)
            value = arr[tuple(bad)]
            where = tuple(int(i) for i in bad)
            cast = f" once cast to {arr.dtype} (its range is +-{np.finfo(arr.dtype).max:.3g})" \
                if np.dtype(getattr(a, "dtype", arr.dtype)) != arr.dtype else ""
            raise ValueError(f"{caller}: {what} contains {value} at index {where}{cast}; "
                             "clean, rescale or impute the data first (e.g. np.nan_to_num)")
    elif arr.dtype.kind == "b":
        arr = arr.astype(float_dtype)
    return arr


def _all_finite(arr):
    # A sum is NaN/inf iff some element is, unless finite values overflow it: first one sum
    # in the array's own dtype (no conversion: the fast pass), then, only if that one is
    # not finite, one float64 sum (float32 values can't overflow it), then row chunks
    # for float64. No full-size boolean mask as np.isfinite(arr) would allocate, except
    # for small arrays (a train_on_batch's), where that mask is the cheapest check.
    if arr.size <= _SMALL:
        return bool(np.isfinite(arr).all())
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow here is an answer
        if np.isfinite(np.add.reduce(arr, axis=None)):
            return True
        total = np.add.reduce(arr, axis=None, dtype=np.float64)
    return bool(np.isfinite(total)) or (arr.dtype == np.float64 and _chunks_finite(arr))


_SMALL = 4096  # elements


def _chunks_finite(arr, rows=4096):
    return all(np.isfinite(arr[i:i + rows]).all() for i in range(0, len(arr), rows))


def _first_nonfinite(arr, rows=4096):
    for i in range(0, len(arr), rows):
        bad = np.argwhere(~np.isfinite(arr[i:i + rows]))
        if len(bad):
            bad[0][0] += i
            return bad[0]
    raise AssertionError("no non-finite value found")  # pragma: no cover


def prepare(x, what, caller, float_dtype):
    """Validate ``x`` (an array or a list/dict of them) and return ``(x, n)``."""
    if type(x) is np.ndarray:  # the usual case, one array: no flattening and rebuilding
        x = prepare_array(x, what, caller, float_dtype)
        return x, x.shape[0]
    flat = _flat(x)
    items = [prepare_array(a, f"{what}[{i}]" if len(flat) > 1 else what, caller, float_dtype)
             for i, a in enumerate(flat)]
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


def to_device(batch, dev):
    """``batch`` (arrays, Tensors, None, or lists/tuples/dicts of them) on ``dev``.

    On the CPU host arrays pass as they are; for a GPU each array is copied once,
    as the batch is about to be used (Tensors already there are kept).
    """
    from gradkit.devices import place

    if dev.type == "cpu" and (batch is None or type(batch) is np.ndarray or (
            type(batch) is tuple and all(a is None or type(a) is np.ndarray for a in batch))):
        return batch  # host arrays (a step's (x, y, sample_weight)) stay where they are
    if batch is None:
        return None
    if isinstance(batch, Tensor):
        return batch.to(dev)
    if isinstance(batch, (list, tuple, dict)):
        return _rebuild(batch, [to_device(a, dev) for a in _flat(batch)])
    return place(batch, dev)


def to_host(out):
    """A prediction (an array or a list of them) as NumPy arrays, copied from the device."""
    from gradkit.backend import to_numpy

    return [to_numpy(o) for o in out] if isinstance(out, list) else to_numpy(out)


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


def prepare_sample_weight(sample_weight, n, caller):
    """Check ``sample_weight`` (an array, or a list/dict per output) against ``n`` samples.

    Returns the weights as float arrays (float64, so integer weights keep their value).
    """
    if isinstance(sample_weight, (list, tuple)) and not is_array_like(sample_weight):
        sample_weight = np.asarray(sample_weight)  # a plain list of numbers
    sw, m = prepare(sample_weight, "sample_weight", caller, np.float64)
    if m != n:
        raise ValueError(f"{caller}: sample_weight has {m} entries but there are {n} samples; "
                         "pass one weight per sample (shape (n,))")
    return _rebuild(sw, [a.astype(np.float64, copy=False) for a in _flat(sw)])


def class_sample_weights(class_weight, y, caller):
    """Per-sample weights ``class_weight[class of each sample]`` for the targets ``y``.

    Args:
        class_weight: a dict ``{class index: weight}``.
        y: integer labels ``(n,)`` / ``(n, 1)``, one-hot rows ``(n, C)`` (the class is
            the argmax), or 0/1 targets ``(n, 1)`` (rounded).
        caller: for error messages.

    Returns:
        A float64 array of shape ``(n,)``.

    Raises:
        ValueError: a class that occurs in ``y`` is missing from ``class_weight``.
    """
    if not isinstance(class_weight, dict):
        raise TypeError(f"{caller}: class_weight must be a dict {{class index: weight}}, got "
                        f"{type(class_weight).__name__}")
    if isinstance(y, (list, tuple, dict)):
        if len(_flat(y)) != 1:
            raise ValueError(f"{caller}: class_weight is only for models with one output; with "
                             f"{len(_flat(y))} outputs pass sample_weight (one array per "
                             "output) instead")
        y = _flat(y)[0]
    t = y.numpy() if isinstance(y, Tensor) else np.asarray(y)
    if t.ndim >= 2 and t.shape[-1] > 1:
        classes = t.argmax(-1)
    else:
        if t.ndim >= 2:
            t = t.reshape(t.shape[:-1])
        classes = np.rint(t).astype(np.int64) if t.dtype.kind == "f" else t.astype(np.int64)
    if classes.ndim != 1:
        raise ValueError(f"{caller}: class_weight needs one class per sample; targets of shape "
                         f"{np.shape(y)} give classes of shape {classes.shape}")
    present = np.unique(classes)
    table = {}
    for k, w in class_weight.items():
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"{caller}: class_weight keys must be integer class indices, got "
                            f"{k!r}")
        if isinstance(w, bool) or not isinstance(w, (int, float, np.integer, np.floating)):
            raise TypeError(f"{caller}: class_weight[{k}] must be a number, got {w!r}")
        table[int(k)] = float(w)
    missing = [int(c) for c in present if int(c) not in table]
    if missing:
        raise ValueError(f"{caller}: class {missing[0]} occurs in y but has no entry in "
                         f"class_weight (keys: {sorted(table)}); add a weight for every class")
    lookup = np.zeros(int(present.max()) - int(present.min()) + 1)
    lookup[present - present.min()] = [table[int(c)] for c in present]
    return lookup[classes - present.min()]


def combine_weights(sample_weight, class_weights):
    """The product of per-sample weights (either may be None)."""
    if class_weights is None:
        return sample_weight
    if sample_weight is None:
        return class_weights
    sw = np.asarray(sample_weight, dtype=np.float64)
    return sw * class_weights.reshape(class_weights.shape + (1,) * (sw.ndim - 1))


# ------------------------------------------------ inputs that make their own batches
def _batch_source_kind(x):
    """The name of a batch-making input gradkit knows (DataLoader, gradkit.data.Dataset,
    PyDataset/Sequence), or None."""
    from gradkit.data import Dataset
    from gradkit.utils.data import DataLoader
    from gradkit.utils.py_dataset import PyDataset

    for kind in (DataLoader, Dataset, PyDataset):
        if isinstance(x, kind):
            return "gradkit.data.Dataset" if kind is Dataset else kind.__name__
    return None


def _model_arrays(item, float_dtype):
    """A batch's Tensors as arrays, float and bool arrays in the model's float dtype (as
    array inputs are converted); a top-level list ``[x, y]`` becomes a tuple."""
    if isinstance(item, dict):
        return {k: _model_arrays(v, float_dtype) for k, v in item.items()}
    if isinstance(item, (list, tuple)):
        return tuple(_model_arrays(v, float_dtype) for v in item)
    arr = item._data if isinstance(item, Tensor) else item
    if isinstance(arr, np.ndarray) and arr.dtype.kind in "fb" and arr.dtype != float_dtype:
        return arr.astype(float_dtype)
    return arr


class BatchStream:
    """The batches of an input that makes its own, epoch by epoch (Keras's epoch iterator).

    ``x`` may be a :class:`~gradkit.utils.data.DataLoader`, a :class:`gradkit.data.Dataset`,
    a :class:`~gradkit.utils.PyDataset`/``Sequence`` or any iterable of batches. For the
    first three, batches are converted like array inputs (Tensors to arrays, floats to
    the model's dtype), a DataLoader's ``set_epoch(epoch)`` is called at each epoch
    (distributed samplers reshuffle), and a PyDataset's ``on_epoch_begin``/``on_epoch_end``
    run around each epoch. With ``steps_per_epoch`` the iterator carries on across epochs
    (an endless ``Dataset.repeat()`` works) and starts again once a dataset of known length
    is used up, as in Keras.

    Args:
        x: the input. caller: for messages. float_dtype: the model's float dtype.
        steps_per_epoch: batches per epoch, or None for a whole pass each epoch.
        y: must be None for the inputs above; the error says so.
    """

    def __init__(self, x, caller, float_dtype, steps_per_epoch=None, y=None):
        self.kind = _batch_source_kind(x)
        if self.kind is not None and y is not None:
            raise ValueError(f"{caller}: x is a {self.kind}, which yields the targets with "
                             f"its batches; y must be None (received {type(y).__name__}). "
                             "Put the targets in the dataset: batches of (x, y) or "
                             "(x, y, sample_weight)")
        self.x, self.float_dtype, self.steps = x, float_dtype, steps_per_epoch
        self._iterator, self._seen = None, 0
        try:
            self._length = len(x) if self.kind is not None else None
        except TypeError:  # an endless or unknown-length dataset
            self._length = None

    def _convert(self, batch):
        if self.kind is None:
            return batch
        return _model_arrays(batch, self.float_dtype)

    def epoch(self, index=0):
        """A generator of the batches of epoch ``index``."""
        x = self.x
        if self.kind == "DataLoader":
            x.set_epoch(index)
        hooks = self.kind == "PyDataset"
        if hooks:
            x.on_epoch_begin()
        try:
            if self.steps is None or self._iterator is None:
                self._iterator, self._seen = iter(x), 0
            taken = 0
            while self.steps is None or taken < self.steps:
                try:
                    batch = next(self._iterator)
                except StopIteration:
                    self._iterator = None
                    return
                taken += 1
                self._seen += 1
                if self._length is not None and self._seen >= self._length:
                    self._iterator = None  # used up: the next epoch starts it again
                    yield self._convert(batch)
                    return
                yield self._convert(batch)
        finally:
            if hooks:
                x.on_epoch_end()
