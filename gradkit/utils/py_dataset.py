"""Keras's ``PyDataset`` (and the older ``Sequence``): a dataset of whole batches by index.

A subclass defines ``__getitem__(index)`` returning batch ``index`` (``x``, ``(x, y)``
or ``(x, y, sample_weight)``) and ``__len__()`` (the number of batches). ``fit``,
``evaluate`` and ``predict`` take it as ``x``; ``on_epoch_begin``/``on_epoch_end`` run
around each epoch. With ``workers > 1`` batches are loaded in parallel, by threads, or
by processes with ``use_multiprocessing=True``, through the same worker machinery as
:class:`~gradkit.utils.data.DataLoader` (:mod:`gradkit.utils.data.worker`);
``max_queue_size`` batches are loaded ahead, and they come out in index order.
"""

from __future__ import annotations

import itertools

from gradkit.utils.data.worker import OrderedPrefetcher, WorkerPool
from gradkit.utils.validation import check_int

__all__ = ["PyDataset", "Sequence"]


class _GetBatch:
    """What a worker runs: ``dataset[index]``."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __call__(self, index):
        return self.dataset[index]


class PyDataset:
    """Base class for datasets of batches (Keras 3's ``keras.utils.PyDataset``).

    Args:
        workers: how many workers load batches; 0 or 1 load in the calling thread,
            unless ``use_multiprocessing`` (then, as in Keras, ``workers >= 1``
            processes).
        use_multiprocessing: workers are processes (each with its own copy of the
            dataset) instead of threads.
        max_queue_size: batches loaded ahead of the training loop (>= 1).

    Example:
        >>> import numpy as np
        >>> class Batches(PyDataset):
        ...     def __init__(self, x, y, batch_size, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.x, self.y, self.batch_size = x, y, batch_size
        ...     def __len__(self):
        ...         return -(-len(self.x) // self.batch_size)
        ...     def __getitem__(self, i):
        ...         s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        ...         return self.x[s], self.y[s]
        >>> ds = Batches(np.zeros((5, 2)), np.arange(5), 2, workers=2)
        >>> [yb.tolist() for _, yb in ds]
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    # Keras lets subclasses skip super().__init__(): the defaults then apply.
    @property
    def workers(self):
        return getattr(self, "_workers", 1)

    @workers.setter
    def workers(self, value):
        self._workers = check_int(type(self).__name__, "workers", value, minimum=0)

    @property
    def use_multiprocessing(self):
        return getattr(self, "_use_multiprocessing", False)

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        if not isinstance(value, bool):
            raise TypeError(f"{type(self).__name__}: use_multiprocessing must be a bool, "
                            f"received {value!r}")
        self._use_multiprocessing = value

    @property
    def max_queue_size(self):
        return getattr(self, "_max_queue_size", 10)

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = check_int(type(self).__name__, "max_queue_size", value,
                                         minimum=1)

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) "
                                  "returning batch number index")

    @property
    def num_batches(self):
        """Batches per epoch: ``len(self)``, or None (an endless dataset) without ``__len__``."""
        if hasattr(self, "__len__"):
            return len(self)
        return None

    def on_epoch_begin(self):
        """Called by ``fit``/``evaluate``/``predict`` before each epoch's first batch."""

    def on_epoch_end(self):
        """Called after each epoch's last batch (reshuffle here, for example)."""

    def __iter__(self):
        """The batches ``self[0], self[1], ...`` (``num_batches`` of them; endless if None),
        loaded by the workers when there are any."""
        total = self.num_batches
        indices = range(total) if total is not None else itertools.count()
        parallel = self.workers > 1 or (self.workers >= 1 and self.use_multiprocessing)
        if not parallel:
            return (self[i] for i in indices)
        pool = WorkerPool(_GetBatch(self), self.workers, processes=self.use_multiprocessing,
                          owner=type(self).__name__)
        return OrderedPrefetcher(pool, indices, self.max_queue_size, own_pool=True)


class Sequence(PyDataset):
    """The older ``keras.utils.Sequence``: a :class:`PyDataset` (same protocol)."""
