"""Functional and subclassed models; saving, loading and resuming."""

import json
import pickle
import zipfile

import numpy as np
import pytest

import gradkit as gk
from gradkit import layers
from gradkit.models import Input, Model, ModelFileError, Sequential, load_model


def residual_model():
    inputs = Input(shape=(2,))
    h = layers.Dense(16, activation="relu")(inputs)
    r = layers.Dense(16, activation="relu")(h)
    h = layers.Add()([h, r])  # residual connection
    outputs = layers.Dense(3, activation="softmax")(h)
    return Model(inputs, outputs)


@gk.layers.register_serializable(package="tests")
class TwoLayer(Model):
    def __init__(self, units=16, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = layers.Dense(units, activation="tanh")
        self.out = layers.Dense(3)

    def call(self, x, training=None):
        return self.out(self.hidden(x))

    def get_config(self):
        return {"units": self.units, "name": self.name}


def test_functional_residual_trains_and_round_trips(blobs, tmp_path):
    x, y = blobs
    gk.utils.set_random_seed(0)  # the accuracy bar holds for most initial weights, not all
    model = residual_model()
    assert len(model.layers) == 4
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=6, batch_size=32, verbose=0)
    assert hist.history["accuracy"][-1] > 0.9
    path = tmp_path / "res.gradkit"
    model.save(path)
    again = load_model(path)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert again.evaluate(x, y, verbose=0)[1] == pytest.approx(model.evaluate(x, y, verbose=0)[1])


def test_functional_multiple_inputs_and_outputs(blobs, tmp_path):
    x, y = blobs
    a, b = Input(shape=(1,), name="a"), Input(shape=(1,), name="b")
    h = layers.Concatenate()([a, b])
    h = layers.Dense(16, activation="relu")(h)
    cls = layers.Dense(3, activation="softmax", name="cls")(h)
    reg = layers.Dense(1, name="reg")(h)
    model = Model([a, b], [cls, reg])
    model.compile(optimizer="adam", loss=["sparse_categorical_crossentropy", "mse"])
    target = x.sum(axis=1, keepdims=True)
    hist = model.fit([x[:, :1], x[:, 1:]], [y, target], epochs=5, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    p_cls, p_reg = model.predict([x[:, :1], x[:, 1:]])
    assert p_cls.shape == (600, 3) and p_reg.shape == (600, 1)
    model.save(tmp_path / "multi.gradkit")
    again = load_model(tmp_path / "multi.gradkit")
    for u, v in zip(again.predict([x[:, :1], x[:, 1:]]), (p_cls, p_reg)):
        np.testing.assert_array_equal(u, v)


def test_subclassed_model_trains_and_round_trips(blobs, tmp_path):
    x, y = blobs
    model = TwoLayer()
    model.compile(optimizer="adam",
                  loss=gk.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit(x, y, epochs=5, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    model.save(tmp_path / "sub.gradkit")
    again = load_model(tmp_path / "sub.gradkit")
    assert isinstance(again, TwoLayer)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


def test_pytorch_style_training_on_the_same_model(blobs):
    x, y = blobs
    model = residual_model()
    opt = gk.optimizers.Adam(model.parameters(), lr=1e-2)
    xb, yb = gk.Tensor(x), y
    first = None
    for _ in range(50):
        opt.zero_grad()
        loss = gk.losses.sparse_categorical_crossentropy(yb, model(xb)).mean()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < first


def test_resume_is_bit_identical(blobs, tmp_path):
    x, y = blobs

    def fresh():
        model = Sequential([layers.Dense(8, activation="relu", input_shape=(2,)),
                            layers.Dropout(0.2), layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    gk.utils.set_random_seed(3)
    straight = fresh()
    straight.fit(x, y, epochs=3, batch_size=32, verbose=0)

    gk.utils.set_random_seed(3)
    first = fresh()
    first.fit(x, y, epochs=2, batch_size=32, verbose=0)
    first.save(tmp_path / "ckpt.gradkit")
    gk.utils.set_random_seed(999)  # a new process would not share the old state
    resumed = load_model(tmp_path / "ckpt.gradkit")
    resumed.fit(x, y, epochs=3, initial_epoch=2, batch_size=32, verbose=0)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        assert np.array_equal(a, b)


def test_save_weights_load_weights_and_mismatch(blobs, tmp_path):
    x, _ = blobs
    model = residual_model()
    model.save_weights(tmp_path / "w.safetensors")
    other = residual_model()
    other.load_weights(tmp_path / "w.safetensors")
    np.testing.assert_array_equal(other.predict(x), model.predict(x))
    wrong = Sequential([layers.Dense(16, activation="relu", input_shape=(2,)),
                        layers.Dense(8), layers.Dense(3)])
    with pytest.raises(ModelFileError, match=r"layer 'dense_\d+'.*\(16, 8\).*\(16, 16\)"):
        wrong.load_weights(tmp_path / "w.safetensors")
    longer = Sequential([layers.Dense(16, activation="relu", input_shape=(2,)),
                         layers.Dense(16), layers.Dense(3), layers.Dense(2)])
    with pytest.raises(ModelFileError, match=r"holds 6 weights, the model has 8"):
        longer.load_weights(tmp_path / "w.safetensors")


def test_weights_file_is_plain_safetensors(blobs, tmp_path):
    model = residual_model()
    model.save_weights(tmp_path / "w.safetensors")
    raw = (tmp_path / "w.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    names = [k for k in header if k != "__metadata__"]
    assert len(names) == 6 and all(header[k]["dtype"] == "F32" for k in names)


def test_pickled_payload_is_refused(tmp_path):
    bad = tmp_path / "evil.gradkit"
    bad.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(ModelFileError, match="pickle"):
        load_model(bad)
    zbad = tmp_path / "evil.zip"
    with zipfile.ZipFile(zbad, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps([1]))
    with pytest.raises(ModelFileError, match="pickle"):
        load_model(zbad)


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    model = residual_model()
    path = tmp_path / "m.gradkit"
    model.save(path)
    before = path.read_bytes()
    import os

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="No space left.*previous file"):
        model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.gradkit"]  # no temp file left behind
