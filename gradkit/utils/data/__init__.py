"""Data input: PyTorch's ``torch.utils.data`` names, and array preparation helpers.

* datasets (:mod:`.dataset`): ``Dataset``, ``IterableDataset``, ``TensorDataset``,
  ``Subset``, ``ConcatDataset``, ``ChainDataset``, ``random_split``;
* samplers (:mod:`.sampler`): ``SequentialSampler``, ``RandomSampler``,
  ``SubsetRandomSampler``, ``WeightedRandomSampler``, ``BatchSampler``;
* ``DataLoader`` (:mod:`.dataloader`), collation (:mod:`.collate`) and the worker
  processes it shares with ``gradkit.utils.PyDataset`` (:mod:`.worker`);
* array helpers (:mod:`.preparation`): ``to_categorical``, ``Standardizer``,
  ``train_test_split``, ``shuffle``, ``batch_iterator``...

Example:
    >>> import numpy as np
    >>> from gradkit.utils.data import DataLoader, TensorDataset
    >>> loader = DataLoader(TensorDataset(np.zeros((6, 2)), np.arange(6)), batch_size=4)
    >>> [xb.shape for xb, _ in loader]
    [(4, 2), (2, 2)]
"""

from .collate import default_collate, default_convert, numpy_collate
from .dataloader import DataLoader
from .dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from .preparation import (
    Standardizer,
    batch_iterator,
    one_hot,
    shuffle,
    standardize,
    to_categorical,
    train_test_split,
)
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from .worker import WorkerInfo, get_worker_info

__all__ = [
    "BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset",
    "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "Standardizer",
    "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "WorkerInfo",
    "batch_iterator", "default_collate", "default_convert", "get_worker_info", "numpy_collate",
    "one_hot", "random_split", "shuffle", "standardize", "to_categorical", "train_test_split",
]


def __getattr__(name):
    """``DistributedSampler`` where PyTorch keeps it (``torch.utils.data``); it lives in
    :mod:`gradkit.distributed`, loaded on first use."""
    if name == "DistributedSampler":
        from gradkit.distributed.sampler import DistributedSampler

        return DistributedSampler
    raise AttributeError(f"module 'gradkit.utils.data' has no attribute {name!r}")
