"""gradkit.optim against torch.optim: trajectories, param groups, state dicts, errors.

Every optimizer and option combination runs 25 float64 steps on the same problem
in both libraries with the same arguments; parameters must agree to ~1e-11.
"""

import io

import numpy as np
import pytest
from optim_problem import INIT, assert_same, make_params, moved, run, step, values

import gradkit as gk
from gradkit import optim

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

# name -> (class, keyword arguments given to both libraries, gradient sign)
CASES = {
    "sgd": ("SGD", {"lr": 0.02}, 1),
    "sgd-default-lr": ("SGD", {}, 1),
    "sgd-momentum": ("SGD", {"lr": 0.02, "momentum": 0.9}, 1),
    "sgd-dampening": ("SGD", {"lr": 0.02, "momentum": 0.8, "dampening": 0.3}, 1),
    "sgd-nesterov": ("SGD", {"lr": 0.02, "momentum": 0.9, "nesterov": True}, 1),
    "sgd-weight-decay": ("SGD", {"lr": 0.02, "momentum": 0.5, "weight_decay": 0.1}, 1),
    "sgd-maximize": ("SGD", {"lr": 0.02, "momentum": 0.9, "maximize": True}, -1),
    "adam": ("Adam", {"lr": 0.03}, 1),
    "adam-defaults": ("Adam", {}, 1),
    "adam-betas-eps": ("Adam", {"lr": 0.03, "betas": (0.8, 0.95), "eps": 1e-3}, 1),
    "adam-amsgrad": ("Adam", {"lr": 0.03, "amsgrad": True}, 1),
    "adam-l2": ("Adam", {"lr": 0.03, "weight_decay": 0.2}, 1),
    "adam-decoupled": ("Adam", {"lr": 0.03, "weight_decay": 0.2,
                                "decoupled_weight_decay": True}, 1),
    "adam-maximize-amsgrad-l2": ("Adam", {"lr": 0.03, "maximize": True, "amsgrad": True,
                                          "weight_decay": 0.05}, -1),
    "adamw": ("AdamW", {"lr": 0.03}, 1),
    "adamw-wd-amsgrad": ("AdamW", {"lr": 0.03, "weight_decay": 0.3, "amsgrad": True}, 1),
    "adamw-maximize": ("AdamW", {"lr": 0.03, "maximize": True, "eps": 1e-4}, -1),
    "rmsprop": ("RMSprop", {"lr": 0.005}, 1),
    "rmsprop-defaults": ("RMSprop", {}, 1),
    "rmsprop-alpha-eps": ("RMSprop", {"lr": 0.005, "alpha": 0.9, "eps": 1e-3}, 1),
    "rmsprop-momentum": ("RMSprop", {"lr": 0.005, "momentum": 0.7}, 1),
    "rmsprop-centered": ("RMSprop", {"lr": 0.005, "centered": True, "eps": 1e-2}, 1),
    "rmsprop-centered-momentum-l2": ("RMSprop", {"lr": 0.005, "centered": True,
                                                 "momentum": 0.5, "weight_decay": 0.1,
                                                 "eps": 1e-2}, 1),
    "rmsprop-maximize": ("RMSprop", {"lr": 0.005, "maximize": True}, -1),
    "adagrad": ("Adagrad", {"lr": 0.1}, 1),
    "adagrad-defaults": ("Adagrad", {}, 1),
    "adagrad-lr-decay": ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}, 1),
    "adagrad-init-eps-l2": ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.3,
                                        "eps": 1e-3, "weight_decay": 0.1}, 1),
    "adagrad-maximize": ("Adagrad", {"lr": 0.1, "maximize": True}, -1),
}


def factory(cls, kw):
    return lambda mod: lambda params: getattr(mod, cls)(params, **kw)


@pytest.mark.parametrize("case", sorted(CASES))
def test_trajectory_matches_torch(case):
    cls, kw, sign = CASES[case]
    ours = run(gk, factory(cls, kw), sign=sign)[0]
    ref = run(torch, factory(cls, kw), sign=sign)[0]
    assert moved(ref) > 1e-3
    assert_same(ours, ref)


