"""``gradkit.nn.functional`` against ``torch.nn.functional``: the same call on both
(``F`` is either module, ``T`` makes that framework's tensor), values and gradients."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
import gradkit.nn.functional as GF
from tests.nn.reference import check_output_and_grad

rng = np.random.default_rng(0)
X = rng.standard_normal((2, 3, 5, 4))
M = rng.standard_normal((4, 6))
W = rng.standard_normal((3, 6))
B = rng.standard_normal(3)
K = rng.standard_normal((2, 3, 3, 2))
Q = rng.standard_normal((2, 2, 5, 4))
CAUSAL = np.tril(np.ones((5, 5), bool))

ROWS = [
    ("pad_last", lambda F, T, x: F.pad(x, (1, 2)), X),
    ("pad_two_axes", lambda F, T, x: F.pad(x, (0, 1, 2, 0), value=0.5), X),
    ("linear", lambda F, T, x: F.linear(x, T(W), T(B)), M),
    ("linear_no_bias", lambda F, T, x: F.linear(x, T(W)), M),
    ("conv2d", lambda F, T, x: F.conv2d(x, T(K), T(np.ones(2)), stride=(2, 1), padding=1), X),
    ("max_pool2d_unbatched", lambda F, T, x: F.max_pool2d(x[0], 2, 1), X),
    ("avg_pool2d", lambda F, T, x: F.avg_pool2d(x, (2, 2)), X),
    ("adaptive", lambda F, T, x: F.adaptive_avg_pool2d(x, 3), X),
    ("normalize", lambda F, T, x: F.normalize(x, dim=1), M),
    ("normalize_p1", lambda F, T, x: F.normalize(x, p=1.0, dim=0), M),
    ("layer_norm", lambda F, T, x: F.layer_norm(x, (6,), T(np.ones(6) * 2), T(np.zeros(6))), M),
    ("batch_norm_train", lambda F, T, x: F.batch_norm(x, T(np.zeros(3)), T(np.ones(3)),
                                                      training=True), X),
    ("softplus", lambda F, T, x: F.softplus(x, beta=3, threshold=2), M),
    ("logsigmoid", lambda F, T, x: F.logsigmoid(x), M),
    ("silu", lambda F, T, x: F.silu(x), M),
    ("elu", lambda F, T, x: F.elu(x, 0.5), M),
    ("leaky_relu", lambda F, T, x: F.leaky_relu(x), M),
    ("gelu_tanh", lambda F, T, x: F.gelu(x, approximate="tanh"), M),
    ("softmax", lambda F, T, x: F.softmax(x, dim=0), M),
    ("log_softmax", lambda F, T, x: F.log_softmax(x, dim=-1), M),
    ("dropout_off", lambda F, T, x: F.dropout(x, 0.5, training=False), M),
    ("sdpa", lambda F, T, x: F.scaled_dot_product_attention(x, x * 0.5, x), Q),
    ("sdpa_causal", lambda F, T, x: F.scaled_dot_product_attention(x, x, x, is_causal=True), Q),
    ("sdpa_bool_mask", lambda F, T, x: F.scaled_dot_product_attention(
        x, x, x, attn_mask=T(CAUSAL.T | np.eye(5, dtype=bool))), Q),
    ("embedding", lambda F, T, x: F.embedding(T(np.array([[1, 0], [3, 3]])), x,
                                              padding_idx=0), M),
    ("cross_entropy", lambda F, T, x: F.cross_entropy(x, T(np.array([1, 0, 5, 2])),
                                                      label_smoothing=0.2), M),
    ("mse_loss", lambda F, T, x: F.mse_loss(x, T(M * 0.5), reduction="sum"), M),
]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_functional_matches_torch(torch, row):
    _, fn, x = row
    tx, gx = torch.tensor(x, requires_grad=True), gradkit.tensor(x, requires_grad=True)
    t_out = fn(torch.nn.functional, torch.tensor, tx)
    g_out = fn(GF, gradkit.tensor, gx)
    check_output_and_grad(torch, t_out, g_out, tx, gx)


def test_one_hot_and_dropout_all(torch):
    labels = np.array([[0, 2], [1, 3]])
    np.testing.assert_array_equal(GF.one_hot(gradkit.tensor(labels)).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor(labels)).numpy())
    assert GF.one_hot(gradkit.tensor(labels), 6).shape == (2, 2, 6)
    assert (GF.dropout(gradkit.ones(3, 3), 1.0).numpy() == 0).all()


def test_relu_inplace_writes_into_its_input_when_nothing_is_recorded():
    x = gradkit.tensor([-1.0, 2.0])
    assert GF.relu(x, inplace=True) is x and x.numpy().tolist() == [0.0, 2.0]
    w = gradkit.tensor([-1.0, 2.0], requires_grad=True)
    y = GF.relu(w, inplace=True)  # recorded: the result comes out of place
    assert y is not w and w.numpy().tolist() == [-1.0, 2.0]
