"""``DistributedSampler``: each rank's share of a dataset's indices, per epoch."""

from __future__ import annotations

import math

import numpy as np

from gradkit import random
from gradkit.distributed import world as W
from gradkit.utils.validation import check_int


class DistributedSampler:
    """Indices ``rank, rank + N, rank + 2N, ...`` of a (shuffled) index list: the ranks
    see disjoint shards of equal length, so they run the same number of steps.

    Args:
        dataset: anything with ``len()``.
        num_replicas, rank: default to the world's size and this process's rank.
        shuffle: a new permutation each epoch, the same on every rank (seeded with
            ``seed + epoch``; call :meth:`set_epoch` at each epoch's start —
            ``DataLoader`` does when it iterates a sampler that has it).
        seed: the permutation's seed, identical on every rank.
        drop_last: drop the tail that does not divide evenly; otherwise the first
            indices are repeated to pad it, as PyTorch does.

    Example::

        sampler = DistributedSampler(train_set, shuffle=True, seed=0)
        loader = DataLoader(train_set, batch_size=64, sampler=sampler)
        for epoch in range(3):
            sampler.set_epoch(epoch)
            for x, y in loader: ...
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        owner = "DistributedSampler"
        self.num_replicas = W.world_size() if num_replicas is None else \
            check_int(owner, "num_replicas", num_replicas, minimum=1)
        self.rank = W.rank() if rank is None else check_int(owner, "rank", rank, minimum=0)
        if self.rank >= self.num_replicas:
            raise ValueError(f"{owner}: rank {self.rank} is not below num_replicas "
                             f"{self.num_replicas}")
        self.dataset = dataset
        self.shuffle = bool(shuffle)
        self.seed = check_int(owner, "seed", seed, minimum=0)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        """Use the permutation of ``epoch`` next (identical on every rank)."""
        self.epoch = check_int("DistributedSampler.set_epoch", "epoch", epoch, minimum=0)

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = random.rng(self.seed + self.epoch, owner="DistributedSampler").permutation(n)
        else:
            order = np.arange(n)
        if self.drop_last:
            order = order[:self.total_size]
        elif self.total_size > n:
            reps = math.ceil((self.total_size - n) / max(n, 1))
            order = np.concatenate([order] + [order] * reps)[:self.total_size]
        return iter(order[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples
