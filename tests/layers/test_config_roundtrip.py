"""Config round trips for every registered layer class, and the registry itself.

The round-trip test is parametrized over ``gradkit.layers.registered_classes()``,
so a newly registered built-in layer is covered automatically once it has an
entry in ``SAMPLES`` (and fails with a message saying so until then).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradkit import activations
from gradkit import layers as L


def _floats(*shape):
    return lambda rng: rng.standard_normal(shape).astype("float32")


def _pair(*shapes):
    return lambda rng: [rng.standard_normal(s).astype("float32") for s in shapes]


def _sequential():
    from gradkit.models import Sequential

    return Sequential([L.Dense(4, activation="relu", input_shape=(5,)), L.BatchNormalization(),
                       L.Dense(2)])


def _functional():
    from gradkit.models import Functional, Input

    a, b = Input((5,)), Input((5,))
    h = L.Add()([L.Dense(3)(a), L.Dense(3)(b)])
    return Functional([a, b], L.Dense(2, activation="softmax")(h))


# class name -> (constructor kwargs or a factory returning the layer, sample input maker,
# options). options: "prepare": a training call first (moving statistics), compared at
# inference.
SAMPLES = {
    # core
    "Dense": (dict(units=4, activation="relu", kernel_regularizer=None), _floats(3, 5), {}),
    "Linear": (dict(in_features=5, out_features=2, bias=False), _floats(3, 5), {}),
    "Activation": (dict(activation="gelu"), _floats(3, 4), {}),
    "Identity": ({}, _floats(2, 3), {}),
    "Flatten": ({}, _floats(2, 3, 4), {}),
    "Reshape": (dict(target_shape=(2, -1)), _floats(3, 6), {}),
    "Dropout": (dict(rate=0.3, noise_shape=(None, 1), seed=5), _floats(4, 3), {}),
    "Embedding": (dict(input_dim=7, output_dim=3),
                  lambda rng: rng.integers(0, 7, (2, 4)), {}),
    # activations
    "ReLU": (dict(max_value=1.5, negative_slope=0.1, threshold=0.2), _floats(3, 4), {}),
    "LeakyReLU": (dict(negative_slope=0.05), _floats(3, 4), {}),
    "ELU": (dict(alpha=0.7), _floats(3, 4), {}),
    "GELU": (dict(approximate=True), _floats(3, 4), {}),
    "Sigmoid": ({}, _floats(3, 4), {}),
    "Tanh": ({}, _floats(3, 4), {}),
    "Softmax": (dict(axis=1), _floats(2, 3, 4), {}),
    # normalization
    "BatchNormalization": (dict(axis=1, momentum=0.8, epsilon=1e-4), _floats(6, 3, 2),
                           {"prepare": True}),
    "LayerNormalization": (dict(axis=[-2, -1], center=False), _floats(2, 3, 4), {}),
    # merge
    "Add": ({}, _pair((2, 3), (2, 3)), {}),
    "Subtract": ({}, _pair((2, 3), (2, 3)), {}),
    "Multiply": ({}, _pair((2, 3), (2, 1)), {}),
    "Average": ({}, _pair((2, 3), (2, 3)), {}),
    "Maximum": ({}, _pair((2, 3), (2, 3)), {}),
    "Minimum": ({}, _pair((2, 3), (2, 3)), {}),
    "Concatenate": (dict(axis=1), _pair((2, 3), (2, 2)), {}),
    # convolution / pooling / recurrent (gradkit.layers.conv, pooling, recurrent)
    "Conv2D": (dict(filters=4, kernel_size=3, padding="same", activation="relu"),
               _floats(2, 6, 6, 3), {}),
    "Conv1D": (dict(filters=4, kernel_size=3, strides=2), _floats(2, 9, 3), {}),
    "MaxPooling2D": (dict(pool_size=2), _floats(2, 6, 6, 3), {}),
    "AveragePooling2D": (dict(pool_size=(2, 3), strides=1), _floats(2, 6, 6, 3), {}),
    "GlobalAveragePooling2D": ({}, _floats(2, 4, 4, 3), {}),
    "GlobalMaxPooling2D": (dict(keepdims=True), _floats(2, 4, 4, 3), {}),
    "SimpleRNN": (dict(units=4, return_sequences=True), _floats(2, 5, 3), {}),
    "LSTM": (dict(units=4), _floats(2, 5, 3), {}),
    "GRU": (dict(units=4, return_sequences=True), _floats(2, 5, 3), {}),
    # keras-layers: upsampling, preprocessing, masking, attention, Lambda, Dot
    "Conv2DTranspose": (dict(filters=3, kernel_size=3, strides=2, padding="same",
                             output_padding=1), _floats(2, 4, 5, 2), {}),
    "UpSampling2D": (dict(size=(2, 3), interpolation="bilinear"), _floats(2, 3, 4, 2), {}),
    # saved by name: a Lambda finds gradkit's activations by name
    "Lambda": (lambda: L.Lambda(activations.softplus, output_shape=(3,)), _floats(2, 3), {}),
    "Masking": (dict(mask_value=0.5), _floats(2, 4, 3), {}),
    "Rescaling": (dict(scale=0.5, offset=-1.0), _floats(2, 3), {}),
    "Normalization": (dict(axis=-1, mean=[0.5, 1.0, -1.0], variance=[4.0, 1.0, 0.25]),
                      _floats(4, 3), {}),
    "GlobalAveragePooling1D": (dict(keepdims=True), _floats(2, 5, 3), {}),
    "GlobalMaxPooling1D": (dict(data_format="channels_first"), _floats(2, 3, 5), {}),
    "MultiHeadAttention": (dict(num_heads=2, key_dim=3, value_dim=2, output_shape=5),
                           _pair((2, 4, 6), (2, 3, 6)), {}),
    "Dot": (dict(axes=(2, 2), normalize=True), _pair((2, 3, 4), (2, 5, 4)), {}),
    # models are layers too (gradkit.models)
    "Sequential": (_sequential, _floats(3, 5), {"prepare": True}),
    "Functional": (_functional, _pair((3, 5), (3, 5)), {}),
}

BUILTINS = sorted(k for k in L.registered_classes() if ">" not in k)


def _flat(y):
    if isinstance(y, (list, tuple)):
        return [a for item in y for a in _flat(item)]
    return [y.numpy()]


@pytest.mark.parametrize("class_name", BUILTINS)
def test_config_round_trip(class_name, rng):
    cls = L.registered_classes()[class_name]
    if class_name not in SAMPLES:
        pytest.fail(f"registered layer class {class_name} ({cls.__module__}) has no entry in "
                    "SAMPLES in tests/layers/test_config_roundtrip.py: add its constructor "
                    "arguments and a sample input so its config round trip is tested")
    kwargs, make_input, opts = SAMPLES[class_name]
    x = make_input(rng)
    layer = kwargs() if callable(kwargs) else cls(**kwargs)
    assert type(layer) is cls
    if opts.get("prepare"):
        layer(x, training=True)
    y = layer(x, training=False)

    cfg = layer.get_config()
    assert json.loads(json.dumps(cfg)) == cfg, "get_config must be JSON-serializable"
    assert "name" in cfg, "get_config must include the base config (name, trainable...)"
    if "layers" not in cfg:  # models' configs describe their layers instead of base kwargs
        assert "trainable" in cfg, "get_config must include the base config (super().get_config())"

    for clone in (cls.from_config(cfg), L.deserialize(json.loads(json.dumps(L.serialize(layer))))):
        assert type(clone) is cls
        assert clone.get_config() == cfg
        if not clone.built:
            clone(x, training=False)
        assert [w.shape for w in clone.weights] == [w.shape for w in layer.weights]
        clone.set_weights(layer.get_weights())
        for a, b in zip(_flat(clone(x, training=False)), _flat(y)):
            np.testing.assert_array_equal(a, b)
        assert repr(clone) == repr(layer)


def test_samples_table_has_no_stale_entries():
    # entries for layers that are not registered would silently test nothing
    missing = sorted(set(SAMPLES) - set(BUILTINS))
    known_elsewhere = {"Conv2D", "Conv1D", "MaxPooling2D", "AveragePooling2D",
                       "GlobalAveragePooling2D", "GlobalMaxPooling2D", "SimpleRNN", "LSTM",
                       "GRU", "Sequential", "Functional"}
    assert set(missing) <= known_elsewhere, f"SAMPLES entries with no registered class: {missing}"


def test_round_trip_keeps_dtype_trainable_and_input_shape():
    d = L.Dense(3, dtype="float64", trainable=False, input_shape=(4,), name="d64")
    clone = L.Dense.from_config(d.get_config())
    assert clone.dtype == np.float64 and clone.trainable is False
    assert clone.built and clone.kernel.shape == (4, 3) and clone.name == "d64"


def test_seeded_dropout_clone_repeats_masks():
    x = np.ones((6, 5), "float32")
    a = L.Dropout(0.5, seed=11)
    b = L.Dropout.from_config(a.get_config())
    np.testing.assert_array_equal(a(x, training=True).numpy(), b(x, training=True).numpy())


# ---------------------------------------------------------------- registry
def test_serialize_format():
    d = L.serialize(L.Dense(2, activation="tanh", name="ser_d"))
    assert d["class_name"] == "Dense"
    assert d["config"]["units"] == 2 and d["config"]["activation"] == "tanh"
    assert d["config"]["name"] == "ser_d"


def test_deserialize_only_registered_or_custom_objects():
    class Scale(L.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x, training=None):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    d = L.serialize(Scale(3.0))
    with pytest.raises(ValueError, match="unknown layer class 'Scale'.*custom_objects"):
        L.deserialize(d)
    clone = L.deserialize(d, custom_objects={"Scale": Scale})
    assert isinstance(clone, Scale) and clone.factor == 3.0


@pytest.mark.parametrize("name", ["os.system", "gradkit.layers.core.Dense", "builtins.eval",
                                  "__import__", "Layer", "subprocess.Popen"])
def test_deserialize_never_imports_by_name(name):
    with pytest.raises(ValueError, match="unknown layer class"):
        L.deserialize({"class_name": name, "config": {}})


def test_deserialize_rejects_malformed():
    with pytest.raises(ValueError, match="class_name"):
        L.deserialize({"config": {}})
    with pytest.raises(TypeError, match="class_name"):  # a name is not a config: wrong type
        L.deserialize("Dense")
    with pytest.raises(TypeError, match="must be a dict"):
        L.deserialize({"class_name": "Dense", "config": [1]})
    with pytest.raises(TypeError, match="class_name must be a string"):
        L.deserialize({"class_name": ["Dense"], "config": {}})
    with pytest.raises(TypeError, match="unexpected keyword"):
        L.deserialize({"class_name": "Dense", "config": {"units": 2, "evil": 1}})
    with pytest.raises(TypeError, match="layer class"):
        L.deserialize({"class_name": "X", "config": {}}, custom_objects={"X": print})


def test_register_serializable():
    @L.register_serializable(package="tests_layers")
    class Doubler(L.Layer):
        def call(self, x, training=None):
            return x * 2.0

    d = L.serialize(Doubler(name="dbl"))
    assert d["class_name"] == "Doubler" and d["registered_name"] == "tests_layers>Doubler"
    clone = L.deserialize(json.loads(json.dumps(d)))
    assert isinstance(clone, Doubler) and clone.name == "dbl"
    assert L.get_registered_name(Doubler) == "tests_layers>Doubler"
    # user classes never shadow gradkit's own
    assert L.get_registered_object("Dense") is L.Dense

    @L.register_serializable
    class Bare(L.Layer):
        pass

    assert L.get_registered_name(Bare) == "Custom>Bare"

    class Other(L.Layer):
        pass

    Other.__qualname__ = "Other"
    with pytest.raises(ValueError, match="taken"):
        L.register_serializable(package="tests_layers", name="Doubler")(Other)
    with pytest.raises(TypeError, match="decorates classes"):
        L.register_serializable()(lambda: None)


def test_get():
    f = L.get("Flatten")
    assert isinstance(f, L.Flatten)
    assert isinstance(L.get("flatten"), L.Flatten)
    assert isinstance(L.get("batch_normalization"), L.BatchNormalization)
    assert L.get(f) is f and L.get(None) is None
    assert isinstance(L.get({"class_name": "Dense", "config": {"units": 2}}), L.Dense)
    with pytest.raises(ValueError, match="unknown layer 'Nope'"):
        L.get("Nope")
    with pytest.raises(TypeError, match="needs arguments"):
        L.get("Dense")
    with pytest.raises(TypeError, match="a layer must be a name, a config dict, a Layer"):
        L.get(3)


def test_every_export_is_registered():
    for name in L.__all__:
        obj = getattr(L, name)
        if isinstance(obj, type) and issubclass(obj, L.Layer) and obj is not L.Layer:
            assert L.registered_classes().get(L.get_registered_name(obj)) is obj, name


def test_sequential_style_usage_of_config():
    # a list of layer dicts (what a model file holds) rebuilds into working layers
    stack = [L.Dense(8, activation="relu", input_dim=4), L.Dropout(0.2),
             L.BatchNormalization(), L.Dense(2), L.Softmax()]
    x = np.random.default_rng(0).standard_normal((5, 4)).astype("float32")
    h = x
    for layer in stack:
        h = layer(h)
    blob = json.dumps([L.serialize(layer) for layer in stack])
    rebuilt = [L.deserialize(d) for d in json.loads(blob)]
    h2 = x
    for old, new in zip(stack, rebuilt):
        if not new.built:
            new(h2)
        new.set_weights(old.get_weights())
        h2 = new(h2)
    np.testing.assert_array_equal(h.numpy(), h2.numpy())
