"""Activations: gradcheck, PyTorch diffs, second derivatives and stability for huge logits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradkit import ops
from gradkit.tensor import Tensor

try:
    import torch as T
    import torch.nn.functional as TF
except ImportError:  # the torch tests skip through the torch_ok fixture
    T = TF = None

# (name, gradkit fn, torch fn, input kind)
ACTS = [
    ("relu", ops.relu, lambda x: T.relu(x), "nz"),
    ("leaky_relu", ops.leaky_relu, lambda x: TF.leaky_relu(x, 0.2), "nz"),
    ("leaky_relu_0.01", lambda x: ops.leaky_relu(x, 0.01), lambda x: TF.leaky_relu(x, 0.01), "nz"),
    ("elu", ops.elu, lambda x: TF.elu(x), "nz"),
    ("elu_0.5", lambda x: ops.elu(x, 0.5), lambda x: TF.elu(x, 0.5), "nz"),
    ("gelu", ops.gelu, lambda x: TF.gelu(x), "any"),
    ("gelu_tanh", lambda x: ops.gelu(x, approximate=True),
     lambda x: TF.gelu(x, approximate="tanh"), "any"),
    ("sigmoid", ops.sigmoid, lambda x: T.sigmoid(x), "any"),
    ("tanh", ops.tanh, lambda x: T.tanh(x), "any"),
    ("softplus", ops.softplus, lambda x: TF.softplus(x), "any"),
    ("erf", ops.erf, lambda x: T.erf(x), "any"),
    ("softmax", ops.softmax, lambda x: T.softmax(x, -1), "any"),
    ("log_softmax", ops.log_softmax, lambda x: T.log_softmax(x, -1), "any"),
]
AXIS_ACTS = [
    ("softmax", ops.softmax, lambda x, a: T.softmax(x, a)),
    ("log_softmax", ops.log_softmax, lambda x, a: T.log_softmax(x, a)),
]
SHAPES = [(), (1,), (5,), (2, 3), (2, 3, 2)]

cases = [pytest.param(f, t, ((s, k),), id=f"{n}-{s}") for n, f, t, k in ACTS for s in SHAPES
         if not (s == () and "softmax" in n)]
cases += [pytest.param(lambda x, f=f, a=a: f(x, a), lambda x, t=t, a=a: t(x, a),
                       (((2, 3, 2), "any"),), id=f"{n}-axis{a}")
          for n, f, t in AXIS_ACTS for a in (0, 1, -2, 2)]
ONE = [pytest.param(f, t, (((2, 3), k),), id=n) for n, f, t, k in ACTS]


@pytest.mark.parametrize("fn, tfn, specs", cases)
def test_gradcheck(fn, tfn, specs, make, grad_ok):
    grad_ok(fn, make(specs))


@pytest.mark.parametrize("fn, tfn, specs", cases)
def test_matches_torch_float64(fn, tfn, specs, make, torch_ok):
    torch_ok(fn, tfn, make(specs))


@pytest.mark.parametrize("fn, tfn, specs", ONE)
def test_matches_torch_float32(fn, tfn, specs, make, torch_ok):
    torch_ok(fn, tfn, make(specs), dtype=np.float32)


@pytest.mark.parametrize("fn, tfn, specs", ONE)
def test_second_order(fn, tfn, specs, make, grad2_ok):
    grad2_ok(fn, make(specs))


@pytest.mark.parametrize("fn, tfn, specs", ONE)
def test_second_derivative_matches_torch(fn, tfn, specs, make, torch):
    """The Hessian-vector product through create_graph equals torch's."""
    import gradkit

    (a,) = make(specs)
    v = np.random.default_rng(3).standard_normal(a.shape)
    x = Tensor(a, requires_grad=True)
    x.grad = None
    (fn(x) * Tensor(v)).sum().backward(create_graph=True)
    g = x.grad
    x.grad = None
    if g.requires_grad:
        (g * Tensor(v)).sum().backward()
    else:  # the gradient does not depend on x (relu, leaky_relu): zero second derivative
        x.grad = Tensor(np.zeros_like(a))
    tx = torch.tensor(a, requires_grad=True)
    (tg,) = torch.autograd.grad((tfn(tx) * torch.tensor(v)).sum(), tx, create_graph=True)
    (th,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), tx)
    np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(x.grad.numpy(), th.numpy(), rtol=1e-9, atol=1e-10)
    assert gradkit.is_grad_enabled()


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
STABLE = [
    ("softmax", ops.softmax, lambda x: T.softmax(x, -1)),
    ("softmax0", lambda x: ops.softmax(x, 0), lambda x: T.softmax(x, 0)),
    ("log_softmax", ops.log_softmax, lambda x: T.log_softmax(x, -1)),
    ("log_softmax0", lambda x: ops.log_softmax(x, 0), lambda x: T.log_softmax(x, 0)),
    ("sigmoid", ops.sigmoid, lambda x: T.sigmoid(x)),
    ("softplus", ops.softplus, lambda x: TF.softplus(x)),
    ("tanh", ops.tanh, lambda x: T.tanh(x)),
    ("elu", ops.elu, lambda x: TF.elu(x)),
    ("gelu", ops.gelu, lambda x: TF.gelu(x)),
    ("gelu_tanh", lambda x: ops.gelu(x, True), lambda x: TF.gelu(x, approximate="tanh")),
    ("erf", ops.erf, lambda x: T.erf(x)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fn, tfn", [pytest.param(f, t, id=n) for n, f, t in STABLE])
def test_stable_for_huge_inputs(fn, tfn, dtype, torch_ok):
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
