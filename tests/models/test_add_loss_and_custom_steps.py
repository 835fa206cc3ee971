"""add_loss and losses in fit, activity regularization, Keras 3 custom train_step /
test_step with tracked metrics, Model subclasses built as Sub(inputs, outputs), and
Sequential.inputs/outputs feature extractors. Written the way Keras 3 programs use them."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
import gradkit.keras as keras
from gradkit import ops
from gradkit.keras import layers


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((64, 6)).astype("float32")
    y = (x @ rng.standard_normal((6, 1))).astype("float32")
    return x, y


class SumPenalty(layers.Layer):
    """Adds rate * sum(inputs) to the objective, passes the inputs on."""

    def __init__(self, rate=0.01, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.sum(inputs))
        return inputs


def test_add_loss_values_are_per_pass_and_enter_the_objective(data):
    x, y = data
    inp = keras.Input((6,))
    h = SumPenalty(0.5)(layers.Dense(3)(inp))
    model = keras.Model(inp, layers.Dense(1)(h))
    assert model.losses == []  # building the graph on placeholders adds nothing
    out = model(x[:4])
    assert len(model.losses) == 1
    hidden = model.layers[0](x[:4])
    assert float(model.losses[0].numpy()) == pytest.approx(0.5 * float(hidden.numpy().sum()),
                                                           rel=1e-5)
    model(x[:4])
    assert len(model.losses) == 1  # a new outermost call starts afresh
    model.compile("sgd", "mse")
    compiled = float(keras.losses.MeanSquaredError()(y[:4], out).numpy())
    total = model.evaluate(x[:4], y[:4], verbose=0)
    assert total == pytest.approx(compiled + float(model.losses[0].numpy()), rel=1e-5)


def test_activity_regularizer_is_a_per_sample_penalty(data):
    x, _ = data
    dense = layers.Dense(3, activity_regularizer=keras.regularizers.L2(0.1))
    out = dense(x)
    assert len(dense.losses) == 1
    expected = 0.1 * float((out.numpy() ** 2).sum()) / len(x)
    assert float(dense.losses[0].numpy()) == pytest.approx(expected, rel=1e-5)
    assert layers.deserialize(layers.serialize(dense)).activity_regularizer is not None


def test_vae_style_kl_term_trains_without_a_compiled_loss(data):
    x, _ = data

    class Sampling(layers.Layer):
        def call(self, inputs):
            mean, log_var = inputs
            kl = -0.5 * ops.mean(1.0 + log_var - mean * mean - ops.exp(log_var))
            self.add_loss(kl)
            noise = gradkit.random.generator().standard_normal(mean.shape).astype("float32")
            return mean + ops.exp(0.5 * log_var) * noise

    inp = keras.Input((6,))
    h = layers.Dense(8, activation="relu")(inp)
    z = Sampling()([layers.Dense(2)(h), layers.Dense(2)(h)])
    decoded = layers.Dense(6)(z)

    class Reconstruction(layers.Layer):
        def call(self, inputs):
            original, rebuilt = inputs
            self.add_loss(ops.mean((original - rebuilt) * (original - rebuilt)))
            return rebuilt

    vae = keras.Model(inp, Reconstruction()([inp, decoded]))
    vae.compile(keras.optimizers.Adam(learning_rate=0.01))  # no loss: add_loss terms only
    hist = vae.fit(x, epochs=8, batch_size=16, verbose=0).history["loss"]
    assert hist[-1] < hist[0]
    assert len(vae.losses) == 2
    with pytest.raises(ValueError, match="no loss to compute"):
        plain = keras.Sequential([keras.Input((6,)), layers.Dense(1)])
        plain.compile("sgd")
        plain.fit(x, epochs=1, verbose=0)


class StepModel(keras.Model):
    """Keras 3's customizing-fit pattern: the compiled loss and metrics, a custom step."""

    def train_step(self, data):
        x, y = data
        with gradkit.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def test_custom_train_step_with_compiled_metrics(data):
    x, y = data
    inp = keras.Input((6,))
    model = StepModel(inp, layers.Dense(1)(inp))
    assert isinstance(model, StepModel) and isinstance(model, keras.Model)
    model.compile(keras.optimizers.Adam(learning_rate=0.05), loss="mse", metrics=["mae"])
    assert [m.name for m in model.metrics] == ["loss", "mae"]
    hist = model.fit(x, y, epochs=5, batch_size=16, verbose=0).history
    assert set(hist) == {"loss", "mae"}
    assert hist["loss"][-1] < hist["loss"][0]
    # an epoch's value is the tracker's mean over that epoch (reset at each epoch start)
    tracker = model.metrics[0]
    assert tracker.count == 4 and hist["loss"][-1] == pytest.approx(tracker.result())
    loss, mae = model.evaluate(x, y, verbose=0)
    pred = model.predict(x)
    assert mae == pytest.approx(float(np.abs(pred - y).mean()), rel=1e-5)
    assert loss == pytest.approx(float(((pred - y) ** 2).mean()), rel=1e-5)


