"""The optimizer API: both front ends, in-place updates, dtypes, validation, get/config,
state_dict round trips (threads: tests/test_parallel.py)."""

import pickle

import numpy as np
import pytest
from optim_helpers import INIT, grads, make_params, run_gradkit

import gradkit as gk
from gradkit import optimizers as O
from gradkit.optimizers import schedules as S

# One factory per optimizer/option combination: make(params_or_None) -> optimizer.
FACTORIES = {
    "sgd": lambda ps: O.SGD(ps, lr=0.01),
    "sgd-momentum": lambda ps: O.SGD(ps, lr=0.01, momentum=0.9),
    "sgd-nesterov-wd": lambda ps: O.SGD(ps, lr=0.01, momentum=0.9, nesterov=True,
                                        weight_decay=0.01),
    "adagrad": lambda ps: O.Adagrad(ps, lr=0.1),
    "rmsprop": lambda ps: O.RMSprop(ps, lr=0.002),
    "rmsprop-centered-momentum": lambda ps: O.RMSprop(ps, lr=0.002, centered=True,
                                                      momentum=0.5),
    "adam": lambda ps: O.Adam(ps, lr=0.05),
    "adam-amsgrad-l2": lambda ps: O.Adam(ps, lr=0.05, amsgrad=True, weight_decay=0.01,
                                         decoupled_weight_decay=False),
    "adamw": lambda ps: O.AdamW(ps, lr=0.05),
    "nadam": lambda ps: O.Nadam(ps, lr=0.02),
    "adam-schedule-clipnorm": lambda ps: O.Adam(
        ps, lr=S.CosineDecay(0.0, 10, warmup_target=0.05, warmup_steps=3), clipnorm=0.5),
    "sgd-global-clipnorm": lambda ps: O.SGD(ps, lr=0.01, momentum=0.5, global_clipnorm=1.0),
    "rmsprop-clipvalue": lambda ps: O.RMSprop(ps, lr=0.002, clipvalue=0.3),
}


def _bitwise_equal(a, b):
    return all(np.array_equal(x, y) for sa, sb in zip(a, b) for x, y in zip(sa, sb))


# ============================================================ the two front ends
@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_apply_gradients_and_step_give_identical_results(name):
    a = run_gradkit(FACTORIES[name], steps=20, api="apply")
    b = run_gradkit(FACTORIES[name], steps=20, api="step")
    assert _bitwise_equal(a, b)


def test_gradients_as_tensor_array_or_list_are_the_same():
    out = []
    for conv in (gk.Tensor, np.asarray, lambda g: g.tolist()):
        params = make_params()
        opt = O.Adam(lr=0.1)
        for _ in range(3):
            gs = grads(*[p.numpy() for p in params])
            opt.apply_gradients([(conv(g), p) for g, p in zip(gs, params)])
        out.append([p.numpy().copy() for p in params])
    assert _bitwise_equal(out[:1] * 2, out[1:])


def test_none_gradient_skips_the_variable():
    params = make_params()
    opt = O.SGD(lr=0.1, momentum=0.9)
    gs = grads(*[p.numpy() for p in params])
    opt.apply_gradients([(gs[0], params[0]), (None, params[1]), (gs[2], params[2])])
    np.testing.assert_array_equal(params[1].numpy(), INIT[1])
    assert params[1]._version == 0 and params[0]._version == 1
    assert opt.iterations == 1
    assert sorted(opt.state_dict()["state"]) == [0, 2]


def test_step_skips_params_without_grad_and_zero_grad():
    params = make_params()
    opt = O.Adam(params, lr=0.1)
    opt.step()                                   # no gradients at all: nothing happens
    assert opt.iterations == 0
    params[2].grad = gk.Tensor(np.ones(2))
    opt.step()
    assert opt.iterations == 1
    np.testing.assert_array_equal(params[0].numpy(), INIT[0])
    assert not np.array_equal(params[2].numpy(), INIT[2])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(params[2].grad.numpy(), 0.0)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_all_none_gradients_raise():
    w = gk.Variable(np.ones(3))
    with pytest.raises(ValueError, match="no gradients"):
        O.SGD().apply_gradients([(None, w)])


