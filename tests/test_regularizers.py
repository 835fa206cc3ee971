"""gradkit.regularizers: penalties and their gradients vs the analytic formulas, configs."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gradkit
from gradkit import regularizers as R
from gradkit.tensor import Tensor
from gradkit.testing import gradcheck


def weights(seed=0, shape=(5, 4)):
    w = np.random.default_rng(seed).normal(size=shape)
    w[np.abs(w) < 0.05] = 0.3  # away from the kink of |w|
    return w


@pytest.mark.parametrize("reg, value, grad", [
    (R.L1(0.03), lambda w: 0.03 * np.abs(w).sum(), lambda w: 0.03 * np.sign(w)),
    (R.L2(0.02), lambda w: 0.02 * (w ** 2).sum(), lambda w: 0.04 * w),
    (R.L1L2(0.01, 0.5), lambda w: 0.01 * np.abs(w).sum() + 0.5 * (w ** 2).sum(),
     lambda w: 0.01 * np.sign(w) + w),
    (R.L1L2(), lambda w: 0.0, lambda w: np.zeros_like(w)),
], ids=repr)
def test_value_and_gradient_vs_analytic(reg, value, grad):
    w = weights()
    v = gradkit.Variable(w)
    out = reg(v)
    assert out.shape == () and out.dtype == np.float64
    out.backward()
    np.testing.assert_allclose(out.item(), value(w), rtol=1e-12)
    np.testing.assert_allclose(v.grad.numpy(), grad(w), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("reg", [R.L1(0.1), R.L2(0.1), R.L1L2(0.2, 0.3)], ids=repr)
def test_gradcheck(reg):
    assert gradcheck(reg, weights(1, (3, 3, 2)))


def test_keras_defaults_and_examples():
    assert R.L1().l1 == 0.01 and R.L2().l2 == 0.01
    assert R.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    w = Tensor(np.array([1.0, -3.0]))
    assert R.L1(0.1)(w).item() == pytest.approx(0.4)
    assert R.L2(0.1)(w).item() == pytest.approx(1.0)
    assert R.L1L2(l1=0.01, l2=0.01)(Tensor([[1.0, -2.0]])).item() == pytest.approx(0.08)


def test_float32_and_arrays():
    w = gradkit.Variable(np.ones((2, 2), np.float32))
    assert R.L2()(w).dtype == np.float32
    assert R.L1(0.5)(np.array([1.0, -1.0])).item() == 1.0  # arrays are accepted


def test_penalty_adds_to_a_loss():
    w = gradkit.Variable(np.array([[0.5, -1.0]]))
    x = np.array([[1.0], [2.0]])
    loss = gradkit.ops.mean((x @ w) ** 2) + R.L2(0.1)(w)
    loss.backward()
    expected = (2 * (x @ w.numpy()) * x).sum(0) / 4 + 0.2 * w.numpy()
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)


def test_invalid_factors():
    with pytest.raises(ValueError, match="l1"):
        R.L1(-0.1)
    with pytest.raises(ValueError, match="l2"):
        R.L1L2(l2=-1)


def test_get():
    assert type(R.get("l1")) is R.L1 and R.get("l1").l1 == 0.01
    assert type(R.get("L2")) is R.L2
    l1l2 = R.get("l1_l2")
    assert type(l1l2) is R.L1L2 and l1l2.l1 == 0.01 and l1l2.l2 == 0.01
    reg = R.L2(0.5)
    assert R.get(reg) is reg
    assert R.get(None) is None
    assert type(R.get(R.L1)) is R.L1

    def custom(w):
        return gradkit.ops.sum(w) * 0.0

    assert R.get(custom) is custom
    with pytest.raises(ValueError) as e:
        R.get("l3")
    assert "l1" in str(e.value) and "l2" in str(e.value) and "l1_l2" in str(e.value)
    with pytest.raises(TypeError):
        R.get(0.01)


@pytest.mark.parametrize("reg", [R.L1(0.2), R.L2(0.3), R.L1L2(0.1, 0.4), R.l1_l2()], ids=repr)
def test_config_round_trip(reg):
    cfg = reg.get_config()
    json.dumps(cfg)
    assert type(reg).from_config(cfg).get_config() == cfg
    back = R.get(json.loads(json.dumps(R.serialize(reg))))
    assert type(back) is type(reg) and back.get_config() == cfg
    w = weights(2)
    assert back(Tensor(w)).item() == reg(Tensor(w)).item()
