"""Mixed precision: policies, autocast, bfloat16 rounding, loss scaling, the float16 warning,
and the tutorials' MLP on Fashion-MNIST trained in mixed_float16/mixed_bfloat16."""

import warnings

import numpy as np
import pytest

import gradkit as gk
from gradkit import amp, mixed_precision
from gradkit.layers import Dense
from gradkit.ops.precision import round_bfloat16


@pytest.fixture
def policy():
    yield mixed_precision.set_global_policy
    mixed_precision.set_global_policy("float32")


def test_policy_names_and_errors():
    p = mixed_precision.Policy("mixed_bfloat16")
    assert (p.compute_dtype, p.variable_dtype, p.is_mixed) == ("bfloat16", "float32", True)
    assert not mixed_precision.Policy("float32").is_mixed
    with pytest.raises(NotImplementedError, match="mixed_float16"):
        mixed_precision.Policy("float16")
    with pytest.raises(ValueError):
        mixed_precision.Policy("mixed_float8")


def test_bfloat16_rounding_is_bit_exact_with_ml_dtypes():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(10000) * 10.0 ** rng.integers(-30, 30, 10000),
                        [0.0, -0.0, np.inf, -np.inf, 1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8]])
    x = x.astype(np.float32)
    want = x.astype(ml_dtypes.bfloat16).astype(np.float32)
    np.testing.assert_array_equal(round_bfloat16(x), want)
    assert np.isnan(round_bfloat16(np.array([np.nan], np.float32)))[0]


def test_autocast_rounds_matmul_inputs_and_keeps_softmax_in_float32():
    a = gk.Tensor(np.full((1, 1), 1.0 + 2 ** -12, np.float32), requires_grad=True)
    with gk.autocast("cpu", dtype="float16"):
        y = gk.matmul(a, gk.Tensor(np.ones((1, 1), np.float32)))
        s = gk.softmax(gk.Tensor(np.zeros((1, 2), np.float16)))
    assert y.item() == 1.0 and s.dtype == np.float32  # 1 + 2^-12 is 1 in float16
    y.sum().backward()
    assert a.grad.dtype == np.float32 and a.grad.item() == 1.0
    with gk.autocast("cpu", enabled=False):
        full = gk.matmul(a, gk.Tensor(np.ones((1, 1), np.float32)))
        assert full.item() == np.float32(1 + 2 ** -12)
    with pytest.raises(NotImplementedError, match="cache_enabled"):
        gk.autocast("cuda", cache_enabled=True)


def test_layers_keep_float32_weights_under_a_mixed_policy(policy):
    policy("mixed_float16")
    layer = Dense(3)
    y = layer(np.ones((2, 4), np.float32))
    assert layer.kernel.dtype == np.float32 and layer.dtype_policy.name == "mixed_float16"
    assert layer.get_config()["dtype"] == "mixed_float16" and y.shape == (2, 3)
    assert Dense(3, dtype="float64").dtype == np.float64


def test_grad_scaler_skips_inf_steps_and_backs_off():
    w = gk.Variable(np.ones(2, np.float32))
    opt = gk.optimizers.SGD([w], lr=0.1)
    scaler = amp.GradScaler(init_scale=4.0, growth_interval=2)
    loss = (w * 3.0).sum()
    scaler.scale(loss).backward()
    assert np.allclose(w.grad.numpy(), 12.0)
    scaler.step(opt)
    scaler.update()
    np.testing.assert_allclose(w.numpy(), 1.0 - 0.1 * 3.0)  # unscaled gradient used
    w.grad = gk.Tensor(np.array([np.inf, 1.0], np.float32))
    assert scaler.step(opt) is None
    scaler.update()
    assert scaler.get_scale() == 2.0 and scaler.skipped_steps == 1
    np.testing.assert_allclose(w.numpy(), 0.7)  # the skipped step changed nothing


def test_loss_scale_optimizer_applies_or_skips():
    w = gk.Variable(np.ones(2, np.float32))
    opt = amp.LossScaleOptimizer(gk.optimizers.SGD(lr=1.0), initial_scale=8.0)
    assert opt.apply_gradients([(np.full(2, 8.0, np.float32), w)])
    np.testing.assert_allclose(w.numpy(), 0.0)
    assert not opt.apply_gradients([(np.array([np.nan, 0], np.float32), w)])
    assert opt.loss_scale.scale == 4.0 and opt.learning_rate == 1.0


def test_float16_model_without_policy_warns_once():
    mixed_precision._warned_float16 = False
    x, y = np.ones((8, 3), np.float16), np.zeros(8, np.int64)
    model = gk.Sequential([Dense(2, dtype="float16")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        model.fit(x, y, epochs=1, verbose=0)
        model.fit(x, y, epochs=1, verbose=0)
    assert sum("mixed_float16" in str(w.message) for w in seen) == 1


def _fashion_mlp_accuracy(policy_name):
    (xt, yt), (xs, ys) = gk.datasets.fashion_mnist.load_data()
    xt = xt[:2000].reshape(-1, 784).astype("float32") / 255
    xs = xs[:1000].reshape(-1, 784).astype("float32") / 255
    mixed_precision.set_global_policy(policy_name)
    gk.random.seed(0)
    model = gk.Sequential([Dense(512, activation="relu"), Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(xt, yt[:2000], epochs=2, batch_size=128, verbose=0)
    mixed_precision.set_global_policy("float32")
    return model.evaluate(xs, ys[:1000], verbose=0)[1], hist.history, model


def test_tutorial_mlp_trains_to_float32_accuracy_in_float16_and_bfloat16(policy):
    try:
        base, _, _ = _fashion_mlp_accuracy("float32")
    except gk.datasets.DatasetError as e:  # pragma: no cover - a machine without the data
        pytest.skip(f"Fashion-MNIST not available: {e}")
    for name in ("mixed_float16", "mixed_bfloat16"):
        acc, hist, model = _fashion_mlp_accuracy(name)
        assert abs(acc - base) <= 0.01, (name, acc, base)
        assert all(w.dtype == np.float32 for w in model.weights)
        assert ("skipped_steps" in hist) == (name == "mixed_float16")
