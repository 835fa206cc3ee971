"""Random tensors from one global generator: ``gradkit.random.seed(s)`` makes runs repeat.

Every random choice gradkit makes (initial weights, dropout masks, shuffling)
draws from :func:`generator`, so ``gradkit.utils.set_random_seed`` makes two
runs bit-identical.
"""

from __future__ import annotations

import numpy as np

from gradkit.tensor import Tensor, _default_float

_rng = np.random.default_rng()


def seed(s):
    """Reseed the global generator."""
    global _rng
    _rng = np.random.default_rng(s)


def generator() -> np.random.Generator:
    """The global NumPy Generator all of gradkit draws from."""
    return _rng


def get_state():
    """The generator's state, for checkpoints (a JSON-able dict)."""
    return _rng.bit_generator.state


def set_state(state):
    """Restore a state from :func:`get_state`."""
    _rng.bit_generator.state = state


def _dt(dtype):
    return np.dtype(dtype) if dtype is not None else _default_float


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniform samples in ``[minval, maxval)`` (TensorFlow's argument names)."""
    g = np.random.default_rng(seed) if seed is not None else _rng
    return Tensor(g.uniform(minval, maxval, size=shape).astype(_dt(dtype)))


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Gaussian samples."""
    g = np.random.default_rng(seed) if seed is not None else _rng
    return Tensor(g.normal(mean, stddev, size=shape).astype(_dt(dtype)))


def randn(*shape, dtype=None):
    """Standard normal samples (PyTorch's name)."""
    return normal(shape, dtype=dtype)


def rand(*shape, dtype=None):
    """Uniform ``[0, 1)`` samples (PyTorch's name)."""
    return uniform(shape, dtype=dtype)
