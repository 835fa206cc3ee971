"""MultiHeadAttention against Keras 3 (copied weights) and torch.nn.MultiheadAttention,
float64 gradcheck, masks, a Transformer block that trains, saving."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit import layers as L
from gradkit.backend import to_numpy
from gradkit.models import Input, Model, load_model
from tests.layers.keras_reference import keras3, numpy_of, weights_of


def _twin(keras_layer, q, v, **kw):
    """A gradkit layer with the Keras layer's config and weights."""
    layer = L.MultiHeadAttention(**kw)
    layer(q, v)
    layer.set_weights(weights_of(keras_layer))
    return layer


@pytest.mark.parametrize("kw", [dict(num_heads=2, key_dim=4),
                                dict(num_heads=3, key_dim=2, value_dim=5, output_shape=7),
                                dict(num_heads=1, key_dim=3, use_bias=False)])
def test_matches_keras_with_masks_and_scores(kw, rng):
    keras = keras3()
    q = rng.standard_normal((2, 5, 6)).astype("float32")
    v = rng.standard_normal((2, 4, 3)).astype("float32")
    k = rng.standard_normal((2, 4, 8)).astype("float32")
    allowed = rng.random((2, 5, 4)) > 0.3
    allowed[:, :, 0] = True  # no empty row (Keras gives those uniform weights, gradkit zeros)
    ref = keras.layers.MultiHeadAttention(**kw)
    y_ref, s_ref = ref(q, v, k, attention_mask=allowed, return_attention_scores=True)
    layer = L.MultiHeadAttention(**kw)
    layer(q, v, k)
    layer.set_weights(weights_of(ref))
    y, scores = layer(q, v, k, attention_mask=allowed, return_attention_scores=True)
    np.testing.assert_allclose(y.numpy(), numpy_of(y_ref), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(scores.numpy(), numpy_of(s_ref), rtol=1e-4, atol=1e-6)
    assert [w.shape for w in layer.weights] == [tuple(w.shape) for w in ref.weights]


def test_causal_and_padding_masks_match_keras(rng):
    keras = keras3()
    ids = np.array([[4, 2, 7, 0, 0], [1, 3, 0, 0, 0]])
    emb_ref = keras.layers.Embedding(9, 6, mask_zero=True)
    mha_ref = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    e = emb_ref(ids)
    y_ref = numpy_of(mha_ref(e, e, use_causal_mask=True))
    emb = L.Embedding(9, 6, mask_zero=True)
    emb.set_weights(weights_of(emb_ref))
    x = emb(ids)
    mha = _twin(mha_ref, x, x, num_heads=2, key_dim=3)
    y = mha(x, x, use_causal_mask=True)
    keep = ids != 0  # padded queries differ (Keras: uniform weights; gradkit: zeros)
    np.testing.assert_allclose(y.numpy()[keep], y_ref[keep], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(to_numpy(y._keras_mask), keep)  # the query's mask rides on


def test_matches_torch_multihead_attention(torch, rng):
    e, h, b, t, s = 6, 3, 2, 4, 5
    q = rng.standard_normal((b, t, e))
    kv = rng.standard_normal((b, s, e))
    ref = torch.nn.MultiheadAttention(e, h, batch_first=True, dtype=torch.float64)
    blocked = rng.random((t, s)) > 0.6
    blocked[:, 0] = False
    y_ref, w_ref = ref(torch.tensor(q), torch.tensor(kv), torch.tensor(kv),
                       attn_mask=torch.tensor(blocked), average_attn_weights=False)
    wq, wk, wv = ref.in_proj_weight.detach().numpy().reshape(3, e, e)
    bq, bk, bv = ref.in_proj_bias.detach().numpy().reshape(3, e)
    d = e // h
    layer = L.MultiHeadAttention(h, d, dtype="float64")
    layer(q, kv)
    layer.set_weights([wq.T.reshape(e, h, d), bq.reshape(h, d), wk.T.reshape(e, h, d),
                       bk.reshape(h, d), wv.T.reshape(e, h, d), bv.reshape(h, d),
                       ref.out_proj.weight.detach().numpy().T.reshape(h, d, e),
                       ref.out_proj.bias.detach().numpy()])
    y, w = layer(q, kv, attention_mask=~blocked[None], return_attention_scores=True)
    np.testing.assert_allclose(y.numpy(), y_ref.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(w.numpy(), w_ref.detach().numpy(), atol=1e-12)


def test_gradcheck(layer_gradcheck, rng):
    layer = L.MultiHeadAttention(2, 2, value_dim=3, dtype="float64")
    q = rng.standard_normal((1, 3, 4))
    layer(q, q)
    names = ["query_kernel", "query_bias", "key_kernel", "value_kernel", "output_kernel",
             "output_bias"]
    assert layer_gradcheck(layer, q, names,
                           call=lambda lay, x: lay(x, x, use_causal_mask=True))


def test_arguments_checked():
    with pytest.raises(NotImplementedError, match="attention_axes"):
        L.MultiHeadAttention(2, 4, attention_axes=(1,))
    with pytest.raises(ValueError, match="num_heads"):
        L.MultiHeadAttention(0, 4)
    with pytest.raises(ValueError, match=r"\(batch, time, features\)"):
        L.MultiHeadAttention(2, 4)(np.zeros((2, 3), "float32"), np.zeros((2, 3), "float32"))
    layer = L.MultiHeadAttention(2, 4, dropout=0.5, seed=1)
    x = np.ones((2, 3, 4), "float32")
    np.testing.assert_array_equal(layer(x, x).numpy(), layer(x, x, training=False).numpy())
    assert not np.allclose(layer(x, x, training=True).numpy(), layer(x, x).numpy())


def _transformer_classifier(vocab, length, dim=16):
    ids = Input((length,), dtype="int64")
    x = L.Embedding(vocab, dim, mask_zero=True)(ids)
    attn = L.MultiHeadAttention(num_heads=2, key_dim=8)(x, x)
    x = L.LayerNormalization()(L.add([x, attn]))
    ff = L.Dense(dim)(L.Dense(32, activation="relu")(x))
    x = L.LayerNormalization()(L.add([x, ff]))
    out = L.Dense(2, activation="softmax")(L.GlobalAveragePooling1D()(x))
    return Model(ids, out)


def test_transformer_block_trains_and_saves(tmp_path, rng):
    # the class: whether token 1 occurs in the (padded) sequence
    n, length = 96, 8
    lengths = rng.integers(3, length + 1, n)
    ids = np.zeros((n, length), dtype="int64")
    for i, m in enumerate(lengths):
        ids[i, :m] = rng.integers(2, 6, m)
    labels = rng.integers(0, 2, n)
    ids[labels == 1, 0] = 1
    model = _transformer_classifier(6, length)
    model.compile(gradkit.optimizers.Adam(learning_rate=0.01),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(ids, labels, epochs=12, batch_size=16, verbose=0).history
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    assert hist["accuracy"][-1] > 0.9
    model.save(tmp_path / "t.keras")
    back = load_model(tmp_path / "t.keras")
    np.testing.assert_allclose(back.predict(ids), model.predict(ids), rtol=1e-6, atol=1e-7)
