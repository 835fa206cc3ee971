"""sample_weight / class_weight in fit, evaluate, train_on_batch, test_on_batch (Keras 3 semantics).

A loss given weights reduces as Keras's "sum_over_batch_size": sum(loss * w) / batch size.
``weighted_metrics`` are weighted means, sum(w * v) / sum(w); plain ``metrics`` ignore the
weights, as in Keras 3 (a name in both is logged as ``weighted_<name>``).
"""

from __future__ import annotations

import numpy as np
import pytest

import gradkit as gk
from gradkit.autograd import engine


def _clf(seed=0, activation="softmax", units=3, loss="sparse_categorical_crossentropy",
         metrics=("accuracy",)):
    gk.utils.set_random_seed(seed)
    model = gk.Sequential([gk.layers.Dense(8, activation="tanh", input_shape=(2,)),
                           gk.layers.Dense(units, activation=activation)])
    model.compile(optimizer=gk.optimizers.SGD(0.1), loss=loss, metrics=list(metrics),
                  weighted_metrics=list(metrics))
    return model


def _reg(seed=0):
    gk.utils.set_random_seed(seed)
    model = gk.Sequential([gk.layers.Dense(4, activation="tanh", input_shape=(3,)),
                           gk.layers.Dense(2)])
    model.compile(optimizer=gk.optimizers.SGD(0.05), loss="mse", metrics=["mae"],
                  weighted_metrics=["mae"])
    return model


def _reg_data(n=40, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = rng.normal(size=(n, 2)).astype("float32")
    w = rng.uniform(0.0, 3.0, size=n)
    return x, y, w


def _grads(model, x, y, sw):
    loss = model.compute_loss(y, model(x, training=True), sample_weight=sw)
    weights = model.trainable_weights
    return float(loss.numpy()), [g.numpy() for g in engine.run_backward(loss, None, weights)]


def _same_weights(a, b, **tol):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, **(tol or {"rtol": 1e-5, "atol": 1e-6}))


# ---------------------------------------------------------------- zero weights
def test_zero_weights_give_zero_loss_and_zero_gradient_on_the_fused_softmax_path(blobs):
    x, y = blobs
    model = _clf()
    loss, grads = _grads(model, x[:16], y[:16], np.zeros(16))
    assert loss == 0.0
    assert all(np.all(g == 0) for g in grads)


def test_zero_weights_leave_the_weights_untouched_and_metrics_empty(blobs):
    x, y = blobs
    model = _clf()
    before = model.get_weights()
    out = model.train_on_batch(x[:16], y[:16], sample_weight=np.zeros(16), return_dict=True)
    assert out["loss"] == 0.0
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # an unweighted step does move them: the zero above is the weights' doing
    model.train_on_batch(x[:16], y[:16])
    assert any(np.any(a != b) for a, b in zip(before, model.get_weights()))


def test_half_zero_weights_match_training_on_the_other_half_up_to_the_batch_size(blobs):
    x, y = blobs
    w = np.r_[np.ones(8), np.zeros(8)]
    model = _clf()
    lw, gw = _grads(model, x[:16], y[:16], w)
    lh, gh = _grads(model, x[:8], y[:8], None)
    # sum(loss * w) / 16 == mean over the first 8 * (8 / 16)
    assert lw == pytest.approx(lh * 0.5, rel=1e-5)
    for a, b in zip(gw, gh):
        np.testing.assert_allclose(a, b * 0.5, rtol=1e-4, atol=1e-7)


# ---------------------------------------------------------------- weight 2 == duplicate
def test_weight_two_on_one_half_is_duplicating_it_with_keras_reduction(blobs):
    x, y = blobs
    x, y = x[:20], y[:20]
    w = np.r_[np.full(10, 2.0), np.ones(10)]
    xd, yd = np.concatenate([x, x[:10]]), np.concatenate([y, y[:10]])
    model = _clf()
    lw, gw = _grads(model, x, y, w)
    ld, gd = _grads(model, xd, yd, None)
    # "sum_over_batch_size" divides by the 20 rows given, duplication by 30 rows
    assert lw == pytest.approx(ld * 30 / 20, rel=1e-5)
    for a, b in zip(gw, gd):
        np.testing.assert_allclose(a, b * 30 / 20, rtol=1e-4, atol=1e-7)
    # weighted metrics are weighted means, so they equal the duplicated data's exactly
    res_w = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    res_d = model.evaluate(xd, yd, verbose=0, return_dict=True)
    res_x = model.evaluate(x, y, verbose=0, return_dict=True)
    assert res_w["weighted_accuracy"] == pytest.approx(res_d["accuracy"], abs=1e-12)
    assert res_w["weighted_accuracy"] != pytest.approx(res_x["accuracy"], abs=1e-6)
    assert res_w["accuracy"] == res_x["accuracy"]  # plain metrics ignore the weights


