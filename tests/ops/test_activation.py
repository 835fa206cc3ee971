"""Activations beyond the op table: erf accuracy, defaults, kinks, stability for huge logits
(gradcheck, second order, PyTorch and NumPy sweeps: test_op_table)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradkit import ops
from gradkit.tensor import Tensor
from tests.ops.op_table import BY_NAME

try:
    import torch as T
    import torch.nn.functional as TF
except ImportError:  # the torch tests skip through the torch_ok fixture
    T = TF = None

def test_erf_is_accurate_in_float64_and_float32():
    xs = np.concatenate([np.linspace(-7, 7, 2801), [0.0, 1e-300, -1e-12, 1e300, np.inf, -np.inf]])
    want = np.array([math.erf(v) for v in xs])
    np.testing.assert_allclose(ops.erf(Tensor(xs)).numpy(), want, rtol=1e-14, atol=1e-15)
    x32 = np.concatenate([xs[:-4], np.geomspace(1e-30, 1, 50)]).astype(np.float32)
    want32 = np.array([math.erf(float(v)) for v in x32])
    got32 = ops.erf(Tensor(x32)).numpy()
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, want32, rtol=1e-6, atol=1e-37)  # relative, even near 0
    assert np.isnan(ops.erf(Tensor(np.array([np.nan]))).numpy()).all()
    assert ops.erf(Tensor(np.zeros((0, 2)))).shape == (0, 2)


def test_leaky_relu_default_slope_is_0_2():
    x = Tensor(np.array([-1.0, 2.0]), requires_grad=True)
    y = ops.leaky_relu(x)
    np.testing.assert_allclose(y.numpy(), [-0.2, 2.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.2, 1.0])


def test_relu_gradient_is_zero_at_zero_like_torch(torch_ok):
    a = np.array([-1.0, 0.0, 1.0])
    torch_ok(ops.relu, lambda x: T.relu(x), [a])


# ------------------------------------------------------------------ stability
BIG = np.array([[-1000.0, 0.0, 1000.0], [1000.0, 999.0, -5.0], [-1000.0, -1000.0, -999.0]])
# (id, table row, keyword arguments)
STABLE = [("softmax", "softmax", {}), ("softmax0", "softmax", {"axis": 0}),
          ("log_softmax", "log_softmax", {}), ("log_softmax0", "log_softmax", {"axis": 0}),
          ("sigmoid", "sigmoid", {}), ("softplus", "softplus", {}), ("tanh", "tanh", {}),
          ("elu", "elu", {}), ("gelu", "gelu", {}), ("gelu_tanh", "gelu", {"approximate": True}),
          ("erf", "erf", {})]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, kw", [pytest.param(r, k, id=i) for i, r, k in STABLE])
def test_stable_for_huge_inputs(name, kw, dtype, torch_ok):
    row = BY_NAME[name]

    def fn(x):
        return row.op(x, **kw)

    def tfn(x):
        return row.twin(x, **kw)

    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow either
        x = Tensor(BIG.astype(dtype), requires_grad=True)
        y = fn(x)
        assert np.isfinite(y.numpy()).all()
        y.backward(np.ones(y.shape, dtype))
        assert np.isfinite(x.grad.numpy()).all()
    torch_ok(fn, tfn, [BIG], dtype=dtype)


def test_softmax_rows_sum_to_one_and_float32_stays(make):
    (a,) = make([((4, 5), "any")])
    s = ops.softmax(Tensor((a * 30).astype(np.float32)))
    assert s.dtype == np.float32
    np.testing.assert_allclose(s.numpy().sum(-1), 1.0, rtol=1e-6)


def test_softmax_with_minus_inf_entries(torch_ok):
    a = np.array([[0.0, -np.inf, 1.0], [2.0, 3.0, -np.inf]])
    torch_ok(ops.softmax, lambda x: T.softmax(x, -1), [a])
