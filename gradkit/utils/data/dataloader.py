"""DataLoader: batches from a dataset, in this process or in worker processes.

PyTorch's ``torch.utils.data.DataLoader`` with its names, defaults and argument rules.
``for xb, yb in loader`` gives collated batches (gradkit Tensors by default); a
:class:`~gradkit.models.Model`'s ``fit``/``evaluate``/``predict`` take a loader as ``x``.
"""

from __future__ import annotations

import itertools

from gradkit import random as _random
from gradkit.utils.validation import check_int, check_number

from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler, set_epoch
from .worker import OrderedPrefetcher, WorkerPool, _Exhausted

__all__ = ["DataLoader"]


class _MapFetch:
    """In a worker (or here): a batch from a list of indices, or one sample from an index."""

    def __init__(self, dataset, collate_fn, auto_batch):
        self.dataset, self.collate_fn, self.auto_batch = dataset, collate_fn, auto_batch

    def __call__(self, index):
        if self.auto_batch:
            return self.collate_fn([self.dataset[i] for i in index])
        return self.collate_fn(self.dataset[index])


class _StreamFetch:
    """In a worker (or here): the next batch of an IterableDataset's own iterator.

    The payload is the epoch's generation: a new one restarts the stream.
    """

    def __init__(self, dataset, collate_fn, batch_size, drop_last):
        self.dataset, self.collate_fn = dataset, collate_fn
        self.batch_size, self.drop_last = batch_size, drop_last
        self._iter, self._generation = None, None

    def __call__(self, generation):
        if generation != self._generation:
            self._iter, self._generation = iter(self.dataset), generation
        if self._iter is None:
            return _Exhausted()
        if self.batch_size is None:
            try:
                return self.collate_fn(next(self._iter))
            except StopIteration:
                self._iter = None
                return _Exhausted()
        batch = list(itertools.islice(self._iter, self.batch_size))
        if len(batch) < self.batch_size:
            self._iter = None
            if not batch or self.drop_last:
                return _Exhausted()
        return self.collate_fn(batch)


def _in_process(fetch, payloads):
    """The batches of ``payloads`` fetched here, one at a time (``num_workers=0``)."""
    if payloads is None:  # a stream
        while not isinstance(batch := fetch(0), _Exhausted):
            yield batch
        return
    for payload in payloads:
        yield fetch(payload)