# ---------------------------------------------------------------- class_weight
@pytest.mark.parametrize("kind", ["sparse", "sparse_column", "onehot"])
def test_class_weight_equals_the_equivalent_sample_weight(blobs, kind):
    x, y = blobs
    x, y = x[:120], y[:120]
    cw = {0: 0.5, 1: 2.0, 2: 1.25}
    sw = np.array([cw[c] for c in y])
    if kind == "sparse":
        yy, loss = y, "sparse_categorical_crossentropy"
    elif kind == "sparse_column":
        yy, loss = y[:, None], "sparse_categorical_crossentropy"
    else:
        yy, loss = np.eye(3, dtype="float32")[y], "categorical_crossentropy"
    a, b = _clf(loss=loss), _clf(loss=loss)
    gk.utils.set_random_seed(7)
    ha = a.fit(x, yy, class_weight=cw, epochs=2, batch_size=16, verbose=0)
    gk.utils.set_random_seed(7)
    hb = b.fit(x, yy, sample_weight=sw, epochs=2, batch_size=16, verbose=0)
    _same_weights(a, b)
    assert ha.history["loss"] == pytest.approx(hb.history["loss"], rel=1e-6)
    assert ha.history["weighted_accuracy"] == pytest.approx(hb.history["weighted_accuracy"],
                                                            rel=1e-12)


def test_class_weight_for_binary_targets_and_times_sample_weight():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 2)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    cw = {0: 3.0, 1: 0.5}
    sw = rng.uniform(0.5, 1.5, size=64)
    both = sw * np.where(y[:, 0] > 0, 0.5, 3.0)
    a = _clf(activation="sigmoid", units=1, loss="binary_crossentropy")
    b = _clf(activation="sigmoid", units=1, loss="binary_crossentropy")
    ra = a.train_on_batch(x, y, sample_weight=sw, class_weight=cw, return_dict=True)
    rb = b.train_on_batch(x, y, sample_weight=both, return_dict=True)
    assert ra["loss"] == pytest.approx(rb["loss"], rel=1e-6)
    _same_weights(a, b)


def test_class_weight_missing_class_is_named(blobs):
    x, y = blobs
    model = _clf()
    with pytest.raises(ValueError, match="class 2 occurs in y but has no entry"):
        model.fit(x, y, class_weight={0: 1.0, 1: 1.0}, epochs=1, verbose=0)
    with pytest.raises(TypeError, match="class_weight must be a dict"):
        model.fit(x, y, class_weight=[1.0, 1.0, 1.0], epochs=1, verbose=0)


def test_class_weight_applies_to_generator_batches(blobs):
    x, y = blobs
    cw = {0: 0.5, 1: 2.0, 2: 1.0}
    sw = np.array([cw[c] for c in y])
    a, b = _clf(), _clf()
    a.fit(((x[s:s + 50], y[s:s + 50]) for s in range(0, 600, 50)), class_weight=cw,
          epochs=1, verbose=0)
    b.fit(x, y, sample_weight=sw, batch_size=50, shuffle=False, epochs=1, verbose=0)
    _same_weights(a, b)


# ---------------------------------------------------------------- generators and triples
def test_generator_triples_train_like_array_sample_weight():
    x, y, w = _reg_data(48)
    a, b = _reg(), _reg()
    batches = [(x[s:s + 16], y[s:s + 16], w[s:s + 16]) for s in range(0, 48, 16)]
    ha = a.fit(iter(batches), epochs=1, verbose=0)
    hb = b.fit(x, y, sample_weight=w, batch_size=16, shuffle=False, epochs=1, verbose=0)
    _same_weights(a, b)
    assert ha.history["loss"] == pytest.approx(hb.history["loss"], rel=1e-6)
    # lists of three are batches too (Keras unpacks them like tuples)
    c = _reg()
    c.fit([list(bt) for bt in batches], epochs=1, verbose=0)
    _same_weights(c, b)