class TrackerModel(keras.Model):
    """Keras 3's lower-level pattern: own loss function and metric trackers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = keras.losses.MeanSquaredError()

    def train_step(self, data):
        x, y = data
        with gradkit.GradientTape() as tape:
            loss = self.loss_fn(y, self(x, training=True))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, self(x))
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.loss_tracker.update_state(self.loss_fn(y, y_pred))
        self.mae_metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


def test_metric_trackers_without_compiled_loss(data, tmp_path):
    x, y = data
    inp = keras.Input((6,))
    model = TrackerModel(inp, layers.Dense(1)(inp))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05))
    hist = model.fit(x, y, epochs=4, batch_size=16, verbose=0,
                     validation_data=(x[:16], y[:16])).history
    assert set(hist) == {"loss", "mae", "val_loss", "val_mae"}
    assert hist["loss"][-1] < hist["loss"][0]
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(result) == {"loss", "mae"}
    # saved as TrackerModel(inputs, outputs) and loaded back under that class
    model.save(tmp_path / "t.keras")
    back = keras.models.load_model(tmp_path / "t.keras",
                                   custom_objects={"TrackerModel": TrackerModel})
    assert type(back).__name__ == "TrackerModel" and isinstance(back, TrackerModel)
    np.testing.assert_array_equal(back.predict(x), model.predict(x))


def test_default_metrics_property_tracks_metric_attributes():
    class WithTracker(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)
            self.seen = keras.metrics.Mean(name="seen")

        def call(self, x):
            return self.dense(x)

    model = WithTracker()
    assert [m.name for m in model.metrics] == ["seen"]
    model.compile("sgd", "mse", metrics=["mae"])
    assert [m.name for m in model.metrics] == ["loss", "mae", "seen"]


def test_metric_attributes_are_found_when_first_seen_in_a_copy(monkeypatch):
    # Model.metrics looks through layer attributes only once a Metric has been held as
    # one (base._METRIC_ATTRS); compiling does not count, a deep copy's attributes do
    import copy

    from gradkit.layers import base

    monkeypatch.setattr(base, "_METRIC_ATTRS", [False])
    plain = keras.Sequential([layers.Dense(1)])
    plain.compile("sgd", "mse")
    assert base._METRIC_ATTRS == [False] and [m.name for m in plain.metrics] == ["loss"]
    model = keras.Sequential([layers.Dense(1)])
    object.__setattr__(model, "seen", keras.metrics.Mean(name="seen"))  # not via __setattr__
    clone = copy.deepcopy(model)
    assert base._METRIC_ATTRS == [True]
    assert [m.name for m in clone.metrics] == ["seen"]


def test_regularizer_penalties_are_found_when_first_made(monkeypatch):
    # Layer.losses skips its walk while no weight has a regularizer (base._REGULARIZED)
    from gradkit.layers import base

    monkeypatch.setattr(base, "_REGULARIZED", [False])
    monkeypatch.setattr(base, "_ADDED", [False])
    plain = keras.Sequential([layers.Dense(2)])
    plain.build((None, 3))
    assert plain.losses == [] and base._REGULARIZED == [False]
    model = keras.Sequential([layers.Dense(2, kernel_regularizer="l2")])
    model.build((None, 3))
    assert base._REGULARIZED == [True] and len(model.losses) == 1


def test_sequential_inputs_outputs_make_a_feature_extractor(data):
    x, _ = data
    seq = keras.Sequential([keras.Input((6,)), layers.Dense(5, activation="relu"),
                            layers.Dense(3)])
    seq.add(layers.Dense(2))  # a rebuild: each layer still has one symbolic call
    extractor = keras.Model(inputs=seq.inputs, outputs=[layer.output for layer in seq.layers])
    feats = extractor(x)
    assert [f.shape for f in feats] == [(64, 5), (64, 3), (64, 2)]
    np.testing.assert_allclose(feats[-1].numpy(), seq(x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(feats[0].numpy(), seq.layers[0](x).numpy(), rtol=1e-6)
    with pytest.raises(AttributeError, match="input shape"):
        keras.Sequential([layers.Dense(2)]).inputs
    shared = layers.Dense(2)
    a, b = keras.Input((3,)), keras.Input((3,))
    shared(a)
    shared(b)
    with pytest.raises(AttributeError, match="called 2 times"):
        shared.output
