"""Small synthetic problems for examples, tests and debugging.

Every function takes a ``seed``: None draws from gradkit's global generator
(so :func:`gradkit.random.seed` repeats the data), an int or a
:class:`numpy.random.Generator` gives the call its own stream. Features are
float32; the classification problems return int64 class labels of shape
``(n_samples,)`` (use :func:`gradkit.utils.data.to_categorical` for one-hot targets).
"""

from __future__ import annotations

import numpy as np

from gradkit import random as _random
from gradkit.utils.validation import check_int, check_number

__all__ = ["make_circles", "make_moons", "make_regression", "make_spirals", "make_xor"]


def _finish(x, y, noise: float, rng: np.random.Generator, shuffle: bool = True):
    if noise:
        x = x + rng.normal(0.0, noise, size=x.shape)
    if shuffle:
        order = rng.permutation(len(x))
        x, y = x[order], y[order]
    return x.astype(np.float32), y.astype(np.int64)


def _arc(t):
    """Points ``(cos t, sin t)`` of the unit circle, shape ``(len(t), 2)``."""
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def _two_classes(first, second):
    """Points ``first`` labelled 0 and ``second`` labelled 1, concatenated."""
    x = np.concatenate([first, second])
    y = np.concatenate([np.zeros(len(first)), np.ones(len(second))])
    return x, y


# Args and Returns shared by the two-class curve problems (make_circles, make_moons).
_NOISE_SEED_RETURNS = """noise: Standard deviation of Gaussian noise added to the coordinates.
        seed: None (the global generator), an int or a Generator for the
            noise and the shuffle.

    Returns:
        ``(x, y)``: float32 array ``(n_samples, 2)`` and int64 labels
        ``(n_samples,)``, in shuffled order."""


def _two_class_doc(fn):
    fn.__doc__ = fn.__doc__.format(noise_seed_returns=_NOISE_SEED_RETURNS)
    return fn


