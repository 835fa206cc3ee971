import numpy as np
import pytest

import gradkit as gk


@pytest.fixture
def blobs():
    """A small 3-class problem a tiny MLP learns in a few epochs."""
    rng = np.random.default_rng(0)
    centers = np.array([[2.0, 0.0], [-2.0, 1.0], [0.0, -2.5]])
    y = rng.integers(0, 3, size=600)
    x = (centers[y] + rng.normal(scale=0.6, size=(600, 2))).astype("float32")
    return x, y


@pytest.fixture(autouse=True)
def _seed():
    gk.utils.set_random_seed(1234)
    yield