GROUPS = {
    "SGD": ({"lr": 0.01, "momentum": 0.9},
            [([0, 1], {}), ([2], {"lr": 0.002, "momentum": 0.5, "nesterov": True})]),
    "Adam": ({"lr": 0.01},
             [([0], {"betas": (0.8, 0.9)}), ([1, 2], {"lr": 0.05, "amsgrad": True,
                                                      "weight_decay": 0.1})]),
    "AdamW": ({"lr": 0.01}, [([2, 0], {"weight_decay": 0.5}), ([1], {"lr": 0.1})]),
    "RMSprop": ({"lr": 0.003}, [([0], {"centered": True, "eps": 1e-2}),
                                ([1, 2], {"lr": 0.01, "momentum": 0.3})]),
    # (a group's own initial_accumulator_value: see test_adagrad_group_initial_value)
    "Adagrad": ({"lr": 0.1, "initial_accumulator_value": 0.2},
                [([0, 1], {"lr_decay": 0.1}), ([2], {"lr": 0.3, "eps": 1e-3})]),
}


@pytest.mark.parametrize("cls", sorted(GROUPS))
def test_param_groups_with_their_own_options_match_torch(cls):
    kw, spec = GROUPS[cls]
    ours, opt, _, _ = run(gk, factory(cls, kw), groups=spec)
    ref, topt, _, _ = run(torch, factory(cls, kw), groups=spec)
    assert_same(ours, ref)
    assert len(opt.param_groups) == 2
    for g, tg in zip(opt.param_groups, topt.param_groups):
        for key, value in g.items():
            if key != "params":
                assert tg[key] == value, key


@pytest.mark.parametrize("cls", sorted(GROUPS))
def test_defaults_state_names_and_group_keys_are_torchs(cls):
    kw, spec = GROUPS[cls]
    _, opt, _, _ = run(gk, factory(cls, kw), groups=spec, steps=2)
    _, topt, _, _ = run(torch, factory(cls, kw), groups=spec, steps=2)
    switches = {"foreach", "fused", "differentiable", "capturable"}
    assert opt.defaults == {k: v for k, v in topt.defaults.items() if k not in switches}
    ours, ref = opt.state_dict(), topt.state_dict()
    assert sorted(ours["state"]) == sorted(ref["state"])
    for i, entry in ours["state"].items():
        assert set(entry) == set(ref["state"][i]), i
        for name, value in entry.items():
            np.testing.assert_allclose(np.asarray(value), ref["state"][i][name].numpy(),
                                       rtol=1e-11, atol=1e-13)
    for g, tg in zip(ours["param_groups"], ref["param_groups"]):
        assert g == {k: v for k, v in tg.items() if k not in switches}


@pytest.mark.parametrize("cls", sorted(GROUPS))
def test_state_dict_round_trip_through_save_continues_identically(cls):
    kw, spec = GROUPS[cls]
    straight = run(gk, factory(cls, kw), groups=spec, steps=16)[0]
    first, opt, _, params = run(gk, factory(cls, kw), groups=spec, steps=8)
    buf = io.BytesIO()
    gk.save({"opt": opt.state_dict(), "params": [p.numpy() for p in params]}, buf)
    buf.seek(0)
    ckpt = gk.load(buf)
    resumed = [gk.Variable(a) for a in ckpt["params"]]
    opt2 = factory(cls, {"lr": 123.0})(optim)([dict(o, params=[resumed[i] for i in idx])
                                              for idx, o in spec])
    opt2.load_state_dict(ckpt["opt"])
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    rest = [step(gk, opt2, resumed) for _ in range(8)]
    for a, b in zip(first + rest, straight):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("cls", sorted(GROUPS))
def test_loads_torchs_own_state_dict_and_continues_like_torch(cls):
    kw, spec = GROUPS[cls]
    _, topt, _, tparams = run(torch, factory(cls, kw), groups=spec, steps=6)
    saved = topt.state_dict()
    state = {i: {k: (v.numpy() if k != "step" else float(v)) for k, v in s.items()}
             for i, s in saved["state"].items()}
    ours = [gk.Variable(a) for a in values(torch, tparams)]
    opt = factory(cls, kw)(optim)([dict(o, params=[ours[i] for i in idx]) for idx, o in spec])
    opt.load_state_dict({"state": state, "param_groups": saved["param_groups"]})
    mine = [step(gk, opt, ours) for _ in range(6)]
    ref = [step(torch, topt, tparams) for _ in range(6)]
    assert_same(mine, ref)


