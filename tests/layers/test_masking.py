"""Masks: Embedding(mask_zero=True) and Masking make them, layers pass them on (eagerly,
in Sequential and functional models), recurrent layers skip masked steps, losses and
metrics ignore masked positions; pad_sequences. References: Keras 3 and NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from gradkit.keras.utils import pad_sequences

import gradkit
from gradkit import layers as L
from gradkit.backend import to_numpy
from gradkit.models import Input, Model, Sequential
from tests.layers.keras_reference import keras3, numpy_of, weights_of

IDS = np.array([[3, 5, 2, 0, 0], [1, 4, 4, 6, 7], [0, 0, 0, 0, 0], [2, 0, 3, 0, 1]])


def test_embedding_and_masking_make_masks():
    emb = L.Embedding(8, 3, mask_zero=True)
    out = emb(IDS)
    np.testing.assert_array_equal(to_numpy(out._keras_mask), IDS != 0)
    np.testing.assert_array_equal(emb.compute_mask(IDS), IDS != 0)
    assert getattr(L.Embedding(8, 3)(IDS), "_keras_mask", None) is None
    x = np.array([[[1.0, 2.0], [0.0, 0.0], [0.5, 0.0]]], "float32")
    y = L.Masking()(x)
    np.testing.assert_array_equal(to_numpy(y._keras_mask), [[True, False, True]])
    np.testing.assert_array_equal(y.numpy(), x)
    y = L.Masking(mask_value=0.5)(np.array([[[0.5, 0.5], [1.0, 2.0]]], "float32"))
    np.testing.assert_array_equal(to_numpy(y._keras_mask), [[False, True]])
    np.testing.assert_array_equal(y.numpy(), [[[0.0, 0.0], [1.0, 2.0]]])


def test_masks_pass_through_mask_aware_layers_and_stop_elsewhere():
    x = L.Embedding(8, 4, mask_zero=True)(IDS)
    for layer in (L.Dense(3), L.Dropout(0.5), L.LayerNormalization(), L.Activation("relu"),
                  L.ReLU(), L.Rescaling(2.0)):
        y = layer(x, training=True)
        np.testing.assert_array_equal(to_numpy(y._keras_mask), IDS != 0)
    assert getattr(L.Flatten()(x), "_keras_mask", None) is None
    other = L.Embedding(8, 4, mask_zero=True)(np.roll(IDS, 1, axis=1))
    np.testing.assert_array_equal(to_numpy(L.add([x, other])._keras_mask),
                                  (IDS != 0) & (np.roll(IDS, 1, axis=1) != 0))
    plain = gradkit.Tensor(np.ones((4, 5, 2), "float32"))
    # Keras's rule: an input without a mask counts as all kept, any() over the features
    np.testing.assert_array_equal(to_numpy(L.concatenate([x, plain])._keras_mask),
                                  np.ones((4, 5), bool))
    np.testing.assert_array_equal(to_numpy(L.concatenate([x, other], axis=1)._keras_mask),
                                  np.concatenate([IDS != 0, np.roll(IDS, 1, axis=1) != 0], 1))


@pytest.mark.parametrize("cls", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("return_sequences,go_backwards", [(False, False), (True, False),
                                                           (True, True)])
def test_recurrent_layers_skip_masked_steps_like_keras(cls, return_sequences, go_backwards):
    keras = keras3()
    emb_ref = keras.layers.Embedding(8, 4, mask_zero=True)
    rnn_ref = getattr(keras.layers, cls)(3, return_sequences=return_sequences,
                                         go_backwards=go_backwards)
    y_ref = numpy_of(rnn_ref(emb_ref(IDS)))
    emb = L.Embedding(8, 4, mask_zero=True)
    rnn = getattr(L, cls)(3, return_sequences=return_sequences, go_backwards=go_backwards)
    rnn(emb(IDS))
    emb.set_weights(weights_of(emb_ref))
    rnn.set_weights(weights_of(rnn_ref))
    y = rnn(emb(IDS))
    np.testing.assert_allclose(y.numpy(), y_ref, rtol=1e-5, atol=1e-6)
    if return_sequences:
        np.testing.assert_array_equal(to_numpy(y._keras_mask), IDS != 0)
    else:
        assert getattr(y, "_keras_mask", None) is None


def test_rnn_mask_equals_running_only_the_kept_steps(rng):
    # a sequence with padding inside gives the state of its unpadded steps
    lstm = L.LSTM(4, dtype="float64")
    x = rng.standard_normal((1, 6, 3))
    keep = np.array([[True, True, False, True, False, False]])
    y = lstm(x, mask=keep).numpy()
    np.testing.assert_allclose(y, lstm(x[:, keep[0]]).numpy(), atol=1e-12)


def _sequence_model(m, functional):
    if functional:
        inp = m.Input((5,), dtype="int32")
        h = m.layers.LSTM(6, return_sequences=True)(m.layers.Embedding(8, 4, mask_zero=True)(inp))
        return m.Model(inp, m.layers.Dense(4, activation="softmax")(h))
    return m.Sequential([m.Input((5,), dtype="int32"), m.layers.Embedding(8, 4, mask_zero=True),
                         m.layers.LSTM(6, return_sequences=True),
                         m.layers.Dense(4, activation="softmax")])


@pytest.mark.parametrize("functional", [True, False])
def test_losses_and_metrics_ignore_masked_positions_like_keras(functional, rng):
    keras = keras3()
    import gradkit.keras as gk

    ref, model = _sequence_model(keras, functional), _sequence_model(gk, functional)
    model.set_weights(weights_of(ref))
    for m in (ref, model):
        m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    pred = numpy_of(ref.predict(IDS, verbose=0)).argmax(-1)
    y = np.where(IDS != 0, pred, (pred + 1) % 4)  # right where kept, wrong where masked
    y[1, 0] = (pred[1, 0] + 1) % 4
    loss_ref, acc_ref = ref.evaluate(IDS, y, verbose=0)
    loss, acc = model.evaluate(IDS, y, verbose=0)
    assert acc == pytest.approx(acc_ref) == pytest.approx(10 / 11)  # 11 kept, 1 wrong
    assert loss == pytest.approx(loss_ref, rel=1e-5)
    # the mask also reaches a loss called by hand on the model's output
    out = model(IDS)
    by_hand = gradkit.losses.SparseCategoricalCrossentropy()(y, out)
    per = -np.log(np.take_along_axis(out.numpy(), y[..., None], -1)[..., 0])
    assert float(by_hand.numpy()) == pytest.approx(per[IDS != 0].mean(), rel=1e-5)


def test_masked_training_does_not_learn_from_padding(rng):
    # targets at padded positions are noise; with the mask they carry no gradient
    model = Sequential([L.Embedding(8, 4, mask_zero=True, input_shape=(5,)),
                        L.Dense(1)])
    model.compile("sgd", "mse")
    y = rng.standard_normal((4, 5, 1)).astype("float32")
    y2 = y.copy()
    y2[IDS == 0] += 100.0
    w0 = model.get_weights()
    model.train_on_batch(IDS, y)
    w1 = model.get_weights()
    model.set_weights(w0)
    model.train_on_batch(IDS, y2)
    for a, b in zip(w1, model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_global_average_pooling_1d_masked_mean(rng):
    keras = keras3()
    x = rng.standard_normal((4, 5, 3)).astype("float32")
    x[IDS == 0] = 0.0
    y_ref = numpy_of(keras.layers.GlobalAveragePooling1D()(keras.layers.Masking()(x)))
    y = L.GlobalAveragePooling1D()(L.Masking()(x))
    some = (IDS != 0).any(1)  # a sequence with every step masked: zeros (Keras: NaN)
    np.testing.assert_allclose(y.numpy()[some], y_ref[some], atol=1e-6)
    np.testing.assert_array_equal(y.numpy()[~some], 0.0)
    assert getattr(y, "_keras_mask", None) is None
    kept = (IDS[1] != 0)
    np.testing.assert_allclose(y.numpy()[1], x[1][kept].mean(0), atol=1e-6)
    np.testing.assert_allclose(L.GlobalMaxPooling1D()(x).numpy(), x.max(1))
    np.testing.assert_allclose(L.GlobalAveragePooling1D(data_format="channels_first",
                                                        keepdims=True)(x).numpy(),
                               x.mean(2, keepdims=True), atol=1e-6)


@pytest.mark.parametrize("kw", [{}, dict(maxlen=3), dict(maxlen=3, padding="post"),
                                dict(maxlen=2, truncating="post", value=-1),
                                dict(dtype="float32", maxlen=6, value=0.5, padding="post")])
def test_pad_sequences_matches_keras(kw):
    keras = keras3()
    seqs = [[1, 2, 3, 4], [5], [], [6, 7]]
    got, want = pad_sequences(seqs, **kw), keras.utils.pad_sequences(seqs, **kw)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_pad_sequences_features_and_errors():
    f = [np.ones((3, 2)), np.full((1, 2), 2.0)]
    out = pad_sequences(f, dtype="float32")
    assert out.shape == (2, 3, 2) and (out[1, :2] == 0).all() and (out[1, 2] == 2).all()
    with pytest.raises(ValueError, match="padding"):
        pad_sequences([[1]], padding="middle")
    with pytest.raises(TypeError, match="sequence 1"):
        pad_sequences([[1], 2])
    with pytest.raises(ValueError, match="steps of sequence 1"):
        pad_sequences([np.ones((2, 2)), np.ones((2, 3))], dtype="float32")


def test_functional_mask_flows_through_the_graph():
    ids = Input((5,), dtype="int64")
    x = L.Embedding(8, 4, mask_zero=True)(ids)
    h = L.GRU(3, return_sequences=True)(L.Dense(4)(x))
    model = Model(ids, L.Dense(2)(h))
    out = model(IDS)
    np.testing.assert_array_equal(to_numpy(out._keras_mask), IDS != 0)
