"""The PyTorch rules as options of gradkit.optimizers (``rule="pytorch"``, ``maximize``),
Keras style, and gradkit.optim optimizers through compile / fit / model.save / load_model."""

import numpy as np
import pytest
from optim_problem import assert_same, grads, make_params, run, step, values

import gradkit as gk
from gradkit import optim, optimizers

# gradkit.optim class and arguments -> the Keras-style engine with the same rule
PAIRS = {
    "sgd": (lambda ps: optim.SGD(ps, lr=0.02, momentum=0.9, dampening=0.2, weight_decay=0.1),
            lambda: optimizers.SGD(learning_rate=0.02, momentum=0.9, dampening=0.2,
                                   weight_decay=0.1, decoupled_weight_decay=False,
                                   rule="pytorch")),
    "adam": (lambda ps: optim.Adam(ps, lr=0.03, amsgrad=True, maximize=True),
             lambda: optimizers.Adam(learning_rate=0.03, epsilon=1e-8, amsgrad=True,
                                     maximize=True, rule="pytorch")),
    "rmsprop": (lambda ps: optim.RMSprop(ps, lr=0.005, centered=True, momentum=0.4),
                lambda: optimizers.RMSprop(learning_rate=0.005, rho=0.99, epsilon=1e-8,
                                           centered=True, momentum=0.4, rule="pytorch")),
    "adagrad": (lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.02),
                lambda: optimizers.Adagrad(learning_rate=0.1, lr_decay=0.02, epsilon=1e-10,
                                           initial_accumulator_value=0.0, rule="pytorch")),
}


@pytest.mark.parametrize("case", sorted(PAIRS))
def test_keras_style_engine_with_the_pytorch_rule_is_the_same_optimizer(case):
    torch_style, keras_style = PAIRS[case]
    sign = -1.0 if case == "adam" else 1.0
    ours = run(gk, lambda mod: torch_style, sign=sign)[0]
    params = make_params(gk)
    opt = keras_style()
    traj = []
    for _ in range(25):
        gs = grads(*values(gk, params))
        opt.apply_gradients(zip([sign * g for g in gs], params))
        traj.append(values(gk, params))
    assert_same(traj, ours, rtol=0, atol=0)


def test_engine_state_dict_resumes_per_parameter_steps():
    params = make_params(gk)
    opt = optimizers.Adam(learning_rate=0.05, rule="pytorch")
    for _ in range(4):
        opt.apply_gradients(zip([np.ones_like(p.numpy()) for p in params], params))
    saved = opt.state_dict()
    assert set(saved["state"][0]) == {"exp_avg", "exp_avg_sq"}
    again = optimizers.Adam(learning_rate=0.05, rule="pytorch")
    clone = [gk.Variable(p.numpy()) for p in params]
    again.build(clone)
    again.load_state_dict(saved)
    for _ in range(3):
        g = [np.full(p.shape, 0.5) for p in params]
        opt.apply_gradients(zip(g, params))
        again.apply_gradients(zip(g, clone))
    for a, b in zip(params, clone):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_keras_rule_refuses_dampening_and_checks_rule():
    with pytest.raises(NotImplementedError, match="rule='pytorch'"):
        optimizers.SGD(momentum=0.9, dampening=0.1)
    with pytest.raises(ValueError, match="rule"):
        optimizers.Adam(rule="torch")


def test_maximize_on_a_keras_optimizer_ascends():
    w = gk.Variable(np.array([1.0]))
    opt = optimizers.SGD(learning_rate=0.1, maximize=True)
    opt.apply_gradients([(np.array([2.0]), w)])
    np.testing.assert_allclose(w.numpy(), [1.2])
    assert optimizers.deserialize(optimizers.serialize(opt)).maximize is True


@pytest.mark.parametrize("make", [
    lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.5, nesterov=False),
    lambda ps: optim.AdamW(ps, weight_decay=0.1),
    lambda ps: optim.RMSprop(ps, centered=True, momentum=0.2),
    lambda ps: optim.Adagrad(ps, lr_decay=0.1, initial_accumulator_value=0.1),
], ids=["adam", "sgd", "adamw", "rmsprop", "adagrad"])
def test_fit_save_load_model_continues_identically(make, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((16, 2)).astype("float32")
    y = rng.random((16, 3)).astype("float32")
    gk.utils.set_random_seed(0)
    model = gk.Sequential([gk.layers.Dense(3, input_shape=(2,))])
    model.compile(optimizer=make(model.parameters()), loss="mse")
    model.fit(x, y, epochs=2, verbose=0, shuffle=False)
    model.save(tmp_path / "m.keras")
    loaded = gk.load_model(tmp_path / "m.keras")
    assert loaded.optimizer.rule == "pytorch"
    model.fit(x, y, epochs=2, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_several_groups_do_not_fit_a_keras_config():
    params = make_params(gk)
    opt = optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": 0.1}], lr=0.01)
    with pytest.raises(NotImplementedError, match="gradkit.save"):
        opt.get_config()
    keras_style = optimizers.SGD(rule="pytorch", momentum=0.5)
    step(gk, opt, params)
    with pytest.raises(NotImplementedError, match="parameter groups"):
        keras_style.load_state_dict(opt.state_dict())


def test_learning_rate_reads_and_sets_the_groups():
    params = make_params(gk)
    opt = optim.SGD([{"params": params[:1], "lr": 0.3}, {"params": params[1:]}], lr=0.1)
    assert opt.learning_rate == 0.3 and opt.lr == 0.3
    opt.learning_rate = 0.05                       # as Keras callbacks do
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.05]
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = -1.0
