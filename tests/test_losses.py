"""gradkit.losses: values and gradients vs PyTorch (float64), Keras's reference numbers,
the fused softmax/sigmoid paths, shape and label checks, reductions and configs."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gradkit
from gradkit import activations, losses, ops
from gradkit.ops import activation as act_ops
from gradkit.tensor import Tensor

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover
    torch = TF = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed")
TOL = dict(rtol=1e-10, atol=1e-12)
N, C = 6, 4


def rng(seed=0):
    return np.random.default_rng(seed)


def probs(shape, seed=0):
    p = rng(seed).uniform(0.05, 1.0, size=shape)
    return p / p.sum(-1, keepdims=True)


def run(loss_fn, y_true, x, transform=None, weight=None):
    """Loss value and d(sum(loss * weight))/dx, x a float64 leaf (y_pred = transform(x))."""
    xt = Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    out = loss_fn(y_true, transform(xt) if transform else xt)
    w = np.ones(out.shape) if weight is None else weight
    (out * w).sum().backward()
    return out.numpy(), xt.grad.numpy()


def run_torch(fn, x, weight=None):
    xt = torch.tensor(np.array(x, dtype=np.float64), requires_grad=True)
    out = fn(xt)
    w = torch.ones(out.shape, dtype=torch.float64) if weight is None else torch.tensor(weight)
    (out * w).sum().backward()
    return out.detach().numpy(), xt.grad.numpy()


def assert_same(a, b, **tol):
    tol = tol or TOL
    np.testing.assert_allclose(a[0], b[0], **tol)
    np.testing.assert_allclose(a[1], b[1], **tol)


# ---------------------------------------------------------------- vs PyTorch
@needs_torch
class TestAgainstTorch:
    def test_mse(self):
        y, x = rng(1).normal(size=(N, 3)), rng(2).normal(size=(N, 3))
        assert_same(run(losses.MeanSquaredError(), y, x),
                    run_torch(lambda t: TF.mse_loss(t, torch.tensor(y)), x))
        wt = rng(3).normal(size=N)
        assert_same(run(losses.mean_squared_error, y, x, weight=wt),
                    run_torch(lambda t: TF.mse_loss(t, torch.tensor(y), reduction="none")
                              .mean(-1), x, weight=wt))

    def test_mae(self):
        y, x = rng(1).normal(size=(N, 3)), rng(2).normal(size=(N, 3))
        assert_same(run(losses.MeanAbsoluteError(), y, x),
                    run_torch(lambda t: TF.l1_loss(t, torch.tensor(y)), x))
        assert_same(run(losses.mean_absolute_error, y, x),
                    run_torch(lambda t: TF.l1_loss(t, torch.tensor(y), reduction="none")
                              .mean(-1), x))

    @pytest.mark.parametrize("delta", [1.0, 0.5, 2.5])
    def test_huber(self, delta):
        y, x = rng(1).normal(size=(N, 3)) * 2, rng(2).normal(size=(N, 3)) * 2
        assert_same(run(losses.Huber(delta), y, x),
                    run_torch(lambda t: TF.huber_loss(t, torch.tensor(y), delta=delta), x))
        assert_same(run(lambda a, b: losses.huber(a, b, delta), y, x),
                    run_torch(lambda t: TF.huber_loss(t, torch.tensor(y), delta=delta,
                                                      reduction="none").mean(-1), x))

    def test_bce_probabilities(self):
        y = rng(1).integers(0, 2, size=(N, 3)).astype(float)
        x = rng(2).uniform(0.05, 0.95, size=(N, 3))
        assert_same(run(losses.BinaryCrossentropy(), y, x),
                    run_torch(lambda t: TF.binary_cross_entropy(t, torch.tensor(y)), x))
        assert_same(run(losses.binary_crossentropy, y, x),
                    run_torch(lambda t: TF.binary_cross_entropy(t, torch.tensor(y),
                                                                reduction="none").mean(-1), x))

    def test_bce_soft_targets(self):
        y = rng(1).uniform(size=(N, 2))
        x = rng(2).uniform(0.05, 0.95, size=(N, 2))
        assert_same(run(losses.BinaryCrossentropy(), y, x),
                    run_torch(lambda t: TF.binary_cross_entropy(t, torch.tensor(y)), x))

    def test_bce_from_logits(self):
        y = rng(1).integers(0, 2, size=(N, 3)).astype(float)
        x = rng(2).normal(size=(N, 3)) * 3
        ref = run_torch(lambda t: TF.binary_cross_entropy_with_logits(t, torch.tensor(y)), x)
        assert_same(run(losses.BinaryCrossentropy(from_logits=True), y, x), ref)
        # a sigmoid output is recognised: same value and gradient wrt the logits
        assert_same(run(losses.BinaryCrossentropy(), y, x, transform=ops.sigmoid), ref)
        assert_same(run(losses.binary_crossentropy, y, x, transform=activations.sigmoid),
                    run_torch(lambda t: TF.binary_cross_entropy_with_logits(
                        t, torch.tensor(y), reduction="none").mean(-1), x))

    def test_bce_label_smoothing(self):
        y = rng(1).integers(0, 2, size=(N, 1)).astype(float)
        x = rng(2).normal(size=(N, 1))
        s = 0.2
        ys = torch.tensor(y * (1 - s) + 0.5 * s)
        ref = run_torch(lambda t: TF.binary_cross_entropy_with_logits(t, ys), x)
        assert_same(run(losses.BinaryCrossentropy(from_logits=True, label_smoothing=s), y, x),
                    ref)
        assert_same(run(losses.BinaryCrossentropy(label_smoothing=s), y, x,
                        transform=ops.sigmoid), ref)
        ref_p = run_torch(lambda t: TF.binary_cross_entropy(torch.sigmoid(t), ys), x)
        with_probs = run(losses.BinaryCrossentropy(label_smoothing=s), y, x,
                         transform=lambda t: ops.sigmoid(t) * 1.0)  # hides the sigmoid
        assert_same(with_probs, ref_p)

    def test_cce_from_logits_and_softmax_output(self):
        y = np.eye(C)[rng(1).integers(0, C, N)]
        x = rng(2).normal(size=(N, C)) * 2
        ref = run_torch(lambda t: TF.cross_entropy(t, torch.tensor(y)), x)
        assert_same(run(losses.CategoricalCrossentropy(from_logits=True), y, x), ref)
        assert_same(run(losses.CategoricalCrossentropy(), y, x, transform=activations.softmax),
                    ref)
        ref_per = run_torch(lambda t: TF.cross_entropy(t, torch.tensor(y), reduction="none"), x)
        assert_same(run(losses.categorical_crossentropy, y, x, transform=ops.softmax), ref_per)

    def test_cce_soft_targets_and_label_smoothing(self):
        y = probs((N, C), seed=5)
        x = rng(2).normal(size=(N, C))
        assert_same(run(losses.CategoricalCrossentropy(from_logits=True), y, x),
                    run_torch(lambda t: TF.cross_entropy(t, torch.tensor(y)), x))
        onehot = np.eye(C)[rng(1).integers(0, C, N)]
        ref = run_torch(lambda t: TF.cross_entropy(t, torch.tensor(onehot),
                                                   label_smoothing=0.1), x)
        assert_same(run(losses.CategoricalCrossentropy(label_smoothing=0.1), onehot, x,
                        transform=ops.softmax), ref)
        assert_same(run(losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
                        onehot, x), ref)

    def test_cce_probabilities_are_renormalised(self):
        # y_pred not made by softmax: Keras divides by the row sum before the log
        y = np.eye(C)[rng(1).integers(0, C, N)]
        x = rng(2).uniform(0.1, 1.0, size=(N, C))  # rows do not sum to 1
        assert_same(run(losses.CategoricalCrossentropy(), y, x),
                    run_torch(lambda t: -(torch.tensor(y) * torch.log(
                        t / t.sum(-1, keepdim=True))).sum(-1).mean(), x))
        xn = probs((N, C), seed=3)
        assert_same(run(losses.categorical_crossentropy, y, xn),
                    run_torch(lambda t: TF.nll_loss(torch.log(t / t.sum(-1, keepdim=True)),
                                                    torch.tensor(y.argmax(-1)),
                                                    reduction="none"), xn))

    def test_sparse_cce(self):
        lab = rng(1).integers(0, C, N)
        x = rng(2).normal(size=(N, C)) * 2
        ref = run_torch(lambda t: TF.cross_entropy(t, torch.tensor(lab)), x)
        assert_same(run(losses.SparseCategoricalCrossentropy(from_logits=True), lab, x), ref)
        assert_same(run(losses.SparseCategoricalCrossentropy(), lab, x,
                        transform=activations.softmax), ref)
        assert_same(run(losses.SparseCategoricalCrossentropy(), lab[:, None].astype(float), x,
                        transform=activations.softmax), ref)
        # probabilities from elsewhere: renormalise and take -log p[label]
        xp = rng(4).uniform(0.1, 1.0, size=(N, C))
        assert_same(run(losses.sparse_categorical_crossentropy, lab, xp),
                    run_torch(lambda t: TF.nll_loss(torch.log(t / t.sum(-1, keepdim=True)),
                                                    torch.tensor(lab), reduction="none"), xp))

    def test_sparse_cce_sequences(self):
        lab = rng(1).integers(0, C, (N, 5))
        x = rng(2).normal(size=(N, 5, C))
        wt = rng(3).uniform(size=N)
        ref = run_torch(lambda t: TF.cross_entropy(t.permute(0, 2, 1), torch.tensor(lab),
                                                   reduction="none"), x)
        out = run(losses.sparse_categorical_crossentropy, lab, x, transform=ops.softmax)
        assert out[0].shape == (N, 5)
        assert_same(out, ref)
        # (N,) sample weights apply to every step of an example
        loss = losses.SparseCategoricalCrossentropy(from_logits=True)
        xt = Tensor(x, requires_grad=True)
        val = loss(lab, xt, sample_weight=wt)
        val.backward()
        tt = torch.tensor(x, requires_grad=True)
        rv = (TF.cross_entropy(tt.permute(0, 2, 1), torch.tensor(lab), reduction="none")
              * torch.tensor(wt)[:, None]).sum() / (N * 5)
        rv.backward()
        np.testing.assert_allclose(val.item(), rv.item(), **TOL)
        np.testing.assert_allclose(xt.grad.numpy(), tt.grad.numpy(), **TOL)

    def test_kl_divergence(self):
        y, x = probs((N, C), seed=1), probs((N, C), seed=2)
        ref = run_torch(lambda t: TF.kl_div(torch.log(t), torch.tensor(y),
                                            reduction="none").sum(-1), x)
        assert_same(run(losses.kl_divergence, y, x), ref)
        assert_same(run(losses.KLDivergence(), y, x),
                    run_torch(lambda t: TF.kl_div(torch.log(t), torch.tensor(y),
                                                  reduction="batchmean"), x))

    def test_sample_weight_and_reductions(self):
        y, x = rng(1).normal(size=(N, 3)), rng(2).normal(size=(N, 3))
        wt = rng(3).uniform(size=N)

        def per(t):
            return TF.mse_loss(t, torch.tensor(y), reduction="none").mean(-1)

        tw = torch.tensor(wt)
        cases = [
            ("sum_over_batch_size", lambda t: (per(t) * tw).sum() / N),
            ("sum", lambda t: (per(t) * tw).sum()),
            ("mean_with_sample_weight", lambda t: (per(t) * tw).sum() / tw.sum()),
            ("none", lambda t: per(t) * tw),
        ]
        for reduction, ref in cases:
            loss = losses.MeanSquaredError(reduction=reduction)
            assert_same(run(lambda a, b, loss=loss: loss(a, b, sample_weight=wt), y, x),
                        run_torch(ref, x))
            # (N, 1) weights are the same as (N,)
            assert_same(run(lambda a, b, loss=loss: loss(a, b, sample_weight=wt[:, None]),
                            y, x), run_torch(ref, x))


# ---------------------------------------------------------- Keras's numbers
def test_keras_documented_values():
    yt = np.array([[0.0, 1.0], [0.0, 0.0]])
    yp = Tensor(np.array([[0.6, 0.4], [0.4, 0.6]]))
    np.testing.assert_allclose(losses.BinaryCrossentropy()(yt, yp).item(), 0.815, atol=1e-3)
    np.testing.assert_allclose(losses.KLDivergence()(yt, yp).item(), 0.458, atol=1e-3)
    np.testing.assert_allclose(losses.Huber()(yt, yp).item(), 0.155, atol=1e-3)
    np.testing.assert_allclose(
        losses.MeanSquaredError()(yt, Tensor([[1.0, 1.0], [1.0, 0.0]])).item(), 0.5)
    np.testing.assert_allclose(
        losses.MeanAbsoluteError()(yt, Tensor([[1.0, 1.0], [1.0, 0.0]])).item(), 0.5)
    cp = Tensor(np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]))
    np.testing.assert_allclose(
        losses.CategoricalCrossentropy()(np.array([[0, 1, 0], [0, 0, 1]]), cp).item(),
        1.177, atol=1e-3)
    np.testing.assert_allclose(
        losses.SparseCategoricalCrossentropy()(np.array([1, 2]), cp).item(), 1.177, atol=1e-3)
    # with sample weights, as in Keras's docs
    np.testing.assert_allclose(
        losses.MeanSquaredError()(yt, Tensor([[1.0, 1.0], [1.0, 0.0]]),
                                  sample_weight=[0.7, 0.3]).item(), 0.25)


def test_kl_divergence_clips_like_keras():
    # zero targets contribute eps * log(eps / p) (Keras clips y_true to [eps, 1]), not 0
    eps = 1e-7
    y = np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    x = np.array([[0.2, 0.7, 0.1], [0.0, 0.9, 0.1]])  # a zero prediction too
    t, p = np.clip(y, eps, 1), np.clip(x, eps, 1)
    expected = (t * np.log(t / p)).sum(-1)
    out, grad = run(losses.kl_divergence, y, x)
    np.testing.assert_allclose(out, expected, **TOL)
    expected_grad = np.where(x >= eps, -t / p, 0.0)  # no gradient where p was clipped
    np.testing.assert_allclose(grad, expected_grad, **TOL)


def test_bce_clipped_formula_like_keras():
    eps = 1e-7
    y = np.array([[1.0, 0.0, 1.0, 0.0]])
    x = np.array([[0.0, 1.0, 0.3, 0.999]])
    p = np.clip(x, eps, 1 - eps)
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(-1)
    np.testing.assert_allclose(losses.binary_crossentropy(y, Tensor(x)).numpy(), expected,
                               rtol=1e-10)
    assert np.all(np.isfinite(expected))


# ------------------------------------------------------------- stability
def _fused_vs_detected(loss, y, logits, transform):
    a = Tensor(logits, requires_grad=True)
    b = Tensor(logits, requires_grad=True)
    fused = loss(y, a, from_logits=True)
    detected = loss(y, transform(b))
    fused.sum().backward()
    detected.sum().backward()
    return fused, detected, a.grad.numpy(), b.grad.numpy()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_confident_softmax_is_finite_and_equals_fused(dtype):
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0],
                       [0.0, 0.0, 1000.0]], dtype=dtype)
    onehot = np.eye(3, dtype=dtype)[[1, 1, 2]]
    labels = np.array([1, 1, 2])
    for fn, y in [(losses.categorical_crossentropy, onehot),
                  (losses.sparse_categorical_crossentropy, labels)]:
        fused, det, ga, gb = _fused_vs_detected(fn, y, logits, activations.softmax)
        assert np.all(np.isfinite(det.numpy())) and np.all(np.isfinite(gb))
        # the detected path reuses the softmax output: equal up to one rounding step
        tol = {"rtol": 1e-6, "atol": 1e-7} if dtype == "float32" else {"rtol": 1e-14}
        np.testing.assert_allclose(det.numpy(), fused.numpy(), **tol)
        np.testing.assert_allclose(gb, ga, **tol)
        assert det.numpy()[0] == pytest.approx(2000.0, rel=1e-6)  # not capped at -log(eps)
    for cls, y in [(losses.CategoricalCrossentropy, onehot),
                   (losses.SparseCategoricalCrossentropy, labels)]:
        a = Tensor(logits, requires_grad=True)
        b = Tensor(logits, requires_grad=True)
        la = cls(from_logits=True)(y, a)
        lb = cls()(y, ops.softmax(b))
        la.backward()
        lb.backward()
        assert np.isfinite(lb.item()) and lb.dtype == np.dtype(dtype)
        assert lb.item() == pytest.approx(la.item(), rel=tol["rtol"])
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), **tol)


def test_confident_sigmoid_bce_is_finite_and_equals_fused():
    logits = np.array([[1000.0], [-1000.0], [50.0], [-50.0]])
    y = np.array([0.0, 1.0, 1.0, 0.0])  # (N,) targets for (N, 1) predictions
    fused, det, ga, gb = _fused_vs_detected(losses.binary_crossentropy, y, logits,
                                            activations.sigmoid)
    assert np.all(np.isfinite(det.numpy())) and np.all(np.isfinite(gb))
    np.testing.assert_array_equal(det.numpy(), fused.numpy())
    np.testing.assert_array_equal(gb, ga)
    np.testing.assert_allclose(det.numpy(), [1000.0, 1000.0, 0.0, 0.0], atol=1e-20)
    a, b = Tensor(logits, requires_grad=True), Tensor(logits, requires_grad=True)
    la = losses.BinaryCrossentropy(from_logits=True)(y, a)
    lb = losses.BinaryCrossentropy()(y, ops.sigmoid(b))
    la.backward()
    lb.backward()
    assert lb.item() == la.item() == 500.0
    np.testing.assert_array_equal(b.grad.numpy(), a.grad.numpy())


def test_detected_path_skips_the_softmax_backward(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("softmax backward should not run")

    monkeypatch.setattr(act_ops.Softmax, "backward", boom)
    monkeypatch.setattr(act_ops.Sigmoid, "backward", boom)
    x = Tensor(rng().normal(size=(4, 3)), requires_grad=True)
    losses.CategoricalCrossentropy()(np.eye(3)[[0, 1, 2, 0]], ops.softmax(x)).backward()
    losses.SparseCategoricalCrossentropy()([0, 1, 2, 0], ops.softmax(x)).backward()
    losses.categorical_crossentropy(np.eye(3)[[0, 1, 2, 0]], ops.softmax(x)).sum().backward()
    losses.BinaryCrossentropy()(np.ones((4, 3)), ops.sigmoid(x)).backward()
    assert x.grad is not None


def test_unrecorded_softmax_falls_back_to_clipping():
    logits = np.array([[1000.0, -1000.0, 0.0]])
    with gradkit.no_grad():
        p = ops.softmax(Tensor(logits, requires_grad=True))
    assert p._ctx is None
    v = losses.sparse_categorical_crossentropy([1], p).item()
    assert np.isfinite(v)
    np.testing.assert_allclose(v, -np.log(1e-7), rtol=1e-6)
    v = losses.CategoricalCrossentropy()(np.array([[0.0, 1.0, 0.0]]), p).item()
    np.testing.assert_allclose(v, -np.log(1e-7), rtol=1e-6)
    with gradkit.no_grad():
        s = ops.sigmoid(Tensor(np.array([[1000.0]]), requires_grad=True))
    assert np.isfinite(losses.BinaryCrossentropy()([0.0], s).item())
    # user-supplied hard probabilities with zeros: finite loss and gradient
    x = Tensor(np.array([[0.0, 1.0, 0.0]]), requires_grad=True)
    out = losses.CategoricalCrossentropy()(np.array([[1.0, 0.0, 0.0]]), x)
    out.backward()
    assert np.isfinite(out.item()) and np.all(np.isfinite(x.grad.numpy()))


def test_softmax_over_another_axis_is_not_taken_for_logits():
    x = Tensor(rng().normal(size=(3, 4)), requires_grad=True)
    p = ops.softmax(x, axis=0)
    assert losses.softmax_logits(p) is None
    p_np = p.numpy()
    y = np.eye(4)[[0, 1, 2]]
    expected = -(y * np.log(p_np / p_np.sum(-1, keepdims=True))).sum(-1)
    np.testing.assert_allclose(losses.categorical_crossentropy(y, p).numpy(), expected,
                               rtol=1e-12)


def test_logits_changed_in_place_are_not_reused():
    x = gradkit.Variable(np.array([[1.0, 2.0, 3.0]]))
    p = ops.softmax(x)
    x.assign(np.array([[5.0, 0.0, 0.0]]))
    assert losses.softmax_logits(p) is None
    expected = -np.log(p.numpy()[0, 2])
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy([2], p).item(), expected,
                               rtol=1e-6)


# ------------------------------------------------------------ shapes, labels
def test_rank1_targets_for_column_predictions():
    y = np.array([0.0, 1.0, 1.0])
    p = Tensor(np.array([[0.2], [0.7], [0.9]]))
    for loss in [losses.MeanSquaredError(), losses.MeanAbsoluteError(), losses.Huber(),
                 losses.BinaryCrossentropy()]:
        a = loss(y, p).item()
        b = loss(y[:, None], p).item()
        c = loss(y[:, None], Tensor(p.numpy()[:, 0]))  # (N, 1) targets, (N,) predictions
        assert a == pytest.approx(b, rel=1e-7) and a == pytest.approx(c.item(), rel=1e-7)
    per = losses.mean_squared_error(y, Tensor(np.array([0.0, 0.0, 3.0])))
    assert per.shape == (3,)  # 1-D: one value per example
    np.testing.assert_allclose(per.numpy(), [0.0, 1.0, 4.0])


@pytest.mark.parametrize("loss", [losses.MeanSquaredError(), losses.MeanAbsoluteError(),
                                  losses.Huber(), losses.BinaryCrossentropy(),
                                  losses.KLDivergence()])
def test_shape_mismatch_names_loss_and_shapes(loss):
    with pytest.raises(ValueError) as e:
        loss(np.zeros((4, 3)), Tensor(np.full((4, 2), 0.5)))
    msg = str(e.value)
    assert loss.fn.__name__ in msg and "(4, 3)" in msg and "(4, 2)" in msg
    with pytest.raises(ValueError):  # no silent broadcasting of (N,) against (N, 2)
        loss(np.zeros(4), Tensor(np.full((4, 2), 0.5)))


def test_categorical_wrong_width_names_both_widths():
    with pytest.raises(ValueError) as e:
        losses.CategoricalCrossentropy()(np.eye(5)[[0, 1]], ops.softmax(
            Tensor(np.zeros((2, 10)), requires_grad=True)))
    msg = str(e.value)
    assert "categorical_crossentropy" in msg and "width 5" in msg and "width 10" in msg
    with pytest.raises(ValueError, match="integer class labels"):
        losses.CategoricalCrossentropy()(np.array([0, 1]), Tensor(np.full((2, 3), 1 / 3)))
    with pytest.raises(ValueError, match="SparseCategoricalCrossentropy"):
        losses.categorical_crossentropy(np.array([[0], [1]]), Tensor(np.full((2, 3), 1 / 3)))


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("recorded", [False, True])
@pytest.mark.parametrize("bad", [3, -1, 7])
def test_sparse_labels_out_of_range(from_logits, recorded, bad):
    x = Tensor(np.zeros((3, 3)), requires_grad=recorded)
    y_pred = x if from_logits else ops.softmax(x)
    labels = np.array([0, bad, 1])
    for call in (losses.SparseCategoricalCrossentropy(from_logits=from_logits),
                 lambda a, b: losses.sparse_categorical_crossentropy(a, b, from_logits)):
        with pytest.raises(ValueError) as e:
            call(labels, y_pred)
        msg = str(e.value)
        assert f"label {bad}" in msg and "3 classes" in msg


def test_sparse_labels_other_checks():
    p = Tensor(np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match="whole numbers"):
        losses.sparse_categorical_crossentropy(np.array([0.5, 1.0]), p)
    with pytest.raises(ValueError, match="one-hot"):
        losses.sparse_categorical_crossentropy(np.eye(3)[[0, 1]], p)
    with pytest.raises(ValueError, match="does not fit"):
        losses.sparse_categorical_crossentropy(np.array([0, 1, 2]), p)
    np.testing.assert_allclose(
        losses.sparse_categorical_crossentropy(np.array([[0.0], [2.0]]), p).numpy(),
        [np.log(3)] * 2, rtol=1e-6)


def test_bad_sample_weight_shape():
    with pytest.raises(ValueError, match="sample_weight"):
        losses.MeanSquaredError()(np.zeros((4, 2)), Tensor(np.ones((4, 2))),
                                  sample_weight=np.ones(3))


def test_empty_batch_gives_zero():
    out = losses.MeanAbsoluteError()(np.zeros((0, 2)), Tensor(np.zeros((0, 2))))
    assert out.item() == 0.0


# ------------------------------------------------------------ dtypes, grads
def test_float32_predictions_stay_float32():
    y = np.array([[0.0, 1.0]])  # float64 targets
    p32 = Tensor(np.array([[0.3, 0.7]], dtype=np.float32), requires_grad=True)
    for loss in [losses.MeanSquaredError(), losses.MeanAbsoluteError(), losses.Huber(),
                 losses.BinaryCrossentropy(), losses.CategoricalCrossentropy(),
                 losses.KLDivergence()]:
        assert loss(y, p32).dtype == np.float32, loss
    assert losses.SparseCategoricalCrossentropy()([1], p32).dtype == np.float32


def test_no_gradient_flows_into_targets():
    y = Tensor(np.array([[0.0, 1.0]]), requires_grad=True)
    p = Tensor(np.array([[0.3, 0.7]]), requires_grad=True)
    losses.MeanSquaredError()(y, p).backward()
    assert y.grad is None and p.grad is not None


def test_numpy_predictions_are_accepted():
    v = losses.MeanSquaredError()(np.zeros(3), np.array([1.0, 2.0, 3.0]))
    assert isinstance(v, Tensor)
    np.testing.assert_allclose(v.item(), 14 / 3)


# ------------------------------------------------------------ lookup, config
def test_get_names():
    expected = {
        "mse": losses.MeanSquaredError, "mean_squared_error": losses.MeanSquaredError,
        "mae": losses.MeanAbsoluteError, "mean_absolute_error": losses.MeanAbsoluteError,
        "huber": losses.Huber, "binary_crossentropy": losses.BinaryCrossentropy,
        "bce": losses.BinaryCrossentropy,
        "categorical_crossentropy": losses.CategoricalCrossentropy,
        "sparse_categorical_crossentropy": losses.SparseCategoricalCrossentropy,
        "kl_divergence": losses.KLDivergence, "kld": losses.KLDivergence,
        "MeanSquaredError": losses.MeanSquaredError,
    }
    for name, cls in expected.items():
        assert type(losses.get(name)) is cls
    inst = losses.Huber(2.0)
    assert losses.get(inst) is inst
    assert losses.get(None) is None
    assert type(losses.get(losses.CategoricalCrossentropy)) is losses.CategoricalCrossentropy
    assert type(losses.get(losses.mean_squared_error)) is losses.MeanSquaredError
    assert type(losses.get(losses.mse)) is losses.MeanSquaredError


def test_get_unknown_lists_valid_names():
    with pytest.raises(ValueError) as e:
        losses.get("cross_entropy")
    msg = str(e.value)
    assert "cross_entropy" in msg
    for name in ["mse", "mae", "huber", "bce", "categorical_crossentropy",
                 "sparse_categorical_crossentropy", "kld"]:
        assert name in msg
    with pytest.raises(TypeError):
        losses.get(42)


def test_custom_function_is_wrapped():
    def double_mse(y_true, y_pred):
        return losses.mean_squared_error(y_true, y_pred) * 2.0

    loss = losses.get(double_mse)
    assert isinstance(loss, losses.LossFunctionWrapper) and loss.name == "double_mse"
    y, p = np.zeros((4, 2)), Tensor(np.ones((4, 2)))
    assert loss(y, p).item() == 2.0
    assert loss(y, p, sample_weight=[1, 1, 0, 0]).item() == 1.0


@pytest.mark.parametrize("loss", [
    losses.MeanSquaredError(reduction="sum"), losses.MeanAbsoluteError(name="l1"),
    losses.Huber(delta=0.3), losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
    losses.CategoricalCrossentropy(label_smoothing=0.2, reduction="none"),
    losses.SparseCategoricalCrossentropy(from_logits=True), losses.KLDivergence()])
def test_config_round_trip(loss):
    cfg = loss.get_config()
    json.dumps(cfg)
    again = type(loss).from_config(cfg)
    assert again.get_config() == cfg
    ser = json.loads(json.dumps(losses.serialize(loss)))
    back = losses.deserialize(ser)
    assert type(back) is type(loss) and back.get_config() == cfg
    assert type(losses.get(ser)) is type(loss)


def test_config_contents():
    cfg = losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1).get_config()
    assert cfg == {"name": "binary_crossentropy", "reduction": "sum_over_batch_size",
                   "from_logits": True, "label_smoothing": 0.1}
    assert losses.Huber(2.0).get_config()["delta"] == 2.0


def test_invalid_arguments():
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="avg")
    with pytest.raises(ValueError, match="delta"):
        losses.Huber(delta=0)
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.BinaryCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match="unknown loss class"):
        losses.deserialize({"class_name": "Nope", "config": {}})


def test_benchmark_script_runs(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_losses.py"
    spec = importlib.util.spec_from_file_location("bench_losses", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--steps", "2", "--repeats", "1", "--batch", "8"])
    out = capsys.readouterr().out
    assert "detected" in out and "ratio" in out
