"""Array preparation: one-hot labels, standardization, splitting, shuffling, batching.

All functions take plain NumPy arrays (or anything :func:`numpy.asarray`
accepts) whose first axis indexes samples. Randomness is controlled by a
``seed`` that may be None (gradkit's global generator, see
:func:`gradkit.random.seed`), an int or a :class:`numpy.random.Generator`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from gradkit import random as _random
from gradkit.utils.validation import check_int, check_number, normalize_axes

__all__ = [
    "Standardizer",
    "batch_iterator",
    "one_hot",
    "shuffle",
    "standardize",
    "to_categorical",
    "train_test_split",
]


def _as_arrays(func: str, arrays) -> tuple[list[np.ndarray], int]:
    """Convert to arrays and check they share a first-axis length."""
    if not arrays:
        raise TypeError(f"{func}: pass at least one array")
    out = [np.asarray(a) for a in arrays]
    for i, a in enumerate(out):
        if a.ndim == 0:
            raise ValueError(
                f"{func}: array {i} is a 0-d scalar; every array needs a first (sample) axis"
            )
    lengths = [len(a) for a in out]
    if len(set(lengths)) > 1:
        raise ValueError(
            f"{func}: all arrays must have the same length (first axis), got lengths "
            f"{', '.join(map(str, lengths))}"
        )
    return out, lengths[0]


# ------------------------------------------------------------------ one-hot


def _where(shape: tuple[int, ...], flat_index: int):
    index = np.unravel_index(flat_index, shape)
    return int(index[0]) if len(shape) == 1 else tuple(int(i) for i in index)


def to_categorical(y, num_classes: int | None = None, dtype="float32") -> np.ndarray:
    """Convert integer class labels to one-hot vectors.

    Like Keras, a trailing axis of size 1 is dropped first, so labels of
    shape ``(N, 1)`` give ``(N, num_classes)``.

    Args:
        y: Integer labels in ``0..num_classes-1`` (any shape). Floats are
            accepted when they hold whole numbers.
        num_classes: Number of classes; default ``max(y) + 1``.
        dtype: Dtype of the result (default ``float32``).

    Returns:
        Array of shape ``y.shape + (num_classes,)`` with a 1 at each label.

    Raises:
        ValueError: A label is negative, not a whole number, or
            ``>= num_classes`` (the message names the label and its index),
            or ``num_classes`` is invalid.
        TypeError: ``y`` is not numeric.

    Example:
        >>> to_categorical([0, 2, 1], num_classes=3)
        array([[1., 0., 0.],
               [0., 0., 1.],
               [0., 1., 0.]], dtype=float32)
    """
    labels = np.asarray(y)
    if labels.dtype.kind not in "biuf":
        raise TypeError(f"to_categorical: labels must be integers, got dtype {labels.dtype}")
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    shape = labels.shape
    flat = labels.reshape(-1)
    if flat.dtype.kind == "f":
        bad = ~np.isfinite(flat) | (flat != np.floor(flat))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"to_categorical: label {flat[i].item()!r} at index {_where(shape, i)} is not an "
                "integer; class labels must be whole numbers (use np.round or .astype(int) "
                "if that is what you mean)"
            )
    if flat.size and flat.min() < 0:
        i = int(np.argmin(flat))
        raise ValueError(
            f"to_categorical: label {flat[i].item()!r} at index {_where(shape, i)} is negative; "
            "class labels must be in 0..num_classes-1"
        )
    if num_classes is None:
        if flat.size == 0:
            raise ValueError(
                "to_categorical: cannot infer num_classes from empty labels; pass num_classes"
            )
        num_classes = int(flat.max()) + 1
    else:
        num_classes = check_int("to_categorical", "num_classes", num_classes, minimum=1)
        if flat.size and flat.max() >= num_classes:
            i = int(np.argmax(flat >= num_classes))
            raise ValueError(
                f"to_categorical: label {flat[i].item()!r} at index {_where(shape, i)} is out of "
                f"range for num_classes={num_classes} (valid labels are 0..{num_classes - 1})"
            )
    out = np.zeros((flat.size, num_classes), dtype=dtype)
    out[np.arange(flat.size), flat.astype(np.intp)] = 1
    return out.reshape(*shape, num_classes)


#: Alias of :func:`to_categorical`.
one_hot = to_categorical


# ---------------------------------------------------------- standardization


class Standardizer:
    """Scale features to zero mean and unit variance using training statistics.

    Fit on the training set, then apply the same transform to validation and
    test data so that no information leaks from them. Features with zero (or
    negligible) variance are only centred, so they become 0 rather than
    inf/NaN.

    Args:
        axis: Axis or axes over which the statistics are computed. The
            default 0 gives per-feature (per-pixel for images) statistics;
            None gives a single global mean and std.

    Attributes:
        mean_: Mean of the training data (broadcastable against it).
        scale_: Standard deviation of the training data with zeros replaced by 1.

    Example:
        >>> x_train = np.array([[1.0, 5.0], [3.0, 5.0]], dtype=np.float32)
        >>> s = Standardizer().fit(x_train)
        >>> s.transform(x_train)
        array([[-1.,  0.],
               [ 1.,  0.]], dtype=float32)
        >>> s.transform(np.array([[2.0, 6.0]]))
        array([[0., 1.]])
    """

    def __init__(self, axis: int | tuple[int, ...] | None = 0):
        self.axis = axis
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None
        self._axes: tuple[int, ...] = ()

    def get_params(self, deep=True):
        """Constructor arguments (scikit-learn's protocol: pipelines, ``clone``)."""
        return {"axis": self.axis}

    def set_params(self, **params):
        """Set constructor arguments (scikit-learn's protocol); returns self."""
        for k, v in params.items():
            if k != "axis":
                raise ValueError(f"Standardizer.set_params: unknown parameter {k!r}; valid: axis")
            self.axis = v
        return self

    def fit(self, x, y=None) -> Standardizer:
        """Compute mean and scale from ``x``.

        Args:
            x: Training data, samples along the first axis.

        Returns:
            ``self``, so that calls can be chained.

        Example:
            >>> Standardizer().fit(np.arange(6.0).reshape(3, 2)).mean_
            array([[2., 3.]])
        """
        x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise TypeError(f"Standardizer.fit: x must be numeric, got dtype {x.dtype}")
        if x.ndim == 0:
            raise ValueError("Standardizer.fit: x is a 0-d scalar; pass an array of samples")
        axes = normalize_axes("Standardizer.fit", self.axis, x.ndim)
        axes = tuple(range(x.ndim)) if axes is None else axes
        if any(x.shape[a] == 0 for a in axes):
            raise ValueError(f"Standardizer.fit: x of shape {x.shape} has no samples to fit on")
        data = x.astype(np.float64)
        mean = data.mean(axis=axes, keepdims=True)
        std = data.std(axis=axes, keepdims=True)
        tiny = 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)
        self.mean_ = mean
        self.scale_ = np.where(std > tiny, std, 1.0)
        self._shape = x.shape
        self._axes = axes
        return self

    def _check(self, x, method: str) -> np.ndarray:
        if self.mean_ is None:
            raise RuntimeError(f"Standardizer.{method} called before fit; call fit(x_train) first")
        x = np.asarray(x)
        kept = [i for i in range(len(self._shape)) if i not in self._axes]
        if x.ndim != len(self._shape) or any(x.shape[i] != self._shape[i] for i in kept):
            want = ", ".join(
                "*" if i in self._axes else str(self._shape[i]) for i in range(len(self._shape))
            )
            raise ValueError(
                f"Standardizer.{method}: x has shape {x.shape} but the standardizer was fitted "
                f"on data of shape ({want}) (* = any size)"
            )
        return x

    @staticmethod
    def _out_dtype(x: np.ndarray):
        return x.dtype if x.dtype.kind == "f" else np.float32

    def transform(self, x) -> np.ndarray:
        """Standardize ``x`` with the fitted statistics.

        Args:
            x: Data shaped like the training data on the non-reduced axes.

        Returns:
            ``(x - mean_) / scale_``; floating inputs keep their dtype,
            integer inputs give float32.

        Example:
            >>> Standardizer().fit([[0.0], [2.0]]).transform([[4.0]])
            array([[3.]])
        """
        x = self._check(x, "transform")
        return ((x - self.mean_) / self.scale_).astype(self._out_dtype(x))

    def fit_transform(self, x, y=None) -> np.ndarray:
        """Fit on ``x`` and return it standardized.

        Args:
            x: Training data.

        Returns:
            The standardized training data.

        Example:
            >>> Standardizer().fit_transform([[1.0], [3.0]]).ravel().tolist()
            [-1.0, 1.0]
        """
        return self.fit(x).transform(x)

    def inverse_transform(self, x) -> np.ndarray:
        """Undo :meth:`transform`.

        Args:
            x: Standardized data.

        Returns:
            ``x * scale_ + mean_`` in the dtype rules of :meth:`transform`.

        Example:
            >>> s = Standardizer().fit([[1.0], [3.0]])
            >>> s.inverse_transform(s.transform([[5.0]])).tolist()
            [[5.0]]
        """
        x = self._check(x, "inverse_transform")
        return (x * self.scale_ + self.mean_).astype(self._out_dtype(x))

    def __repr__(self) -> str:
        state = "fitted" if self.mean_ is not None else "not fitted"
        return f"Standardizer(axis={self.axis!r}, {state})"


