"""Trajectory runners over gradkit.testing.optimizer_problem (a fixed float64 problem)."""

from __future__ import annotations

import numpy as np

import gradkit as gk
from gradkit.testing.optimizer_problem import INIT, grads


def make_params(dtype=np.float64):
    return [gk.Variable(a.astype(dtype)) for a in INIT]


def run_gradkit(make_opt, steps=100, api="apply", dtype=np.float64):
    """Trajectory (list over steps of lists of arrays) of a gradkit optimizer.

    ``make_opt(params_or_None)``: PyTorch style gets the parameters, Keras style None.
    """
    params = make_params(dtype)
    opt = make_opt(params if api == "step" else None)
    traj = []
    for _ in range(steps):
        gs = [g.astype(dtype) for g in grads(*[p.numpy() for p in params])]
        if api == "apply":
            opt.apply_gradients(zip(gs, params))
        else:
            for p, g in zip(params, gs):
                p.grad = gk.Tensor(g)
            opt.step()
            opt.zero_grad()
        traj.append([p.numpy().copy() for p in params])
    return traj


def run_torch(make_opt, steps=100):
    """Same trajectory with a PyTorch optimizer; ``make_opt(params) -> (opt, scheduler)``."""
    import torch

    params = [torch.tensor(a.copy(), dtype=torch.float64, requires_grad=True) for a in INIT]
    opt, sched = make_opt(params)
    traj = []
    for _ in range(steps):
        gs = grads(*[p.detach().numpy() for p in params])
        for p, g in zip(params, gs):
            p.grad = torch.tensor(g)
        opt.step()
        if sched is not None:
            sched.step()
        traj.append([p.detach().numpy().copy() for p in params])
    return traj


def run_reference(step_fn, steps=100):
    """Trajectory of a NumPy reference ``step_fn(ws, gs, state, t) -> ws`` (t from 0)."""
    ws = [a.copy() for a in INIT]
    state = {}
    traj = []
    for t in range(steps):
        ws = step_fn(ws, grads(*ws), state, t)
        traj.append([w.copy() for w in ws])
    return traj


def assert_traj_close(a, b, atol=1e-9, rtol=1e-9):
    """Every parameter at every step agrees (float64; the brief asks for 1e-6, this is tighter)."""
    assert len(a) == len(b)
    for step, (pa, pb) in enumerate(zip(a, b)):
        for i, (x, y) in enumerate(zip(pa, pb)):
            np.testing.assert_allclose(x, y, atol=atol, rtol=rtol,
                                       err_msg=f"step {step + 1}, parameter {i}")


def moved(traj):
    """How far the trajectory went from the start (to make sure tests are not vacuous)."""
    return max(float(np.abs(w - w0).max()) for w, w0 in zip(traj[-1], INIT))