def test_add_param_group_matches_torch():
    def grow(lib):
        params = make_params(lib)
        opt = lib.optim.SGD(params[:2], lr=0.01, momentum=0.9)
        traj = [step(lib, opt, params) for _ in range(3)]
        opt.add_param_group({"params": [params[2]], "lr": 0.003, "dampening": 0.2})
        traj += [step(lib, opt, params) for _ in range(10)]
        return traj, opt
    ours, opt = grow(gk)
    ref, topt = grow(torch)
    assert_same(ours, ref)
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["dampening"] == 0.2
    assert opt.state_dict()["param_groups"][1]["params"] == [2]


def test_changing_group_options_between_steps_matches_torch():
    def drive(lib):
        params = make_params(lib)
        opt = lib.optim.Adam(params, lr=0.05)
        traj = []
        for t in range(12):
            opt.param_groups[0]["lr"] = 0.05 / (1 + t)
            opt.param_groups[0]["betas"] = (0.9 - 0.02 * t, 0.99)
            traj.append(step(lib, opt, params))
        return traj
    assert_same(drive(gk), drive(torch))


def test_zero_grad_set_to_none_and_closure():
    w = gk.Variable(np.array([1.0, -2.0]))
    opt = optim.SGD([w], lr=0.1)
    calls = []

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        calls.append(float(loss.numpy()))
        return loss

    with gk.no_grad():                     # the closure still records, as in torch
        loss = opt.step(closure)
    assert calls == [5.0] and float(loss.numpy()) == 5.0
    np.testing.assert_allclose(w.numpy(), [0.8, -1.6])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert w.grad is None


def test_state_property_holds_live_arrays():
    params = make_params(gk)
    opt = optim.Adam(params, lr=0.1)
    assert opt.state == {}
    step(gk, opt, params)
    st = opt.state[params[0]]
    assert st["step"] == 1.0 and st["exp_avg"].shape == INIT[0].shape
    st["exp_avg"][...] = 0
    assert not opt.state_dict()["state"][0]["exp_avg"].any()


def test_adagrad_makes_its_state_at_construction_as_torch():
    params = make_params(gk)
    opt = optim.Adagrad(params, initial_accumulator_value=0.5)
    tparams = make_params(torch)
    topt = torch.optim.Adagrad(tparams, initial_accumulator_value=0.5)
    ours, ref = opt.state_dict()["state"], topt.state_dict()["state"]
    assert sorted(ours) == sorted(ref) == [0, 1, 2]
    assert ours[2]["step"] == 0.0
    np.testing.assert_array_equal(ours[2]["sum"], ref[2]["sum"].numpy())


def test_adagrad_group_initial_value():
    # torch 2.13 fills every group's "sum" with the constructor's value and ignores a
    # group's own initial_accumulator_value; gradkit honours the group's
    params = make_params(gk)
    opt = optim.Adagrad([{"params": params[:2]},
                         {"params": params[2:], "initial_accumulator_value": 4.0}], lr=0.5)
    state = opt.state_dict()["state"]
    assert not state[0]["sum"].any()
    np.testing.assert_array_equal(state[2]["sum"], [4.0, 4.0])
    g = np.array([3.0, -3.0])
    params[2].grad = gk.Tensor(g)
    opt.step()
    np.testing.assert_allclose(params[2].numpy(), INIT[2] - 0.5 * g / (np.sqrt(4.0 + 9.0) + 1e-10))