def standardize(x_train, x_test=None, axis: int | tuple[int, ...] | None = 0):
    """Standardize training data, and test data with the training statistics.

    Args:
        x_train: Training data (samples along the first axis).
        x_test: Optional data to transform with the statistics of ``x_train``.
        axis: Passed to :class:`Standardizer`.

    Returns:
        The standardized ``x_train`` if ``x_test`` is None, otherwise the pair
        ``(x_train_std, x_test_std)``.

    Example:
        >>> tr, te = standardize(np.array([[1.0], [3.0]]), np.array([[2.0]]))
        >>> tr.ravel().tolist(), te.ravel().tolist()
        ([-1.0, 1.0], [0.0])
    """
    scaler = Standardizer(axis=axis)
    train = scaler.fit_transform(x_train)
    if x_test is None:
        return train
    return train, scaler.transform(x_test)


# ------------------------------------------------ splitting and shuffling


def _test_count(test_size, n: int) -> int:
    if isinstance(test_size, (float, np.floating)):
        fraction = check_number("train_test_split", "a fractional test_size", test_size, 0.0,
                                1.0, min_open=True, max_open=True)
        n_test = math.ceil(fraction * n)
    elif isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool):
        n_test = int(test_size)
    else:
        raise TypeError(
            f"train_test_split: test_size must be a fraction in (0, 1) or a count, "
            f"received {test_size!r}"
        )
    if not 1 <= n_test <= n - 1:
        raise ValueError(
            f"train_test_split: test_size={test_size!r} gives {n_test} test and "
            f"{n - n_test} training samples out of {n}; both sets must be non-empty"
        )
    return n_test


