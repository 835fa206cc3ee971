"""gradkit.optim.lr_scheduler against torch.optim.lr_scheduler.

Each scheduler drives an SGD (momentum) or Adam optimizer with two parameter groups
for 40+ steps in both libraries; the learning rate (and momentum / beta1) of every
group after every step, and ``get_last_lr()``, must agree. A trajectory test checks
that the changing rates reach the update rule the PyTorch way.
"""

import io
import warnings

import numpy as np
import pytest
from optim_problem import assert_same, make_params, run, step

import gradkit as gk
from gradkit import optim

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def two_groups(lib, cls="SGD"):
    a = make_params(lib)
    groups = [{"params": a[:2]}, {"params": a[2:], "lr": 0.5}]
    if cls == "SGD":
        return lib.optim.SGD(groups, lr=0.1, momentum=0.9)
    return lib.optim.Adam(groups, lr=0.1, betas=(0.9, 0.99))


def lr_sequence(lib, make, steps=40, metrics=None, cls="SGD"):
    """Per step: each group's lr, momentum / beta1, then the last scheduler's last lr."""
    opt = two_groups(lib, cls)
    made = make(lib.optim.lr_scheduler, opt)
    scheds = made if isinstance(made, list) else [made]
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # torch warns about sched before opt.step
        for t in range(steps):
            for s in scheds:
                if metrics is not None:
                    s.step(metrics[t])
                else:
                    s.step()
            row = [g["lr"] for g in opt.param_groups]
            row += [g["momentum"] if cls == "SGD" else g["betas"][0] for g in opt.param_groups]
            row += list(scheds[-1].get_last_lr())
            rows.append(row)
    return np.array(rows, dtype=float), scheds, opt


CASES = {
    "StepLR": lambda L, o: L.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda L, o: L.MultiStepLR(o, milestones=[3, 8, 8, 20], gamma=0.3),
    "ExponentialLR": lambda L, o: L.ExponentialLR(o, gamma=0.93),
    "CosineAnnealingLR": lambda L, o: L.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
    "CosineAnnealingLR-past-T_max": lambda L, o: L.CosineAnnealingLR(o, T_max=7),
    "LambdaLR": lambda L, o: L.LambdaLR(o, lambda e: 0.9 ** e + 0.01 * e),
    "LambdaLR-per-group": lambda L, o: L.LambdaLR(o, [lambda e: 0.95 ** e,
                                                     lambda e: 1.0 / (e + 1)]),
    "LinearLR": lambda L, o: L.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=10),
    "LinearLR-defaults": lambda L, o: L.LinearLR(o),
    "OneCycleLR-defaults": lambda L, o: L.OneCycleLR(o, max_lr=1.0, total_steps=40),
    "OneCycleLR-linear": lambda L, o: L.OneCycleLR(o, max_lr=[1.0, 2.0], epochs=4,
                                                   steps_per_epoch=10,
                                                   anneal_strategy="linear"),
    "OneCycleLR-three-phase": lambda L, o: L.OneCycleLR(o, max_lr=0.8, total_steps=45,
                                                        three_phase=True, pct_start=0.25,
                                                        div_factor=10.0,
                                                        final_div_factor=100.0),
    "OneCycleLR-no-momentum": lambda L, o: L.OneCycleLR(o, max_lr=1.0, total_steps=41,
                                                        cycle_momentum=False),
    "SequentialLR": lambda L, o: L.SequentialLR(
        o, [L.LinearLR(o, start_factor=0.1, total_iters=5), L.CosineAnnealingLR(o, T_max=20),
            L.StepLR(o, step_size=3, gamma=0.7)], milestones=[5, 25]),
    "SequentialLR-exponential": lambda L, o: L.SequentialLR(
        o, [L.ExponentialLR(o, gamma=0.9), L.MultiStepLR(o, [4, 12])], milestones=[10]),
    "two-schedulers-chained": lambda L, o: [L.ExponentialLR(o, gamma=0.95),
                                            L.StepLR(o, step_size=5, gamma=0.5)],
    "warmup-then-cosine-chained": lambda L, o: [L.LinearLR(o, 0.25, total_iters=8),
                                                L.CosineAnnealingLR(o, T_max=15)],
    "ChainedScheduler": lambda L, o: L.ChainedScheduler(
        [L.LinearLR(o, start_factor=0.3, total_iters=6), L.CosineAnnealingLR(o, T_max=8)]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_learning_rates_match_torch(case):
    ours = lr_sequence(gk, CASES[case])[0]
    ref = lr_sequence(torch, CASES[case])[0]
    assert np.ptp(ref[:, 0]) > 0                   # the rate did change
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_one_cycle_cycles_adam_beta1_like_torch(anneal):
    def make(L, o):
        return L.OneCycleLR(o, max_lr=0.05, total_steps=35, anneal_strategy=anneal)
    ours = lr_sequence(gk, make, steps=35, cls="Adam")[0]
    ref = lr_sequence(torch, make, steps=35, cls="Adam")[0]
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)
    assert np.ptp(ref[:, 2]) > 0.05                # beta1 cycled


