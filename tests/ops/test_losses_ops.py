"""Fused losses beyond the op table: label forms, stability, label and shape errors, dtypes
(gradcheck, second order, PyTorch and NumPy for every target form: test_op_table)."""

from __future__ import annotations

import numpy as np
import pytest

from gradkit import ops
from gradkit.autograd.function import OpError
from gradkit.tensor import Tensor

try:
    import torch as T
    import torch.nn.functional as TF
except ImportError:  # the torch tests skip through the torch_ok fixture
    T = TF = None

REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_float_labels_are_class_indices(reduction, torch_ok):
    logits = np.random.default_rng(0).standard_normal((3, 4))
    labels = np.array([0.0, 3.0, 1.0])
    torch_ok(lambda x, y: ops.softmax_cross_entropy(x, y, reduction),
             lambda x, y: TF.cross_entropy(x, T.tensor([0, 3, 1]), reduction=reduction),
             [logits, labels.astype(np.int64)])
    a = ops.softmax_cross_entropy(Tensor(logits), Tensor(labels), reduction)
    b = ops.softmax_cross_entropy(Tensor(logits), labels.astype(np.int64), reduction)
    np.testing.assert_allclose(a.numpy(), b.numpy())


def test_cross_entropy_one_hot_equals_labels(make):
    (logits,) = make([((4, 3), "any")])
    labels = np.array([2, 0, 1, 1])
    onehot = np.eye(3)[labels]
    xa, xb = Tensor(logits, requires_grad=True), Tensor(logits, requires_grad=True)
    a = ops.softmax_cross_entropy(xa, labels)
    b = ops.softmax_cross_entropy(xb, onehot)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-14)
    a.backward()
    b.backward()
    np.testing.assert_allclose(xa.grad.numpy(), xb.grad.numpy(), rtol=1e-14)


# ----------------------------------------------------------------- stability
HUGE = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0], [5.0, 1000.0, 999.0]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_is_stable(reduction, dtype, torch_ok):
    labels = np.array([1, 0, 2])
    probs = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for target in (labels, probs):
            out = torch_ok(lambda x, y: ops.softmax_cross_entropy(x, y, reduction),
                           lambda x, y: TF.cross_entropy(x, y, reduction=reduction),
                           [HUGE, target], dtype=dtype)
            assert np.isfinite(out[0].numpy()).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_is_stable(reduction, dtype, torch_ok):
    targets = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 1.0], [0.3, 0.0, 1.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = torch_ok(lambda x, z: ops.binary_cross_entropy_with_logits(x, z, reduction),
                       lambda x, z: TF.binary_cross_entropy_with_logits(x, z, reduction=reduction),
                       [HUGE, targets], dtype=dtype)
    assert np.isfinite(out[0].numpy()).all()


# -------------------------------------------------------------------- errors
@pytest.mark.parametrize("bad", [3, 7, -1])
def test_cross_entropy_label_out_of_range_names_label_and_classes(bad):
    logits = Tensor(np.zeros((3, 3)), requires_grad=True)
    with pytest.raises(OpError) as e:
        ops.softmax_cross_entropy(logits, np.array([0, bad, 1]))
    msg = str(e.value)
    assert str(bad) in msg and "3 classes" in msg, msg


def test_cross_entropy_bad_shapes_and_dtypes():
    logits = Tensor(np.zeros((4, 3)))
    with pytest.raises(OpError, match=r"labels of shape \(3,\)"):
        ops.softmax_cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(OpError, match="width 3"):
        ops.softmax_cross_entropy(logits, np.zeros((4, 2)))
    with pytest.raises(OpError, match="integer"):
        ops.softmax_cross_entropy(logits, np.array([0.5, 1.0, 2.0, 0.0]))
    with pytest.raises(OpError, match="class axis"):
        ops.softmax_cross_entropy(Tensor(np.array(1.0)), np.array(0))
    with pytest.raises(ValueError, match="softmax_cross_entropy: reduction must be one of") as e:
        ops.softmax_cross_entropy(logits, np.array([0, 1, 2, 0]), "avg")
    assert not isinstance(e.value, OpError) and "received 'avg'" in str(e.value)


def test_bce_and_mse_shape_errors():
    with pytest.raises(OpError) as e:
        ops.binary_cross_entropy_with_logits(Tensor(np.zeros((2, 3))), np.zeros((3, 2)))
    assert "binary_cross_entropy_with_logits" in str(e.value) and "(3, 2)" in str(e.value)
    with pytest.raises(OpError) as e:
        ops.mean_squared_error(Tensor(np.zeros((2, 3))), np.zeros((4,)))
    assert "mean_squared_error" in str(e.value) and "(4,)" in str(e.value)
    with pytest.raises(OpError, match="reshape"):
        ops.mean_squared_error(Tensor(np.zeros((3,))), np.zeros((3, 1)))


def test_losses_keep_float32(make):
    logits, labels, probs = make([((4, 3), "any"), ((4,), "labels", 3), ((4, 3), "prob")])
    x = Tensor(logits.astype(np.float32), requires_grad=True)
    for loss in (ops.softmax_cross_entropy(x, labels),
                 ops.softmax_cross_entropy(x, probs.astype(np.float32)),
                 ops.binary_cross_entropy_with_logits(x, probs.astype(np.float32)),
                 ops.mean_squared_error(x, probs.astype(np.float32))):
        assert loss.dtype == np.float32
        x.grad = None
        loss.backward()
        assert x.grad.dtype == np.float32


def test_targets_as_lists_and_scalars(make):
    (a,) = make([((3, 3), "any")])
    want = ops.softmax_cross_entropy(Tensor(a), np.array([0, 1, 2])).numpy()
    np.testing.assert_allclose(ops.softmax_cross_entropy(Tensor(a), [0, 1, 2]).numpy(), want)
    np.testing.assert_allclose(ops.softmax_cross_entropy(Tensor(a[0]), 1).numpy(),
                               ops.softmax_cross_entropy(Tensor(a[:1]), [1]).numpy())
    z = [0.0, 1.0, 0.5]
    np.testing.assert_allclose(ops.binary_cross_entropy_with_logits(Tensor(a[0]), z).numpy(),
                               ops.binary_cross_entropy_with_logits(Tensor(a[0]),
                                                                    np.array(z)).numpy())
    np.testing.assert_allclose(ops.mean_squared_error(Tensor(a[0]), z).numpy(),
                               np.mean((a[0] - np.array(z)) ** 2))
    with pytest.raises(OpError, match="must match"):
        ops.binary_cross_entropy_with_logits(Tensor(a), 1.0)


@pytest.mark.parametrize("loss, target", [
    (ops.softmax_cross_entropy, np.full((2, 3), 1 / 3)),
    (ops.softmax_cross_entropy, np.array([2.0, 0.0])),
    (ops.binary_cross_entropy_with_logits, np.full((2, 3), 0.25)),
    (ops.binary_cross_entropy_with_logits, np.ones((2, 3), np.int64)),
    (ops.mean_squared_error, np.full((2, 3), 0.25)),
    (ops.mean_squared_error, [[1, 2, 3], [4, 5, 6]]),
], ids=["ce-probs", "ce-float-labels", "bce", "bce-int", "mse", "mse-list"])
def test_float64_numpy_targets_keep_a_float32_loss(loss, target):
    x = Tensor(np.zeros((2, 3), np.float32), requires_grad=True)
    out = loss(x, target)
    assert out.dtype == np.float32
    out.backward()
    assert x.grad.dtype == np.float32
