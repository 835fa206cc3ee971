"""Arguments that are accepted do something: evaluate/predict callbacks, predict steps and
verbose, summary line_length, compile weighted_metrics across save/load; the ones gradkit
does not implement raise NotImplementedError naming them."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit as gk
from gradkit import callbacks as C


def _model(seed=0):
    gk.utils.set_random_seed(seed)
    model = gk.Sequential([gk.layers.Dense(5, activation="relu", input_shape=(2,)),
                           gk.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


class Recorder(C.Callback):
    """Records (hook, *args, logs) for every test and predict hook."""

    HOOKS = ("on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
             "on_predict_begin", "on_predict_end", "on_predict_batch_begin",
             "on_predict_batch_end")

    def __init__(self):
        super().__init__()
        self.calls = []

    def names(self):
        return [c[0] for c in self.calls]


def _recording(name):
    def hook(self, *args):
        self.calls.append((name,) + args[:-1] + (dict(args[-1] or {}),))
    return hook


for _name in Recorder.HOOKS:
    setattr(Recorder, _name, _recording(_name))


def test_evaluate_runs_the_test_hooks(blobs):
    x, y = blobs
    model, rec = _model(), Recorder()
    res = model.evaluate(x[:100], y[:100], batch_size=40, verbose=0, callbacks=[rec],
                         return_dict=True)
    assert rec.names() == ["on_test_begin"] + ["on_test_batch_begin", "on_test_batch_end"] * 3 \
        + ["on_test_end"]
    assert [c[1] for c in rec.calls if c[0] == "on_test_batch_end"] == [0, 1, 2]
    assert rec.calls[-1][-1] == res
    assert rec.model is model and rec.params["steps"] == 3


def test_fit_validation_runs_the_test_hooks_of_fit_callbacks(blobs):
    x, y = blobs
    model, rec = _model(), Recorder()
    model.fit(x[:100], y[:100], validation_data=(x[100:160], y[100:160]), batch_size=50,
              epochs=2, verbose=0, callbacks=[rec])
    assert rec.names().count("on_test_begin") == 2
    assert rec.names().count("on_test_batch_end") == 4  # 60 samples, batch 50, 2 epochs
    assert rec.params["epochs"] == 2  # evaluate kept fit's params


def test_predict_steps_callbacks_and_verbose(blobs, capsys):
    x, _ = blobs
    model, rec = _model(), Recorder()
    full = model.predict(x[:100], batch_size=30)
    part = model.predict(x[:100], batch_size=30, steps=2, callbacks=[rec])
    np.testing.assert_allclose(part, full[:60], rtol=1e-6)
    assert rec.names() == ["on_predict_begin"] + ["on_predict_batch_begin",
                                                  "on_predict_batch_end"] * 2 + ["on_predict_end"]
    np.testing.assert_allclose(rec.calls[2][-1]["outputs"], full[:30], rtol=1e-6)
    # steps stops an iterable without drawing a further batch
    drawn = []

    def gen():
        for s in range(0, 100, 25):
            drawn.append(s)
            yield x[s:s + 25]

    out = model.predict(gen(), steps=2)
    assert out.shape == (50, 3) and drawn == [0, 25]
    capsys.readouterr()
    model.predict(x[:100], batch_size=50, verbose=1)
    assert "2/2" in capsys.readouterr().out
    model.predict(x[:100], batch_size=50)
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="steps"):
        model.predict(x, steps=0)


def test_summary_line_length(blobs):
    model = _model()
    lines = []
    model.summary(print_fn=lines.append, line_length=50)
    table = [ln for ln in lines[0].splitlines() if ln[:1] in "┏┃┡│├└"]
    assert table and all(len(ln) == 50 for ln in table)
    model.summary(print_fn=lines.append, line_length=120)
    table = [ln for ln in lines[1].splitlines() if ln[:1] in "┏┃┡│├└"]
    assert all(len(ln) == 120 for ln in table)
    with pytest.raises(ValueError, match="line_length"):
        model.summary(print_fn=lines.append, line_length=5)


def test_weighted_metrics_survive_save_and_load(blobs, tmp_path):
    x, y = blobs
    model = _model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], weighted_metrics=["accuracy"])
    model.save(tmp_path / "m.gdk")
    again = gk.models.load_model(tmp_path / "m.gdk")
    assert again.metrics_names == ["loss", "accuracy", "weighted_accuracy"]
    w = (y == 0) * 1.0
    res = again.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    assert res["weighted_accuracy"] == pytest.approx(
        (again.predict(x).argmax(-1) == y)[y == 0].mean(), abs=1e-12)


def test_functional_compute_output_shape_uses_the_input_shape():
    inp = gk.Input(shape=(4,))
    model = gk.Model(inp, gk.layers.Dense(2)(inp))
    assert model.compute_output_shape((7, 4)) == (7, 2)
    assert model.compute_output_shape((None, 4)) == (None, 2)
    with pytest.raises(ValueError, match="declared with shape"):
        model.compute_output_shape((7, 5))


def test_unimplemented_arguments_raise_naming_them():
    with pytest.raises(NotImplementedError, match="save_freq=100 is not implemented"):
        C.ModelCheckpoint("x.gdk", save_freq=100)
    with pytest.raises(NotImplementedError, match="argument 'dtype'"):
        gk.metrics.Accuracy(dtype="float16")


def test_batch_size_with_an_iterable_is_refused(blobs):
    x, y = blobs
    model = _model()
    batches = [(x[:10], y[:10])]
    for call in (lambda: model.fit(batches, batch_size=5, verbose=0),
                 lambda: model.evaluate(batches, batch_size=5, verbose=0),
                 lambda: model.predict(iter([x[:10]]), batch_size=5)):
        with pytest.raises(ValueError, match="batch_size must be None when x is an iterable"):
            call()
    model.fit(batches, verbose=0)  # without it, the iterable sets the batches
