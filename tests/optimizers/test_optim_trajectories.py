"""100-step trajectories on a fixed float64 problem vs PyTorch and vs Keras 3's formulas.

Where PyTorch implements the same rule, the comparison is against ``torch.optim``
with the matching hyper-parameters. Where it does not (epsilon placement of
Adagrad/RMSprop/Adam, SGD momentum under a changing learning rate, decoupled
weight decay with momentum), a NumPy reference written from Keras 3's update rules
(``keras/src/optimizers/<name>.py``, ``update_step``; weight decay from
``base_optimizer.py``, ``_apply_weight_decay``: ``w <- w - w * wd * lr`` before the
update) is the oracle. The references below are deliberately written out of place,
formula by formula, independently of the in-place implementation.
"""

import math

import numpy as np
import pytest
from optim_helpers import assert_traj_close, moved, run_gradkit, run_reference, run_torch

from gradkit import optimizers as O
from gradkit.optimizers import schedules as S

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


# ====================================================================== vs PyTorch
def T(cls, **kw):
    """A PyTorch optimizer factory (no scheduler)."""
    return lambda ps: (cls(ps, **kw), None)


TORCH_CASES = {
    # --- SGD: same rule as Keras for a constant learning rate
    "sgd": (lambda ps: O.SGD(ps, learning_rate=0.01),
            T(torch.optim.SGD, lr=0.01)),
    "sgd-momentum": (lambda ps: O.SGD(ps, learning_rate=0.01, momentum=0.9),
                     T(torch.optim.SGD, lr=0.01, momentum=0.9)),
    "sgd-nesterov": (lambda ps: O.SGD(ps, lr=0.01, momentum=0.8, nesterov=True),
                     T(torch.optim.SGD, lr=0.01, momentum=0.8, nesterov=True)),
    # PyTorch's coupled L2 decay, asked for explicitly
    "sgd-momentum-l2": (lambda ps: O.SGD(ps, lr=0.01, momentum=0.9, weight_decay=0.1,
                                         decoupled_weight_decay=False),
                        T(torch.optim.SGD, lr=0.01, momentum=0.9, weight_decay=0.1)),
    # without momentum Keras's decoupled decay *is* PyTorch's L2 decay
    "sgd-decoupled-wd-equals-l2": (lambda ps: O.SGD(ps, lr=0.01, weight_decay=0.1),
                                   T(torch.optim.SGD, lr=0.01, weight_decay=0.1)),
    # --- Adagrad: Keras's epsilon is under the sqrt, PyTorch's outside: equal at 0
    "adagrad-eps0": (lambda ps: O.Adagrad(ps, lr=0.1, epsilon=0.0),
                     T(torch.optim.Adagrad, lr=0.1, eps=0.0, initial_accumulator_value=0.1)),
    "adagrad-eps0-init0.5": (lambda ps: O.Adagrad(ps, lr=0.1, eps=0.0,
                                                  initial_accumulator_value=0.5),
                             T(torch.optim.Adagrad, lr=0.1, eps=0.0,
                               initial_accumulator_value=0.5)),
    # --- RMSprop: PyTorch's alpha is rho; epsilon placement differs: compare at 0
    "rmsprop-eps0": (lambda ps: O.RMSprop(ps, lr=0.002, epsilon=0.0),
                     T(torch.optim.RMSprop, lr=0.002, alpha=0.9, eps=0.0)),
    "rmsprop-eps0-momentum": (lambda ps: O.RMSprop(ps, lr=0.002, alpha=0.95, eps=0.0,
                                                   momentum=0.5),
                              T(torch.optim.RMSprop, lr=0.002, alpha=0.95, eps=0.0,
                                momentum=0.5)),
    # (centered RMSprop divides by the gradient's standard deviation, which tends to 0 on
    # this smooth problem: with epsilon=0 it is chaotic, so it is checked against the
    # Keras formula with epsilon > 0 below instead.)
    # --- Adam: Keras's epsilon-hat vs PyTorch's epsilon: identical at 0
    "adam-eps0": (lambda ps: O.Adam(ps, lr=0.05, epsilon=0.0),
                  T(torch.optim.Adam, lr=0.05, eps=0.0)),
    "adam-eps0-betas": (lambda ps: O.Adam(ps, lr=0.05, eps=0.0, betas=(0.8, 0.99)),
                        T(torch.optim.Adam, lr=0.05, eps=0.0, betas=(0.8, 0.99))),
    "adam-eps0-amsgrad": (lambda ps: O.Adam(ps, lr=0.05, eps=0.0, amsgrad=True),
                          T(torch.optim.Adam, lr=0.05, eps=0.0, amsgrad=True)),
    "adam-eps0-l2": (lambda ps: O.Adam(ps, lr=0.05, eps=0.0, weight_decay=0.1,
                                       decoupled_weight_decay=False),
                     T(torch.optim.Adam, lr=0.05, eps=0.0, weight_decay=0.1)),
    # --- AdamW: the decoupled decay step is the same in both libraries
    "adamw-eps0": (lambda ps: O.AdamW(ps, lr=0.05, eps=0.0, weight_decay=0.1),
                   T(torch.optim.AdamW, lr=0.05, eps=0.0, weight_decay=0.1)),
    "adamw-eps0-amsgrad": (lambda ps: O.AdamW(ps, lr=0.05, eps=0.0, weight_decay=0.05,
                                              amsgrad=True),
                           T(torch.optim.AdamW, lr=0.05, eps=0.0, weight_decay=0.05,
                             amsgrad=True)),
    # Adam's decoupled weight_decay (Keras semantics) is AdamW
    "adam-decoupled-wd-is-adamw": (lambda ps: O.Adam(ps, lr=0.05, eps=0.0, weight_decay=0.1),
                                   T(torch.optim.AdamW, lr=0.05, eps=0.0, weight_decay=0.1)),
    # --- Nadam: PyTorch's NAdam with momentum_decay=1 uses Keras's 0.96^t schedule
    "nadam": (lambda ps: O.Nadam(ps, lr=0.02),
              T(torch.optim.NAdam, lr=0.02, eps=1e-7, momentum_decay=1.0)),
    "nadam-betas": (lambda ps: O.Nadam(ps, lr=0.02, betas=(0.85, 0.99), epsilon=1e-3),
                    T(torch.optim.NAdam, lr=0.02, betas=(0.85, 0.99), eps=1e-3,
                      momentum_decay=1.0)),
    "nadam-l2": (lambda ps: O.Nadam(ps, lr=0.02, weight_decay=0.1,
                                    decoupled_weight_decay=False),
                 T(torch.optim.NAdam, lr=0.02, eps=1e-7, momentum_decay=1.0,
                   weight_decay=0.1)),
    # --- schedules (update k uses schedule(k); PyTorch: scheduler.step() after each step)
    "adam-eps0-exponential": (
        lambda ps: O.Adam(ps, lr=S.ExponentialDecay(0.05, decay_steps=1, decay_rate=0.97),
                          eps=0.0),
        lambda ps: (lambda o: (o, torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.97)))(
            torch.optim.Adam(ps, lr=0.05, eps=0.0))),
    "sgd-step-decay": (
        lambda ps: O.SGD(ps, lr=S.StepDecay(0.02, step_size=30, gamma=0.5)),
        lambda ps: (lambda o: (o, torch.optim.lr_scheduler.StepLR(o, step_size=30,
                                                                  gamma=0.5)))(
            torch.optim.SGD(ps, lr=0.02))),
    "rmsprop-eps0-cosine": (
        # (CosineAnnealingLR rises again after T_max; Keras's CosineDecay stays at alpha)
        lambda ps: O.RMSprop(ps, lr=S.CosineDecay(0.002, decay_steps=100, alpha=0.1), eps=0.0),
        lambda ps: (lambda o: (o, torch.optim.lr_scheduler.CosineAnnealingLR(
            o, T_max=100, eta_min=0.0002)))(torch.optim.RMSprop(ps, lr=0.002, alpha=0.9,
                                                                eps=0.0))),
    "nadam-piecewise": (
        lambda ps: O.Nadam(ps, lr=S.PiecewiseConstantDecay([24, 59], [0.02, 0.01, 0.005])),
        lambda ps: (lambda o: (o, torch.optim.lr_scheduler.MultiStepLR(
            o, milestones=[25, 60], gamma=0.5)))(torch.optim.NAdam(
                ps, lr=0.02, eps=1e-7, momentum_decay=1.0))),
}


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
@pytest.mark.parametrize("api", ["apply", "step"])
def test_trajectory_vs_torch(name, api):
    ours = run_gradkit(TORCH_CASES[name][0], api=api)
    ref = run_torch(TORCH_CASES[name][1])
    assert moved(ref) > 0.05
    # torch's NAdam keeps its momentum product in float32 (the default scalar dtype)
    # even for float64 parameters: ~1e-9 differences, still far inside 1e-6.
    tol = 1e-8 if name.startswith("nadam") else 1e-9
    assert_traj_close(ours, ref, atol=tol, rtol=tol)


