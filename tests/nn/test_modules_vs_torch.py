"""Every gradkit.nn module against torch.nn with copied weights: values and gradients.

Each row builds the module with the same expression from ``torch.nn`` and
``gradkit.nn`` (the names and arguments are PyTorch's), copies PyTorch's state dict
into gradkit's, and compares outputs, input and parameter gradients and the state
after the call (running statistics), in float64.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit import nn as gnn
from tests.nn.reference import compare


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _ids(high, *shape):
    return np.random.default_rng(3).integers(0, high, size=shape)


def _mask(*shape):
    m = np.random.default_rng(4).random(shape) < 0.3
    m[..., 0] = False  # every row may attend somewhere
    return m


ROWS = [
    # (id, build(nn), inputs, call kwargs, train mode)
    ("linear", lambda nn: nn.Linear(4, 3), [_x(5, 4)], {}, True),
    ("linear_3d_nobias", lambda nn: nn.Linear(4, 3, bias=False), [_x(2, 5, 4)], {}, True),
    ("conv2d", lambda nn: nn.Conv2d(3, 4, 3, padding=1), [_x(2, 3, 6, 5)], {}, True),
    ("conv2d_strided", lambda nn: nn.Conv2d(2, 3, (3, 2), stride=2, padding=(1, 0),
                                            dilation=(1, 2)), [_x(2, 2, 7, 8)], {}, True),
    ("conv2d_same", lambda nn: nn.Conv2d(2, 2, 3, padding="same"), [_x(1, 2, 5, 5)], {}, True),
    ("conv2d_unbatched", lambda nn: nn.Conv2d(2, 3, 2), [_x(2, 4, 4)], {}, True),
    ("maxpool", lambda nn: nn.MaxPool2d(2), [_x(2, 3, 6, 6)], {}, True),
    ("maxpool_pad", lambda nn: nn.MaxPool2d(3, stride=2, padding=1), [_x(2, 2, 7, 6)], {},
     True),
    ("avgpool", lambda nn: nn.AvgPool2d(2), [_x(2, 3, 6, 4)], {}, True),
    ("avgpool_pad", lambda nn: nn.AvgPool2d(3, 1, padding=1, count_include_pad=False),
     [_x(1, 2, 5, 5)], {}, True),
    ("adaptive_avg_1", lambda nn: nn.AdaptiveAvgPool2d((1, 1)), [_x(2, 3, 5, 4)], {}, True),
    ("adaptive_avg_uneven", lambda nn: nn.AdaptiveAvgPool2d((3, 2)), [_x(2, 2, 7, 5)], {},
     True),
    ("batchnorm1d_train", lambda nn: nn.BatchNorm1d(4), [_x(8, 4)], {}, True),
    ("batchnorm1d_3d", lambda nn: nn.BatchNorm1d(4, momentum=0.3), [_x(5, 4, 3)], {}, True),
    ("batchnorm1d_eval", lambda nn: nn.BatchNorm1d(4), [_x(8, 4)], {}, False),
    ("batchnorm1d_cumulative", lambda nn: nn.BatchNorm1d(4, momentum=None), [_x(6, 4)], {},
     True),
    ("batchnorm1d_no_stats", lambda nn: nn.BatchNorm1d(3, affine=False,
                                                       track_running_stats=False),
     [_x(6, 3)], {}, False),
    ("batchnorm2d_train", lambda nn: nn.BatchNorm2d(3), [_x(4, 3, 5, 5)], {}, True),
    ("batchnorm2d_eval", lambda nn: nn.BatchNorm2d(3), [_x(4, 3, 5, 5)], {}, False),
    ("layernorm", lambda nn: nn.LayerNorm(5), [_x(3, 4, 5)], {}, True),
    ("layernorm_2axes", lambda nn: nn.LayerNorm((4, 5), eps=1e-3), [_x(3, 4, 5)], {}, True),
    ("layernorm_no_affine", lambda nn: nn.LayerNorm(5, elementwise_affine=False),
     [_x(3, 5)], {}, True),
    ("dropout_eval", lambda nn: nn.Dropout(0.5), [_x(4, 6)], {}, False),
    ("embedding", lambda nn: nn.Embedding(10, 4), [_ids(10, 3, 5)], {}, True),
    ("embedding_padding", lambda nn: nn.Embedding(10, 4, padding_idx=0),
     [np.array([[0, 2, 0], [5, 0, 9]])], {}, True),
    ("rnn", lambda nn: nn.RNN(4, 5), [_x(6, 3, 4)], {}, True),
    ("rnn_relu_2layers_bi", lambda nn: nn.RNN(4, 5, 2, nonlinearity="relu",
                                              bidirectional=True), [_x(6, 3, 4)], {}, True),
    ("rnn_h0", lambda nn: nn.RNN(4, 5, batch_first=True), [_x(3, 6, 4), _x(1, 3, 5, seed=2)],
     {}, True),
    ("lstm", lambda nn: nn.LSTM(4, 5), [_x(6, 3, 4)], {}, True),
    ("lstm_batch_first_bi_2layers", lambda nn: nn.LSTM(4, 5, num_layers=2, batch_first=True,
                                                       bidirectional=True),
     [_x(3, 6, 4)], {}, True),
    ("lstm_no_bias_unbatched", lambda nn: nn.LSTM(4, 3, bias=False), [_x(5, 4)], {}, True),
    ("gru", lambda nn: nn.GRU(4, 5), [_x(6, 3, 4)], {}, True),
    ("gru_bi_batch_first_h0", lambda nn: nn.GRU(4, 5, batch_first=True, bidirectional=True),
     [_x(3, 6, 4), _x(2, 3, 5, seed=5)], {}, True),
    ("gru_2layers", lambda nn: nn.GRU(3, 4, num_layers=2), [_x(5, 2, 3)], {}, True),
    ("relu", lambda nn: nn.ReLU(), [_x(3, 4)], {}, True),
    ("leaky_relu", lambda nn: nn.LeakyReLU(0.1), [_x(3, 4)], {}, True),
    ("leaky_relu_default", lambda nn: nn.LeakyReLU(), [_x(3, 4)], {}, True),
    ("elu", lambda nn: nn.ELU(0.7), [_x(3, 4)], {}, True),
    ("gelu", lambda nn: nn.GELU(), [_x(3, 4)], {}, True),
    ("gelu_tanh", lambda nn: nn.GELU(approximate="tanh"), [_x(3, 4)], {}, True),
    ("silu", lambda nn: nn.SiLU(), [_x(3, 4)], {}, True),
    ("sigmoid", lambda nn: nn.Sigmoid(), [_x(3, 4)], {}, True),
    ("tanh", lambda nn: nn.Tanh(), [_x(3, 4)], {}, True),
    ("softplus", lambda nn: nn.Softplus(beta=2.0, threshold=1.0), [_x(3, 4)], {}, True),
    ("softmax", lambda nn: nn.Softmax(dim=1), [_x(3, 4)], {}, True),
    ("softmax_implicit_dim", lambda nn: nn.Softmax(), [_x(2, 3, 4)], {}, True),
    ("log_softmax", lambda nn: nn.LogSoftmax(dim=-1), [_x(3, 4)], {}, True),
    ("flatten", lambda nn: nn.Flatten(), [_x(2, 3, 4)], {}, True),
    ("flatten_range", lambda nn: nn.Flatten(0, 1), [_x(2, 3, 4)], {}, True),
    ("unflatten", lambda nn: nn.Unflatten(1, (2, 3)), [_x(4, 6)], {}, True),
    ("identity", lambda nn: nn.Identity(), [_x(3, 4)], {}, True),
    ("sequential", lambda nn: nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)),
     [_x(5, 4)], {}, True),
    ("mha", lambda nn: nn.MultiheadAttention(8, 2), [_x(5, 3, 8), _x(4, 3, 8, seed=1),
                                                     _x(4, 3, 8, seed=2)], {}, True),
    ("mha_batch_first_masks", lambda nn: nn.MultiheadAttention(8, 4, batch_first=True),
     [_x(3, 5, 8), _x(3, 4, 8, seed=1), _x(3, 4, 8, seed=2)],
     {"attn_mask": _mask(5, 4), "key_padding_mask": _mask(3, 4)}, True),
    ("mha_float_mask_per_head", lambda nn: nn.MultiheadAttention(8, 2, bias=False),
     [_x(5, 3, 8), _x(5, 3, 8, seed=1), _x(5, 3, 8, seed=2)],
     {"attn_mask": _x(6, 5, 5, seed=7), "average_attn_weights": False}, True),
    ("mha_causal_no_weights", lambda nn: nn.MultiheadAttention(8, 2, batch_first=True),
     [_x(2, 4, 8)] * 3, {"attn_mask": ~np.tril(np.ones((4, 4), bool)), "is_causal": True,
                         "need_weights": False}, True),
    ("mha_unbatched", lambda nn: nn.MultiheadAttention(4, 1), [_x(3, 4), _x(5, 4, seed=1),
                                                               _x(5, 4, seed=2)], {}, True),
]


def _masks_to_torch(torch, kwargs):
    return {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


@pytest.mark.filterwarnings("ignore:Implicit dimension choice")
@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_module_matches_torch(torch, row):
    _, build, inputs, kwargs, train = row
    tmod, gmod = build(torch.nn), build(gnn)
    if kwargs:
        # the same masks for both: torch tensors for torch, arrays for gradkit
        t_kwargs = _masks_to_torch(torch, kwargs)
        compare_kwargs(torch, tmod, gmod, inputs, t_kwargs, kwargs, train)
    else:
        compare(torch, tmod, gmod, inputs, train=train)


def compare_kwargs(torch, tmod, gmod, inputs, t_kwargs, g_kwargs, train):
    """``compare`` with keyword arguments that differ in type between the frameworks."""

    class Bound(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *xs):
            return self.inner(*xs, **t_kwargs)

    class GBound(gnn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *xs):
            return self.inner(*xs, **g_kwargs)

    compare(torch, Bound(tmod), GBound(gmod), inputs, train=train)


def test_dropout_training_masks_and_scales():
    drop = gnn.Dropout(0.25)
    a = (np.abs(_x(200, 50)) + 0.1).astype(np.float32)
    t = gradkit.tensor(a, requires_grad=True)
    y = drop(t)
    kept = y.numpy() != 0
    np.testing.assert_allclose(y.numpy()[kept], a[kept] / 0.75, rtol=1e-6)
    assert 0.65 < kept.mean() < 0.85
    y.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), kept / 0.75)
    drop.eval()
    assert drop(t) is t
