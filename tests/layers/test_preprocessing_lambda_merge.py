"""Rescaling, Normalization (adapt), Lambda, Dot and the functional merge helpers,
against NumPy and Keras 3; config and model-file round trips."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit import layers as L
from gradkit import ops
from gradkit.backend import to_numpy
from gradkit.models import Input, Model, Sequential, load_model
from tests.layers.keras_reference import keras3, numpy_of


def test_rescaling_values_dtype_and_gradient():
    y = L.Rescaling(1 / 127.5, offset=-1.0)(np.array([[0, 255, 127]], dtype="uint8"))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), [[-1.0, 1.0, 127 / 127.5 - 1]], atol=1e-6)
    x = gradkit.Tensor(np.ones((2, 3), "float32"), requires_grad=True)
    L.Rescaling(3.0)(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 3.0)
    with pytest.raises(TypeError, match="scale"):
        L.Rescaling("big")


@pytest.mark.parametrize("axis", [-1, (1, 2), None, 1])
def test_normalization_adapt_matches_numpy_and_keras(axis, rng):
    keras = keras3()
    data = (rng.standard_normal((60, 3, 4)) * 3 + 1).astype("float32")
    layer = L.Normalization(axis=axis)
    layer.adapt(data, batch_size=7)  # merged batch statistics = whole-data statistics
    kept = () if axis is None else tuple(a % 3 for a in np.atleast_1d(axis))
    reduce = tuple(a for a in range(3) if a not in kept)
    mean = data.astype(np.float64).mean(reduce, keepdims=True)
    std = data.astype(np.float64).std(reduce, keepdims=True)
    np.testing.assert_allclose(layer(data).numpy(), (data - mean) / std, rtol=1e-4, atol=1e-5)
    ref = keras.layers.Normalization(axis=axis)
    ref.adapt(data)
    np.testing.assert_allclose(layer(data).numpy(), numpy_of(ref(data)), rtol=1e-4, atol=1e-5)
    inv = L.Normalization(axis=axis, invert=True)
    inv.adapt(data)
    np.testing.assert_allclose(inv(layer(data)).numpy(), data, rtol=1e-4, atol=1e-4)
    assert not layer.trainable_weights and len(layer.weights) == 2


def test_normalization_given_statistics_iterables_and_errors(rng):
    layer = L.Normalization(mean=[1.0, 2.0], variance=[4.0, 0.0])
    y = layer(np.array([[3.0, 2.0]], "float32")).numpy()
    np.testing.assert_allclose(y, [[1.0, 0.0]])  # a zero variance divides by 1e-7, not 0
    with pytest.raises(ValueError, match="both"):
        L.Normalization(mean=[1.0])
    with pytest.raises(ValueError, match="overwrite"):
        layer.adapt(np.ones((3, 2)))
    data = rng.standard_normal((40, 2)).astype("float32")
    from_batches = L.Normalization()
    from_batches.adapt((data[i:i + 8], None) for i in range(0, 40, 8))
    np.testing.assert_allclose(from_batches.mean.numpy(), data.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(from_batches.variance.numpy(), data.var(0), rtol=1e-5)
    with pytest.raises(ValueError, match="empty"):
        L.Normalization().adapt([])


def test_adapted_normalization_saves_in_a_model(tmp_path, rng):
    data = (rng.standard_normal((50, 3)) * 5 + 2).astype("float32")
    norm = L.Normalization()
    norm.adapt(data)
    model = Sequential([Input((3,)), norm, L.Dense(1)])
    model.compile("adam", "mse")
    model.fit(data, data[:, :1], epochs=2, verbose=0)
    model.save(tmp_path / "n.keras")
    back = load_model(tmp_path / "n.keras")
    np.testing.assert_array_equal(back.predict(data), model.predict(data))
    np.testing.assert_allclose(back.layers[0].mean.numpy(), data.mean(0), rtol=1e-5)


def shifted_square(x, shift=0.0):
    d = ops.subtract(x, shift)
    return d * d


def keep_first_half(x, mask=None):
    return x[:, : x.shape[1] // 2]


def test_lambda_values_arguments_shapes_and_saving(tmp_path, rng):
    x = rng.standard_normal((4, 6)).astype("float32")
    layer = L.Lambda(shifted_square, arguments={"shift": 1.0})
    np.testing.assert_allclose(layer(x).numpy(), (x - 1.0) ** 2, rtol=1e-6)
    inp = Input((6,))
    out = L.Dense(2)(L.Lambda(keep_first_half, output_shape=(3,))(inp))
    model = Model(inp, out)
    assert model.layers[0].output.shape == (None, 3)
    model.compile("sgd", "mse")
    model.save(tmp_path / "l.keras")
    with pytest.raises(Exception, match="keep_first_half"):
        load_model(tmp_path / "l.keras")  # a file names the function, it never carries code
    back = load_model(tmp_path / "l.keras", custom_objects={"keep_first_half": keep_first_half})
    np.testing.assert_array_equal(back.predict(x), model.predict(x))
    with pytest.raises(ValueError, match="anonymous lambda"):
        L.Lambda(lambda t: t * 2).get_config()
    with pytest.raises(TypeError, match="callable"):
        L.Lambda(3)


def test_lambda_training_and_mask_arguments():
    seen = {}

    def probe(x, mask=None, training=None):
        seen.update(mask=mask, training=training)
        return x

    emb = L.Embedding(5, 2, mask_zero=True)(np.array([[1, 0, 2]]))
    out = L.Lambda(probe, mask=lambda inputs, mask: mask)(emb, training=True)
    np.testing.assert_array_equal(to_numpy(seen["mask"]), [[True, False, True]])
    assert seen["training"] is True
    np.testing.assert_array_equal(to_numpy(out._keras_mask), [[True, False, True]])
    # without mask=, a new output carries no mask (Keras 3's Lambda)
    assert getattr(L.Lambda(lambda t: t * 2.0)(emb), "_keras_mask", None) is None


def test_functional_merge_helpers(rng):
    a, b = rng.standard_normal((2, 3, 4)).astype("float32")
    cases = [(L.add, a + b), (L.subtract, a - b), (L.multiply, a * b), (L.average, (a + b) / 2),
             (L.maximum, np.maximum(a, b)), (L.minimum, np.minimum(a, b)),
             (L.concatenate, np.concatenate([a, b], -1))]
    for fn, want in cases:
        np.testing.assert_allclose(fn([a, b]).numpy(), want, rtol=1e-6)
    ia, ib = Input((4,)), Input((4,))
    model = Model([ia, ib], L.concatenate([L.add([ia, ib]), L.dot([ia, ib], axes=1)],
                                          name="joined"))
    assert model.layers[-1].name == "joined"
    y = model.predict([a, b])
    np.testing.assert_allclose(y, np.concatenate([a + b, (a * b).sum(1, keepdims=True)], 1),
                               rtol=1e-5)


@pytest.mark.parametrize("shapes,axes", [(((3, 4), (3, 4)), 1), (((3, 5, 4), (3, 6, 4)), 2),
                                         (((3, 5, 4), (3, 5, 6)), (1, 1)),
                                         (((3, 2, 5), (3, 5)), (-1, 1))])
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_matches_keras(shapes, axes, normalize, rng):
    keras = keras3()
    a, b = (rng.standard_normal(s).astype("float32") for s in shapes)
    want = numpy_of(keras.layers.Dot(axes, normalize=normalize)([a, b]))
    layer = L.Dot(axes, normalize=normalize)
    got = layer([a, b]).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape([(None,) + s[1:] for s in shapes]) == \
        (None,) + want.shape[1:]


def test_dot_gradcheck_and_errors(rng):
    from gradkit.testing import gradcheck

    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    assert gradcheck(lambda x, y: L.Dot((2, 2), normalize=True, dtype="float64")([x, y]), a, b)
    with pytest.raises(ValueError, match="same size"):
        L.Dot(1)([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="batch axis"):
        L.Dot(0)([np.ones((2, 3)), np.ones((2, 3))])


def test_input_is_importable_from_layers():
    from gradkit.keras.layers import Input as KerasInput

    assert KerasInput is Input and L.Input is Input