def test_model_parameters_train_like_torch_linear():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 5))
    y = rng.standard_normal((8, 2))
    layer = gk.layers.Dense(2, dtype="float64")
    layer(gk.Tensor(x))                    # build
    lin = torch.nn.Linear(5, 2).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(layer.kernel.numpy().T))
        lin.bias.copy_(torch.tensor(layer.bias.numpy()))
    opt = optim.AdamW(layer.parameters(), lr=0.05, weight_decay=0.1)
    topt = torch.optim.AdamW(lin.parameters(), lr=0.05, weight_decay=0.1)
    for _ in range(10):
        opt.zero_grad()
        loss = ((layer(gk.Tensor(x)) - gk.Tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = ((lin(torch.tensor(x)) - torch.tensor(y)) ** 2).mean()
        tloss.backward()
        topt.step()
        np.testing.assert_allclose(float(loss.numpy()), tloss.item(), rtol=1e-10)
    np.testing.assert_allclose(layer.kernel.numpy(), lin.weight.detach().numpy().T,
                               rtol=1e-10, atol=1e-12)


def test_runs_on_the_keras_pipeline():
    from gradkit import optimizers

    opt = optim.RMSprop(make_params(gk))
    assert isinstance(opt, optimizers.RMSprop) and isinstance(opt, optimizers.Optimizer)
    assert isinstance(opt, optim.Optimizer)
    # the Keras-style front end drives the same object
    params = make_params(gk)
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    opt.apply_gradients(zip([np.ones_like(a) for a in INIT], params))
    np.testing.assert_allclose(params[2].numpy(), INIT[2] - 0.1)


def test_repr_lists_the_groups():
    opt = optim.SGD([{"params": make_params(gk)[:1]}, {"params": make_params(gk)[1:],
                                                       "lr": 0.5}], lr=0.1)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 1" in text and "lr: 0.5" in text


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("make, error, words", [
    (lambda ps: optim.SGD(ps, lr=-1), ValueError, "lr"),
    (lambda ps: optim.SGD(ps, lr="fast"), TypeError, "lr"),
    (lambda ps: optim.SGD(ps, momentum=0.0, nesterov=True), ValueError, "Nesterov"),
    (lambda ps: optim.SGD(ps, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "dampening"),
    (lambda ps: optim.Adam(ps, betas=(0.9, 1.0)), ValueError, "betas[1]"),
    (lambda ps: optim.Adam(ps, betas=0.9), TypeError, "pair"),
    (lambda ps: optim.Adam(ps, eps=-1e-8), ValueError, "eps"),
    (lambda ps: optim.RMSprop(ps, alpha=1.5), ValueError, "alpha"),
    (lambda ps: optim.Adagrad(ps, lr_decay=-0.1), ValueError, "lr_decay"),
    (lambda ps: optim.Adam(ps, amsgrad="yes"), TypeError, "amsgrad"),
    (lambda ps: optim.SGD([{"params": ps, "momentun": 0.9}]), ValueError, "momentun"),
    (lambda ps: optim.SGD([{"params": ps[:1]}, {"params": ps[:2]}]), ValueError, "more than"),
    (lambda ps: optim.SGD([{"lr": 0.1}]), ValueError, "'params'"),
    (lambda ps: optim.SGD([{"params": ps[:1], "lr": -0.5}]), ValueError, "group 0"),
    (lambda ps: optim.SGD([{"params": set(ps)}]), TypeError, "set"),
    (lambda ps: optim.SGD(set(ps)), TypeError, "list"),
    (lambda ps: optim.SGD([]), ValueError, "empty"),
    (lambda ps: optim.SGD(ps, foreach=True), NotImplementedError, "foreach"),
    (lambda ps: optim.Adam(ps, fused=True), NotImplementedError, "fused"),
    (lambda ps: optim.Adam(ps, capturable=True), NotImplementedError, "capturable"),
    (lambda ps: optim.RMSprop(ps, differentiable=True), NotImplementedError, "differentiable"),
])
def test_bad_arguments_are_refused(make, error, words):
    with pytest.raises(error) as info:
        make(make_params(gk))
    assert words in str(info.value)


def test_add_param_group_refuses_a_parameter_twice():
    params = make_params(gk)
    opt = optim.Adam(params[:2])
    with pytest.raises(ValueError, match="another parameter group"):
        opt.add_param_group({"params": params[1:]})
    with pytest.raises(ValueError, match="unknown option 'beta'"):
        opt.add_param_group({"params": params[2:], "beta": 0.9})


def test_load_state_dict_refuses_mismatches():
    params = make_params(gk)
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    step(gk, opt, params)
    saved = opt.state_dict()
    other = optim.SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="parameter groups"):
        other.load_state_dict(saved)
    fewer = optim.SGD(params[:2], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="3 parameters in the state, 2 here"):
        fewer.load_state_dict(saved)
    adam = optim.Adam(params)
    with pytest.raises(ValueError, match="unknown option 'momentum'"):
        adam.load_state_dict(saved)
    bad = {"state": {0: {"momentum_buffer": np.zeros(7)}}, "param_groups": saved["param_groups"]}
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(bad)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"iterations": 3})
    torch_style = dict(saved, param_groups=[dict(saved["param_groups"][0], foreach=True)])
    with pytest.raises(NotImplementedError, match="foreach"):
        opt.load_state_dict(torch_style)


def test_switching_momentum_on_after_the_first_step_is_refused():
    params = make_params(gk)
    opt = optim.SGD(params, lr=0.1)
    step(gk, opt, params)
    opt.param_groups[0]["momentum"] = 0.9
    with pytest.raises(ValueError, match="make a new optimizer"):
        step(gk, opt, params)
