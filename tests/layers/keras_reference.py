"""Access to real Keras 3 (torch backend) as a reference for layer tests.

Keras reads ``KERAS_BACKEND`` once, at its first import; tests that compare with
it get the module from :func:`keras3` and are skipped where Keras is missing.
"""

from __future__ import annotations

import os

import numpy as np
import pytest


def keras3():
    """The real ``keras`` module on the torch backend (skips the test without it)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"Keras runs on {keras.backend.backend()}, these references use torch")
    return keras


def weights_of(layer):
    """A Keras layer's weights as NumPy arrays, in its order."""
    import keras

    return [np.asarray(keras.ops.convert_to_numpy(w)) for w in layer.weights]


def numpy_of(x):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x))
