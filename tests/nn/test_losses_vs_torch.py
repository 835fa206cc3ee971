"""Every gradkit.nn loss, with all its options, against torch.nn: values and gradients.

Each row builds the loss with the same expression from ``torch.nn`` and ``gradkit.nn``
(``T`` turns an array into that framework's tensor) and compares the value (every
reduction) and the gradient with respect to the input in float64.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit import nn as gnn
from tests.nn.reference import check_output_and_grad

rng = np.random.default_rng(0)
LOGITS = rng.standard_normal((6, 4))
LOGITS_3D = rng.standard_normal((3, 4, 5))
LABELS = np.array([0, 3, 1, 1, 2, 3])
LABELS_IGNORED = np.array([0, -100, 1, 3, -100, 2])
LABELS_3D = rng.integers(0, 4, size=(3, 5))
LABELS_3D_IGN = np.where(rng.random((3, 5)) < 0.3, 2, LABELS_3D)
PROBS = rng.dirichlet(np.ones(4), size=6)
W = np.array([0.5, 2.0, 1.0, 0.3])
PRED = rng.standard_normal((5, 3))
TARGET = rng.standard_normal((5, 3)) * 2
P01 = 1 / (1 + np.exp(-PRED))
T01 = (rng.random((5, 3)) > 0.5).astype(float)
SOFT01 = rng.random((5, 3))
LOGP = LOGITS - np.log(np.exp(LOGITS).sum(1, keepdims=True))

ROWS = [
    ("mse", lambda nn, T, r: nn.MSELoss(reduction=r), PRED, TARGET),
    ("l1", lambda nn, T, r: nn.L1Loss(reduction=r), PRED, TARGET),
    ("huber", lambda nn, T, r: nn.HuberLoss(reduction=r, delta=0.7), PRED, TARGET),
    ("smooth_l1", lambda nn, T, r: nn.SmoothL1Loss(reduction=r, beta=0.5), PRED, TARGET),
    ("bce", lambda nn, T, r: nn.BCELoss(reduction=r), P01, T01),
    ("bce_weight", lambda nn, T, r: nn.BCELoss(weight=T(np.array([1.0, 2.0, 0.5])),
                                               reduction=r), P01, SOFT01),
    ("bce_logits", lambda nn, T, r: nn.BCEWithLogitsLoss(reduction=r), PRED * 3, T01),
    ("bce_logits_weights", lambda nn, T, r: nn.BCEWithLogitsLoss(
        weight=T(np.array([1.0, 2.0, 0.5])), pos_weight=T(np.array([3.0, 0.5, 1.0])),
        reduction=r), PRED * 3, SOFT01),
    ("nll", lambda nn, T, r: nn.NLLLoss(reduction=r), LOGP, LABELS),
    ("nll_weight_ignore", lambda nn, T, r: nn.NLLLoss(weight=T(W), reduction=r), LOGP,
     LABELS_IGNORED),
    ("ce", lambda nn, T, r: nn.CrossEntropyLoss(reduction=r), LOGITS, LABELS),
    ("ce_weight", lambda nn, T, r: nn.CrossEntropyLoss(weight=T(W), reduction=r), LOGITS,
     LABELS),
    ("ce_ignore", lambda nn, T, r: nn.CrossEntropyLoss(reduction=r), LOGITS, LABELS_IGNORED),
    ("ce_ignore_custom_3d", lambda nn, T, r: nn.CrossEntropyLoss(ignore_index=2, reduction=r),
     LOGITS_3D, LABELS_3D_IGN),
    ("ce_smoothing", lambda nn, T, r: nn.CrossEntropyLoss(label_smoothing=0.2, reduction=r),
     LOGITS, LABELS),
    ("ce_smoothing_weight_ignore", lambda nn, T, r: nn.CrossEntropyLoss(
        weight=T(W), label_smoothing=0.1, reduction=r), LOGITS, LABELS_IGNORED),
    ("ce_smoothing_weight_3d", lambda nn, T, r: nn.CrossEntropyLoss(
        weight=T(W), label_smoothing=0.3, reduction=r), LOGITS_3D, LABELS_3D),
    ("ce_probs", lambda nn, T, r: nn.CrossEntropyLoss(reduction=r), LOGITS, PROBS),
    ("ce_probs_weight_smoothing", lambda nn, T, r: nn.CrossEntropyLoss(
        weight=T(W), label_smoothing=0.25, reduction=r), LOGITS, PROBS),
    ("ce_unbatched", lambda nn, T, r: nn.CrossEntropyLoss(reduction=r), LOGITS[0],
     np.array(2)),
    ("kl", lambda nn, T, r: nn.KLDivLoss(reduction=r), LOGP, np.where(PROBS < 0.1, 0, PROBS)),
    ("kl_log_target", lambda nn, T, r: nn.KLDivLoss(reduction=r, log_target=True), LOGP,
     np.log(PROBS)),
]
REDUCTIONS = ("mean", "sum", "none")
CASES = [(row, r) for row in ROWS for r in REDUCTIONS] + \
    [(row, "batchmean") for row in ROWS if row[0].startswith("kl")]


@pytest.mark.parametrize("row,reduction", CASES,
                         ids=[f"{row[0]}-{r}" for row, r in CASES])
def test_loss_matches_torch(torch, row, reduction):
    _, build, x, target = row
    t_loss = build(torch.nn, torch.tensor, reduction)
    g_loss = build(gnn, gradkit.tensor, reduction)
    tx = torch.tensor(x, requires_grad=True)
    gx = gradkit.tensor(x, requires_grad=True)
    t_out = t_loss(tx, torch.tensor(target))
    g_out = g_loss(gx, gradkit.tensor(target))
    check_output_and_grad(torch, t_out, g_out, tx, gx)


def test_probability_target_gets_its_gradient(torch):
    tp = torch.tensor(PROBS, requires_grad=True)
    gp = gradkit.tensor(PROBS, requires_grad=True)
    torch.nn.functional.cross_entropy(torch.tensor(LOGITS), tp, label_smoothing=0.1).backward()
    gnn.functional.cross_entropy(gradkit.tensor(LOGITS), gp, label_smoothing=0.1).backward()
    np.testing.assert_allclose(gp.grad.numpy(), tp.grad.numpy(), 1e-7, 1e-10)


def test_cross_entropy_float32_uses_the_fused_op_and_matches(torch):
    x = LOGITS.astype(np.float32)
    got = gnn.CrossEntropyLoss()(gradkit.tensor(x), LABELS)
    want = torch.nn.CrossEntropyLoss()(torch.tensor(x), torch.tensor(LABELS))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.item(), want.item(), rtol=1e-6)


@pytest.mark.parametrize("call,match", [
    (lambda: gnn.CrossEntropyLoss()(LOGITS, np.array([0, 1, 4, 1, 0, 0])), "out of range"),
    (lambda: gnn.CrossEntropyLoss()(LOGITS, np.array([0, 1])), "shape"),
    (lambda: gnn.CrossEntropyLoss(ignore_index=1)(LOGITS, PROBS), "ignore_index"),
    (lambda: gnn.CrossEntropyLoss(weight=np.ones(3))(LOGITS, LABELS), "one entry per class"),
    (lambda: gnn.MSELoss()(PRED, TARGET[:2]), "target shape"),
    (lambda: gnn.BCELoss()(PRED, T01), r"\[0, 1\]"),
])
def test_loss_errors_say_what_is_wrong(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_reduction_is_checked():
    with pytest.raises(ValueError, match="reduction must be one of"):
        gnn.MSELoss(reduction="avg")
