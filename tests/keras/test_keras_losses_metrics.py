"""The Keras losses and metrics gradkit added (MeanAbsolutePercentageError, hinges,
LogCosh, Poisson, CosineSimilarity, RootMeanSquaredError, top-k, confusion counts...):
values against the real Keras 3 on the same inputs, with and without sample weights,
gradients by float64 gradcheck, configs through the registries."""

from __future__ import annotations

import os

import numpy as np
import pytest

from gradkit import Tensor, losses, metrics
from gradkit.testing import gradcheck

os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras", reason="the reference needs Keras 3 (pip install keras)")


RNG = np.random.default_rng(0)
POS_T, POS_P = RNG.uniform(0.5, 3.0, (6, 4)), RNG.uniform(0.5, 3.0, (6, 4))
ANY_T, ANY_P = RNG.standard_normal((6, 4)), RNG.standard_normal((6, 4))
SIGNS = RNG.choice([-1.0, 1.0], (6, 4))
BITS = (SIGNS > 0).astype(np.float64)
ONEHOT = np.eye(4)[RNG.integers(0, 4, 6)]
PROBS = np.exp(ANY_P) / np.exp(ANY_P).sum(-1, keepdims=True)
LABELS = RNG.integers(0, 4, 6)
WEIGHTS = RNG.uniform(0.1, 2.0, 6)

# (class name, kwargs, y_true, y_pred)
LOSSES = [
    ("MeanAbsolutePercentageError", {}, POS_T, ANY_P),
    ("MeanSquaredLogarithmicError", {}, POS_T, POS_P),
    ("Hinge", {}, SIGNS, ANY_P),
    ("Hinge", {}, BITS, ANY_P),
    ("SquaredHinge", {}, SIGNS, ANY_P),
    ("SquaredHinge", {}, BITS, ANY_P),
    ("CategoricalHinge", {}, ONEHOT, ANY_P),
    ("LogCosh", {}, ANY_T, ANY_P * 30.0),
    ("Poisson", {}, POS_T, POS_P),
    ("CosineSimilarity", {}, ANY_T, ANY_P),
    ("CosineSimilarity", {"axis": 0}, ANY_T, ANY_P),
]
LOSS_IDS = [f"{c}-{i}" for i, (c, *_) in enumerate(LOSSES)]


@pytest.mark.parametrize("case", LOSSES, ids=LOSS_IDS)
def test_losses_match_keras(case, keras):
    name, kwargs, t, p = case
    ours, theirs = getattr(losses, name)(**kwargs), getattr(keras.losses, name)(**kwargs)
    np.testing.assert_allclose(float(ours(t, Tensor(p))), float(theirs(t, p)), rtol=1e-6)
    if kwargs.get("axis", -1) == -1:  # one loss per row: one weight per row
        np.testing.assert_allclose(float(ours(t, Tensor(p), sample_weight=WEIGHTS)),
                                   float(theirs(t, p, sample_weight=WEIGHTS)), rtol=1e-6)
    none = getattr(losses, name)(reduction="none", **kwargs)(t, Tensor(p)).numpy()
    ref = keras.ops.convert_to_numpy(getattr(keras.losses, name)(reduction="none", **kwargs)(t, p))
    np.testing.assert_allclose(none, ref, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("case", LOSSES, ids=LOSS_IDS)
def test_losses_gradcheck_and_config(case):
    name, kwargs, t, p = case
    loss = getattr(losses, name)(**kwargs)
    scale = 0.1 if name == "LogCosh" else 1.0
    assert gradcheck(lambda x: loss(t, x * (1.0 / scale), sample_weight=WEIGHTS
                                    if kwargs.get("axis", -1) == -1 else None), p * scale)
    again = losses.deserialize(losses.serialize(loss))
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    assert type(losses.get(loss.fn)) is type(loss)


def test_loss_aliases():
    assert isinstance(losses.get("mape"), losses.MeanAbsolutePercentageError)
    assert isinstance(losses.get("msle"), losses.MeanSquaredLogarithmicError)
    assert isinstance(losses.get("logcosh"), losses.LogCosh)


# (class name, kwargs, y_true, y_pred)
METRICS = [
    ("MeanAbsolutePercentageError", {}, POS_T, ANY_P),
    ("MeanSquaredLogarithmicError", {}, POS_T, POS_P),
    ("Hinge", {}, SIGNS, ANY_P),
    ("SquaredHinge", {}, BITS, ANY_P),
    ("CategoricalHinge", {}, ONEHOT, ANY_P),
    ("LogCoshError", {}, ANY_T, ANY_P),
    ("Poisson", {}, POS_T, POS_P),
    ("KLDivergence", {}, PROBS[::-1], PROBS),
    ("CosineSimilarity", {}, ANY_T, ANY_P),
    ("BinaryCrossentropy", {}, BITS, 1 / (1 + np.exp(-ANY_P))),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, BITS, ANY_P),
    ("CategoricalCrossentropy", {}, ONEHOT, PROBS),
    ("CategoricalCrossentropy", {"from_logits": True}, ONEHOT, ANY_P),
    ("SparseCategoricalCrossentropy", {}, LABELS, PROBS),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, LABELS, ANY_P),
    ("TopKCategoricalAccuracy", {"k": 2}, ONEHOT, ANY_P),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, LABELS, ANY_P),
    ("RootMeanSquaredError", {}, ANY_T, ANY_P),
    ("TruePositives", {}, BITS, PROBS),
    ("FalsePositives", {}, BITS, PROBS),
    ("TrueNegatives", {}, BITS, PROBS),
    ("FalseNegatives", {}, BITS, PROBS),
]
METRIC_IDS = [f"{c}-{i}" for i, (c, *_) in enumerate(METRICS)]


@pytest.mark.parametrize("case", METRICS, ids=METRIC_IDS)
def test_metrics_match_keras(case, keras):
    name, kwargs, t, p = case
    ours, theirs = getattr(metrics, name)(**kwargs), getattr(keras.metrics, name)(**kwargs)
    for m in (ours, theirs):
        m.update_state(t[:3], p[:3])
        m.update_state(t[3:], p[3:], sample_weight=WEIGHTS[3:])
    np.testing.assert_allclose(ours.result(), float(theirs.result()), rtol=1e-5, atol=1e-7)
    ours.reset_state()
    assert ours.result() == 0.0
    again = metrics.deserialize(metrics.serialize(ours))
    assert type(again) is type(ours) and again.get_config() == ours.get_config()


def test_sum_metric_and_metric_names(keras):
    ours, theirs = metrics.Sum(), keras.metrics.Sum()
    for m in (ours, theirs):
        m.update_state([1.0, 2.0, 3.0])
        m.update_state([4.0, 5.0], sample_weight=[0.5, 2.0])
    assert ours.result() == pytest.approx(float(theirs.result()))
    assert isinstance(metrics.get("rmse"), metrics.RootMeanSquaredError)
    assert isinstance(metrics.get(metrics.hinge), metrics.Hinge)
    with pytest.raises(NotImplementedError, match="axis"):
        metrics.CategoricalCrossentropy(axis=0)


def test_compile_with_new_loss_and_metrics():
    import gradkit as gk

    gk.utils.set_random_seed(0)
    x = RNG.uniform(0.5, 2.0, (64, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = gk.Sequential([gk.layers.Dense(8, activation="relu", input_shape=(3,)),
                           gk.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mape", metrics=["rmse", metrics.LogCoshError()])
    hist = model.fit(x, y, epochs=3, batch_size=16, verbose=0).history
    assert set(hist) == {"loss", "rmse", "logcosh"}
    assert hist["loss"][-1] < hist["loss"][0]
