"""Memory: training stays flat; predict holds one batch of activations at a time."""

import gc
import tracemalloc

import numpy as np
import pytest

import gradkit as gk

pytestmark = pytest.mark.fault


def mlp():
    gk.utils.set_random_seed(0)
    model = gk.Sequential([gk.layers.Dense(64, activation="relu", input_shape=(784,)),
                           gk.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_10000_training_steps_keep_memory_flat():
    rng = np.random.default_rng(0)
    x = rng.random((16 * 500, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=len(x))
    model = mlp()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)  # warm-up: state, caches
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    model.fit(x, y, epochs=20, batch_size=16, verbose=0)  # 10,000 steps
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 2 * 1024 * 1024, f"memory grew {grown / 1e6:.2f} MB over 10,000 steps"


def test_predict_holds_one_batch_of_activations():
    model = mlp()
    x = np.zeros((100_000, 784), np.float32)
    batch = 1000
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    out = model.predict(x, batch_size=batch)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    result = out.nbytes
    one_batch = batch * (784 + 64 + 10) * 4  # the batch and its activations
    assert out.shape == (100_000, 10)
    assert peak - result < 3 * one_batch, (
        f"predict peaked at {peak / 1e6:.1f} MB beyond its {result / 1e6:.1f} MB result; "
        f"one batch of activations is {one_batch / 1e6:.1f} MB")
