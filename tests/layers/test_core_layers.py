"""Core and activation layers: shapes, weights, training, PyTorch parity, gradcheck, errors."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit import layers as L
from gradkit.layers.base import SymbolicTensor

F64 = "float64"


# ===================================================================== Dense
class TestDense:
    def test_shapes_and_weights(self):
        d = L.Dense(5)
        assert not d.built and d.weights == []
        y = d(np.zeros((3, 4), "float32"))
        assert y.shape == (3, 5) and y.dtype == np.float32
        assert [w.shape for w in d.weights] == [(4, 5), (5,)]
        assert d.count_params() == 25
        assert d.trainable_weights == [d.kernel, d.bias]
        assert L.Dense(5, use_bias=False, input_dim=4).count_params() == 20

    def test_batched_inputs_apply_to_last_axis(self, rng):
        d = L.Dense(3, dtype=F64)
        x = rng.standard_normal((2, 4, 6))
        y = d(x)
        assert y.shape == (2, 4, 3)
        np.testing.assert_allclose(y.numpy(), x @ d.kernel.numpy() + d.bias.numpy(), atol=1e-12)
        assert d.compute_output_shape((None, 4, 6)) == (None, 4, 3)

    def test_declared_input_builds_at_once(self):
        d = L.Dense(8, input_dim=3)
        assert d.built and d.kernel.shape == (3, 8)
        assert len(d.parameters()) == 2  # PyTorch habit: optimizer before first call

    @pytest.mark.parametrize("activation", [None, "relu", "tanh", "sigmoid", "softmax"])
    def test_matches_torch_linear(self, torch, rng, activation):
        d = L.Dense(5, activation=activation, dtype=F64)
        x = rng.standard_normal((7, 4))
        d.build((None, 4))
        d.bias.assign(rng.standard_normal(5))
        lin = torch.nn.Linear(4, 5, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(d.kernel.numpy().T))  # (in,out) vs (out,in)
            lin.bias.copy_(torch.from_numpy(d.bias.numpy()))
        act = {None: lambda t: t, "relu": torch.relu, "tanh": torch.tanh,
               "sigmoid": torch.sigmoid, "softmax": lambda t: torch.softmax(t, -1)}[activation]
        up = rng.standard_normal((7, 5))

        xg = gradkit.Tensor(x, requires_grad=True)
        y = d(xg)
        (y * gradkit.Tensor(up)).sum().backward()
        xt = torch.tensor(x, requires_grad=True)
        yt = act(lin(xt))
        (yt * torch.from_numpy(up)).sum().backward()

        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(d.kernel.grad.numpy(), lin.weight.grad.numpy().T,
                                   rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(d.bias.grad.numpy(), lin.bias.grad.numpy(),
                                   rtol=1e-8, atol=1e-10)

    def test_gradcheck(self, rng, layer_gradcheck):
        d = L.Dense(3, activation="tanh", dtype=F64, input_dim=4)
        d.bias.assign(rng.standard_normal(3))
        assert layer_gradcheck(d, rng.standard_normal((2, 4)), ["kernel", "bias"])
        assert layer_gradcheck(L.Dense(2, dtype=F64, input_dim=3),
                               rng.standard_normal((2, 2, 3)), ["kernel", "bias"])

    @pytest.mark.parametrize("activation", [None, "relu", "tanh"])
    def test_second_order_gradient(self, rng, activation):
        # create_graph through the fused DenseOp: d/dx <dL/dx, v>, checked numerically
        from gradkit.testing import gradcheck

        d = L.Dense(3, activation=activation, dtype=F64, input_dim=4)
        v = gradkit.Tensor(rng.standard_normal((2, 4)))

        def grad_dot_v(x):
            gx = gradkit.grad(lambda t: (d(t) ** 3).sum())(x)
            return (gx * v).sum()

        assert gradcheck(grad_dot_v, rng.standard_normal((2, 4)))

    def test_relu_is_fused_and_matches_composed_ops(self, rng):
        from gradkit.ops.nn import Dense as DenseOp

        d = L.Dense(6, activation="relu", dtype=F64, input_dim=5)
        d.bias.assign(rng.standard_normal(6))
        x = gradkit.Tensor(rng.standard_normal((4, 5)), requires_grad=True)
        y = d(x)
        assert isinstance(y._ctx, DenseOp)
        ref = gradkit.relu(x @ d.kernel + d.bias)
        np.testing.assert_allclose(y.numpy(), ref.numpy(), atol=1e-14)
        y.sum().backward()
        g_fused = [x.grad.numpy(), d.kernel.grad.numpy(), d.bias.grad.numpy()]
        x.grad = None
        d.zero_grad()
        ref.sum().backward()
        for a, b in zip(g_fused, [x.grad.numpy(), d.kernel.grad.numpy(), d.bias.grad.numpy()]):
            np.testing.assert_allclose(a, b, atol=1e-14)

    def test_integer_input_computes_in_layer_dtype(self):
        d = L.Dense(3, input_dim=4)
        y = d(np.arange(8, dtype=np.uint8).reshape(2, 4))
        assert y.dtype == np.float32
        assert d(np.arange(8, dtype=np.int64).reshape(2, 4)).dtype == np.float32

    def test_training_step_pytorch_style(self, rng, sgd_step):
        d = L.Dense(1, input_dim=3)
        x = rng.standard_normal((32, 3)).astype("float32")
        target = x @ np.array([[1.0], [-2.0], [0.5]], "float32")

        def loss_fn():
            return gradkit.mean_squared_error(d(x), target)

        before = loss_fn()
        before.backward()
        assert all(w.grad is not None for w in d.parameters())
        sgd_step(d, 0.1)
        assert loss_fn().item() < before.item()

    def test_training_step_gradient_tape(self, rng):
        d = L.Dense(2, activation="relu", input_dim=3)
        x = rng.standard_normal((16, 3)).astype("float32")
        with gradkit.GradientTape() as tape:
            loss = (d(x) ** 2).mean()
        grads = tape.gradient(loss, d.trainable_weights)
        assert [g.shape for g in grads] == [(3, 2), (2,)]
        for w, g in zip(d.trainable_weights, grads):
            w.assign_sub(0.1 * g.numpy())
        assert (d(x) ** 2).mean().item() < loss.item()

    def test_wrong_feature_size(self):
        d = L.Dense(4, name="dense_fs")
        d(np.zeros((2, 3)))
        with pytest.raises(ValueError, match=r"Dense 'dense_fs' expected input with last axis 3, "
                                             r"received shape \(2, 5\)"):
            d(np.zeros((2, 5)))

    def test_flatten_hint(self):
        d = L.Dense(10, input_shape=(784,), name="dense_1")
        with pytest.raises(ValueError) as e:
            d(np.zeros((128, 28, 28), "float32"))
        assert str(e.value) == ("Dense 'dense_1' expected input with last axis 784, received "
                                "shape (128, 28, 28); add a Flatten layer first")

    def test_wrong_rank(self):
        d = L.Dense(4, input_dim=3, name="dense_rank")
        with pytest.raises(ValueError, match=r"Dense 'dense_rank'.*at least 2 axes.*\(3,\)"):
            d(np.zeros(3))
        with pytest.raises(ValueError, match="Dense 'dense_r1'.*at least 2 axes"):
            L.Dense(2, name="dense_r1")(np.zeros(3))

    def test_invalid_units(self):
        for bad in (0, -1):
            with pytest.raises(ValueError, match="units must be an integer >= 1"):
                L.Dense(bad)
        for bad in (2.5, "3", None, True):  # not an integer at all: a TypeError
            with pytest.raises(TypeError, match="units must be an integer >= 1"):
                L.Dense(bad)

    def test_symbolic_call(self):
        out = L.Dense(6, name="dense_sym")(SymbolicTensor((None, 4)))
        assert out.shape == (None, 6)

    def test_linear_alias(self, rng):
        lin = L.Linear(4, 3)
        assert isinstance(lin, L.Dense) and lin.built
        assert lin.kernel.shape == (4, 3) and lin.bias.shape == (3,)
        assert L.Linear(4, 3, bias=False).bias is None
        cfg = lin.get_config()
        assert (cfg["in_features"], cfg["out_features"], cfg["bias"]) == (4, 3, True)
        clone = L.Linear.from_config(cfg)
        clone.set_weights(lin.get_weights())
        x = rng.standard_normal((2, 4)).astype("float32")
        np.testing.assert_array_equal(clone(x).numpy(), lin(x).numpy())
        assert "in_features=4" in repr(lin)


# ================================================================ Activation
ACTIVATION_CASES = [
    # (layer, torch function builder)
    (lambda: L.ReLU(dtype=F64), lambda t: t.nn.ReLU()),
    (lambda: L.ReLU(max_value=6.0, dtype=F64), lambda t: t.nn.ReLU6()),
    (lambda: L.LeakyReLU(dtype=F64), lambda t: t.nn.LeakyReLU(0.3)),
    (lambda: L.LeakyReLU(0.05, dtype=F64), lambda t: t.nn.LeakyReLU(0.05)),
    (lambda: L.ELU(dtype=F64), lambda t: t.nn.ELU(1.0)),
    (lambda: L.ELU(alpha=0.5, dtype=F64), lambda t: t.nn.ELU(0.5)),
    (lambda: L.GELU(dtype=F64), lambda t: t.nn.GELU()),
    (lambda: L.GELU(approximate=True, dtype=F64), lambda t: t.nn.GELU(approximate="tanh")),
    (lambda: L.Sigmoid(dtype=F64), lambda t: t.nn.Sigmoid()),
    (lambda: L.Tanh(dtype=F64), lambda t: t.nn.Tanh()),
    (lambda: L.Softmax(dtype=F64), lambda t: t.nn.Softmax(-1)),
    (lambda: L.Softmax(axis=1, dtype=F64), lambda t: t.nn.Softmax(1)),
    (lambda: L.Activation("tanh", dtype=F64), lambda t: t.nn.Tanh()),
    (lambda: L.Activation("gelu", dtype=F64), lambda t: t.nn.GELU()),
]


def _activation_id(i):
    return f"case{i}"


class TestActivationLayers:
    @pytest.mark.parametrize("case", range(len(ACTIVATION_CASES)), ids=_activation_id)
    def test_matches_torch(self, torch, rng, case):
        make, torch_make = ACTIVATION_CASES[case]
        layer, tl = make(), torch_make(torch)
        x = rng.standard_normal((4, 3, 5)) * 4
        up = rng.standard_normal(x.shape)
        xg = gradkit.Tensor(x, requires_grad=True)
        y = layer(xg)
        (y * gradkit.Tensor(up)).sum().backward()
        xt = torch.tensor(x, requires_grad=True)
        yt = tl(xt)
        (yt * torch.from_numpy(up)).sum().backward()
        assert y.shape == x.shape and layer.weights == []
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-8)

    @pytest.mark.parametrize("case", range(len(ACTIVATION_CASES)), ids=_activation_id)
    def test_gradcheck(self, rng, layer_gradcheck, case):
        layer = ACTIVATION_CASES[case][0]()
        x = rng.standard_normal((3, 4)) * 2
        x[np.abs(x) < 0.05] = 0.5  # away from the kinks of relu & co
        assert layer_gradcheck(layer, x, [])

    def test_relu_keras_general_form(self, rng, layer_gradcheck):
        layer = L.ReLU(max_value=2.0, negative_slope=0.1, threshold=0.5, dtype=F64)
        x = np.array([-3.0, 0.0, 0.49, 0.5, 1.0, 1.99, 2.0, 5.0])
        expect = np.where(x >= 2.0, 2.0, np.where(x >= 0.5, x, 0.1 * (x - 0.5)))
        np.testing.assert_allclose(layer(x).numpy(), expect, atol=1e-15)
        xs = np.array([[-3.0, 0.2, 0.9, 1.5, 3.0]])
        assert layer_gradcheck(layer, xs, [])
        xg = gradkit.Tensor(xs, requires_grad=True)
        layer(xg).sum().backward()
        np.testing.assert_allclose(xg.grad.numpy(), [[0.1, 0.1, 1.0, 1.0, 0.0]])

    def test_relu_float32_stays_float32(self):
        y = L.ReLU(max_value=1.0, threshold=0.1)(np.linspace(-1, 2, 7, dtype="float32"))
        assert y.dtype == np.float32

    def test_relu_validation(self):
        with pytest.raises(ValueError, match="max_value"):
            L.ReLU(max_value=-1.0)
        with pytest.raises(ValueError, match="negative_slope"):
            L.ReLU(negative_slope=-0.1)
        with pytest.raises(ValueError, match="negative_slope"):
            L.LeakyReLU(-1.0)

    def test_leaky_relu_keras3_default_and_alpha(self):
        assert L.LeakyReLU().negative_slope == 0.3
        assert L.LeakyReLU(alpha=0.1).negative_slope == 0.1

    def test_softmax_is_the_softmax_op(self):
        from gradkit.ops.activation import Softmax as SoftmaxOp

        y = L.Softmax()(gradkit.Tensor(np.ones((2, 3)), requires_grad=True))
        assert isinstance(y._ctx, SoftmaxOp)
        y2 = L.Dense(3, activation="softmax", input_dim=2)(
            gradkit.Tensor(np.ones((1, 2), "float32"), requires_grad=True))
        assert isinstance(y2._ctx, SoftmaxOp)

    def test_softmax_bad_axis(self):
        with pytest.raises(ValueError, match="Softmax 'sm_axis'.*axis 2"):
            L.Softmax(axis=2, name="sm_axis")(np.zeros((2, 3)))

    def test_activation_layer_config(self):
        a = L.Activation(gradkit.activations.get("silu"))
        assert a.get_config()["activation"] == "swish"
        with pytest.raises(ValueError, match="unknown activation"):
            L.Activation("nope")


# ================================================================== Dropout
class TestDropout:
    def test_scaling_statistics(self):
        drop = L.Dropout(0.3)
        x = np.ones((400, 500), "float32")
        y = drop(x, training=True).numpy()
        kept = y != 0
        assert abs(1 - kept.mean() - 0.3) < 0.005
        np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
        assert abs(y.mean() - 1.0) < 0.01  # inverted dropout keeps the expectation
        assert y.dtype == np.float32

    def test_identity_at_inference(self):
        drop = L.Dropout(0.5)
        x = gradkit.Tensor(np.ones((3, 4), "float32"))
        assert drop(x) is x
        assert drop(x, training=False) is x
        assert L.Dropout(0.0)(x, training=True) is x

    def test_train_eval_modes(self):
        drop = L.Dropout(0.5)
        x = gradkit.Tensor(np.ones((50, 50), "float32"))
        drop.train()
        assert (drop(x).numpy() == 0).any()
        drop.eval()
        assert drop(x) is x

    def test_gradient_is_the_mask(self, rng):
        drop = L.Dropout(0.4, dtype=F64)
        x = gradkit.Tensor(rng.standard_normal((20, 10)), requires_grad=True)
        y = drop(x, training=True)
        y.sum().backward()
        mask = np.where(y.numpy() != 0, 1 / 0.6, 0.0)
        np.testing.assert_allclose(x.grad.numpy(), mask, rtol=1e-12)

    def test_torch_statistics_agree(self, torch):
        # different generators: compare the distribution, not the masks
        x = np.ones((200, 500))
        ours = L.Dropout(0.25, dtype=F64)(x, training=True).numpy()
        theirs = torch.nn.functional.dropout(torch.from_numpy(x), 0.25, training=True).numpy()
        assert set(np.unique(ours)) == set(np.unique(theirs)) == {0.0, 1 / 0.75}
        assert abs((ours == 0).mean() - (theirs == 0).mean()) < 0.01

    def test_seeding(self):
        x = np.ones((10, 10), "float32")
        a = L.Dropout(0.5, seed=7)(x, training=True).numpy()
        b = L.Dropout(0.5, seed=7)(x, training=True).numpy()
        np.testing.assert_array_equal(a, b)
        gradkit.random.seed(3)
        c = L.Dropout(0.5)(x, training=True).numpy()
        gradkit.random.seed(3)
        d = L.Dropout(0.5)(x, training=True).numpy()
        np.testing.assert_array_equal(c, d)

    def test_noise_shape(self):
        y = L.Dropout(0.5, noise_shape=(None, 1))(np.ones((100, 6), "float32"),
                                                  training=True).numpy()
        assert (y == y[:, :1]).all()  # whole rows dropped together

    @pytest.mark.parametrize("rate", [1.0, -0.1, 1.5, float("nan")])
    def test_rate_validation(self, rate):
        with pytest.raises(ValueError, match="rate must be a finite number >= 0 and < 1"):
            L.Dropout(rate)

    @pytest.mark.parametrize("rate", ["0.5", True, None])
    def test_rate_of_the_wrong_type(self, rate):
        with pytest.raises(TypeError, match="rate must be a finite number"):
            L.Dropout(rate)


# ============================================================ Flatten/Reshape
class TestFlattenReshape:
    def test_flatten(self, rng):
        f = L.Flatten()
        x = gradkit.Tensor(rng.standard_normal((4, 2, 3, 5)), requires_grad=True)
        y = f(x)
        assert y.shape == (4, 30)
        y.sum().backward()
        assert x.grad.shape == x.shape
        assert f(np.zeros(7)).shape == (7, 1)
        assert f(np.zeros((0, 3, 2))).shape == (0, 6)
        assert f.compute_output_shape((None, 28, 28)) == (None, 784)
        assert f.compute_output_shape((None, None, 3)) == (None, None)
        assert f.weights == []

    def test_reshape(self, rng, layer_gradcheck):
        r = L.Reshape((3, -1))
        y = r(np.arange(24.0).reshape(2, 12))
        assert y.shape == (2, 3, 4)
        assert L.Reshape((28, 28, 1))(np.zeros((5, 784))).shape == (5, 28, 28, 1)
        assert r.compute_output_shape((None, 12)) == (None, 3, 4)
        assert r.compute_output_shape((None, None)) == (None, 3, None)
        assert layer_gradcheck(L.Reshape((2, 3), dtype=F64), rng.standard_normal((2, 6)), [])

    def test_reshape_errors(self):
        with pytest.raises(ValueError, match=r"Reshape 'rs_bad' cannot reshape samples of 12 "
                                             r"values into target_shape \(5,\).*\(2, 12\)"):
            L.Reshape((5,), name="rs_bad")(np.zeros((2, 12)))
        with pytest.raises(ValueError, match="multiple of 5"):
            L.Reshape((5, -1))(np.zeros((2, 12)))
        for bad in [(-1, -1), (0, 3), (-2, 3)]:
            with pytest.raises(ValueError, match="target_shape"):
                L.Reshape(bad)
        for bad in [(2.5,), ("a",), "ab"]:
            with pytest.raises(TypeError, match="target_shape"):
                L.Reshape(bad)


# ================================================================= Embedding
class TestEmbedding:
    def test_shapes_and_default_init(self):
        e = L.Embedding(50, 8)
        assert e.built and e.embeddings.shape == (50, 8) and e.count_params() == 400
        w = e.embeddings.numpy()
        assert np.abs(w).max() <= 0.05 and w.std() > 0.01  # Keras: uniform(-0.05, 0.05)
        assert e(np.zeros((2, 3, 4), "int32")).shape == (2, 3, 4, 8)
        assert e(np.array(5)).shape == (8,)
        assert e.compute_output_shape((None, 10)) == (None, 10, 8)

    def test_matches_torch_with_repeats(self, torch, rng):
        e = L.Embedding(10, 4, dtype=F64)
        te = torch.nn.Embedding(10, 4, dtype=torch.float64)
        with torch.no_grad():
            te.weight.copy_(torch.from_numpy(e.embeddings.numpy()))
        idx = np.array([[1, 2, 1], [9, 1, 0]])
        up = rng.standard_normal((2, 3, 4))
        y = e(idx)
        (y * gradkit.Tensor(up)).sum().backward()
        yt = te(torch.from_numpy(idx))
        (yt * torch.from_numpy(up)).sum().backward()
        np.testing.assert_array_equal(y.numpy(), yt.detach().numpy())
        np.testing.assert_allclose(e.embeddings.grad.numpy(), te.weight.grad.numpy(),
                                   rtol=1e-12, atol=1e-12)

    def test_gradcheck(self, layer_gradcheck):
        e = L.Embedding(5, 3, dtype=F64)
        idx = np.array([[0, 4, 4], [2, 0, 1]])
        assert layer_gradcheck(e, idx, ["embeddings"],
                               call=lambda lay, _x: lay(idx), wrt=[1])

    def test_integral_floats_and_errors(self):
        e = L.Embedding(10, 2, name="emb_err")
        np.testing.assert_array_equal(e(np.array([1.0, 3.0])).numpy(),
                                      e(np.array([1, 3])).numpy())
        with pytest.raises(ValueError, match=r"Embedding 'emb_err' received index 10.*"
                                             r"input_dim=10"):
            e(np.array([[1, 10]]))
        with pytest.raises(ValueError, match="Embedding 'emb_err' received index -1"):
            e(np.array([-1, 2]))
        with pytest.raises(TypeError, match="Embedding 'emb_err' needs integer indices.*2.5"):
            e(np.array([1.0, 2.5]))
        with pytest.raises(ValueError, match="input_dim"):
            L.Embedding(0, 3)

    def test_training_step(self, sgd_step):
        e = L.Embedding(6, 3)
        idx = np.array([0, 2, 2, 5])

        def loss():
            return ((e(idx) - 1.0) ** 2).mean()

        first = loss()
        first.backward()
        sgd_step(e, 0.5)
        assert loss().item() < first.item()


# ================================================================== Identity
def test_identity():
    x = gradkit.Tensor(np.ones((2, 3), "float32"))
    layer = L.Identity()
    assert layer(x) is x
    assert layer.compute_output_shape((None, 3)) == (None, 3)
    assert layer.weights == []


# ======================================================= bad inputs, all layers
BAD_INPUT_LAYERS = {
    "Dense": lambda: L.Dense(3, name="bad_in"),
    "Flatten": lambda: L.Flatten(name="bad_in"),
    "ReLU": lambda: L.ReLU(name="bad_in"),
    "Softmax": lambda: L.Softmax(name="bad_in"),
    "Dropout": lambda: L.Dropout(0.5, name="bad_in"),
    "Embedding": lambda: L.Embedding(4, 2, name="bad_in"),
    "BatchNormalization": lambda: L.BatchNormalization(name="bad_in"),
    "LayerNormalization": lambda: L.LayerNormalization(name="bad_in"),
    "Reshape": lambda: L.Reshape((-1,), name="bad_in"),
    "Add": lambda: L.Add(name="bad_in"),
}


@pytest.mark.parametrize("kind", list(BAD_INPUT_LAYERS))
@pytest.mark.parametrize("data", [np.array([["a", "b"]]), np.array([[1 + 2j, 3j]]),
                                  np.array([[object(), None]], dtype=object)],
                         ids=["str", "complex", "object"])
def test_non_numeric_input_is_a_type_error(kind, data):
    layer = BAD_INPUT_LAYERS[kind]()
    inputs = [data, data] if kind == "Add" else data
    with pytest.raises(TypeError, match=f"{kind} 'bad_in' received input of dtype"):
        layer(inputs)


def test_repr_comes_from_config():
    assert repr(L.Dense(3, activation="relu", name="d_repr")).startswith(
        "<Dense 'd_repr': units=3, activation='relu'")
    assert repr(L.Flatten(name="f_repr")) == "<Flatten 'f_repr'>"


def test_tanh_is_fused_and_matches_composed_ops():
    from gradkit.ops.nn import Dense as DenseOp

    rng = np.random.default_rng(3)
    d = L.Dense(6, activation="tanh", dtype="float64", input_dim=5)
    d.bias.assign(rng.standard_normal(6))
    x = gradkit.Tensor(rng.standard_normal((4, 5)), requires_grad=True)
    y = d(x)
    assert isinstance(y._ctx, DenseOp)
    ref = gradkit.tanh(x @ d.kernel + d.bias)
    np.testing.assert_allclose(y.numpy(), ref.numpy(), atol=1e-14)
    y.sum().backward()
    fused = [x.grad.numpy(), d.kernel.grad.numpy(), d.bias.grad.numpy()]
    x.grad = None
    d.zero_grad()
    ref.sum().backward()
    for a, b in zip(fused, [x.grad.numpy(), d.kernel.grad.numpy(), d.bias.grad.numpy()]):
        np.testing.assert_allclose(a, b, atol=1e-14)
    assert gradkit.testing.gradcheck(lambda t: d(t), rng.standard_normal((3, 5)))
