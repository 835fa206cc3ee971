"""Input specs: how the op table (and the op-specific tests) describe test inputs.

A spec is ``(shape, kind)`` or ``(shape, kind, extra)``; :func:`make_array` turns it
into a float64 array (int64 or bool for the last three kinds):

* ``any``: standard normal (``extra``: a scale); ``pos``: uniform in [0.5, 2];
  ``nz``: away from 0 (|x| in [0.3, 1.5]); ``prob``: uniform in [0.05, 0.95];
* ``grid_a`` / ``grid_b``: k/2 + 0.1 and k/2 + 0.35: an ``a`` and a ``b`` never tie
  (maximum/minimum) and stay 0.1 away from 0 and from +-0.5 (clip bounds);
* ``distinct``: all values at least 0.15 apart (max/min reductions and max pooling
  without ties);
* ``kinks``: uniform in (-8, 8), none within 0.05 of the kinks of the relu variants
  (0, 0.5, 1, 4, 6);
* ``labels`` (extra = number of classes): int64 class indices;
* ``probs``: positive rows summing to 1 along the last axis;
* ``mask``: booleans, at least one True.

A callable ``rng -> array`` is accepted as a spec too.
"""

from __future__ import annotations

import numpy as np

KINDS = ("any", "pos", "nz", "prob", "grid_a", "grid_b", "distinct", "kinks", "labels", "probs",
         "mask")
RELU_KINKS = (0.0, 0.5, 1.0, 4.0, 6.0)


def make_array(spec, rng):
    """One input array from a spec (see the module docstring) or a callable ``rng -> array``."""
    if callable(spec):
        return np.asarray(spec(rng))
    shape, kind, *extra = spec
    size = int(np.prod(shape, dtype=np.int64))
    if kind == "any":
        return rng.standard_normal(shape) * (extra[0] if extra else 1.0)
    if kind == "pos":
        return rng.uniform(0.5, 2.0, shape)
    if kind == "nz":
        return rng.uniform(0.3, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    if kind == "prob":
        return rng.uniform(0.05, 0.95, shape)
    if kind in ("grid_a", "grid_b"):
        return rng.integers(-3, 3, shape) * 0.5 + (0.1 if kind == "grid_a" else 0.35)
    if kind == "distinct":
        vals = rng.permutation(size) * 0.25 - 0.125 * size + rng.uniform(-0.05, 0.05, size)
        return vals.reshape(shape)
    if kind == "kinks":
        x = np.asarray(rng.uniform(-8.0, 8.0, shape))
        for kink in RELU_KINKS:  # 0.5 apart at least: a nudge never lands on another kink
            x[np.abs(x - kink) < 0.05] += 0.1
        return x
    if kind == "labels":
        return rng.integers(0, extra[0], shape).astype(np.int64)
    if kind == "probs":
        e = np.exp(rng.standard_normal(shape))
        return e / e.sum(axis=-1, keepdims=True)
    if kind == "mask":
        m = rng.random(shape) < 0.5
        m.reshape(-1)[0] = True
        return m
    raise ValueError(f"unknown input kind {kind!r}; expected one of {KINDS}")


def make_inputs(specs, seed=0):
    """Arrays for a list of specs, from one seeded generator (0-d: arrays, not scalars)."""
    rng = np.random.default_rng(seed)
    return [np.asarray(make_array(s, rng)) for s in specs]


def into_domain(a, kind):
    """Move arbitrary finite values (Hypothesis draws) into a kind's domain, keeping zeros
    and ties where the domain allows them: the forward pass must match NumPy there too."""
    a = np.asarray(a, dtype=np.float64)
    if kind == "pos":
        return np.asarray(np.abs(a) + 0.1)
    if kind == "nz":
        return np.asarray(np.where(np.abs(a) < 0.1, 0.5, a))
    if kind == "prob":
        return np.asarray(np.clip(np.abs(a) / 4.0, 0.0, 1.0))
    return a