class DataLoader:
    """Iterate over a dataset in batches, optionally loaded by worker processes.

    Args:
        dataset: a map-style dataset (``__getitem__``/``__len__``) or an
            :class:`~gradkit.utils.data.IterableDataset`.
        batch_size: samples per batch (default 1); None turns batching off (each item
            is one sample, converted by ``collate_fn``, default
            :func:`~gradkit.utils.data.default_convert`).
        shuffle: visit a map-style dataset in a new random order every epoch.
        sampler: any iterable of indices with ``__len__`` (not with ``shuffle``).
        batch_sampler: an iterable of index lists (not with ``batch_size``, ``shuffle``,
            ``sampler`` or ``drop_last``).
        num_workers: 0 loads in this process; ``k > 0`` starts ``k`` worker processes,
            each with its own copy of the dataset, and hands them batches round robin;
            batches still come out in sampler order.
        collate_fn: list of samples -> batch (default
            :func:`~gradkit.utils.data.default_collate`).
        pin_memory: accepted for PyTorch programs; gradkit's arrays live in ordinary
            host memory, which is what pinning would give, so it changes nothing on the
            CPU.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        timeout: seconds to wait for a batch from the workers before raising (0: forever).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker, after
            its seeding and before its first batch (with ``num_workers=0`` there is no
            worker to call it in, as in PyTorch).
        multiprocessing_context: a start method (``"fork"``, ``"spawn"``,
            ``"forkserver"``) or a context; default ``fork`` where available.
        generator: the ``seed=`` of :func:`gradkit.random.rng` (None, an int or a
            ``numpy.random.Generator``) for the shuffle order and the workers' base seed.
        prefetch_factor: batches each worker loads ahead (default 2 with workers; only
            with ``num_workers > 0``).
        persistent_workers: keep the workers between epochs (only with workers).

    Example:
        >>> import numpy as np
        >>> from gradkit.utils.data import TensorDataset
        >>> ds = TensorDataset(np.arange(10.0).reshape(5, 2), np.arange(5))
        >>> [yb.tolist() for _, yb in DataLoader(ds, batch_size=2)]
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False):
        owner = "DataLoader"
        self.dataset = dataset
        self.num_workers = check_int(owner, "num_workers", num_workers, minimum=0)
        self.timeout = check_number(owner, "timeout", timeout, 0)
        for name, flag in (("pin_memory", pin_memory), ("drop_last", drop_last),
                           ("persistent_workers", persistent_workers)):
            if not isinstance(flag, bool):
                raise TypeError(f"{owner}: {name} must be a bool, received {flag!r}")
        if self.num_workers == 0:
            for name, given in (("prefetch_factor", prefetch_factor is not None),
                                ("persistent_workers", persistent_workers),
                                ("timeout", self.timeout > 0),
                                ("multiprocessing_context", multiprocessing_context is not None)):
                if given:
                    raise ValueError(f"{owner}: {name} needs worker processes; set "
                                     "num_workers > 0 or leave it unset")
        self.prefetch_factor = 2 if prefetch_factor is None and self.num_workers else \
            prefetch_factor
        if prefetch_factor is not None:
            check_int(owner, "prefetch_factor", prefetch_factor, minimum=1)
        self.pin_memory, self.drop_last = pin_memory, drop_last
        self.persistent_workers, self.worker_init_fn = persistent_workers, worker_init_fn
        self.multiprocessing_context, self.generator = multiprocessing_context, generator
        self._rng = _random.rng(generator, owner=owner) if generator is not None else None
        self.batch_size = None if batch_size is None else \
            check_int(owner, "batch_size", batch_size, minimum=1)

        self._stream = isinstance(dataset, IterableDataset)
        if self._stream:
            for name, given in (("shuffle", bool(shuffle)), ("sampler", sampler is not None),
                                ("batch_sampler", batch_sampler is not None)):
                if given:
                    raise ValueError(f"{owner}: {name} has no meaning for an IterableDataset "
                                     "(it has no indices); shuffle or shard inside its "
                                     "__iter__ instead")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(f"{owner}: batch_sampler is mutually exclusive with "
                                 "batch_size, shuffle, sampler and drop_last; the batch "
                                 "sampler decides the batches")
            self.batch_size, self.drop_last = None, False
        if sampler is not None and shuffle:
            raise ValueError(f"{owner}: sampler and shuffle are mutually exclusive; shuffle "
                             "in the sampler (e.g. RandomSampler) instead")
        if self.batch_size is None and drop_last:
            raise ValueError(f"{owner}: drop_last needs a batch_size; with batch_size=None "
                             "there are no batches to drop")
        if not self._stream:
            if sampler is None:
                sampler = RandomSampler(dataset, generator=self._rng) if shuffle else \
                    SequentialSampler(dataset)
            if batch_sampler is None and self.batch_size is not None:
                batch_sampler = BatchSampler(sampler, self.batch_size, drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self._auto_batch = batch_sampler is not None or (self._stream and
                                                         self.batch_size is not None)
        if collate_fn is None:
            collate_fn = default_collate if self._auto_batch else default_convert
        self.collate_fn = collate_fn
        self._pool = None

    # ---------------------------------------------------------------- iteration
    def _fetch(self):
        if self._stream:
            return _StreamFetch(self.dataset, self.collate_fn, self.batch_size, self.drop_last)
        return _MapFetch(self.dataset, self.collate_fn, self._auto_batch)

    def _base_seed(self):
        g = self._rng if self._rng is not None else _random.generator()
        return int(g.integers(0, 2**62))

    def _new_pool(self, base_seed):
        return WorkerPool(self._fetch(), self.num_workers,
                          context=self.multiprocessing_context,
                          worker_init_fn=self.worker_init_fn, base_seed=base_seed,
                          timeout=self.timeout, owner="DataLoader")

    def __iter__(self):
        payloads = None if self._stream else iter(self.batch_sampler if self._auto_batch
                                                  else self.sampler)
        # drawn with or without workers (as PyTorch does), so the generator's stream, and
        # with it every later epoch's order, does not depend on num_workers
        base_seed = self._base_seed()
        if self.num_workers == 0:
            return _in_process(self._fetch(), payloads)
        depth = self.prefetch_factor * self.num_workers
        if not self.persistent_workers:
            return OrderedPrefetcher(self._new_pool(base_seed), payloads, depth, own_pool=True)
        if self._pool is None or self._pool._closed:
            self._pool = self._new_pool(base_seed)
        return OrderedPrefetcher(self._pool, payloads, depth, own_pool=False)

    def __len__(self):
        if self._stream:
            n = len(self.dataset)  # a TypeError when the stream has no length
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self._auto_batch else self.sampler)

    def set_epoch(self, epoch):
        """Pass ``epoch`` to the sampler's (and batch sampler's) ``set_epoch`` if they have one.

        ``fit`` calls this at the start of every epoch, so a distributed sampler
        reshuffles per epoch as it does under PyTorch's training scripts.
        """
        set_epoch(self.batch_sampler if self.batch_sampler is not None else self.sampler,
                  epoch)

    def close(self):
        """Stop persistent workers now (they also stop when the loader is dropped)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __repr__(self):
        return (f"DataLoader(dataset={type(self.dataset).__name__}, batch_size="
                f"{self.batch_size}, num_workers={self.num_workers})")