def test_triples_in_evaluate_and_validation_data_match_the_weighted_reference():
    x, y, w = _reg_data(50)
    model = _reg()
    pred = model.predict(x)
    per = ((pred - y) ** 2).mean(-1)
    want_loss = (per * w).sum() / len(x)
    mae = np.abs(pred - y).mean(-1)
    want_mae = (mae * w).sum() / w.sum()
    for res in (model.evaluate(x, y, sample_weight=w, batch_size=16, verbose=0,
                               return_dict=True),
                model.evaluate(((x[s:s + 16], y[s:s + 16], w[s:s + 16])
                                for s in range(0, 50, 16)), verbose=0, return_dict=True)):
        assert res["loss"] == pytest.approx(want_loss, rel=1e-5)
        assert res["weighted_mae"] == pytest.approx(want_mae, rel=1e-5)
        assert res["mae"] == pytest.approx(mae.mean(), rel=1e-5)
    unweighted = model.evaluate(x, y, verbose=0, return_dict=True)
    assert unweighted["loss"] != pytest.approx(want_loss, rel=1e-3)
    # validation_data triples: val_* is evaluate with the weights, after the epoch
    hist = model.fit(x[:30], y[:30], validation_data=(x, y, w), epochs=1, verbose=0)
    after = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    assert hist.history["val_loss"][0] == pytest.approx(after["loss"], rel=1e-6)
    assert hist.history["val_weighted_mae"][0] == pytest.approx(after["weighted_mae"], rel=1e-6)


def test_validation_split_takes_the_held_out_weights():
    x, y, w = _reg_data(40)
    model = _reg()
    hist = model.fit(x, y, sample_weight=w, validation_split=0.25, epochs=1, verbose=0,
                     shuffle=False)
    held = model.evaluate(x[30:], y[30:], sample_weight=w[30:], verbose=0)
    assert hist.history["val_loss"][0] == pytest.approx(held[0], rel=1e-6)


def test_test_on_batch_and_integer_weights():
    x, y, _ = _reg_data(10)
    w = np.arange(10)  # integer weights keep their values
    model = _reg()
    pred = model.predict(x)
    want = (((pred - y) ** 2).mean(-1) * w).sum() / 10
    assert model.test_on_batch(x, y, sample_weight=w)[0] == pytest.approx(want, rel=1e-5)
    assert model.test_on_batch(x, y, sample_weight=list(w))[0] == pytest.approx(want, rel=1e-5)


def test_multi_output_weights_per_output():
    gk.utils.set_random_seed(0)
    inp = gk.Input(shape=(3,))
    h = gk.layers.Dense(4, activation="tanh")(inp)
    model = gk.Model(inp, [gk.layers.Dense(1, name="a")(h), gk.layers.Dense(1, name="b")(h)])
    model.compile(optimizer="sgd", loss="mse")
    x, y, w = _reg_data(12)
    ya, yb = y[:, :1], y[:, 1:]
    pa, pb = model.predict(x)
    ref = lambda p, t, ww: (((p - t) ** 2)[:, 0] * ww).sum() / len(x)  # noqa: E731
    both = model.test_on_batch(x, [ya, yb], sample_weight=w)
    assert both == pytest.approx(ref(pa, ya, w) + ref(pb, yb, w), rel=1e-5)
    only_a = model.test_on_batch(x, [ya, yb], sample_weight=[w, np.zeros(12)])
    assert only_a == pytest.approx(ref(pa, ya, w), rel=1e-5)
    with pytest.raises(ValueError, match="class_weight is only for models with one output"):
        model.train_on_batch(x, [ya, yb], class_weight={0: 1.0})


# ---------------------------------------------------------------- errors
def test_bad_weights_are_refused_clearly(blobs):
    x, y = blobs
    model = _clf()
    with pytest.raises(ValueError, match="sample_weight has 5 entries but there are 600"):
        model.fit(x, y, sample_weight=np.ones(5), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="sample_weight has 1 entries"):
        model.evaluate(x, y, sample_weight=np.ones(1), verbose=0)
    with pytest.raises(ValueError, match="sample_weight must be None when x is an iterable"):
        model.fit(iter([(x, y)]), sample_weight=np.ones(600), verbose=0)
    with pytest.raises(ValueError, match="y must be None when x is an iterable"):
        model.evaluate(iter([(x, y)]), y, verbose=0)
    with pytest.raises(ValueError, match="contains nan"):
        model.train_on_batch(x[:4], y[:4], sample_weight=np.array([1, np.nan, 1, 1]))
    with pytest.raises(ValueError, match="a batch has no targets"):
        model.fit(iter([x[:4]]), verbose=0)
    with pytest.raises(ValueError, match="one weight per example"):
        model.fit(iter([(x[:4], y[:4], np.ones(3))]), verbose=0)
