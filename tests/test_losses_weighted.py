"""Per-sample weights in losses (values, gradients, the fused paths) and in metrics.

Keras 3 semantics: a loss called with ``sample_weight`` returns
``sum(per_example * w) / number of per-example losses`` ("sum_over_batch_size");
metrics return ``sum(w * v) / sum(w)``.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradkit import losses, metrics, ops
from gradkit.autograd import engine
from gradkit.tensor import Tensor
from gradkit.testing import gradcheck

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover
    torch = TF = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed")
N, C = 6, 4


def _data(seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(N, C)) * 2
    labels = rng.integers(0, C, size=N)
    w = rng.uniform(0.0, 2.0, size=N)
    return logits, labels, w


# (name, loss, y_pred from the float64 leaf x, targets from labels/x shape)
CASES = [
    ("sparse_ce_logits", lambda: losses.SparseCategoricalCrossentropy(from_logits=True),
     lambda x: x, lambda lab: lab),
    ("sparse_ce_softmax", losses.SparseCategoricalCrossentropy,
     lambda x: ops.softmax(x, axis=-1), lambda lab: lab),
    ("cce_softmax", losses.CategoricalCrossentropy,
     lambda x: ops.softmax(x, axis=-1), lambda lab: np.eye(C)[lab]),
    ("bce_logits", lambda: losses.BinaryCrossentropy(from_logits=True),
     lambda x: x, lambda lab: (np.arange(C) == lab[:, None]).astype(float)),
    ("bce_sigmoid", losses.BinaryCrossentropy, ops.sigmoid,
     lambda lab: (np.arange(C) == lab[:, None]).astype(float)),
    ("mse", losses.MeanSquaredError, lambda x: x, lambda lab: np.eye(C)[lab]),
]


@pytest.mark.parametrize("name,make,pred,target", CASES, ids=[c[0] for c in CASES])
def test_weighted_loss_gradcheck_float64(name, make, pred, target):
    logits, labels, w = _data()
    loss = make()
    y = target(labels)
    gradcheck(lambda x: loss(y, pred(x), sample_weight=w), logits)


@pytest.mark.parametrize("name,make,pred,target", CASES, ids=[c[0] for c in CASES])
def test_zero_weights_give_zero_loss_and_gradient(name, make, pred, target):
    logits, labels, _ = _data(1)
    x = Tensor(logits, requires_grad=True)
    out = make()(target(labels), pred(x), sample_weight=np.zeros(N))
    assert float(out.numpy()) == 0.0
    (g,) = engine.run_backward(out, None, [x])
    assert g is None or not np.any(g.numpy())


@pytest.mark.parametrize("name,make,pred,target", CASES, ids=[c[0] for c in CASES])
def test_weighted_value_is_sum_of_weighted_per_example_over_batch(name, make, pred, target):
    logits, labels, w = _data(2)
    y = target(labels)
    x = Tensor(logits)
    per = make().__class__(reduction="none", **_kw(make()))(y, pred(x)).numpy()
    got = float(make()(y, pred(x), sample_weight=w).numpy())
    assert got == pytest.approx((per * w).sum() / per.size, rel=1e-12)
    by_sum = make().__class__(reduction="sum", **_kw(make()))(y, pred(x), sample_weight=w)
    assert float(by_sum.numpy()) == pytest.approx((per * w).sum(), rel=1e-12)
    by_w = make().__class__(reduction="mean_with_sample_weight", **_kw(make()))(
        y, pred(x), sample_weight=w)
    assert float(by_w.numpy()) == pytest.approx((per * w).sum() / w.sum(), rel=1e-12)


def _kw(loss):
    return {k: v for k, v in getattr(loss, "_fn_kwargs", {}).items()}


def _torch_twins():
    return [
        ("sparse_ce_logits", losses.SparseCategoricalCrossentropy(from_logits=True),
         lambda x: x, lambda lab: lab,
         lambda xt, lab: TF.cross_entropy(xt, torch.tensor(lab), reduction="none")),
        ("sparse_ce_softmax", losses.SparseCategoricalCrossentropy(),
         lambda x: ops.softmax(x, axis=-1), lambda lab: lab,
         lambda xt, lab: TF.cross_entropy(xt, torch.tensor(lab), reduction="none")),
        ("cce_softmax", losses.CategoricalCrossentropy(), lambda x: ops.softmax(x, axis=-1),
         lambda lab: np.eye(C)[lab],
         lambda xt, t: TF.cross_entropy(xt, torch.tensor(t), reduction="none")),
        ("bce_logits", losses.BinaryCrossentropy(from_logits=True), lambda x: x,
         lambda lab: (np.arange(C) == lab[:, None]).astype(float),
         lambda xt, t: TF.binary_cross_entropy_with_logits(
             xt, torch.tensor(t), reduction="none").mean(-1)),
        ("mse", losses.MeanSquaredError(), lambda x: x, lambda lab: np.eye(C)[lab],
         lambda xt, t: TF.mse_loss(xt, torch.tensor(t), reduction="none").mean(-1)),
    ]


@needs_torch
@pytest.mark.parametrize("case", range(5))
def test_weighted_loss_and_gradient_match_torch_reduction_none_times_weights(case):
    name, loss, pred, target, twin = _torch_twins()[case]
    logits, labels, w = _data(3)
    y = target(labels)
    x = Tensor(logits, requires_grad=True)
    out = loss(y, pred(x), sample_weight=w)
    (g,) = engine.run_backward(out, None, [x])
    xt = torch.tensor(logits, requires_grad=True)
    ref = (twin(xt, y) * torch.tensor(w)).sum() / N
    ref.backward()
    assert float(out.numpy()) == pytest.approx(ref.item(), rel=1e-10), name
    np.testing.assert_allclose(g.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_column_and_temporal_weights_broadcast():
    rng = np.random.default_rng(4)
    y, p = rng.normal(size=(N, 3, 2)), rng.normal(size=(N, 3, 2))
    per = ((p - y) ** 2).mean(-1)  # (N, 3)
    w = rng.uniform(size=N)
    mse = losses.MeanSquaredError()
    want = (per * w[:, None]).sum() / per.size
    assert float(mse(y, Tensor(p), sample_weight=w).numpy()) == pytest.approx(want, rel=1e-12)
    assert float(mse(y, Tensor(p), sample_weight=w[:, None]).numpy()) == pytest.approx(
        want, rel=1e-12)
    wt = rng.uniform(size=(N, 3))  # one weight per time step
    assert float(mse(y, Tensor(p), sample_weight=wt).numpy()) == pytest.approx(
        (per * wt).sum() / per.size, rel=1e-12)


def test_weight_shapes_that_do_not_fit_are_refused():
    logits, labels, _ = _data()
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    for bad in (np.ones(N - 1), np.ones(1), np.ones((N, 2))):
        with pytest.raises(ValueError, match="one weight per example"):
            loss(labels, Tensor(logits), sample_weight=bad)
    for bad in (np.ones(N - 1), np.ones(1)):
        with pytest.raises(ValueError, match="one weight per example"):
            metrics.SparseCategoricalAccuracy().update_state(labels, logits, sample_weight=bad)


# ---------------------------------------------------------------- metrics
def _metric_cases(rng):
    y = rng.integers(0, C, size=40)
    s = rng.normal(size=(40, C))
    yb = rng.integers(0, 2, size=(40, 1)).astype(float)
    pb = rng.uniform(size=(40, 1))
    t, p = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
    return [
        (metrics.SparseCategoricalAccuracy(), y, s, (s.argmax(-1) == y) * 1.0),
        (metrics.CategoricalAccuracy(), np.eye(C)[y], s, (s.argmax(-1) == y) * 1.0),
        (metrics.BinaryAccuracy(), yb, pb, ((pb > 0.5) == yb)[:, 0] * 1.0),
        (metrics.Accuracy(), y, s.argmax(-1), (s.argmax(-1) == y) * 1.0),
        (metrics.MeanSquaredError(), t, p, ((p - t) ** 2).mean(-1)),
        (metrics.MeanAbsoluteError(), t, p, np.abs(p - t).mean(-1)),
    ]


@pytest.mark.parametrize("index", range(6))
def test_weighted_metrics_are_weighted_means_over_batches(index):
    rng = np.random.default_rng(5)
    metric, yt, yp, per = _metric_cases(rng)[index]
    w = rng.uniform(0, 3, size=len(per))
    w[:5] = 0.0
    for s in range(0, len(per), 16):  # streamed in three uneven batches
        metric.update_state(yt[s:s + 16], yp[s:s + 16], sample_weight=w[s:s + 16])
    assert metric.result() == pytest.approx((per * w).sum() / w.sum(), rel=1e-12)


def test_metric_dtype_other_than_float64_is_not_implemented():
    assert metrics.Mean(dtype="float64").result() == 0.0
    with pytest.raises(NotImplementedError, match="argument 'dtype'"):
        metrics.Mean(dtype="float32")
