"""Learning-rate schedules vs their formulas and torch.optim.lr_scheduler."""

import math

import numpy as np
import pytest

from gradkit.optimizers import schedules as S

STEPS = [0, 1, 2, 5, 9, 10, 11, 29, 30, 31, 59, 60, 99, 100, 150, 1000]


def torch_lrs(make_sched, lr, n):
    """The learning rate PyTorch uses at steps 0..n-1 (scheduler.step() after each)."""
    torch = pytest.importorskip("torch")
    p = [torch.zeros(1, requires_grad=True)]
    opt = torch.optim.SGD(p, lr=lr)
    sched = make_sched(opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay_formula(staircase):
    s = S.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=staircase)
    for k in STEPS:
        p = math.floor(k / 10) if staircase else k / 10
        assert math.isclose(s(k), 0.1 * 0.5 ** p, rel_tol=1e-15)
    assert s(np.int64(20)) == s(20)


def test_exponential_decay_vs_torch_exponential_lr():
    torch = pytest.importorskip("torch")
    s = S.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.95)
    ref = torch_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.95), 0.1, 120)
    np.testing.assert_allclose([s(k) for k in range(120)], ref, rtol=1e-12)


def test_piecewise_constant_formula():
    s = S.PiecewiseConstantDecay([10, 30], [1.0, 0.5, 0.1])
    expected = {0: 1.0, 10: 1.0, 11: 0.5, 30: 0.5, 31: 0.1, 1000: 0.1}
    for k, v in expected.items():
        assert s(k) == v


def test_piecewise_constant_vs_torch_multistep():
    torch = pytest.importorskip("torch")
    s = S.PiecewiseConstantDecay([29, 79], [0.1, 0.1 * 0.2, 0.1 * 0.2 ** 2])
    ref = torch_lrs(lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [30, 80], gamma=0.2),
                    0.1, 120)
    np.testing.assert_allclose([s(k) for k in range(120)], ref, rtol=1e-12)


def test_step_decay_formula_and_torch():
    torch = pytest.importorskip("torch")
    s = S.StepDecay(0.1, step_size=30, gamma=0.1)
    for k in STEPS:
        assert math.isclose(s(k), 0.1 * 0.1 ** (k // 30), rel_tol=1e-15)
    ref = torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=30, gamma=0.1),
                    0.1, 120)
    np.testing.assert_allclose([s(k) for k in range(120)], ref, rtol=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_cosine_decay_formula_and_torch(alpha):
    torch = pytest.importorskip("torch")
    s = S.CosineDecay(0.1, decay_steps=100, alpha=alpha)
    for k in STEPS:
        kk = min(k, 100)
        expected = 0.1 * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * kk / 100)) + alpha)
        assert math.isclose(s(k), expected, rel_tol=1e-14, abs_tol=1e-17)
    assert s(100) == s(5000) == pytest.approx(0.1 * alpha, abs=1e-17)
    ref = torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(
        o, T_max=100, eta_min=0.1 * alpha), 0.1, 101)
    np.testing.assert_allclose([s(k) for k in range(101)], ref, rtol=1e-9, atol=1e-15)


def test_cosine_decay_with_warmup():
    s = S.CosineDecay(0.0, decay_steps=1000, alpha=0.0, warmup_target=0.1, warmup_steps=100)
    assert s(0) == 0.0
    assert math.isclose(s(50), 0.05)
    assert math.isclose(s(99), 0.099)
    assert math.isclose(s(100), 0.1)                                  # top of the warm-up
    assert math.isclose(s(600), 0.1 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert s(1100) == pytest.approx(0.0, abs=1e-18) and s(5000) == s(1100)
    w = S.CosineDecay(0.01, decay_steps=10, alpha=0.5, warmup_target=0.1, warmup_steps=10)
    assert math.isclose(w(5), 0.01 + (0.1 - 0.01) * 0.5)
    assert math.isclose(w(20), 0.05)                                  # alpha * warmup_target


@pytest.mark.parametrize("sched", [
    S.ExponentialDecay(0.1, 10, 0.5, staircase=True),
    S.PiecewiseConstantDecay([10, 30], [1.0, 0.5, 0.1]),
    S.StepDecay(0.1, 30, 0.5),
    S.CosineDecay(0.0, 100, alpha=0.1, warmup_target=0.1, warmup_steps=10),
])
def test_config_round_trip(sched):
    config = S.serialize(sched)
    again = S.deserialize(config)
    assert type(again) is type(sched) and again.get_config() == sched.get_config()
    assert all(again(k) == sched(k) for k in STEPS)
    assert S.get(config).get_config() == sched.get_config()
    assert type(sched).__name__ in repr(sched)


@pytest.mark.parametrize("make, message", [
    (lambda: S.ExponentialDecay(0.1, 0, 0.5), "decay_steps"),
    (lambda: S.ExponentialDecay(-0.1, 10, 0.5), "initial_learning_rate"),
    (lambda: S.PiecewiseConstantDecay([10, 5], [1.0, 0.5, 0.1]), "strictly increasing"),
    (lambda: S.PiecewiseConstantDecay([10], [1.0]), "len"),
    (lambda: S.StepDecay(0.1, 0), "step_size"),
    (lambda: S.CosineDecay(0.1, 10, warmup_target=0.2), "warmup_steps"),
    (lambda: S.CosineDecay(0.1, -1), "decay_steps"),
])
def test_validation(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("make, message", [
    (lambda: S.StepDecay(0.1, 2.5), "step_size must be an integer"),
    (lambda: S.ExponentialDecay("0.1", 10, 0.5), "initial_learning_rate must be a finite number"),
    (lambda: S.StepDecay(0.1, 10)("3"), "step must be a finite number"),
])
def test_wrong_type_is_a_type_error(make, message):
    with pytest.raises(TypeError, match=message):
        make()


def test_negative_step_and_unknown_class():
    with pytest.raises(ValueError):
        S.StepDecay(0.1, 10)(-1)
    with pytest.raises(ValueError, match="known"):
        S.deserialize({"class_name": "Nope", "config": {}})