def test_step_without_params_explains():
    with pytest.raises(RuntimeError, match="apply_gradients"):
        O.SGD(0.1).step()


def test_with_real_backward_and_tape():
    """A loss built from gradkit ops: PyTorch-style backward and Keras-style tape agree."""
    x = gk.Tensor(np.linspace(-1, 1, 12).reshape(4, 3))
    y = gk.Tensor(np.array([[1.0], [0.0], [-1.0], [2.0]]))

    def run(style):
        w = gk.Variable(np.full((3, 1), 0.5), name="w")
        opt = O.Adam([w] if style == "torch" else None, lr=0.1)
        for _ in range(5):
            if style == "torch":
                loss = ((x @ w - y) ** 2).mean()
                loss.backward()
                opt.step()
                opt.zero_grad()
            else:
                opt.minimize(lambda: ((x @ w - y) ** 2).mean(), [w])
        return w.numpy()

    np.testing.assert_array_equal(run("torch"), run("keras"))


def test_minimize_with_tape():
    w = gk.Variable(np.array([3.0]))
    opt = O.SGD(learning_rate=0.25)
    with gk.GradientTape() as tape:
        loss = (w * w).sum()
    value = opt.minimize(loss, [w], tape=tape)
    assert float(value) == 9.0
    np.testing.assert_allclose(w.numpy(), [1.5])   # 3 - 0.25 * 6


# ================================================================ in place
@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_updates_in_place(name):
    params = make_params()
    opt = FACTORIES[name](params)
    arrays = [p._data for p in params]
    state_ids = None
    for k in range(1, 6):
        for p, g in zip(params, grads(*[p.numpy() for p in params])):
            p.grad = gk.Tensor(g)
        opt.step()
        assert all(p._data is a for p, a in zip(params, arrays))
        assert all(p._version == k for p in params)
        ids = [id(a) for a in opt.variables()[1:]]
        if state_ids is None:
            state_ids = ids
        assert ids == state_ids
    assert opt.iterations == 5


@pytest.mark.host_only("a host gradient for a device parameter is copied there each step")
def test_step_allocates_no_full_size_arrays():
    """After the first step, an update allocates no parameter-sized memory."""
    tracemalloc = pytest.importorskip("tracemalloc")
    w = gk.Variable(np.zeros((256, 256)))
    g = np.ones((256, 256))
    for opt in (O.Adam(lr=0.1, amsgrad=True, weight_decay=0.1), O.Nadam(),
                O.RMSprop(centered=True, momentum=0.5, clipnorm=1e-3),
                O.SGD(momentum=0.9, nesterov=True, global_clipnorm=1e-3), O.Adagrad()):
        opt.apply_gradients([(g, w)])
        tracemalloc.start()
        opt.apply_gradients([(g, w)])
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < w.numpy().nbytes / 8, (type(opt).__name__, peak)


def test_caller_gradients_never_modified():
    for opt in (O.SGD(lr=0.1, clipvalue=0.01), O.Adam(clipnorm=0.01),
                O.RMSprop(global_clipnorm=0.01), O.SGD(weight_decay=0.5,
                                                       decoupled_weight_decay=False),
                O.Adam(clipnorm=0.01, weight_decay=0.5, decoupled_weight_decay=False)):
        params = make_params()
        gs = grads(*[p.numpy() for p in params])
        copies = [g.copy() for g in gs]
        opt.apply_gradients(zip(gs, params))
        opt.apply_gradients(zip(gs, params))
        assert all(np.array_equal(a, b) for a, b in zip(gs, copies))


