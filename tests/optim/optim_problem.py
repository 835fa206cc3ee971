"""``gradkit.optim`` and ``torch.optim`` side by side on gradkit.testing.optimizer_problem.

The gradient is analytic (NumPy), so both libraries see the same numbers.
"""

from __future__ import annotations

import numpy as np

import gradkit as gk
from gradkit.testing.optimizer_problem import INIT, grads


def groups_of(params, spec):
    """``params`` split into groups: ``spec`` None (one list) or ``[(indices, options)]``."""
    if spec is None:
        return params
    return [dict(options, params=[params[i] for i in idx]) for idx, options in spec]


def run(lib, make_opt, steps=25, groups=None, sign=1.0, make_sched=None, params=None):
    """Trajectory (per step, a list of arrays) of ``make_opt(lib.optim)(groups)``.

    ``lib`` is ``gradkit`` or ``torch``; ``sign=-1`` feeds ``-grad`` (for maximize);
    ``make_sched(lib.optim.lr_scheduler, opt)`` adds a scheduler stepped after each step.
    Returns ``(trajectory, optimizer, scheduler, params)``.
    """
    if params is None:
        params = make_params(lib)
    opt = make_opt(lib.optim)(groups_of(params, groups))
    sched = make_sched(lib.optim.lr_scheduler, opt) if make_sched else None
    traj = [step(lib, opt, params, sign, sched) for _ in range(steps)]
    return traj, opt, sched, params


def make_params(lib):
    if lib is gk:
        return [gk.Variable(a.copy()) for a in INIT]
    return [lib.tensor(a.copy(), requires_grad=True) for a in INIT]


def values(lib, params):
    if lib is gk:
        return [p.numpy().copy() for p in params]
    return [p.detach().numpy().copy() for p in params]


def step(lib, opt, params, sign=1.0, sched=None):
    """Set the gradients, step (and the scheduler); the parameters after the step."""
    gs = grads(*values(lib, params))
    for p, g in zip(params, gs):
        p.grad = (gk.Tensor if lib is gk else lib.tensor)(sign * g)
    opt.step()
    opt.zero_grad()
    if sched is not None:
        sched.step()
    return values(lib, params)


def assert_same(a, b, rtol=1e-11, atol=1e-13):
    """Every parameter at every step agrees (float64)."""
    assert len(a) == len(b)
    for s, (pa, pb) in enumerate(zip(a, b)):
        for i, (x, y) in enumerate(zip(pa, pb)):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol,
                                       err_msg=f"step {s + 1}, parameter {i}")


def moved(traj):
    """How far the trajectory went (so a comparison is not vacuous)."""
    return max(float(np.abs(w - w0).max()) for w, w0 in zip(traj[-1], INIT))
