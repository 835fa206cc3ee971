"""A fixed float64 problem with an analytic gradient, for comparing optimizers.

The objective couples a least-squares fit (``W``, ``b``) with a Rosenbrock-like
valley (``z``), so first/second moments differ across coordinates and steps::

    f = 1/(2n) * ||X W + b - Y||^2 + (1 - z0)^2 + 10 * (z1 - z0^2)^2

``INIT`` holds the starting ``(W, b, z)``; :func:`grads` is NumPy only, so every
library compared sees the same numbers.
"""

from __future__ import annotations

import numpy as np

__all__ = ["INIT", "X", "Y", "grads"]

_rng = np.random.default_rng(1234)
X = _rng.standard_normal((16, 5))
Y = _rng.standard_normal((16, 3))
INIT = [_rng.standard_normal((5, 3)) * 0.5, np.full(3, 0.1), np.array([-1.2, 1.0])]


def grads(W, b, z):  # noqa: N803
    """Analytic gradient of the objective at ``(W, b, z)``."""
    n = X.shape[0]
    r = X @ W + b - Y
    gz0 = -2.0 * (1.0 - z[0]) - 40.0 * z[0] * (z[1] - z[0] ** 2)
    gz1 = 20.0 * (z[1] - z[0] ** 2)
    return [X.T @ r / n, r.sum(axis=0) / n, np.array([gz0, gz1])]
