"""Utilities: seeding, data preparation and the progress bar."""

from __future__ import annotations

import random as _pyrandom

import numpy as _np

from gradkit.utils.data import (
    Standardizer,
    batch_iterator,
    one_hot,
    shuffle,
    standardize,
    to_categorical,
    train_test_split,
)
from gradkit.utils.plot_model import model_to_dot, plot_model
from gradkit.utils.progbar import Progbar
from gradkit.utils.py_dataset import PyDataset, Sequence
from gradkit.utils.sequence import pad_sequences
from gradkit.utils.validation import check_int


def set_random_seed(seed: int):
    """Seed every source of randomness gradkit uses, so two runs are bit-identical.

    gradkit draws everything (weights, dropout, shuffling in ``fit``,
    :func:`batch_iterator`, :func:`train_test_split`, the toy datasets) from
    one generator, :func:`gradkit.random.generator`; this reseeds it. Like
    Keras's function of the same name it also seeds NumPy's legacy global
    state and Python's ``random``, for the user's own code.

    Args:
        seed: a non-negative integer.

    Raises:
        TypeError: ``seed`` is not an integer. ValueError: it is negative.

    Example:
        >>> set_random_seed(0); a = shuffle(list(range(5))).tolist()
        >>> set_random_seed(0); shuffle(list(range(5))).tolist() == a
        True
    """
    from gradkit import random

    seed = check_int("set_random_seed", "seed", seed, minimum=0)
    random.seed(seed)
    _np.random.seed(seed % 2**32)
    _pyrandom.seed(seed)


__all__ = ["Progbar", "Standardizer", "batch_iterator", "one_hot", "set_random_seed", "shuffle",
           "standardize", "to_categorical", "train_test_split"]
__all__ += ["model_to_dot", "plot_model"]
__all__ += ["PyDataset", "Sequence", "pad_sequences"]