def _stratified_test_indices(labels: np.ndarray, n_test: int, rng) -> np.ndarray:
    classes, inverse = np.unique(labels, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse, minlength=len(classes))
    exact = counts * n_test / len(labels)
    take = np.floor(exact).astype(int)
    leftover = n_test - int(take.sum())
    if leftover:
        # give the remaining test slots to the largest fractional parts,
        # breaking ties at random
        tie_break = rng.permutation(len(classes))
        order = np.lexsort((tie_break, -(exact - take)))
        take[order[:leftover]] += 1
    chosen = [rng.permutation(np.flatnonzero(inverse == c))[: take[c]] for c in range(len(classes))]
    return np.concatenate(chosen)


def train_test_split(*arrays, test_size=0.25, shuffle: bool = True, seed=None, stratify=None):
    """Split arrays into random train and test subsets.

    Args:
        *arrays: One or more arrays with the same first-axis length.
        test_size: Fraction of samples in ``(0, 1)`` (rounded up) or an
            integer count for the test set. Both sets must end up non-empty.
        shuffle: Shuffle before splitting (default True). If False, the last
            samples form the test set.
        seed: None (gradkit's global generator), an int or a Generator for
            the shuffle.
        stratify: Optional class labels (length N); class proportions are
            then preserved in both sets. Requires ``shuffle=True``.

    Returns:
        A list ``[a_train, a_test, b_train, b_test, ...]``.

    Raises:
        ValueError: Lengths differ, ``test_size`` leaves a set empty, or
            ``stratify`` has the wrong length or comes with ``shuffle=False``.

    Example:
        >>> x, y = np.arange(20).reshape(10, 2), np.arange(10)
        >>> x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, seed=0)
        >>> x_tr.shape, x_te.shape
        ((7, 2), (3, 2))
    """
    data, n = _as_arrays("train_test_split", arrays)
    n_test = _test_count(test_size, n)
    rng = _random.rng(seed, owner="train_test_split")
    if stratify is not None:
        if not shuffle:
            raise ValueError("train_test_split: stratify requires shuffle=True")
        labels = np.asarray(stratify)
        if labels.ndim == 0 or len(labels) != n:
            got = "a scalar" if labels.ndim == 0 else f"length {len(labels)}"
            raise ValueError(f"train_test_split: stratify has {got}, the arrays have length {n}")
        if labels.ndim > 1:
            labels = labels.reshape(n, -1)
            labels = np.unique(labels, axis=0, return_inverse=True)[1].reshape(-1)
        test_idx = rng.permutation(_stratified_test_indices(labels, n_test, rng))
        mask = np.ones(n, dtype=bool)
        mask[test_idx] = False
        train_idx = rng.permutation(np.flatnonzero(mask))
    elif shuffle:
        order = rng.permutation(n)
        train_idx, test_idx = order[: n - n_test], order[n - n_test :]
    else:
        train_idx, test_idx = np.arange(n - n_test), np.arange(n - n_test, n)
    result = []
    for a in data:
        result += [a[train_idx], a[test_idx]]
    return result