# ================================================================ Keras references
# Each reference returns step(ws, gs, state, t) -> ws, t counting from 0 (Keras's
# ``iterations``); ``lr(t)`` is the learning rate used at that update.
def _const(lr):
    return lr if callable(lr) else (lambda t: lr)


def _decay(ws, lr_t, wd):
    # base_optimizer._apply_weight_decay: variable - variable * wd * lr
    return ws if not wd else [w - w * wd * lr_t for w in ws]


def keras_sgd(lr, momentum=0.0, nesterov=False, wd=None):
    lr = _const(lr)

    def step(ws, gs, st, t):
        lr_t = lr(t)
        ws = _decay(ws, lr_t, wd)
        out = []
        for i, (w, g) in enumerate(zip(ws, gs)):
            if momentum == 0:
                out.append(w - lr_t * g)
                continue
            m = st.get(i, np.zeros_like(w))
            m = momentum * m - lr_t * g                 # velocity
            st[i] = m
            out.append(w + momentum * m - lr_t * g if nesterov else w + m)
        return out
    return step


def keras_adagrad(lr, init=0.1, eps=1e-7, wd=None):
    lr = _const(lr)

    def step(ws, gs, st, t):
        ws = _decay(ws, lr(t), wd)
        out = []
        for i, (w, g) in enumerate(zip(ws, gs)):
            acc = st.get(i, np.full_like(w, init)) + g * g
            st[i] = acc
            out.append(w - lr(t) * g / np.sqrt(acc + eps))   # epsilon under the sqrt
        return out
    return step


