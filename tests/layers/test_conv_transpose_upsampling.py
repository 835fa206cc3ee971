"""Conv2DTranspose and UpSampling2D: shapes, values and gradients against PyTorch and
Keras 3, float64 gradchecks, training, saving."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit import layers as L
from gradkit.models import Sequential, load_model
from tests.layers.keras_reference import keras3, numpy_of, weights_of


@pytest.mark.parametrize("kw,shape", [
    (dict(strides=2, padding="same"), (2, 5, 4, 3)),
    (dict(strides=2, padding="valid"), (2, 5, 4, 3)),
    (dict(strides=3, padding="valid", kernel_size=2), (1, 4, 4, 3)),
    (dict(strides=(2, 1), padding="same", output_padding=(1, 0)), (2, 3, 4, 3)),
    (dict(strides=2, padding="valid", output_padding=1), (1, 4, 3, 3)),
    (dict(dilation_rate=2, padding="same"), (1, 5, 5, 3)),
])
def test_conv2d_transpose_matches_keras(kw, shape, rng):
    keras = keras3()
    kw = {"kernel_size": 3, **kw}
    x = rng.standard_normal(shape).astype("float32")
    ref = keras.layers.Conv2DTranspose(4, **kw)
    expected = numpy_of(ref(x))
    layer = L.Conv2DTranspose(4, **kw)
    layer(x)
    layer.set_weights(weights_of(ref))
    y = layer(x).numpy()
    assert layer.compute_output_shape((None,) + shape[1:]) == (None,) + expected.shape[1:]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_conv2d_transpose_channels_first_values_and_grads_match_torch(torch, rng):
    x = rng.standard_normal((2, 3, 4, 5))
    layer = L.Conv2DTranspose(2, (3, 2), strides=2, data_format="channels_first",
                              dtype="float64")
    xt = gradkit.Tensor(x, requires_grad=True)
    y = layer(xt)
    g = rng.standard_normal(y.shape)
    (y * gradkit.Tensor(g)).sum().backward()
    k, b = (w.numpy() for w in layer.weights)  # (kh, kw, filters, in)
    tx = torch.tensor(x, requires_grad=True)
    tk = torch.tensor(k.transpose(3, 2, 0, 1).copy(), requires_grad=True)  # (in, out, kh, kw)
    tb = torch.tensor(b, requires_grad=True)
    ty = torch.nn.functional.conv_transpose2d(tx, tk, tb, stride=2)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.kernel.grad.numpy(),
                               tk.grad.numpy().transpose(2, 3, 1, 0), atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.numpy(), tb.grad.numpy(), atol=1e-12)


def test_conv2d_transpose_gradcheck(layer_gradcheck, rng):
    layer = L.Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=1,
                              dtype="float64")
    x = rng.standard_normal((1, 3, 2, 2))
    layer(x)
    assert layer_gradcheck(layer, x, ["kernel", "bias"])


def test_conv2d_transpose_weights_errors_and_training(rng):
    layer = L.Conv2DTranspose(6, 3, strides=2, padding="same")
    layer(np.zeros((1, 7, 7, 4), "float32"))
    assert layer.kernel.shape == (3, 3, 6, 4) and layer.count_params() == 3 * 3 * 6 * 4 + 6
    with pytest.raises(ValueError, match="output_padding"):
        L.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="channels"):
        layer(np.zeros((1, 7, 7, 3), "float32"))
    # a tiny decoder learns to upsample: the loss goes down
    model = Sequential([L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu",
                                          input_shape=(4, 4, 2)),
                        L.Conv2D(1, 3, padding="same")])
    model.compile(gradkit.optimizers.Adam(learning_rate=0.02), "mse")
    x = rng.standard_normal((16, 4, 4, 2)).astype("float32")
    y = np.repeat(np.repeat(x[..., :1], 2, axis=1), 2, axis=2)
    hist = model.fit(x, y, epochs=30, batch_size=8, verbose=0).history["loss"]
    assert hist[-1] < 0.5 * hist[0]


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_upsampling2d_matches_torch(interpolation, fmt, torch, rng):
    x = rng.standard_normal((2, 3, 4, 5))
    layer = L.UpSampling2D((2, 3), data_format=fmt, interpolation=interpolation,
                           dtype="float64")
    xt = gradkit.Tensor(x, requires_grad=True)
    y = layer(xt)
    g = rng.standard_normal(y.shape)
    (y * gradkit.Tensor(g)).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    tin = tx if fmt == "channels_first" else tx.permute(0, 3, 1, 2)
    ty = torch.nn.Upsample(scale_factor=(2, 3), mode=interpolation)(tin)
    if fmt == "channels_last":
        ty = ty.permute(0, 2, 3, 1)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), atol=1e-12)
    assert layer.compute_output_shape((None, 3, 4, 5)) == (None,) + tuple(y.shape[1:])


def test_upsampling2d_bilinear_matches_keras(rng):
    keras = keras3()
    x = rng.standard_normal((2, 3, 5, 2)).astype("float32")
    expected = numpy_of(keras.layers.UpSampling2D(2, interpolation="bilinear")(x))
    np.testing.assert_allclose(L.UpSampling2D(2, interpolation="bilinear")(x).numpy(),
                               expected, atol=1e-6)
    with pytest.raises(ValueError, match="interpolation"):
        L.UpSampling2D(interpolation="cubic")


def test_decoder_saves_and_loads(tmp_path, rng):
    model = Sequential([L.Conv2DTranspose(3, 3, strides=2, padding="same", input_shape=(3, 3, 2)),
                        L.UpSampling2D(2, interpolation="bilinear")])
    model.compile("sgd", "mse")
    x = rng.standard_normal((2, 3, 3, 2)).astype("float32")
    model.save(tmp_path / "m.keras")
    back = load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(back.predict(x), model.predict(x))
    assert back.predict(x).shape == (2, 12, 12, 3)
