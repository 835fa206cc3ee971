"""The Keras namespace: Keras 3 names gradkit lacks answer with NotInGradkitError (from
attribute access and from imports alike), other names are plain AttributeErrors; keras
submodules are views of gradkit's own modules; compile(jit_compile=...) and tf.function
are documented no-ops; keras.utils.array_to_img / img_to_array."""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest

import gradkit
import gradkit as tf
from gradkit import keras
from gradkit.keras import missing
from gradkit.keras.missing import NotInGradkitError


@pytest.mark.parametrize("module, name", [
    ("", "applications"), ("layers", "ConvLSTM2D"), ("ops", "fft"), ("losses", "CTC"),
    ("metrics", "IoU"), ("callbacks", "BackupAndRestore"), ("utils", "FeatureSpace"),
    ("saving", "KerasFileEditor"), ("optimizers", "Lion")])
def test_a_keras_name_gradkit_lacks_says_so(module, name):
    assert name in missing.keras_names(module)
    where = keras if not module else getattr(keras, module)
    with pytest.raises(NotInGradkitError, match=f"{name} is part of Keras 3, but gradkit "
                                                "does not have it yet"):
        getattr(where, name)


def test_from_import_keeps_the_message():
    with pytest.raises(NotInGradkitError, match="keras.layers.ConvLSTM2D"):
        exec("from gradkit.keras.layers import ConvLSTM2D", {})
    with pytest.raises(NotInGradkitError, match="keras.ops.fft"):
        exec("from gradkit.keras.ops import fft", {})


def test_other_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="no attribute 'NoSuchLayer'"):
        keras.layers.NoSuchLayer  # noqa: B018
    assert not hasattr(keras.ops, "no_such_op")
    assert not hasattr(keras, "no_such_module")


def test_submodules_are_views_of_gradkit_modules():
    assert keras.layers.Dense is gradkit.layers.Dense
    assert importlib.import_module("gradkit.keras.layers") is keras.layers
    from gradkit.keras.layers import Dense
    from gradkit.keras.utils import to_categorical
    assert Dense is gradkit.layers.Dense and to_categorical is gradkit.utils.to_categorical
    assert "Dense" in dir(keras.layers) and "clone_model" in dir(keras.models)
    assert keras.utils.clear_session is keras.backend.clear_session
    assert keras.ops.relu is importlib.import_module("gradkit.keras.ops").relu


def test_the_names_list_covers_what_gradkit_has():
    # every Keras name gradkit.keras has is one Keras 3 has (the list is not stale)
    for module in ("ops", "random", "saving"):
        own = {n for n in vars(getattr(keras, module)) if not n.startswith("_")
               and callable(getattr(getattr(keras, module), n))}
        assert own & missing.keras_names(module), module
    assert {"relu", "matmul", "top_k"} <= missing.keras_names("ops")


def _model():
    gradkit.utils.set_random_seed(0)
    return keras.Sequential([keras.layers.Dense(4, activation="relu", input_shape=(3,)),
                             keras.layers.Dense(1)])


def test_jit_compile_and_run_eagerly_change_nothing():
    x = np.random.default_rng(0).standard_normal((32, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    losses = []
    for flags in ({}, {"jit_compile": True}, {"jit_compile": "auto", "run_eagerly": True},
                  {"jit_compile": False, "run_eagerly": False}):
        model = _model()
        model.compile(optimizer="sgd", loss="mse", **flags)
        losses.append(model.fit(x, y, epochs=2, batch_size=8, verbose=0).history["loss"])
    assert all(h == losses[0] for h in losses)
    with pytest.raises(TypeError, match="jit_compile must be a bool or 'auto'"):
        _model().compile(loss="mse", jit_compile="xla")


def test_tf_function_returns_the_function():
    def step(a):
        return a * 2

    assert tf.function(step) is step
    assert tf.function(jit_compile=True)(step) is step

    @tf.function
    def grad_of_square(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(x * x)
        return tape.gradient(y, x)

    np.testing.assert_allclose(grad_of_square(tf.constant([1.0, -2.0])).numpy(), [2.0, -4.0])
    with pytest.raises(TypeError, match="callable"):
        tf.function(3)


def test_array_to_img_and_back():
    pytest.importorskip("PIL", reason="array_to_img needs Pillow")
    rgb = np.random.default_rng(0).uniform(0, 255, (5, 7, 3)).astype("float32")
    img = keras.utils.array_to_img(rgb, scale=False)
    assert img.mode == "RGB" and img.size == (7, 5)
    np.testing.assert_array_equal(keras.utils.img_to_array(img), np.rint(rgb))
    gray = keras.utils.array_to_img(np.linspace(-1, 1, 12).reshape(3, 4, 1))
    arr = keras.utils.img_to_array(gray)
    assert gray.mode == "L" and arr.shape == (3, 4, 1) and arr.min() == 0 and arr.max() == 255
    first = keras.utils.img_to_array(img, data_format="channels_first")
    assert first.shape == (3, 5, 7)
    back = keras.utils.array_to_img(first, data_format="channels_first", scale=False)
    assert back.size == (7, 5)
    with pytest.raises(ValueError, match="3-D"):
        keras.utils.array_to_img(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="channels"):
        keras.utils.array_to_img(np.zeros((4, 4, 2)))


def test_backend_module():
    from gradkit.keras.backend import clear_session

    assert clear_session is keras.backend.clear_session
    assert keras.backend.backend() == "gradkit" and keras.backend.floatx() == "float32"
    assert keras.backend.epsilon() == 1e-7
    with pytest.raises(NotInGradkitError, match="keras.backend.image_data_format"):
        keras.backend.image_data_format  # noqa: B018


def test_save_img_and_load_img_match_keras(tmp_path):
    pytest.importorskip("PIL", reason="load_img needs Pillow")
    os.environ.setdefault("KERAS_BACKEND", "torch")
    real = pytest.importorskip("keras", reason="the reference needs Keras 3")
    rgb = np.random.default_rng(1).uniform(0, 255, (12, 20, 3))
    path = tmp_path / "img.png"
    keras.utils.save_img(path, rgb, scale=False)
    for kwargs in ({}, {"color_mode": "grayscale"}, {"target_size": (6, 8)},
                   {"target_size": (6, 6), "keep_aspect_ratio": True,
                    "interpolation": "bilinear"}):
        ours = keras.utils.img_to_array(keras.utils.load_img(path, **kwargs))
        theirs = real.utils.img_to_array(real.utils.load_img(path, **kwargs))
        np.testing.assert_array_equal(ours, theirs, err_msg=str(kwargs))
    with pytest.raises(ValueError, match="directory"):
        keras.utils.load_img(tmp_path)