def keras_rmsprop(lr, rho=0.9, momentum=0.0, eps=1e-7, centered=False, wd=None):
    lr = _const(lr)

    def step(ws, gs, st, t):
        ws = _decay(ws, lr(t), wd)
        out = []
        for i, (w, g) in enumerate(zip(ws, gs)):
            v, mg, mom = st.get(i, (np.zeros_like(w),) * 3)
            v = rho * v + (1 - rho) * g * g
            if centered:
                mg = rho * mg + (1 - rho) * g
                denominator = v - mg * mg + eps
            else:
                denominator = v + eps                      # epsilon under the sqrt
            increment = lr(t) * g / np.sqrt(denominator)
            if momentum > 0:
                mom = momentum * mom + increment
                out.append(w - mom)
            else:
                out.append(w - increment)
            st[i] = (v, mg, mom)
        return out
    return step


def keras_adam(lr, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False, wd=None):
    lr = _const(lr)

    def step(ws, gs, st, t):
        ws = _decay(ws, lr(t), wd)
        k = t + 1
        alpha = lr(t) * math.sqrt(1 - b2 ** k) / (1 - b1 ** k)
        out = []
        for i, (w, g) in enumerate(zip(ws, gs)):
            m, v, vhat = st.get(i, (np.zeros_like(w),) * 3)
            m = m + (g - m) * (1 - b1)
            v = v + (g * g - v) * (1 - b2)
            if amsgrad:
                vhat = np.maximum(vhat, v)
                out.append(w - alpha * m / (np.sqrt(vhat) + eps))
            else:
                out.append(w - alpha * m / (np.sqrt(v) + eps))
            st[i] = (m, v, vhat)
        return out
    return step


def keras_nadam(lr, b1=0.9, b2=0.999, eps=1e-7, wd=None):
    lr = _const(lr)

    def step(ws, gs, st, t):
        ws = _decay(ws, lr(t), wd)
        k = t + 1
        u_t = b1 * (1 - 0.5 * 0.96 ** k)
        u_t1 = b1 * (1 - 0.5 * 0.96 ** (k + 1))
        st["u_product"] = st.get("u_product", 1.0) * u_t
        up_t = st["u_product"]
        up_t1 = up_t * u_t1
        out = []
        for i, (w, g) in enumerate(zip(ws, gs)):
            m, v = st.get(i, (np.zeros_like(w),) * 2)
            m = m + (g - m) * (1 - b1)
            v = v + (g * g - v) * (1 - b2)
            m_hat = u_t1 * m / (1 - up_t1) + (1 - u_t) * g / (1 - up_t)
            v_hat = v / (1 - b2 ** k)
            out.append(w - m_hat * lr(t) / (np.sqrt(v_hat) + eps))
            st[i] = (m, v)
        return out
    return step


SCHED = S.ExponentialDecay(0.02, decay_steps=10, decay_rate=0.8)
SCHED_SMALL = S.ExponentialDecay(0.004, decay_steps=10, decay_rate=0.8)

