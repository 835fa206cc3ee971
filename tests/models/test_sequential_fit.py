"""Sequential models: build, summary, compile/fit/evaluate/predict and the batch methods."""

import io
import math

import numpy as np
import pytest

import gradkit as gk
from gradkit import callbacks, layers
from gradkit.models import Sequential


def mlp(n_in=2, n_out=3):
    return Sequential([layers.Dense(16, activation="relu", input_shape=(n_in,)),
                       layers.Dense(n_out, activation="softmax")])


def test_build_summary_and_counts():
    model = mlp()
    assert model.built and model.count_params() == 2 * 16 + 16 + 16 * 3 + 3
    out = io.StringIO()
    model.summary(print_fn=lambda s: out.write(s))
    text = out.getvalue()
    assert "dense" in text and "(None, 16)" in text and "Total params: 99" in text
    assert "Trainable params: 99" in text and "Non-trainable params: 0" in text


def test_lazy_build_on_first_data():
    model = Sequential([layers.Dense(4), layers.Dense(1)])
    assert not model.built
    with pytest.raises(ValueError, match="not built"):
        model.summary()
    y = model.predict(np.ones((3, 5)))
    assert y.shape == (3, 1) and model.built


def test_fit_learns_and_returns_history(blobs):
    x, y = blobs
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=8, batch_size=32, validation_split=0.2, verbose=0)
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(hist.history["loss"]) == 8 and hist.epoch == list(range(8))
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert hist.history["val_accuracy"][-1] > 0.9
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.9 and math.isfinite(loss)
    assert model.evaluate(x, y, verbose=0, return_dict=True).keys() == {"loss", "accuracy"}


def test_predict_is_batched_and_keeps_no_graph(blobs):
    x, _ = blobs
    model = mlp()
    p = model.predict(x, batch_size=64)
    assert isinstance(p, np.ndarray) and p.shape == (600, 3) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    direct = model(x).numpy()
    np.testing.assert_allclose(p, direct, rtol=1e-5, atol=1e-6)
    assert all(w.grad is None for w in model.weights)


def test_batch_methods(blobs):
    x, y = blobs
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    first = model.train_on_batch(x[:64], y[:64])
    assert isinstance(first, list) and len(first) == 2
    for _ in range(30):
        last = model.train_on_batch(x[:64], y[:64])
    assert last[0] < first[0]
    assert isinstance(model.test_on_batch(x[:64], y[:64], return_dict=True), dict)
    assert model.predict_on_batch(x[:5]).shape == (5, 3)


def test_validation_data_and_iterable_batches(blobs):
    x, y = blobs
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    batches = [(x[i:i + 50], y[i:i + 50]) for i in range(0, 500, 50)]
    hist = model.fit(batches, epochs=2, validation_data=(x[500:], y[500:]), verbose=0)
    assert "val_loss" in hist.history and len(hist.history["loss"]) == 2


def test_progress_output_is_one_line_per_epoch_off_terminal(blobs, capsys):
    x, y = blobs
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=100, verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert lines[1].startswith("6/6 ━") and "accuracy: " in lines[1] and "loss: " in lines[1]
    assert "/step" in lines[1]


def test_verbose_2_and_0(blobs, capsys):
    x, y = blobs
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=100, verbose=2)
    assert capsys.readouterr().out.splitlines()[1].startswith("6/6 - ")
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_same_seed_gives_bit_identical_weights(blobs):
    x, y = blobs

    def run():
        gk.utils.set_random_seed(7)
        model = mlp()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=2, batch_size=32, verbose=0)
        return model.get_weights()

    for a, b in zip(run(), run()):
        assert np.array_equal(a, b)


def test_initial_epoch_and_callback_hooks(blobs):
    x, y = blobs
    seen = []
    cb = callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(e))
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    hist = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0, callbacks=[cb])
    assert seen == [3, 4] and hist.epoch == [3, 4]


def test_sigint_stops_at_a_batch_boundary(blobs, capsys):
    import os
    import signal

    x, y = blobs
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")

    class Interrupt(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3:
                os.kill(os.getpid(), signal.SIGINT)

    hist = model.fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[Interrupt()])
    assert len(hist.history["loss"]) == 1  # the epoch in progress is reported, then it stops
    assert "interrupted" in capsys.readouterr().err
    assert hist.interrupted
    assert np.isfinite(model.predict(x[:4])).all()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert not model.fit(x, y, epochs=1, verbose=0).interrupted  # still trainable
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_nan_loss_warns_once_without_terminate(blobs):
    x, y = blobs
    model = mlp()
    model.compile(optimizer=gk.optimizers.SGD(learning_rate=1e30),
                  loss="sparse_categorical_crossentropy")
    with pytest.warns(RuntimeWarning, match="loss became") as rec:
        model.fit(x * 1e10, y, epochs=2, batch_size=32, verbose=0)
    assert len([w for w in rec if "loss became" in str(w.message)]) == 1


def test_terminate_on_nan_names_epoch_and_batch(blobs, capsys):
    x, y = blobs
    model = mlp()
    model.compile(optimizer=gk.optimizers.SGD(learning_rate=1e30),
                  loss="sparse_categorical_crossentropy")
    stop = callbacks.TerminateOnNaN()
    hist = model.fit(x * 1e10, y, epochs=5, batch_size=32, verbose=0, callbacks=[stop])
    assert len(hist.epoch) == 1
    assert "epoch 1, batch" in stop.message


def test_string_names_resolve(blobs):
    x, y = blobs
    for opt in ("sgd", "adam", "rmsprop", "adagrad", "adamw", "nadam"):
        model = mlp()
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["acc"])
        model.fit(x[:64], y[:64], epochs=1, verbose=0)


def test_progress_line_shows_the_epoch_values(blobs, capsys):
    x, y = blobs
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=1, batch_size=16, verbose=2, shuffle=False)
    line = capsys.readouterr().out.splitlines()[1]
    assert f"loss: {hist.history['loss'][0]:.4f}" in line
    assert f"accuracy: {hist.history['accuracy'][0]:.4f}" in line
