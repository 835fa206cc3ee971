"""``gradkit.data.Dataset``: a ``tf.data``-style input pipeline.

A Dataset is a recipe: each transformation (``shuffle``, ``batch``, ``map``...) returns a
new Dataset wrapping the previous one, and every ``iter(dataset)`` runs the recipe from
the start, so one Dataset serves every epoch. Elements are nested tuples/dicts of arrays
(see :mod:`gradkit.data.structure`); iterating yields gradkit Tensors, as TensorFlow
yields tensors, and :meth:`Dataset.as_numpy_iterator` yields NumPy arrays. Functions
given to ``map`` and ``filter`` receive Tensors, a tuple element unpacked into
arguments, as in TensorFlow.

Example:
    >>> ds = Dataset.from_tensor_slices((np.arange(6.0), np.arange(6) % 2))
    >>> ds = ds.map(lambda x, y: (x * 2, y)).batch(4)
    >>> [x.tolist() for x, _ in ds.as_numpy_iterator()]
    [[0.0, 2.0, 4.0, 6.0], [8.0, 10.0]]
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass

import numpy as np

from gradkit import random as _random
from gradkit.utils.validation import check_int

from .parallel_map import parallel_map
from .prefetch import Prefetcher
from .structure import as_array, flatten, map_structure, pack, to_numpy, to_tensors

__all__ = ["AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "Dataset", "TensorSpec"]

#: Let gradkit choose a parallelism or buffer size (``tf.data.AUTOTUNE``).
AUTOTUNE = -1
#: :meth:`Dataset.cardinality` of an endless dataset.
INFINITE_CARDINALITY = -1
#: :meth:`Dataset.cardinality` when the length cannot be known without reading it.
UNKNOWN_CARDINALITY = -2


@dataclass(frozen=True)
class TensorSpec:
    """The shape and dtype of one leaf (``tf.TensorSpec``); None in ``shape`` is any size.

    Example:
        >>> TensorSpec(shape=(None, 2), dtype="float32").dtype
        dtype('float32')
    """

    shape: tuple = ()
    dtype: object = "float32"
    name: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "shape", None if self.shape is None else tuple(self.shape))
        object.__setattr__(self, "dtype", np.dtype(getattr(self.dtype, "name", self.dtype)))

    def conform(self, array, owner):
        """``array`` cast to this dtype; a ValueError if its shape does not fit."""
        array = np.asarray(array, dtype=self.dtype)
        if self.shape is not None and (array.ndim != len(self.shape) or any(
                want is not None and want != got for want, got in zip(self.shape, array.shape))):
            raise ValueError(f"{owner}: the generator yielded shape {array.shape}, the "
                             f"output_signature says {self.shape}")
        return array


def _call(fn, element):
    """``fn(*element)`` for a tuple element, else ``fn(element)`` (TensorFlow's rule)."""
    args = to_tensors(element)
    if isinstance(args, tuple) and not hasattr(args, "_fields"):
        return fn(*args)
    return fn(args)


def _parallelism(owner, value):
    if value is None:
        return None
    if value == AUTOTUNE:
        return os.cpu_count() or 1
    return check_int(owner, "num_parallel_calls", value, minimum=1)


def _stack(elements, owner):
    """One batch element from a list of elements of the same structure."""
    first = elements[0]
    leaves = [flatten(e) for e in elements]
    stacked = []
    for j, column in enumerate(zip(*leaves)):
        shapes = {np.shape(a) for a in column}
        if len(shapes) > 1:
            raise ValueError(f"{owner}: elements of different shapes {sorted(shapes)} in "
                             f"component {j} cannot be stacked into one batch; make them one "
                             "shape in a map() first")
        stacked.append(np.stack(column))
    return pack(first, stacked)


def _unstack(element):
    leaves = flatten(element)
    n = len(leaves[0]) if leaves and np.ndim(leaves[0]) else 0
    if any(np.ndim(a) == 0 or len(a) != n for a in leaves):
        raise ValueError("Dataset.unbatch: every component needs the same first dimension; "
                         f"got shapes {[np.shape(a) for a in leaves]}")
    for i in range(n):
        yield map_structure(lambda a, i=i: a[i], element)


def _shuffled(source, buffer_size, g):
    """TensorFlow's shuffle buffer: emit a random buffered element, refill its slot."""
    buffer = list(itertools.islice(source, buffer_size))
    for item in source:
        k = int(g.integers(len(buffer)))
        yield buffer[k]
        buffer[k] = item
    while buffer:
        k = int(g.integers(len(buffer)))
        buffer[k], buffer[-1] = buffer[-1], buffer[k]
        yield buffer.pop()


class Dataset:
    """A re-iterable pipeline of elements; build one with a ``from_*``/``range`` method.

    Args:
        make_iterator: a function returning a fresh iterator of NumPy elements.
        cardinality: the number of elements, ``INFINITE_CARDINALITY`` or
            ``UNKNOWN_CARDINALITY``.
    """

    def __init__(self, make_iterator, cardinality=UNKNOWN_CARDINALITY):
        self._make_iterator = make_iterator
        self._cardinality = int(cardinality)

    # ------------------------------------------------------------------ sources
    @staticmethod
    def from_tensor_slices(tensors):
        """One element per row of ``tensors`` (an array, or a tuple/dict of arrays).

        Raises:
            ValueError: the components differ in their first dimension, or one is 0-d.

        Example:
            >>> ds = Dataset.from_tensor_slices({"a": np.arange(3), "b": np.ones((3, 2))})
            >>> next(ds.as_numpy_iterator())["b"].tolist()
            [1.0, 1.0]
        """
        data = to_numpy(tensors)
        leaves = flatten(data)
        sizes = [a.shape[0] if a.ndim else None for a in leaves]
        if None in sizes:
            raise ValueError("Dataset.from_tensor_slices: a 0-d component has no rows to "
                             "slice; every component needs a first dimension")
        if len(set(sizes)) > 1:
            raise ValueError("Dataset.from_tensor_slices: all components need the same first "
                             f"dimension, got {sizes}")
        n = sizes[0]
        return Dataset(lambda: (map_structure(lambda a, i=i: a[i], data) for i in range(n)), n)

    @staticmethod
    def from_tensors(tensors):
        """A dataset of one element, ``tensors`` itself."""
        data = to_numpy(tensors)
        return Dataset(lambda: iter((data,)), 1)

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None,
                       output_signature=None):
        """Elements from ``generator(*args)``, called afresh for every iteration.

        Args:
            generator: a callable returning an iterable (not an iterator object itself,
                which could only be read once).
            output_types: a dtype per component (the older TensorFlow argument);
                ``output_shapes`` is refused: use ``output_signature``.
            args: a tuple of arguments for ``generator``.
            output_signature: a structure of :class:`TensorSpec`: each yielded component
                is cast to its dtype and its shape checked.

        Example:
            >>> ds = Dataset.from_generator(lambda: ((i, i * i) for i in range(3)),
            ...     output_signature=(TensorSpec((), "int64"), TensorSpec((), "int64")))
            >>> [b.item() for _, b in ds.as_numpy_iterator()]
            [0, 1, 4]
        """
        if not callable(generator):
            raise TypeError("Dataset.from_generator: generator must be a callable that "
                            f"returns an iterable, received {type(generator).__name__}; wrap "
                            "it: from_generator(lambda: my_iterable)")
        if output_shapes is not None:
            raise NotImplementedError("Dataset.from_generator: output_shapes is not "
                                      "supported; pass output_signature=(TensorSpec(shape, "
                                      "dtype), ...) instead")
        if output_signature is None and output_types is not None:
            output_signature = map_structure(lambda t: TensorSpec(None, t), output_types)
        call_args = tuple(args or ())
        owner = "Dataset.from_generator"

        def elements():
            for item in generator(*call_args):
                if output_signature is None:
                    yield to_numpy(item)
                else:
                    yield pack(output_signature, [spec.conform(a, owner) for spec, a in
                                                  zip(flatten(output_signature),
                                                      flatten(item))])

        return Dataset(elements)

    @staticmethod
    def range(*args, dtype="int64"):
        """``range(stop)``, ``range(start, stop)`` or ``range(start, stop, step)``.

        Example:
            >>> [int(v) for v in Dataset.range(1, 8, 3)]
            [1, 4, 7]
        """
        r = range(*args)
        dt = np.dtype(getattr(dtype, "name", dtype))
        return Dataset(lambda: (np.asarray(v, dtype=dt) for v in r), len(r))

    @staticmethod
    def zip(*datasets):
        """Elements of several datasets side by side (a tuple, or a dict of datasets).

        Stops at the shortest. ``Dataset.zip((a, b))`` and ``Dataset.zip(a, b)`` agree.
        """
        spec = datasets[0] if len(datasets) == 1 and isinstance(datasets[0],
                                                                (tuple, dict)) else datasets
        parts = flatten(spec)
        for p in parts:
            if not isinstance(p, Dataset):
                raise TypeError(f"Dataset.zip: expected Datasets, received {type(p).__name__}")
        sizes = [p._cardinality for p in parts]
        finite = [s for s in sizes if s >= 0]
        card = min(finite) if finite else (
            UNKNOWN_CARDINALITY if UNKNOWN_CARDINALITY in sizes else INFINITE_CARDINALITY)
        if finite and UNKNOWN_CARDINALITY in sizes:
            card = UNKNOWN_CARDINALITY

        def elements():
            for row in zip(*(iter(p._make_iterator()) for p in parts)):
                yield pack(spec, row)

        return Dataset(elements, card)

    # --------------------------------------------------------------- iteration
    def __iter__(self):
        return (to_tensors(e) for e in self._make_iterator())

    def as_numpy_iterator(self):
        """Iterate with NumPy arrays as the leaves (NumPy scalars for 0-d ones)."""
        return (map_structure(lambda a: a[()] if np.ndim(a) == 0 else a, e)
                for e in self._make_iterator())

    def cardinality(self):
        """The number of elements as a 0-d int64 Tensor; -1 endless, -2 unknown."""
        from gradkit.tensor import Tensor

        return Tensor(np.int64(self._cardinality))

    def __len__(self):
        if self._cardinality == INFINITE_CARDINALITY:
            raise TypeError("The dataset is infinite.")
        if self._cardinality == UNKNOWN_CARDINALITY:
            raise TypeError("The dataset length is unknown.")
        return self._cardinality

    def __repr__(self):
        return f"<Dataset cardinality={self._cardinality}>"

    def _then(self, make_iterator, cardinality=UNKNOWN_CARDINALITY):
        return Dataset(make_iterator, cardinality)

    # ---------------------------------------------------------- transformations
    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """Apply ``map_func`` to every element.

        Args:
            map_func: called with the element's components (Tensors) as arguments for
                a tuple element, with the element itself otherwise; returns the new
                element (Tensors, arrays or numbers).
            num_parallel_calls: run this many calls at once on threads (``AUTOTUNE``:
                one per CPU); the order of elements is kept.
            deterministic: True or None keep the order (gradkit always does, so False,
                which merely allows reordering, changes nothing).

        Example:
            >>> [int(v) for v in Dataset.range(3).map(lambda v: v * 10)]
            [0, 10, 20]
        """
        workers = _parallelism("Dataset.map", num_parallel_calls)
        source = self._make_iterator

        def apply(element):
            return to_numpy(_call(map_func, element))

        def elements():
            if workers is None or workers == 1:
                return (apply(e) for e in source())
            return parallel_map(apply, source(), workers)

        return self._then(elements, self._cardinality)

    def filter(self, predicate, name=None):
        """Keep the elements for which ``predicate`` (called like ``map``'s function) is true.

        Example:
            >>> [int(v) for v in Dataset.range(6).filter(lambda v: v > 2)]
            [3, 4, 5]
        """
        source = self._make_iterator
        return self._then(lambda: (e for e in source() if bool(_call(predicate, e))))

    def batch(self, batch_size, drop_remainder=False, name=None):
        """Stack ``batch_size`` consecutive elements into one (a new first dimension).

        Example:
            >>> [b.tolist() for b in Dataset.range(5).batch(2).as_numpy_iterator()]
            [[0, 1], [2, 3], [4]]
        """
        size = check_int("Dataset.batch", "batch_size", batch_size, minimum=1)
        source = self._make_iterator
        card = self._cardinality
        if card >= 0:
            card = card // size if drop_remainder else math.ceil(card / size)

        def elements():
            it = source()
            while True:
                chunk = list(itertools.islice(it, size))
                if not chunk or (drop_remainder and len(chunk) < size):
                    return
                yield _stack(chunk, "Dataset.batch")

        return self._then(elements, card)

    def unbatch(self, name=None):
        """Split every element along its first dimension (the inverse of ``batch``)."""
        source = self._make_iterator
        return self._then(lambda: (row for e in source() for row in _unstack(e)))

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True, name=None):
        """Randomize the order with a buffer of ``buffer_size`` elements (TensorFlow's rule).

        Args:
            buffer_size: elements held at once; at least the dataset's size for a full
                uniform shuffle.
            seed: None (gradkit's global generator), an int or a Generator.
            reshuffle_each_iteration: a new order every iteration (epoch); False repeats
                the first iteration's order.

        Example:
            >>> sorted(int(v) for v in Dataset.range(5).shuffle(5, seed=0))
            [0, 1, 2, 3, 4]
        """
        size = check_int("Dataset.shuffle", "buffer_size", buffer_size, minimum=1)
        if not isinstance(reshuffle_each_iteration, bool):
            raise TypeError("Dataset.shuffle: reshuffle_each_iteration must be a bool, "
                            f"received {reshuffle_each_iteration!r}")
        source = self._make_iterator
        if reshuffle_each_iteration:
            g = _random.rng(seed, owner="Dataset.shuffle") if seed is not None else None

            def draw():
                return g if g is not None else _random.generator()
        else:
            fixed = int(_random.rng(seed, owner="Dataset.shuffle").integers(2**62))

            def draw():
                return _random.rng(fixed)

        return self._then(lambda: _shuffled(source(), size, draw()), self._cardinality)

    def take(self, count, name=None):
        """The first ``count`` elements (-1: all)."""
        count = check_int("Dataset.take", "count", count, minimum=-1)
        source = self._make_iterator
        card = self._cardinality
        if count >= 0:
            card = count if card == INFINITE_CARDINALITY else (
                min(card, count) if card >= 0 else UNKNOWN_CARDINALITY)
        return self._then(lambda: itertools.islice(source(), None if count < 0 else count),
                          card)

    def skip(self, count, name=None):
        """All but the first ``count`` elements (-1: skip all)."""
        count = check_int("Dataset.skip", "count", count, minimum=-1)
        source = self._make_iterator
        card = self._cardinality
        if count < 0:
            card = 0
        elif card >= 0:
            card = max(card - count, 0)
        if count < 0:
            return self._then(lambda: iter(()), 0)
        return self._then(lambda: itertools.islice(source(), count, None), card)

    def repeat(self, count=None, name=None):
        """The dataset ``count`` times over (None or -1: forever), re-run each time."""
        count = -1 if count is None else check_int("Dataset.repeat", "count", count, minimum=-1)
        source = self._make_iterator
        card = self._cardinality
        if card == 0 or count == 0:
            card = 0
        elif count < 0:
            card = INFINITE_CARDINALITY
        elif card > 0:
            card = card * count

        def elements():
            rounds = itertools.count() if count < 0 else range(count)
            for _ in rounds:
                yield from source()

        return self._then(elements, card)

    def prefetch(self, buffer_size, name=None):
        """Load up to ``buffer_size`` elements ahead on a background thread (``AUTOTUNE``:
        gradkit picks 2), so the input overlaps with the training step."""
        size = 2 if buffer_size == AUTOTUNE else \
            check_int("Dataset.prefetch", "buffer_size", buffer_size, minimum=0)
        source = self._make_iterator
        if size == 0:
            return self._then(source, self._cardinality)
        return self._then(lambda: Prefetcher(source(), size), self._cardinality)

    def cache(self, filename="", name=None):
        """Keep the elements in memory after the first full iteration; later iterations
        replay them (a first iteration stopped early caches nothing)."""
        if filename:
            raise NotImplementedError("Dataset.cache(filename=...): gradkit caches in "
                                      "memory only; call cache() without a filename")
        source = self._make_iterator
        store = []

        def elements():
            if store:
                yield from store[0]
                return
            seen = []
            for e in source():
                seen.append(e)
                yield e
            store.append(seen)

        return self._then(elements, self._cardinality)

    def concatenate(self, dataset, name=None):
        """This dataset's elements, then ``dataset``'s."""
        a, b = self._make_iterator, dataset._make_iterator
        x, y = self._cardinality, dataset._cardinality
        card = INFINITE_CARDINALITY if INFINITE_CARDINALITY in (x, y) else (
            x + y if x >= 0 and y >= 0 else UNKNOWN_CARDINALITY)
        return self._then(lambda: itertools.chain(a(), b()), card)

    def enumerate(self, start=0, name=None):
        """``(index, element)`` pairs, the index an int64 counting from ``start``."""
        source = self._make_iterator
        return self._then(lambda: ((np.int64(i), e) for i, e in
                                   zip(itertools.count(start), source())), self._cardinality)

    def shard(self, num_shards, index, name=None):
        """Every ``num_shards``-th element starting at ``index`` (one worker's share)."""
        n = check_int("Dataset.shard", "num_shards", num_shards, minimum=1)
        i = check_int("Dataset.shard", "index", index, minimum=0, maximum=n - 1)
        source = self._make_iterator
        card = self._cardinality
        if card >= 0:
            card = len(range(i, card, n))
        return self._then(lambda: itertools.islice(source(), i, None, n), card)

    def reduce(self, initial_state, reduce_func, name=None):
        """Fold the elements: ``state = reduce_func(state, element)``; returns the state."""
        state = to_tensors(to_numpy(initial_state))
        for e in self:
            state = reduce_func(state, e)
        return state

    @property
    def element_spec(self):
        """A :class:`TensorSpec` structure describing the first element (reads one)."""
        first = next(iter(self._make_iterator()), None)
        if first is None:
            return None
        return map_structure(lambda a: TensorSpec(np.shape(a), as_array(a).dtype), first)
