"""PyTorch-shaped datasets: indexable (``Dataset``) and streaming (``IterableDataset``).

A map-style :class:`Dataset` answers ``dataset[i]`` for ``0 <= i < len(dataset)``; an
:class:`IterableDataset` is read front to back with ``iter(dataset)``. Both are what a
:class:`~gradkit.utils.data.DataLoader` batches. :class:`TensorDataset`, :class:`Subset`,
:class:`ConcatDataset` and :func:`random_split` build datasets from arrays and from other
datasets, with PyTorch's names and semantics.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from gradkit import random as _random
from gradkit import tensor as _tensor  # the module: gradkit.tensor imports gradkit.utils
from gradkit.utils.validation import check_int

__all__ = ["ChainDataset", "ConcatDataset", "Dataset", "IterableDataset", "Subset",
           "TensorDataset", "random_split"]


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(index)`` and ``__len__()``.

    ``a + b`` concatenates two datasets (a :class:`ConcatDataset`).

    Example:
        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, i):
        ...         return i * i
        >>> [Squares()[i] for i in range(4)]
        [0, 1, 4, 9]
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index)")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__()``.

    With ``DataLoader(num_workers=k)`` each worker process iterates its own copy;
    use :func:`gradkit.utils.data.get_worker_info` inside ``__iter__`` to give each
    worker a different share of the stream (else every sample comes ``k`` times).

    Example:
        >>> class Count(IterableDataset):
        ...     def __iter__(self):
        ...         return iter(range(3))
        >>> list(Count())
        [0, 1, 2]
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__()")

    def __add__(self, other):
        return ChainDataset([self, other])


def _length(array):
    if isinstance(array, _tensor.Tensor):
        return array.shape[0] if array.ndim else None
    return len(array) if np.ndim(array) else None


class TensorDataset(Dataset):
    """Samples are the rows of arrays/Tensors sharing a first axis: ``(x[i], y[i], ...)``.

    Args:
        *tensors: arrays or Tensors with the same length along axis 0.

    Raises:
        ValueError: no tensors, a 0-d tensor, or differing lengths (all named).

    Example:
        >>> ds = TensorDataset(np.arange(6).reshape(3, 2), np.array([0, 1, 0]))
        >>> len(ds), [a.tolist() for a in ds[1]]
        (3, [[2, 3], 1])
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: pass at least one array or Tensor")
        lengths = [_length(t) for t in tensors]
        if None in lengths:
            raise ValueError(f"TensorDataset: tensor {lengths.index(None)} is 0-d; every "
                             "tensor needs a first (sample) axis")
        if len(set(lengths)) > 1:
            raise ValueError("TensorDataset: all tensors need the same length along axis 0, "
                             f"got lengths {lengths}")
        self.tensors = tuple(t if isinstance(t, _tensor.Tensor) else np.asarray(t)
                             for t in tensors)

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return len(self.tensors[0])


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    Args:
        dataset: a map-style dataset.
        indices: a sequence of integer indices into it.

    Example:
        >>> Subset(TensorDataset(np.arange(5)), [4, 0])[0][0].item()
        4
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index):
        if isinstance(index, list):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several map-style datasets one after the other.

    Args:
        datasets: a non-empty iterable of map-style datasets.

    Raises:
        ValueError: no datasets. TypeError: one of them is an IterableDataset.

    Example:
        >>> ds = ConcatDataset([TensorDataset(np.arange(2)), TensorDataset(np.arange(3))])
        >>> len(ds), ds[3][0].item()
        (5, 1)
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: pass at least one dataset")
        for i, d in enumerate(self.datasets):
            if isinstance(d, IterableDataset):
                raise TypeError(f"ConcatDataset: dataset {i} is an IterableDataset, which has "
                                "no indices; use ChainDataset for streams")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        n = len(self)
        if index < 0:
            if -index > n:
                raise IndexError(f"ConcatDataset: index {index} out of range for length {n}")
            index += n
        which = bisect.bisect_right(self.cumulative_sizes, index)
        if which == len(self.datasets):
            raise IndexError(f"ConcatDataset: index {index} out of range for length {n}")
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


class ChainDataset(IterableDataset):
    """Several iterable datasets read one after the other.

    Example:
        >>> class R(IterableDataset):
        ...     def __init__(self, n): self.n = n
        ...     def __iter__(self): return iter(range(self.n))
        >>> list(ChainDataset([R(2), R(1)]))
        [0, 1, 0]
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)

    def __iter__(self):
        for d in self.datasets:
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


def _split_counts(lengths, n):
    """Absolute counts from ``lengths`` (counts summing to ``n``, or fractions summing to 1)."""
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty; pass counts or fractions")
    fractions = all(isinstance(v, (float, np.floating)) for v in lengths)
    if fractions and math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1.0 + 1e-9:
        for v in lengths:
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"random_split: fraction {v} is outside [0, 1]")
        counts = [int(math.floor(n * f)) for f in lengths]
        # PyTorch hands the remainder out one by one, round robin from the first split
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        return counts
    counts = [check_int("random_split", "each length", v, minimum=0) for v in lengths]
    if sum(counts) != n:
        raise ValueError(f"random_split: lengths {lengths} sum to {sum(counts)} but the dataset "
                         f"has {n} samples; pass counts summing to {n} or fractions summing "
                         "to 1")
    return counts


def random_split(dataset, lengths, generator=None):
    """Split a map-style dataset into non-overlapping random :class:`Subset` s.

    Args:
        dataset: a map-style dataset.
        lengths: counts summing to ``len(dataset)``, or fractions summing to 1 (floors,
            with the remainder given out one at a time from the first split, as PyTorch).
        generator: ``seed=`` for :func:`gradkit.random.rng`: None (the global
            generator), an int, or a ``numpy.random.Generator``.

    Returns:
        A list of :class:`Subset`, one per length.

    Example:
        >>> train, val = random_split(TensorDataset(np.arange(10)), [0.8, 0.2], generator=0)
        >>> len(train), len(val)
        (8, 2)
    """
    n = len(dataset)
    counts = _split_counts(lengths, n)
    order = _random.rng(generator, owner="random_split").permutation(n).tolist()
    out, start = [], 0
    for c in counts:
        out.append(Subset(dataset, order[start:start + c]))
        start += c
    return out
