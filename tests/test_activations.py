"""gradkit.activations: name lookup, serialization, values and gradients vs PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from gradkit import activations, ops
from gradkit.layers import ReLU
from gradkit.tensor import Tensor
from gradkit.testing import gradcheck

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover
    torch = TF = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed")

# name -> (torch reference, tolerance); gelu goes through gradkit's erf fit (error ~1e-7)
TORCH_REF = {
    "relu": (lambda x: torch.relu(x), 1e-12),
    "sigmoid": (lambda x: torch.sigmoid(x), 1e-12),
    "softmax": (lambda x: torch.softmax(x, -1), 1e-12),
    "log_softmax": (lambda x: torch.log_softmax(x, -1), 1e-12),
    "tanh": (lambda x: torch.tanh(x), 1e-12),
    "elu": (lambda x: TF.elu(x), 1e-12),
    "selu": (lambda x: TF.selu(x), 1e-7),  # torch rounds the SELU constants to ~1e-8
    "gelu": (lambda x: TF.gelu(x), 1e-6),
    "leaky_relu": (lambda x: TF.leaky_relu(x, 0.2), 1e-12),
    "softplus": (lambda x: TF.softplus(x), 1e-12),
    "swish": (lambda x: TF.silu(x), 1e-12),
    "silu": (lambda x: TF.silu(x), 1e-12),
    # torch's hardsigmoid backward uses a float32 1/6 (error 3e-8): written out instead
    "hard_sigmoid": (lambda x: torch.clamp(x / 6 + 0.5, 0, 1), 1e-12),
    "exponential": (lambda x: torch.exp(x), 1e-12),
    "linear": (lambda x: x, 0.0),
}


def _inputs(seed=0):
    x = np.random.default_rng(seed).normal(size=(4, 5)) * 2.5
    x[np.abs(x) < 0.05] += 0.2  # keep off the kinks of relu & co.
    x[np.abs(np.abs(x) - 3) < 0.05] += 0.2  # and of hard_sigmoid
    return x


@needs_torch
@pytest.mark.parametrize("name", sorted(TORCH_REF))
def test_values_and_gradients_match_torch(name):
    ref, tol = TORCH_REF[name]
    x = _inputs()
    w = np.random.default_rng(1).normal(size=x.shape)  # random upstream gradient
    xt = Tensor(x, requires_grad=True)
    y = activations.get(name)(xt)
    (y * w).sum().backward()
    xr = torch.tensor(x, requires_grad=True)
    yr = ref(xr)
    if yr is xr:
        yr = xr * 1.0
    (yr * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(y.numpy(), yr.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy(), rtol=tol, atol=tol)
    assert y.dtype == np.float64


@pytest.mark.parametrize("name", ["selu", "swish", "hard_sigmoid", "gelu", "softmax"])
def test_composed_activations_pass_gradcheck(name):
    x = _inputs(2)
    assert gradcheck(activations.get(name), x)


def test_second_derivative_of_composed_activation():
    # swish'' comes from the ops' higher-order gradients
    x = Tensor(np.array([0.3, -1.2, 2.0]), requires_grad=True)
    y = activations.swish(x).sum()
    y.backward(create_graph=True)
    g = x.grad
    x.grad = None
    g.sum().backward()
    s = 1 / (1 + np.exp(-x.numpy()))
    expected = s * (1 - s) * (2 + x.numpy() * (1 - 2 * s))  # d2/dx2 x*sigmoid(x)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-10)


@needs_torch
def test_hard_sigmoid_matches_torch_values():
    x = _inputs()
    np.testing.assert_allclose(activations.hard_sigmoid(Tensor(x)).numpy(),
                               TF.hardsigmoid(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-15)


def test_selu_and_hard_sigmoid_formulas():
    x = np.array([-5.0, -3.0, -1.0, 0.0, 1.0, 3.0, 5.0])
    expected_selu = np.where(x > 0, activations.SELU_SCALE * x,
                             activations.SELU_SCALE * activations.SELU_ALPHA * np.expm1(x))
    np.testing.assert_allclose(activations.selu(Tensor(x)).numpy(), expected_selu, rtol=1e-14)
    np.testing.assert_allclose(activations.hard_sigmoid(Tensor(x)).numpy(),
                               np.clip(x / 6 + 0.5, 0, 1), rtol=1e-14)


def test_get_names_aliases_and_none():
    x = Tensor(np.array([-1.0, 2.0]))
    assert activations.get(None) is activations.linear
    assert activations.get(None)(x) is x
    assert activations.get("linear")(x) is x
    assert activations.get("silu") is activations.swish
    assert activations.get("SWISH") is activations.swish
    assert activations.get("relu") is activations.relu
    for name in ["relu", "sigmoid", "softmax", "tanh", "elu", "gelu", "leaky_relu", "softplus",
                 "linear", "swish", "silu", "log_softmax", "exponential", "hard_sigmoid",
                 "selu"]:
        assert callable(activations.get(name))
        assert callable(getattr(activations, name))


def test_get_passes_callables_through():
    def custom(t):
        return t * 2.0

    assert activations.get(custom) is custom
    assert activations.get(ops.relu) is ops.relu


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as e:
        activations.get("rleu")
    msg = str(e.value)
    assert "rleu" in msg and "relu" in msg and "hard_sigmoid" in msg and "swish" in msg


def test_non_callable_is_a_type_error():
    with pytest.raises(TypeError):
        activations.get(3)


def test_serialize_round_trip():
    for name in ["relu", "sigmoid", "softmax", "tanh", "elu", "gelu", "leaky_relu", "softplus",
                 "linear", "swish", "log_softmax", "exponential", "hard_sigmoid", "selu"]:
        fn = activations.get(name)
        assert activations.serialize(fn) == name
        assert activations.get(activations.serialize(fn)) is fn
    assert activations.serialize(activations.get("silu")) == "swish"
    assert activations.serialize(None) == "linear"
    assert activations.serialize(ops.relu) == "relu"
    assert activations.serialize(ops.softmax) == "softmax"
    assert activations.serialize("silu") == "swish"

    def my_act(t):
        return t

    assert activations.serialize(my_act) == "my_act"


def test_softmax_and_sigmoid_are_marked():
    assert getattr(activations.softmax, "_gradkit_softmax", False) is True
    assert getattr(activations.get("softmax"), "_gradkit_softmax", False) is True
    assert getattr(activations.sigmoid, "_gradkit_sigmoid", False) is True
    assert not getattr(activations.relu, "_gradkit_softmax", False)


def test_softmax_output_is_recognised_by_losses():
    from gradkit import losses

    logits = Tensor(np.array([[1000.0, -1000.0]]), requires_grad=True)
    p = activations.softmax(logits)
    assert losses.softmax_logits(p) is logits
    assert np.isfinite(losses.categorical_crossentropy(np.array([[0.0, 1.0]]), p).item())


def test_float32_stays_float32():
    x = Tensor(np.ones((2, 3), dtype=np.float32))
    for name in ["selu", "swish", "hard_sigmoid", "softmax", "gelu"]:
        assert activations.get(name)(x).dtype == np.float32


def test_relu_function_takes_keras_variations_like_the_layer():
    x = np.linspace(-3, 9, 25)
    kw = dict(negative_slope=0.1, max_value=6.0, threshold=1.0)
    out = activations.relu(Tensor(x), **kw).numpy()
    expected = np.where(x >= 1.0, np.minimum(x, 6.0), 0.1 * (x - 1.0))
    np.testing.assert_allclose(out, expected)
    np.testing.assert_allclose(out, ReLU(**kw)(Tensor(x)).numpy())
