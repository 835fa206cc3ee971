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


def set_random_seed(seed: int):
    """Seed every source of randomness gradkit uses, so two runs are bit-identical.

    That is gradkit's global generator (weights, dropout, shuffling in ``fit``),
    NumPy's legacy global state and Python's ``random``.
    """
    from gradkit import random

    if not isinstance(seed, (int, _np.integer)) or seed < 0:
        raise ValueError(f"set_random_seed: seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    _np.random.seed(int(seed) % 2**32)
    _pyrandom.seed(int(seed))


__all__ = ["Progbar", "Standardizer", "batch_iterator", "one_hot", "set_random_seed", "shuffle",
           "standardize", "to_categorical", "train_test_split"]
__all__ += ["model_to_dot", "plot_model"]
