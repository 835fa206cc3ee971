"""keras.saving through gradkit's one registry; clone_model; to_json / model_from_json; a
subclassed layer and model with get_config/from_config round-tripping through save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradkit import keras
from gradkit.keras import layers, ops, saving
from gradkit.utils import registry


@saving.register_keras_serializable(package="kt")
class Gain(layers.Layer):
    """Multiplies its input by a learned per-feature gain, then by ``factor``."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.gain = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="gain")

    def call(self, x, training=None):
        return ops.multiply(ops.multiply(x, self.gain), self.factor)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@saving.register_keras_serializable(package="kt")
def twice_mse(y_true, y_pred):
    return ops.mean(ops.square(ops.subtract(y_pred, y_true))) * 2.0


@saving.register_keras_serializable(package="kt")
class Tower(keras.Model):
    """A subclassed model with a config: two Dense layers around a Gain."""

    def __init__(self, width=8, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.hidden = layers.Dense(width, activation="relu")
        self.gain = Gain(0.5)
        self.head = layers.Dense(1)

    def call(self, x, training=None):
        return self.head(self.gain(self.hidden(x)))

    def get_config(self):
        return {"width": self.width, "name": self.name}


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 3)).astype("float32")
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], "float32"))


def _functional():
    inputs = keras.Input(shape=(3,))
    h = layers.Dense(4, activation="tanh")(inputs)
    h = Gain(3.0)(h)
    return keras.Model(inputs, layers.Dense(1)(h))


def test_registered_objects_are_in_the_one_registry():
    layer_registry = registry.registries()["layer"]
    assert layer_registry.lookup("kt>Gain") is Gain
    assert registry.registries()["loss"].lookup("kt>twice_mse") is twice_mse
    objects = saving.get_custom_objects()
    assert objects["kt>Gain"] is Gain and objects["kt>twice_mse"] is twice_mse
    assert saving.get_registered_name(Gain) == "kt>Gain"
    assert saving.get_registered_object("kt>Gain") is Gain
    assert keras.utils.register_keras_serializable is saving.register_keras_serializable


def test_get_custom_objects_assignment_registers():
    class Halve(layers.Layer):
        def call(self, x, training=None):
            return x * 0.5

    saving.get_custom_objects()["HalveForTest"] = Halve
    assert registry.registries()["layer"].lookup("HalveForTest") is Halve
    rebuilt = saving.deserialize_keras_object(saving.serialize_keras_object(Halve()))
    assert type(rebuilt) is Halve


def test_serialize_round_trips_layers_functions_and_builtins():
    cfg = saving.serialize_keras_object(Gain(3.0, name="g"))
    assert cfg["class_name"] == "Gain" and cfg["registered_name"] == "kt>Gain"
    json.dumps(cfg)
    again = saving.deserialize_keras_object(cfg)
    assert isinstance(again, Gain) and again.factor == 3.0 and again.name == "g"
    fn = saving.serialize_keras_object(twice_mse)
    assert saving.deserialize_keras_object(fn) is twice_mse
    dense = saving.deserialize_keras_object(saving.serialize_keras_object(layers.Dense(5)))
    assert isinstance(dense, layers.Dense) and dense.units == 5
    assert saving.serialize_keras_object([1, "a", None]) == [1, "a", None]


def test_unregistered_names_are_refused_unless_given():
    class Hidden(layers.Layer):
        pass

    cfg = {"class_name": "Hidden", "config": {}}
    with pytest.raises(ValueError, match="register"):
        saving.deserialize_keras_object(cfg)
    assert type(saving.deserialize_keras_object(cfg, custom_objects={"Hidden": Hidden})) \
        is Hidden
    with saving.custom_object_scope({"Hidden": Hidden}):
        assert type(saving.deserialize_keras_object(cfg)) is Hidden
    with pytest.raises(ValueError):  # the scope has closed
        saving.deserialize_keras_object(cfg)
    with pytest.raises(NotImplementedError, match="safe_mode"):
        saving.deserialize_keras_object(cfg, safe_mode=False)


def test_subclassed_model_round_trips_through_save_and_load(tmp_path):
    x, y = _data()
    model = Tower(6)
    model.compile(optimizer="adam", loss=twice_mse)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "tower.keras"
    saving.save_model(model, path)
    with pytest.raises(FileExistsError):
        saving.save_model(model, path, overwrite=False)
    again = saving.load_model(path)
    assert isinstance(again, Tower) and again.width == 6
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert again.loss == "kt>twice_mse"  # the registered function, by its name
    assert again.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))


def test_functional_with_custom_layer_round_trips(tmp_path):
    x, _ = _data()
    model = _functional()
    model.predict(x, verbose=0)
    path = tmp_path / "f.keras"
    model.save(path)
    np.testing.assert_array_equal(keras.models.load_model(path).predict(x, verbose=0),
                                  model.predict(x, verbose=0))


def test_clone_model_same_architecture_fresh_weights():
    x, _ = _data()
    for model in (_functional(), keras.Sequential([layers.Dense(5, input_shape=(3,)),
                                                    Gain(2.0), layers.Dense(1)])):
        model.predict(x, verbose=0)
        twin = keras.models.clone_model(model)
        assert [type(layer) for layer in twin.layers] == [type(layer) for layer in model.layers]
        assert [w.shape for w in twin.weights] == [w.shape for w in model.weights]
        assert not any(a is b for a, b in zip(twin.weights, model.weights))
        assert not np.allclose(twin.predict(x, verbose=0), model.predict(x, verbose=0))
        twin.set_weights(model.get_weights())
        np.testing.assert_allclose(twin.predict(x, verbose=0), model.predict(x, verbose=0))


def test_clone_model_clone_function_and_unsupported_arguments():
    seq = keras.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(2)])
    seen = []

    def clone(layer):
        seen.append(layer.name)
        return layer.__class__.from_config(layer.get_config())

    keras.models.clone_model(seq, clone_function=clone)
    assert seen == [layer.name for layer in seq.layers]
    with pytest.raises(NotImplementedError, match="input_tensors"):
        keras.models.clone_model(seq, input_tensors=[keras.Input(shape=(3,))])


def test_to_json_and_model_from_json():
    x, _ = _data()
    model = _functional()
    text = model.to_json()
    assert json.loads(text)["class_name"] == "Functional"
    twin = keras.models.model_from_json(text)
    assert twin.predict(x, verbose=0).shape == (len(x), 1)
    twin.set_weights(model.get_weights())
    np.testing.assert_allclose(twin.predict(x, verbose=0), model.predict(x, verbose=0))
    seq = keras.Sequential([layers.Dense(3, input_shape=(3,))])
    assert keras.models.model_from_json(seq.to_json(indent=1)).count_params() == 12
    with pytest.raises(ValueError, match="not JSON"):
        keras.models.model_from_json("{nope")


def test_model_from_json_names_only_registered_classes():
    text = json.dumps({"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "os.system", "config": {}}]}})
    with pytest.raises(ValueError, match="unknown layer class"):
        keras.models.model_from_json(text)
