"""Two threads training two models at once get exactly what serial runs get.

Grad mode and the stack of open tapes are per thread (``gradkit.autograd.function``):
a thread inside ``predict`` (``no_grad``) never switches recording off for another
thread that is training.
"""

import threading

import numpy as np
import pytest

import gradkit as gk

pytestmark = pytest.mark.fault


def make(seed):
    gk.utils.set_random_seed(seed)
    model = gk.Sequential([gk.layers.Dense(16, activation="tanh", input_shape=(6,)),
                           gk.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def data(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(256, 6)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0)


def train(model, seed, predicts=0):
    x, y = data(seed)
    model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    for _ in range(predicts):
        model.predict(x[:8], verbose=0)
    return [w.copy() for w in model.get_weights()]


def test_two_threads_training_at_once_equal_the_serial_runs():
    serial = [train(make(s), s) for s in (1, 2)]
    models = [make(s) for s in (1, 2)]
    results = [None, None]
    start = threading.Barrier(2)

    def run(i):
        start.wait()
        results[i] = train(models[i], i + 1)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, serial):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)


def test_predict_in_one_thread_never_stops_another_from_recording():
    model = make(3)
    x, _ = data(3)
    stop = threading.Event()

    def predict_forever():
        while not stop.is_set():
            model.predict(x[:4], verbose=0)

    other = threading.Thread(target=predict_forever)
    other.start()
    try:
        for _ in range(200):
            w = gk.Tensor(np.ones(3), requires_grad=True)
            assert (w * 2.0).requires_grad
    finally:
        stop.set()
        other.join()
    assert gk.is_grad_enabled()
