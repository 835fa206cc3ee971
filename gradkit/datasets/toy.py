"""Small synthetic problems for examples, tests and debugging.

Every function takes a ``seed`` (None, an int, or a
:class:`numpy.random.Generator`) and returns float32 features; the
classification problems return int64 class labels of shape ``(n_samples,)``
(use :func:`gradkit.utils.data.to_categorical` for one-hot targets).
"""

from __future__ import annotations

import math
import operator

import numpy as np

__all__ = ["make_circles", "make_moons", "make_regression", "make_spirals", "make_xor"]


def _rng(func: str, seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        if seed is not None and seed < 0:
            raise ValueError(f"{func}: seed must be a non-negative integer, got {seed}")
        return np.random.default_rng(seed)
    raise TypeError(
        f"{func}: seed must be None, an int or a numpy.random.Generator, got {type(seed).__name__}"
    )


def _int_arg(func: str, name: str, value, minimum: int) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        result = operator.index(value)
    except TypeError:
        raise TypeError(f"{func}: {name} must be an integer >= {minimum}, got {value!r}") from None
    if result < minimum:
        raise ValueError(f"{func}: {name} must be >= {minimum}, got {result}")
    return result


def _float_arg(func: str, name: str, value, low: float = 0.0, high: float = math.inf,
               high_inclusive: bool = True) -> float:  # fmt: skip
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{func}: {name} must be a number, got {value!r}") from None
    too_high = result > high if high_inclusive else result >= high
    if not math.isfinite(result) or result < low or too_high:
        bracket = "]" if high_inclusive else ")"
        raise ValueError(f"{func}: {name} must be in [{low:g}, {high:g}{bracket}, got {value!r}")
    return result


def _finish(x, y, noise: float, rng: np.random.Generator, shuffle: bool = True):
    if noise:
        x = x + rng.normal(0.0, noise, size=x.shape)
    if shuffle:
        order = rng.permutation(len(x))
        x, y = x[order], y[order]
    return x.astype(np.float32), y.astype(np.int64)


def make_xor(n_samples: int = 4, noise: float = 0.0, seed=None):
    """The XOR problem: 2-d points labelled by the exclusive-or of their coordinates.

    Point ``i`` is the truth-table corner ``i % 4`` ((0,0), (0,1), (1,0),
    (1,1), labels 0, 1, 1, 0) plus Gaussian noise, so ``n_samples=4`` with no
    noise gives exactly the four truth-table rows in that order.

    Args:
        n_samples: Number of points (>= 1).
        noise: Standard deviation of Gaussian noise added to the coordinates.
        seed: Seed or Generator for the noise.

    Returns:
        ``(x, y)``: float32 array ``(n_samples, 2)`` and int64 labels ``(n_samples,)``.

    Example:
        >>> x, y = make_xor()
        >>> x.tolist(), y.tolist()
        ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    n = _int_arg("make_xor", "n_samples", n_samples, 1)
    noise = _float_arg("make_xor", "noise", noise)
    rng = _rng("make_xor", seed)
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    index = np.arange(n) % 4
    return _finish(corners[index], corners[index, 0] != corners[index, 1], noise, rng, False)


def make_circles(n_samples: int = 100, noise: float = 0.0, factor: float = 0.5, seed=None):
    """Two concentric circles: label 0 on the unit circle, label 1 on radius ``factor``.

    Args:
        n_samples: Total number of points (>= 1); the outer circle gets the
            extra point when it is odd.
        noise: Standard deviation of Gaussian noise added to the coordinates.
        factor: Radius of the inner circle, in ``[0, 1)``.
        seed: Seed or Generator for the noise and the shuffle.

    Returns:
        ``(x, y)``: float32 array ``(n_samples, 2)`` and int64 labels
        ``(n_samples,)``, in shuffled order.

    Example:
        >>> x, y = make_circles(200, noise=0.05, seed=0)
        >>> x.shape, int(y.sum())
        ((200, 2), 100)
    """
    n = _int_arg("make_circles", "n_samples", n_samples, 1)
    noise = _float_arg("make_circles", "noise", noise)
    factor = _float_arg("make_circles", "factor", factor, 0.0, 1.0, high_inclusive=False)
    rng = _rng("make_circles", seed)
    n_inner = n // 2
    n_outer = n - n_inner
    t_outer = np.linspace(0.0, 2 * np.pi, n_outer, endpoint=False)
    t_inner = np.linspace(0.0, 2 * np.pi, n_inner, endpoint=False)
    x = np.concatenate([
        np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1),
        factor * np.stack([np.cos(t_inner), np.sin(t_inner)], axis=1),
    ])  # fmt: skip
    y = np.concatenate([np.zeros(n_outer), np.ones(n_inner)])
    return _finish(x, y, noise, rng)


def make_moons(n_samples: int = 100, noise: float = 0.0, seed=None):
    """Two interleaving half circles ("moons").

    Label 0 is the upper half of the unit circle, label 1 the lower half
    shifted to ``(1, 0.5)``. Neither class is linearly separable from the other.

    Args:
        n_samples: Total number of points (>= 1); the first moon gets the
            extra point when it is odd.
        noise: Standard deviation of Gaussian noise added to the coordinates.
        seed: Seed or Generator for the noise and the shuffle.

    Returns:
        ``(x, y)``: float32 array ``(n_samples, 2)`` and int64 labels
        ``(n_samples,)``, in shuffled order.

    Example:
        >>> x, y = make_moons(100, noise=0.1, seed=0)
        >>> x.dtype, y.dtype
        (dtype('float32'), dtype('int64'))
    """
    n = _int_arg("make_moons", "n_samples", n_samples, 1)
    noise = _float_arg("make_moons", "noise", noise)
    rng = _rng("make_moons", seed)
    n_lower = n // 2
    n_upper = n - n_lower
    t_upper = np.linspace(0.0, np.pi, n_upper)
    t_lower = np.linspace(0.0, np.pi, n_lower)
    x = np.concatenate([
        np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1),
        np.stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1),
    ])  # fmt: skip
    y = np.concatenate([np.zeros(n_upper), np.ones(n_lower)])
    return _finish(x, y, noise, rng)


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
        seed: Seed or Generator for the noise and the shuffle.

    Returns:
        ``(x, y)``: float32 array ``(n_samples, 2)`` and int64 labels in
        ``0..n_classes-1`` of shape ``(n_samples,)``, in shuffled order.

    Example:
        >>> x, y = make_spirals(300, n_classes=3, noise=0.02, seed=0)
        >>> np.bincount(y).tolist()
        [100, 100, 100]
    """
    k = _int_arg("make_spirals", "n_classes", n_classes, 2)
    n = _int_arg("make_spirals", "n_samples", n_samples, 1)
    noise = _float_arg("make_spirals", "noise", noise)
    rng = _rng("make_spirals", seed)
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
        seed: Seed or Generator.
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
    n = _int_arg("make_regression", "n_samples", n_samples, 1)
    f = _int_arg("make_regression", "n_features", n_features, 1)
    t = _int_arg("make_regression", "n_targets", n_targets, 1)
    noise = _float_arg("make_regression", "noise", noise)
    rng = _rng("make_regression", seed)
    w_real = rng.standard_normal((f, t)).astype(np.float32)
    b_real = rng.standard_normal(t).astype(np.float32)
    x = rng.standard_normal((n, f)).astype(np.float32)
    y = x.astype(np.float64) @ w_real + b_real
    if noise:
        y = y + rng.normal(0.0, noise, size=y.shape)
    return x, y.astype(np.float32), w_real, b_real