def test_optimizer_clipping_matches_clipping_functions():
    """clipnorm / clipvalue / global_clipnorm == clipping the gradients, then no clipping.

    The options call the same functions (with ``out=``), so the bits agree."""
    cases = [({"clipnorm": 0.5}, lambda gs: [O.clip_by_norm(g, 0.5) for g in gs]),
             ({"clipvalue": 0.2}, lambda gs: [O.clip_by_value(g, -0.2, 0.2) for g in gs]),
             ({"global_clipnorm": 1.0}, lambda gs: O.clip_by_global_norm(gs, 1.0)[0])]
    for kw, fn in cases:
        a, b = make_params(), make_params()
        oa, ob = O.Adam(lr=0.05, **kw), O.Adam(lr=0.05)
        for _ in range(10):
            gs = grads(*[p.numpy() for p in a])
            oa.apply_gradients(zip(gs, a))
            ob.apply_gradients(zip(fn(grads(*[p.numpy() for p in b])), b))
        for p, q in zip(a, b):
            np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_exclude_from_weight_decay():
    params = make_params()
    params[1].name = "dense/bias"
    opt = O.AdamW(lr=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    ref = O.Adam(lr=0.1)
    b = gk.Variable(INIT[1])
    g = np.ones(3)
    for _ in range(3):
        opt.apply_gradients([(g, params[1])])
        ref.apply_gradients([(g, b)])
    np.testing.assert_array_equal(params[1].numpy(), b.numpy())


# ================================================================ dtypes
@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("grad_dtype", [np.float32, np.float64])
def test_float32_stays_float32(name, grad_dtype):
    params = make_params(np.float32)
    opt = FACTORIES[name](params)
    for _ in range(3):
        for p, g in zip(params, grads(*[p.numpy().astype(np.float64) for p in params])):
            p.grad = gk.Tensor(g.astype(grad_dtype))
        opt.step()
    assert all(p.dtype == np.float32 for p in params)
    assert all(a.dtype == np.float32 for a in opt.variables()[1:])
    f64 = run_gradkit(FACTORIES[name], steps=3)
    for p, q in zip(params, f64[-1]):
        np.testing.assert_allclose(p.numpy(), q, rtol=1e-3, atol=1e-4)


def test_float16_params_stay_float16():
    w = gk.Variable(np.ones(4, dtype=np.float16))
    opt = O.Adam(lr=0.01)
    opt.apply_gradients([(np.ones(4, dtype=np.float32), w)])
    assert w.dtype == np.float16 and opt.variables()[1].dtype == np.float16


def test_gradient_shape_mismatch():
    w = gk.Variable(np.ones((2, 3)), name="kernel")
    with pytest.raises(ValueError, match=r"\(3, 2\).*'kernel'.*\(2, 3\)"):
        O.SGD().apply_gradients([(np.ones((3, 2)), w)])


# ================================================================ validation
@pytest.mark.parametrize("make, exc, message", [
    (lambda: O.SGD(learning_rate=-1.0), ValueError,
     "SGD: learning_rate must be a finite number >= 0, received -1.0"),
    (lambda: O.SGD(lr=float("nan")), ValueError, "learning_rate must be a finite number"),
    (lambda: O.SGD(lr="0.1"), TypeError,
     "learning_rate must be a float >= 0, a LearningRateSchedule or a callable"),
    (lambda: O.SGD(momentum=1.5), ValueError,
     "SGD: momentum must be a finite number >= 0 and <= 1, received 1.5"),
    (lambda: O.SGD(momentum=-0.1), ValueError, "momentum must be"),
    (lambda: O.SGD(momentum="0.9"), TypeError, "momentum must be a finite number"),
    (lambda: O.Adam(beta_1=1.0), ValueError,
     "Adam: beta_1 must be a finite number >= 0 and < 1, received 1.0"),
    (lambda: O.Adam(betas=(0.9, 1.2)), ValueError, "beta_2 must be .*, received 1.2"),
    (lambda: O.Adam(betas=0.9), TypeError, "betas must be a pair"),
    (lambda: O.Adam(betas=(0.9, 0.99, 0.999)), ValueError, "betas must be a pair"),
    (lambda: O.Adam(epsilon=-1e-8), ValueError,
     "Adam: epsilon must be a finite number >= 0, received -1e-08"),
    (lambda: O.Nadam(eps=-1.0), ValueError, "Nadam: epsilon must be"),
    (lambda: O.RMSprop(rho=1.0), ValueError, "rho must be a finite number >= 0 and < 1, "
     "received 1.0"),
    (lambda: O.RMSprop(alpha=-0.5), ValueError, "rho must be .*, received -0.5"),
    (lambda: O.Adagrad(initial_accumulator_value=-1.0), ValueError,
     "initial_accumulator_value must be"),
    (lambda: O.Adam(weight_decay=-0.1), ValueError, "weight_decay must be"),
    (lambda: O.AdamW(weight_decay=None), TypeError,
     "AdamW: weight_decay must be a finite number >= 0, received None"),
    (lambda: O.AdamW(decoupled_weight_decay=False), ValueError, "always decoupled"),
    (lambda: O.SGD(clipnorm=0.0), ValueError,
     "clipnorm must be a finite number > 0, received 0.0"),
    (lambda: O.SGD(clipvalue=True), TypeError, "clipvalue must be"),
    (lambda: O.SGD(clipnorm=1.0, clipvalue=1.0), ValueError, "only one of clipnorm"),
    (lambda: O.SGD(foo=1), TypeError, "unexpected keyword argument"),
    (lambda: O.SGD(0.1, learning_rate=0.2), TypeError, "learning rate"),
    (lambda: O.SGD(0.1, 0.9), TypeError, "by keyword"),
    (lambda: O.SGD(lr=0.1, learning_rate=0.2), TypeError, "both lr"),
    (lambda: O.Adam(eps=1e-8, epsilon=1e-3), TypeError, "both eps"),
    (lambda: O.Adam(betas=(0.9, 0.99), beta_1=0.5), TypeError, "both betas"),
    (lambda: O.SGD([]), ValueError, "empty parameter list"),
    (lambda: O.SGD([{"params": []}]), TypeError, "parameter groups"),
    (lambda: O.SGD([np.ones(3)]), TypeError, "parameter 0 is a ndarray"),
    (lambda: O.SGD([gk.Tensor(np.arange(3))]), TypeError, "floating-point"),
    (lambda: (lambda w: O.SGD([w, w]))(gk.Variable(np.ones(2))), ValueError, "more than once"),
])
def test_validation(make, exc, message):
    with pytest.raises(exc, match=message):
        make()


# ====================================================== construction styles, lr
def test_construction_styles():
    w = gk.Variable(np.ones(2))
    assert O.SGD().learning_rate == 0.01                      # Keras defaults
    assert O.Adam().learning_rate == 0.001 and O.Adam().epsilon == 1e-7
    assert O.RMSprop().rho == 0.9 and O.Adagrad().initial_accumulator_value == 0.1
    assert O.AdamW().weight_decay == 0.004
    assert O.SGD(0.05).learning_rate == 0.05                  # Keras positional
    assert O.SGD([w], 0.05).learning_rate == 0.05             # PyTorch positional
    assert O.SGD([w], lr=0.05).params[0] is w
    assert O.SGD(w).params == [w]                             # a single tensor
    assert O.SGD([("w", w)]).params == [w]                    # named parameters
    opt = O.Adam((p for p in [w]), lr=0.1, betas=(0.5, 0.6), eps=1e-3)
    assert (opt.beta_1, opt.beta_2, opt.epsilon) == (0.5, 0.6, 1e-3)
    assert O.RMSprop(alpha=0.99).rho == 0.99
    sched = S.ExponentialDecay(0.1, 10, 0.5)
    assert O.SGD(sched).learning_rate == 0.1                  # schedule as first argument


def test_learning_rate_property():
    w = gk.Variable(np.ones(2))
    opt = O.SGD([w], lr=0.1)
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5 and opt.lr == 0.5
    opt.lr = 0.25
    assert opt.learning_rate == 0.25
    with pytest.raises(ValueError):
        opt.learning_rate = -1.0
    opt.learning_rate = S.PiecewiseConstantDecay([1], [1.0, 0.5])
    seen = []
    for _ in range(4):
        seen.append(opt.learning_rate)
        w.grad = gk.Tensor(np.ones(2))
        opt.step()
    assert seen == [1.0, 1.0, 0.5, 0.5]                      # schedule(iterations)
    np.testing.assert_allclose(w.numpy(), 1 - 3.0)
    opt.learning_rate = lambda: 0.125                         # Keras: zero-argument callable
    assert opt.learning_rate == 0.125


def test_param_groups_pytorch_habit():
    w = gk.Variable(np.ones(2))
    opt = O.SGD([w], lr=0.1, momentum=0.9)
    group = opt.param_groups[0]
    assert group["lr"] == 0.1 and group["momentum"] == 0.9 and group["params"] == [w]
    for g in opt.param_groups:
        g["lr"] = 0.05
    assert opt.learning_rate == 0.05 and "lr" in group
    with pytest.raises(KeyError):
        group["momentum"] = 0.5


def test_iterations_counts_updates():
    w = gk.Variable(np.ones(2))
    opt = O.Adam(lr=0.1)
    for k in range(1, 4):
        assert opt.apply_gradients([(np.ones(2), w)]) == k
    assert opt.iterations == 3


# ================================================================ get / config
@pytest.mark.parametrize("name, cls", [("sgd", O.SGD), ("Adam", O.Adam), ("ADAMW", O.AdamW),
                                       ("rmsprop", O.RMSprop), ("adagrad", O.Adagrad),
                                       ("nAdam", O.Nadam)])
def test_get_by_name(name, cls):
    opt = O.get(name)
    assert type(opt) is cls


def test_get_other_identifiers():
    opt = O.Adam(lr=0.1)
    assert O.get(opt) is opt
    opt = O.get({"class_name": "SGD", "config": {"learning_rate": 0.3, "momentum": 0.5}})
    assert isinstance(opt, O.SGD) and opt.learning_rate == 0.3 and opt.momentum == 0.5
    assert isinstance(O.get(O.Nadam), O.Nadam)
    with pytest.raises(ValueError, match="adagrad, adam, adamw, nadam, rmsprop, sgd"):
        O.get("adamax")
    with pytest.raises(TypeError, match="an optimizer must be"):  # wrong type
        O.get(3)
    with pytest.raises(TypeError, match="an optimizer is required"):
        O.get(None)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_config_round_trip(name):
    opt = FACTORIES[name](None)
    config = opt.get_config()
    pickle.dumps(config)
    clone = type(opt).from_config(config)
    assert clone.get_config() == config
    again = O.deserialize(O.serialize(opt))
    assert type(again) is type(opt) and again.get_config() == config
    # the clone trains identically
    a, b = make_params(), make_params()
    for _ in range(5):
        opt.apply_gradients(zip(grads(*[p.numpy() for p in a]), a))
        again.apply_gradients(zip(grads(*[p.numpy() for p in b]), b))
    assert all(np.array_equal(p.numpy(), q.numpy()) for p, q in zip(a, b))


# ================================================================ state_dict
def _train(opt, params, steps, api):
    for _ in range(steps):
        gs = grads(*[p.numpy() for p in params])
        if api == "step":
            for p, g in zip(params, gs):
                p.grad = gk.Tensor(g)
            opt.step()
        else:
            opt.apply_gradients(zip(gs, params))


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("api", ["apply", "step"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_state_dict_resume_is_bit_identical(name, api, dtype):
    make = FACTORIES[name]
    straight = make_params(dtype)
    opt = make(straight if api == "step" else None)
    _train(opt, straight, 10, api)

    first = make_params(dtype)
    opt1 = make(first if api == "step" else None)
    _train(opt1, first, 5, api)
    saved = pickle.loads(pickle.dumps(opt1.state_dict()))   # plain data: survives a file
    assert saved["iterations"] == 5
    assert all(isinstance(a, np.ndarray) for s in saved["state"].values() for a in s.values())
    _train(opt1, first, 3, api)            # the saved copy must not follow later updates

    resumed = [gk.Variable(p) for p in make_params(dtype)]
    for p, q in zip(resumed, _replay(make, dtype, 5, api)):
        p.assign(q)
    opt2 = make(resumed if api == "step" else None)
    opt2.load_state_dict(saved)            # Keras style: before the optimizer saw any var
    _train(opt2, resumed, 5, api)
    assert opt2.iterations == 10
    for p, q in zip(straight, resumed):
        assert np.array_equal(p.numpy(), q.numpy())
    sd, sd2 = opt.state_dict(), opt2.state_dict()
    assert sd["extra"] == sd2["extra"]
    for i in sd["state"]:
        for k in sd["state"][i]:
            assert np.array_equal(sd["state"][i][k], sd2["state"][i][k])


def _replay(make, dtype, steps, api):
    params = make_params(dtype)
    _train(make(params if api == "step" else None), params, steps, api)
    return [p.numpy() for p in params]


@pytest.mark.host_only("compares the live state arrays with NumPy")
def test_load_state_dict_into_built_optimizer_keeps_arrays():
    params = make_params()
    opt = O.Adam(params, lr=0.1)
    _train(opt, params, 3, "step")
    saved = opt.state_dict()
    other = O.Adam(lr=0.1)
    other.build(params)
    before = [id(a) for a in other.variables()[1:]]
    other.load_state_dict(saved)
    assert [id(a) for a in other.variables()[1:]] == before
    assert other.iterations == 3
    for a, b in zip(opt.variables(), other.variables()):
        assert np.array_equal(a, b)


def test_load_state_dict_errors():
    params = make_params()
    opt = O.Adam(params)
    _train(opt, params, 1, "step")
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="keeps"):
        O.SGD(make_params(), momentum=0.9).load_state_dict(saved)
    bad = {"iterations": 1, "state": {0: {"momentum": np.zeros(2), "velocity": np.zeros(2)}}}
    with pytest.raises(ValueError, match="shape"):
        O.Adam(make_params()).load_state_dict(bad)
    with pytest.raises(ValueError, match="state_dict"):
        O.Adam().load_state_dict({"state": {}})


def test_variables_layout():
    params = make_params()
    opt = O.Adam(lr=0.1)
    opt.build(params)
    v = opt.variables()
    assert v[0].dtype == np.int64 and int(v[0]) == 0
    assert [a.shape for a in v[1:]] == [INIT[0].shape] * 2 + [INIT[1].shape] * 2 + \
        [INIT[2].shape] * 2


def test_gradient_hook_sees_each_update_and_can_be_removed():
    import numpy as np

    import gradkit as gk

    w = gk.Variable(np.ones(3, "float32"))
    opt = gk.optimizers.SGD(learning_rate=0.1)
    seen = []
    handle = opt.register_gradient_hook(lambda grads, params: seen.append(
        (np.asarray(grads[0]).copy(), params[0] is w)))
    opt.apply_gradients([(np.full(3, 2.0, "float32"), w)])
    assert len(seen) == 1 and seen[0][1] and np.array_equal(seen[0][0], [2.0, 2.0, 2.0])
    np.testing.assert_allclose(w.numpy(), 0.8)  # the hook does not change the update
    handle.remove()
    handle.remove()  # twice is harmless
    opt.apply_gradients([(np.ones(3, "float32"), w)])
    assert len(seen) == 1
    with pytest.raises(TypeError, match="expected a callable"):
        opt.register_gradient_hook(3)
