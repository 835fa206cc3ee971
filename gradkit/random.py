"""Random tensors from one global generator: ``gradkit.random.seed(s)`` makes runs repeat.

Every random choice gradkit makes (initial weights, dropout masks, shuffling in
``fit``, ``batch_iterator``, ``train_test_split``, the toy datasets) goes through
:func:`rng`, so after ``gradkit.random.seed(s)`` (or
``gradkit.utils.set_random_seed(s)``) two runs are bit-identical. A function that
takes ``seed=`` passes it to :func:`rng`: None draws from the global generator,
an int or a Generator gives that call a stream of its own.
"""

from __future__ import annotations

import contextlib

import numpy as np

from gradkit.utils.validation import check_int

__all__ = ["generator", "get_state", "normal", "rand", "randn", "rng", "scoped", "seed",
           "set_state", "uniform"]

_global = np.random.default_rng()


def seed(s: int) -> None:
    """Reseed the global generator.

    Args:
        s: a non-negative integer.

    Raises:
        TypeError: ``s`` is not an integer. ValueError: it is negative.

    Example:
        >>> seed(0); a = uniform((2,)).numpy(); seed(0)
        >>> bool((uniform((2,)).numpy() == a).all())
        True
    """
    global _global
    _global = np.random.default_rng(check_int("gradkit.random.seed", "seed", s, minimum=0))


def generator() -> np.random.Generator:
    """The global NumPy Generator all of gradkit draws from (replaced by :func:`seed`)."""
    return _global


def rng(seed=None, *, owner: str = "gradkit.random.rng") -> np.random.Generator:
    """The generator a ``seed=`` argument stands for.

    Args:
        seed: None for the global generator (so :func:`seed` governs the draw),
            a non-negative int for a new Generator seeded with it, or a
            :class:`numpy.random.Generator`, returned as is (the caller's stream).
        owner: the function named in error messages (``"train_test_split"``).

    Returns:
        A :class:`numpy.random.Generator`.

    Raises:
        TypeError: ``seed`` is none of those (a float, a bool, a legacy
            ``RandomState``...). ValueError: it is a negative int.

    Example:
        >>> rng(0).permutation(4).tolist() == rng(0).permutation(4).tolist()
        True
        >>> rng() is generator()
        True
    """
    if seed is None:
        return _global
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{owner}: seed must be None, a non-negative int or a "
                        f"numpy.random.Generator, received {seed!r} "
                        f"({type(seed).__name__})")
    return np.random.default_rng(check_int(owner, "seed", seed, minimum=0))


@contextlib.contextmanager
def scoped(seed=None):
    """Make :func:`generator` (the global generator) ``rng(seed)`` inside the block, then put
    the previous one back: a library that takes a ``random_state`` uses this instead of
    reseeding its caller's generator. ``None`` changes nothing.

    Example:
        >>> with scoped(0):
        ...     a = uniform((2,)).numpy()
        >>> with scoped(0):
        ...     bool((uniform((2,)).numpy() == a).all())
        True
    """
    global _global
    if seed is None:
        yield _global
        return
    previous, _global = _global, rng(seed, owner="gradkit.random.scoped")
    try:
        yield _global
    finally:
        _global = previous


def get_state():
    """The generator's state, for checkpoints (a JSON-able dict)."""
    return _global.bit_generator.state


def set_state(state):
    """Restore a state from :func:`get_state`."""
    _global.bit_generator.state = state


def _tensor(array, dtype):
    """``array`` as a Tensor of ``dtype`` (the default float when None)."""
    from gradkit.tensor import Tensor, _default_float  # tensor.py imports utils, which imports us

    return Tensor(array.astype(np.dtype(dtype) if dtype is not None else _default_float))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniform samples in ``[minval, maxval)`` (TensorFlow's argument names)."""
    from gradkit import devices  # the default device's generator, seeded from ours

    g = devices.rng(seed, owner="gradkit.random.uniform")
    return _tensor(g.uniform(minval, maxval, size=shape), dtype)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Gaussian samples."""
    from gradkit import devices

    g = devices.rng(seed, owner="gradkit.random.normal")
    return _tensor(g.normal(mean, stddev, size=shape), dtype)


def randn(*shape, dtype=None):
    """Standard normal samples (PyTorch's name)."""
    return normal(shape, dtype=dtype)


def rand(*shape, dtype=None):
    """Uniform ``[0, 1)`` samples (PyTorch's name)."""
    return uniform(shape, dtype=dtype)