PLATEAU = {
    "min-rel": ({"patience": 2, "factor": 0.5}, None),
    "min-abs-cooldown": ({"patience": 1, "cooldown": 2, "threshold": 0.05,
                          "threshold_mode": "abs", "factor": 0.3}, None),
    "max-rel": ({"mode": "max", "patience": 3, "factor": 0.2, "threshold": 0.01}, -1),
    "max-abs-min-lr": ({"mode": "max", "patience": 0, "threshold_mode": "abs",
                        "min_lr": [0.01, 0.2]}, -1),
    "eps-blocks-small-changes": ({"patience": 0, "factor": 0.9, "eps": 0.02}, None),
}
METRIC = [5.0, 4.0, 4.5, 4.4, 4.3, 4.2, 4.1, 4.05, 4.0, 3.99, 3.0, 3.5, 3.2, 3.0, 2.99, 2.98,
          2.97, 2.5, 2.6, 2.7, 2.8, 2.9, 2.49, 2.48, 2.47, 2.46, 2.1, 2.2, 2.3, 2.05, 2.04,
          2.03, 2.02, 2.01, 2.0, 1.99, 1.98, 1.97, 1.96, 1.95]


@pytest.mark.parametrize("case", sorted(PLATEAU))
def test_reduce_on_plateau_fed_a_metric_matches_torch(case):
    kw, sign = PLATEAU[case]
    metric = METRIC if sign is None else [-m for m in METRIC]

    def make(L, o):
        return L.ReduceLROnPlateau(o, **kw)
    ours, (sched,), _ = lr_sequence(gk, make, metrics=metric)
    ref, (tsched,), _ = lr_sequence(torch, make, metrics=metric)
    assert (np.ptp(ref[:, :2], axis=0) > 0).any()         # some group's rate dropped
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)
    assert (sched.best, sched.num_bad_epochs, sched.cooldown_counter, sched.last_epoch) == \
        (tsched.best, tsched.num_bad_epochs, tsched.cooldown_counter, tsched.last_epoch)


@pytest.mark.parametrize("case", ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
                                  "LinearLR"])
def test_step_with_an_epoch_uses_the_closed_form_like_torch(case):
    def jumps(lib):
        opt = two_groups(lib)
        sched = CASES[case](lib.optim.lr_scheduler, opt)
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in [3, 9, 4, 20, 7, 15]:
                sched.step(epoch)
                out.append(sched.get_last_lr())
        return np.array(out)
    np.testing.assert_allclose(jumps(gk), jumps(torch), rtol=1e-12)


@pytest.mark.parametrize("case", ["StepLR", "CosineAnnealingLR", "OneCycleLR-defaults",
                                  "SequentialLR", "ChainedScheduler", "LambdaLR"])
def test_scheduler_state_dict_round_trip_continues_identically(case):
    straight = lr_sequence(gk, CASES[case], steps=30)[0]
    opt = two_groups(gk)
    sched = CASES[case](gk.optim.lr_scheduler, opt)
    for _ in range(12):
        sched.step()
    buf = io.BytesIO()
    gk.save({"sched": sched.state_dict(), "opt": opt.state_dict()}, buf)
    buf.seek(0)
    ckpt = gk.load(buf)
    opt2 = two_groups(gk)
    opt2.load_state_dict(ckpt["opt"])
    sched2 = CASES[case](gk.optim.lr_scheduler, opt2)
    sched2.load_state_dict(ckpt["sched"])
    opt2.load_state_dict(ckpt["opt"])              # the groups' rates as saved
    rows = []
    for _ in range(18):
        sched2.step()
        rows.append([g["lr"] for g in opt2.param_groups])
    np.testing.assert_allclose(np.array(rows), straight[12:, :2], rtol=1e-13)