def make_xor(n_samples: int = 4, noise: float = 0.0, seed=None):
    """The XOR problem: 2-d points labelled by the exclusive-or of their coordinates.

    Point ``i`` is the truth-table corner ``i % 4`` ((0,0), (0,1), (1,0),
    (1,1), labels 0, 1, 1, 0) plus Gaussian noise, so ``n_samples=4`` with no
    noise gives exactly the four truth-table rows in that order.

    Args:
        n_samples: Number of points (>= 1).
        noise: Standard deviation of Gaussian noise added to the coordinates.
        seed: None (the global generator), an int or a Generator for the noise.

    Returns:
        ``(x, y)``: float32 array ``(n_samples, 2)`` and int64 labels ``(n_samples,)``.

    Example:
        >>> x, y = make_xor()
        >>> x.tolist(), y.tolist()
        ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    n = check_int("make_xor", "n_samples", n_samples, minimum=1)
    noise = check_number("make_xor", "noise", noise, minimum=0.0)
    rng = _random.rng(seed, owner="make_xor")
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    index = np.arange(n) % 4
    return _finish(corners[index], corners[index, 0] != corners[index, 1], noise, rng, False)


@_two_class_doc
def make_circles(n_samples: int = 100, noise: float = 0.0, factor: float = 0.5, seed=None):
    """Two concentric circles: label 0 on the unit circle, label 1 on radius ``factor``.

    Args:
        n_samples: Total number of points (>= 1); the outer circle gets the
            extra point when it is odd.
        factor: Radius of the inner circle, in ``[0, 1)``.
        {noise_seed_returns}

    Example:
        >>> x, y = make_circles(200, noise=0.05, seed=0)
        >>> x.shape, int(y.sum())
        ((200, 2), 100)
    """
    n = check_int("make_circles", "n_samples", n_samples, minimum=1)
    noise = check_number("make_circles", "noise", noise, minimum=0.0)
    factor = check_number("make_circles", "factor", factor, 0.0, 1.0, max_open=True)
    rng = _random.rng(seed, owner="make_circles")
    n_inner = n // 2
    outer = _arc(np.linspace(0.0, 2 * np.pi, n - n_inner, endpoint=False))
    inner = factor * _arc(np.linspace(0.0, 2 * np.pi, n_inner, endpoint=False))
    return _finish(*_two_classes(outer, inner), noise, rng)


@_two_class_doc
def make_moons(n_samples: int = 100, noise: float = 0.0, seed=None):
    """Two interleaving half circles ("moons").

    Label 0 is the upper half of the unit circle, label 1 the lower half
    shifted to ``(1, 0.5)``. Neither class is linearly separable from the other.

    Args:
        n_samples: Total number of points (>= 1); the first moon gets the
            extra point when it is odd.
        {noise_seed_returns}

    Example:
        >>> x, y = make_moons(100, noise=0.1, seed=0)
        >>> x.dtype, y.dtype
        (dtype('float32'), dtype('int64'))
    """
    n = check_int("make_moons", "n_samples", n_samples, minimum=1)
    noise = check_number("make_moons", "noise", noise, minimum=0.0)
    rng = _random.rng(seed, owner="make_moons")
    n_lower = n // 2
    upper = _arc(np.linspace(0.0, np.pi, n - n_lower))
    lower = np.array([1.0, 0.5]) - _arc(np.linspace(0.0, np.pi, n_lower))
    return _finish(*_two_classes(upper, lower), noise, rng)


def make_spirals(n_samples: int = 100, n_classes: int = 2, noise: float = 0.0, seed=None):
    """Interleaved spiral arms, one per class, winding out from the origin.

    Class ``k``'s arm starts at angle ``2*pi*k/n_classes`` and makes about
    one and a half turns while the radius grows from 0.1 to 1.

    Args:
        n_samples: Total number of points (>= 1), split as evenly as possible
            between the classes (the first ``n_samples % n_classes`` classes
            get one more; with fewer points than classes, some get none).
        n_classes: Number of arms/classes (>= 2).
        noise: Standard deviation of Gaussian noise added to the coordinates.
        seed: None (the global generator), an int or a Generator for the
            noise and the shuffle.

    Returns:
        ``(x, y)``: float32 array ``(n_samples, 2)`` and int64 labels in
        ``0..n_classes-1`` of shape ``(n_samples,)``, in shuffled order.

    Example:
        >>> x, y = make_spirals(300, n_classes=3, noise=0.02, seed=0)
        >>> np.bincount(y).tolist()
        [100, 100, 100]
    """
    k = check_int("make_spirals", "n_classes", n_classes, minimum=2)
    n = check_int("make_spirals", "n_samples", n_samples, minimum=1)
    noise = check_number("make_spirals", "noise", noise, minimum=0.0)
    rng = _random.rng(seed, owner="make_spirals")
    counts = [n // k + (c < n % k) for c in range(k)]
    xs, ys = [], []
    for c, m in enumerate(counts):
        r = np.linspace(0.1, 1.0, m)
        theta = 2 * np.pi * c / k + 3 * np.pi * r
        xs.append(np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1))
        ys.append(np.full(m, c))
    return _finish(np.concatenate(xs), np.concatenate(ys), noise, rng)


def make_regression(
    n_samples: int = 100, n_features: int = 1, noise: float = 0.0, seed=None, *, n_targets: int = 1
):
    """A linear regression problem ``y = x @ w_real + b_real (+ noise)``.

    Features and the true parameters are drawn from a standard normal
    distribution, so a linear model can recover ``w_real`` and ``b_real``
    exactly when ``noise`` is 0.

    Args:
        n_samples: Number of rows (>= 1).
        n_features: Number of input features (>= 1).
        noise: Standard deviation of Gaussian noise added to ``y``.
        seed: None (the global generator), an int or a Generator.
        n_targets: Number of outputs (>= 1).

    Returns:
        ``(x, y, w_real, b_real)``, all float32: ``x`` of shape
        ``(n_samples, n_features)``, ``y`` of shape ``(n_samples, n_targets)``,
        ``w_real`` of shape ``(n_features, n_targets)`` and ``b_real`` of shape
        ``(n_targets,)``.

    Example:
        >>> x, y, w, b = make_regression(50, n_features=3, seed=0)
        >>> bool(np.allclose(x @ w + b, y, atol=1e-5))
        True
    """
    n = check_int("make_regression", "n_samples", n_samples, minimum=1)
    f = check_int("make_regression", "n_features", n_features, minimum=1)
    t = check_int("make_regression", "n_targets", n_targets, minimum=1)
    noise = check_number("make_regression", "noise", noise, minimum=0.0)
    rng = _random.rng(seed, owner="make_regression")
    w_real = rng.standard_normal((f, t)).astype(np.float32)
    b_real = rng.standard_normal(t).astype(np.float32)
    x = rng.standard_normal((n, f)).astype(np.float32)
    y = x.astype(np.float64) @ w_real + b_real
    if noise:
        y = y + rng.normal(0.0, noise, size=y.shape)
    return x, y.astype(np.float32), w_real, b_real
