"""Shared helpers for the layer tests: seeding, PyTorch access, gradcheck of layers.

The helpers are fixtures (``to_np``, ``sgd_step``, ``layer_gradcheck``) so no test
module imports ``conftest`` by name.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit.testing import gradcheck


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same global random state."""
    gradkit.random.seed(0)
    yield


@pytest.fixture
def torch():
    """PyTorch (CPU), float64 by default in the comparisons that use it."""
    t = pytest.importorskip("torch")
    t.set_num_threads(1)
    t.manual_seed(0)
    return t


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def _to_np(t):
    """A torch tensor or gradkit Tensor as a NumPy array."""
    if hasattr(t, "detach"):
        return t.detach().cpu().numpy()
    return np.asarray(t)


def _sgd_step(layer, lr):
    """One PyTorch-style manual update of every trainable weight."""
    for w in layer.trainable_weights:
        w._data -= lr * w.grad._data
        w._version += 1
        w.grad = None


def _layer_gradcheck(layer, x, weight_names, call=None, **kw):
    """gradcheck of ``layer(x)`` with respect to ``x`` and the named weights.

    The weights are swapped for gradcheck's float64 leaves for the duration
    (the layer's attributes are what ``call`` reads), then restored.
    """
    call = call or (lambda lay, inp: lay(inp))
    originals = {n: getattr(layer, n) for n in weight_names}

    def fn(inp, *ws):
        for n, w in zip(weight_names, ws):
            object.__setattr__(layer, n, w)
        try:
            return call(layer, inp)
        finally:
            for n, w in originals.items():
                object.__setattr__(layer, n, w)

    weights = [originals[n].numpy().astype(np.float64) for n in weight_names]
    return gradcheck(fn, np.asarray(x, dtype=np.float64), *weights, **kw)


@pytest.fixture
def to_np():
    return _to_np


@pytest.fixture
def sgd_step():
    return _sgd_step


@pytest.fixture
def layer_gradcheck():
    return _layer_gradcheck