KERAS_CASES = {
    # defaults (Keras 3): SGD 0.01; others 0.001 -> use larger rates so they move
    "sgd-momentum-decoupled-wd": (lambda ps: O.SGD(ps, lr=0.01, momentum=0.9, weight_decay=0.1),
                                  keras_sgd(0.01, 0.9, wd=0.1)),
    "sgd-nesterov-schedule": (lambda ps: O.SGD(ps, lr=SCHED, momentum=0.9, nesterov=True),
                              keras_sgd(SCHED, 0.9, nesterov=True)),
    "sgd-momentum-schedule": (lambda ps: O.SGD(ps, lr=SCHED, momentum=0.9),
                              keras_sgd(SCHED, 0.9)),
    "adagrad-default-eps": (lambda ps: O.Adagrad(ps, lr=0.1), keras_adagrad(0.1)),
    "adagrad-large-eps": (lambda ps: O.Adagrad(ps, lr=0.1, epsilon=0.5,
                                               initial_accumulator_value=0.0),
                          keras_adagrad(0.1, init=0.0, eps=0.5)),
    "rmsprop-default-eps": (lambda ps: O.RMSprop(ps, lr=0.002), keras_rmsprop(0.002)),
    "rmsprop-large-eps": (lambda ps: O.RMSprop(ps, lr=0.01, epsilon=0.1),
                          keras_rmsprop(0.01, eps=0.1)),
    "rmsprop-centered-momentum": (lambda ps: O.RMSprop(ps, lr=0.005, epsilon=0.01,
                                                       centered=True, momentum=0.6),
                                  keras_rmsprop(0.005, eps=0.01, centered=True,
                                                momentum=0.6)),
    "rmsprop-momentum-schedule-wd": (lambda ps: O.RMSprop(ps, lr=SCHED_SMALL, momentum=0.5,
                                                          weight_decay=0.05),
                                     keras_rmsprop(SCHED_SMALL, momentum=0.5, wd=0.05)),
    "rmsprop-centered": (lambda ps: O.RMSprop(ps, lr=0.002, epsilon=1e-4, centered=True),
                         keras_rmsprop(0.002, eps=1e-4, centered=True)),
    "adam-default-eps": (lambda ps: O.Adam(ps, lr=0.05), keras_adam(0.05)),
    "adam-large-eps": (lambda ps: O.Adam(ps, lr=0.05, epsilon=0.1), keras_adam(0.05, eps=0.1)),
    "adam-amsgrad-large-eps": (lambda ps: O.Adam(ps, lr=0.05, epsilon=0.1, amsgrad=True),
                               keras_adam(0.05, eps=0.1, amsgrad=True)),
    "adamw-defaults": (lambda ps: O.AdamW(ps, lr=0.05), keras_adam(0.05, wd=0.004)),
    "adamw-schedule": (lambda ps: O.AdamW(ps, lr=SCHED, weight_decay=0.1, beta_1=0.8),
                       keras_adam(SCHED, b1=0.8, wd=0.1)),
    "nadam-default": (lambda ps: O.Nadam(ps, lr=0.02), keras_nadam(0.02)),
    "nadam-large-eps-wd": (lambda ps: O.Nadam(ps, lr=0.02, epsilon=0.1, weight_decay=0.1),
                           keras_nadam(0.02, eps=0.1, wd=0.1)),
}


@pytest.mark.parametrize("name", sorted(KERAS_CASES))
def test_trajectory_vs_keras_formula(name):
    make, ref_step = KERAS_CASES[name]
    ours = run_gradkit(make)
    ref = run_reference(ref_step)
    assert moved(ref) > 0.05
    assert_traj_close(ours, ref)


def test_references_are_discriminating():
    """Keras's epsilon placement really differs from PyTorch's at a large epsilon."""
    ours = run_gradkit(lambda ps: O.RMSprop(ps, lr=0.01, epsilon=0.1))
    theirs = run_torch(T(torch.optim.RMSprop, lr=0.01, alpha=0.9, eps=0.1))
    assert max(np.abs(a - b).max() for a, b in zip(ours[-1], theirs[-1])) > 1e-3
    ours = run_gradkit(lambda ps: O.Adam(ps, lr=0.05, epsilon=0.1))
    theirs = run_torch(T(torch.optim.Adam, lr=0.05, eps=0.1))
    assert max(np.abs(a - b).max() for a, b in zip(ours[-1], theirs[-1])) > 1e-3


def test_sgd_momentum_decoupled_decay_differs_from_l2():
    """With momentum Keras's decoupled decay is not PyTorch's L2 decay (documented)."""
    dec = run_gradkit(lambda ps: O.SGD(ps, lr=0.01, momentum=0.9, weight_decay=0.1))
    l2 = run_gradkit(lambda ps: O.SGD(ps, lr=0.01, momentum=0.9, weight_decay=0.1,
                                      decoupled_weight_decay=False))
    assert max(np.abs(a - b).max() for a, b in zip(dec[-1], l2[-1])) > 1e-4


def test_sgd_momentum_schedule_differs_from_torch_as_documented():
    """Under a changing rate Keras's velocity (holding lr) and PyTorch's differ."""
    ours = run_gradkit(lambda ps: O.SGD(ps, lr=SCHED, momentum=0.9))
    theirs = run_torch(lambda ps: (lambda o: (o, torch.optim.lr_scheduler.ExponentialLR(
        o, gamma=0.8 ** 0.1)))(torch.optim.SGD(ps, lr=0.02, momentum=0.9)))
    assert max(np.abs(a - b).max() for a, b in zip(ours[-1], theirs[-1])) > 1e-4
