"""Samplers: the order in which a DataLoader visits a map-style dataset's indices.

Any iterable of indices with ``__len__`` works as ``DataLoader(sampler=...)``; these are
PyTorch's standard ones. Randomness comes from :func:`gradkit.random.rng`: a
``generator=None`` sampler draws from gradkit's global generator (so
``gradkit.random.seed(s)`` repeats it), an int seeds a stream made once at construction
(each epoch then continues it, so epochs differ but runs repeat), a
``numpy.random.Generator`` is used as is. A sampler may define ``set_epoch(epoch)``
(as a distributed sampler does); :meth:`DataLoader.set_epoch` and ``fit`` call it.
"""

from __future__ import annotations

import numpy as np

from gradkit import random as _random
from gradkit.utils.validation import check_int

__all__ = ["BatchSampler", "RandomSampler", "Sampler", "SequentialSampler",
           "SubsetRandomSampler", "WeightedRandomSampler"]


def _stream(generator, owner):
    """A function giving the Generator to draw from now: the global one (looked up at each
    epoch, so reseeding governs it) for None, else one stream made here, once."""
    if generator is None:
        return _random.generator
    stream = _random.rng(generator, owner=owner)
    return lambda: stream


class Sampler:
    """Base class: subclasses define ``__iter__`` (indices) and usually ``__len__``."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__()")


class SequentialSampler(Sampler):
    """Indices ``0, 1, ..., len(data_source) - 1`` in order.

    Example:
        >>> list(SequentialSampler(range(3)))
        [0, 1, 2]
    """

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random order of ``data_source``'s indices, new every epoch.

    Args:
        data_source: a sized dataset.
        replacement: draw with replacement (then ``num_samples`` may exceed the length).
        num_samples: how many indices per epoch (default ``len(data_source)``).
        generator: None, an int seed or a ``numpy.random.Generator`` (see the module doc).

    Example:
        >>> sorted(RandomSampler(range(4), generator=0))
        [0, 1, 2, 3]
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement must be a bool, received "
                            f"{replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = None if num_samples is None else \
            check_int("RandomSampler", "num_samples", num_samples, minimum=1)
        self.generator = generator
        self._draw = _stream(generator, "RandomSampler")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, g = len(self.data_source), self._draw()
        if self.replacement:
            return iter(g.integers(0, n, size=self.num_samples).tolist())
        # without replacement, num_samples > n takes whole permutations one after another
        rounds = -(-self.num_samples // n) if n else 0
        order = np.concatenate([g.permutation(n) for _ in range(rounds)] or [np.empty(0, int)])
        return iter(order[:self.num_samples].tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order, new every epoch.

    Example:
        >>> sorted(SubsetRandomSampler([5, 7, 9], generator=1))
        [5, 7, 9]
    """

    def __init__(self, indices, generator=None):
        self.indices = [int(i) for i in indices]
        self.generator = generator
        self._draw = _stream(generator, "SubsetRandomSampler")

    def __iter__(self):
        g = self._draw()
        return iter([self.indices[i] for i in g.permutation(len(self.indices)).tolist()])

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights``.

    Example:
        >>> set(WeightedRandomSampler([0.0, 1.0, 0.0], 5, generator=0))
        {1}
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or not len(w) or (w < 0).any() or not np.isfinite(w).all() or \
                w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be a 1-d sequence of finite "
                             f"non-negative numbers with a positive sum, received {weights!r}")
        self.weights = w
        self.num_samples = check_int("WeightedRandomSampler", "num_samples", num_samples,
                                     minimum=1)
        if not replacement and self.num_samples > int((w > 0).sum()):
            raise ValueError(f"WeightedRandomSampler: cannot draw {self.num_samples} distinct "
                             f"indices from {int((w > 0).sum())} with non-zero weight; use "
                             "replacement=True or fewer samples")
        self.replacement = bool(replacement)
        self._draw = _stream(generator, "WeightedRandomSampler")

    def __iter__(self):
        g = self._draw()
        p = self.weights / self.weights.sum()
        return iter(g.choice(len(p), size=self.num_samples, replace=self.replacement,
                             p=p).tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``.

    Args:
        sampler: any iterable of indices (a :class:`Sampler`, a list...).
        batch_size: indices per batch (>= 1).
        drop_last: drop a final batch shorter than ``batch_size``.

    Example:
        >>> list(BatchSampler(range(5), 2, drop_last=False))
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler, batch_size, drop_last):
        self.sampler = sampler
        self.batch_size = check_int("BatchSampler", "batch_size", batch_size, minimum=1)
        if not isinstance(drop_last, bool):
            raise TypeError(f"BatchSampler: drop_last must be a bool, received {drop_last!r}")
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch):
        """Forward ``epoch`` to the wrapped sampler when it has ``set_epoch``."""
        set_epoch(self.sampler, epoch)


def set_epoch(sampler, epoch):
    """Call ``sampler.set_epoch(epoch)`` if the sampler defines it (else do nothing)."""
    method = getattr(sampler, "set_epoch", None)
    if callable(method):
        method(epoch)