def test_reduce_on_plateau_state_dict_round_trip():
    opt = two_groups(gk)
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1)
    for m in METRIC[:7]:
        sched.step(m)
    buf = io.BytesIO()
    gk.save(sched.state_dict(), buf)
    buf.seek(0)
    opt2 = two_groups(gk)
    opt2.load_state_dict(opt.state_dict())
    sched2 = optim.lr_scheduler.ReduceLROnPlateau(opt2, patience=5)
    sched2.load_state_dict(gk.load(buf))
    assert sched2.patience == 1 and sched2.best == sched.best
    for m in METRIC[7:]:
        sched.step(m)
        sched2.step(m)
        assert sched2.get_last_lr() == sched.get_last_lr()


def test_schedulers_drive_the_update_like_torch():
    def both(lib):
        return run(lib, lambda mod: lambda ps: mod.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1),
                   steps=30, make_sched=lambda L, o: L.SequentialLR(
                       o, [L.LinearLR(o, 0.2, total_iters=5), L.StepLR(o, 4, 0.6)], [5]))[0]
    assert_same(both(gk), both(torch))


def test_resuming_with_last_epoch_needs_initial_lr():
    opt = two_groups(gk)
    with pytest.raises(KeyError, match="initial_lr"):
        optim.lr_scheduler.StepLR(opt, 3, last_epoch=4)
    opt.param_groups[0]["initial_lr"] = 0.1
    opt.param_groups[1]["initial_lr"] = 0.5
    sched = optim.lr_scheduler.StepLR(opt, 3, gamma=0.5, last_epoch=4)
    assert sched.last_epoch == 5 and sched.base_lrs == [0.1, 0.5]


@pytest.mark.parametrize("make, error, words", [
    (lambda o: optim.lr_scheduler.StepLR(o, step_size=0), ValueError, "step_size"),
    (lambda o: optim.lr_scheduler.StepLR(o, step_size=2.5), TypeError, "step_size"),
    (lambda o: optim.lr_scheduler.LinearLR(o, start_factor=0.0), ValueError, "start_factor"),
    (lambda o: optim.lr_scheduler.OneCycleLR(o, max_lr=1.0), ValueError, "total_steps"),
    (lambda o: optim.lr_scheduler.OneCycleLR(o, 1.0, 10, anneal_strategy="exp"), ValueError,
     "anneal_strategy"),
    (lambda o: optim.lr_scheduler.OneCycleLR(o, [1.0, 2.0, 3.0], 10), ValueError, "max_lr"),
    (lambda o: optim.lr_scheduler.LambdaLR(o, [lambda e: 1.0]), ValueError, "lr_lambda"),
    (lambda o: optim.lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor"),
    (lambda o: optim.lr_scheduler.ReduceLROnPlateau(o, mode="up"), ValueError, "mode"),
    (lambda o: optim.lr_scheduler.SequentialLR(
        o, [optim.lr_scheduler.StepLR(o, 2), optim.lr_scheduler.StepLR(o, 3)], [1, 2]),
     ValueError, "milestones"),
    (lambda o: optim.lr_scheduler.SequentialLR(
        o, [optim.lr_scheduler.ReduceLROnPlateau(o)], []), ValueError, "ReduceLROnPlateau"),
    (lambda o: optim.lr_scheduler.SequentialLR(
        o, [optim.lr_scheduler.StepLR(two_groups(gk), 2)], []), ValueError, "same one"),
])
def test_bad_scheduler_arguments_are_refused(make, error, words):
    with pytest.raises(error, match=words):
        make(two_groups(gk))


def test_keras_optimizers_are_pointed_to_schedules():
    from gradkit import optimizers

    with pytest.raises(TypeError, match="schedules"):
        optim.lr_scheduler.StepLR(optimizers.SGD(make_params(gk)), 3)


def test_one_cycle_past_its_end_says_so():
    sched = optim.lr_scheduler.OneCycleLR(two_groups(gk), max_lr=1.0, total_steps=5)
    for _ in range(4):
        sched.step()
    with pytest.raises(ValueError, match="total_steps is 5"):
        sched.step()
        sched.step()


def test_load_state_dict_refuses_foreign_keys():
    sched = optim.lr_scheduler.StepLR(two_groups(gk), 3)
    with pytest.raises(ValueError, match="unexpected keys"):
        sched.load_state_dict({"last_epoch": 2, "T_max": 9})
    with pytest.raises(ValueError, match="optimizer"):
        sched.load_state_dict({"optimizer": None})


def test_lr_written_into_groups_reaches_the_step():
    params = make_params(gk)
    opt = optim.SGD(params, lr=1.0)
    sched = optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    sched.step()
    before = params[2].numpy().copy()
    step(gk, opt, params)
    g = params[2].numpy() - before
    assert opt.param_groups[0]["lr"] == 0.5 and np.abs(g).max() > 0