def shuffle(*arrays, seed=None):
    """Shuffle arrays along their first axis with one shared permutation.

    Args:
        *arrays: One or more arrays with the same first-axis length.
        seed: None (gradkit's global generator), an int or a Generator.

    Returns:
        The shuffled array if one was given, else a tuple of shuffled arrays
        (copies; the inputs are not modified).

    Example:
        >>> x, y = shuffle(np.arange(5), np.arange(5) * 10, seed=0)
        >>> bool((y == x * 10).all())
        True
    """
    data, n = _as_arrays("shuffle", arrays)
    order = _random.rng(seed, owner="shuffle").permutation(n)
    out = tuple(a[order] for a in data)
    return out[0] if len(out) == 1 else out


def batch_iterator(
    *arrays, batch_size: int = 32, shuffle: bool = False, seed=None, drop_last: bool = False
) -> Iterator[tuple[np.ndarray, ...]]:
    """Iterate over arrays in mini-batches.

    Arguments are checked immediately, not at the first ``next()``.

    Args:
        *arrays: One or more arrays with the same first-axis length.
        batch_size: Samples per batch (>= 1).
        shuffle: Visit samples in a random order.
        seed: None (gradkit's global generator), an int or a Generator for
            the order.
        drop_last: Skip the final batch if it is smaller than ``batch_size``.

    Returns:
        An iterator of tuples, one batch from each array per step (a 1-tuple
        for a single array).

    Raises:
        ValueError: ``batch_size`` < 1 or the arrays' lengths differ (the
            message gives the lengths).

    Example:
        >>> x, y = np.arange(10).reshape(5, 2), np.arange(5)
        >>> [yb.tolist() for _, yb in batch_iterator(x, y, batch_size=2)]
        [[0, 1], [2, 3], [4]]
    """
    size = check_int("batch_iterator", "batch_size", batch_size, minimum=1)
    data, n = _as_arrays("batch_iterator", arrays)
    order = _random.rng(seed, owner="batch_iterator").permutation(n) if shuffle else None
    stop = n - n % size if drop_last else n

    def batches():
        for start in range(0, stop, size):
            if order is None:
                yield tuple(a[start : start + size] for a in data)
            else:
                index = order[start : start + size]
                yield tuple(a[index] for a in data)

    return batches()
