"""SimpleRNN, LSTM and GRU: PyTorch parity (outputs, states and gradients with the
weights copied in), gradcheck, shapes, parameter counts, training, configs, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gradkit
from gradkit.layers.base import SymbolicTensor
from gradkit.layers.recurrent import GRU, LSTM, SimpleRNN
from gradkit.layers.registry import deserialize, serialize
from gradkit.tensor import Tensor
from gradkit.testing import gradcheck

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-9, 1e-10
B, T, FEAT, U = 3, 5, 4, 6


# ------------------------------------------------------------------ helpers
def gru_to_torch(w):
    """Keras GRU columns (z, r, h) -> torch rows (r, z, n)."""
    u = w.shape[-1] // 3
    z, r, h = w[..., :u], w[..., u:2 * u], w[..., 2 * u:]
    return np.concatenate([r, z, h], axis=-1)


def gru_from_torch(w):
    """torch (r, z, n) -> Keras (z, r, h) along the last axis (self-inverse swap)."""
    return gru_to_torch(w)


def make_torch(kind, weights, reset_after=True):
    """A torch RNN/LSTM/GRU holding our weights (bias_hh zero except GRU's recurrent bias)."""
    kernel, rk, bias = weights
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    m = cls(FEAT, U, batch_first=True).double()
    with torch.no_grad():
        if kind == "gru":
            m.weight_ih_l0.copy_(torch.tensor(gru_to_torch(kernel).T))
            m.weight_hh_l0.copy_(torch.tensor(gru_to_torch(rk).T))
            m.bias_ih_l0.copy_(torch.tensor(gru_to_torch(bias[0])))
            m.bias_hh_l0.copy_(torch.tensor(gru_to_torch(bias[1])))
        else:
            m.weight_ih_l0.copy_(torch.tensor(kernel.T))
            m.weight_hh_l0.copy_(torch.tensor(rk.T))
            m.bias_ih_l0.copy_(torch.tensor(bias))
            m.bias_hh_l0.zero_()
    return m


def torch_grads(kind, m):
    """The torch module's weight gradients in Keras layout: kernel, recurrent, bias."""
    gi, gh = m.weight_ih_l0.grad.numpy().T, m.weight_hh_l0.grad.numpy().T
    bi, bh = m.bias_ih_l0.grad.numpy(), m.bias_hh_l0.grad.numpy()
    if kind == "gru":
        return [gru_from_torch(gi), gru_from_torch(gh), np.stack([gru_from_torch(bi),
                                                                   gru_from_torch(bh)])]
    return [gi, gh, bi]


def make_layer(kind, **kwargs):
    cls = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}[kind]
    layer = cls(U, dtype="float64", **kwargs)
    layer.build((None, T, FEAT))
    rng = np.random.default_rng(10)
    weights = [rng.standard_normal(w.shape) * 0.5 for w in layer.weights]
    layer.set_weights(weights)
    return layer, weights


def with_weights(layer, names, **call_kwargs):
    def fn(x, *ws):
        saved = [getattr(layer, n) for n in names]
        for n, w in zip(names, ws):
            setattr(layer, n, w)
        try:
            return layer(x, **call_kwargs)
        finally:
            for n, w in zip(names, saved):
                setattr(layer, n, w)

    return fn


# ------------------------------------------------------------------ torch parity
@pytest.mark.torch
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_matches_torch(kind, return_sequences):
    layer, weights = make_layer(kind, return_sequences=return_sequences)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((B, T, FEAT))
    gy = rng.standard_normal((B, T, U) if return_sequences else (B, U))

    xt = Tensor(x, requires_grad=True)
    y = layer(xt)
    (y * Tensor(gy)).sum().backward()

    m = make_torch(kind, weights)
    tx = torch.tensor(x, requires_grad=True)
    seq, _ = m(tx)
    ty = seq if return_sequences else seq[:, -1]
    (ty * torch.tensor(gy)).sum().backward()

    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=RTOL, atol=ATOL)
    ours = [layer.kernel.grad.numpy(), layer.recurrent_kernel.grad.numpy(),
            layer.bias.grad.numpy()]
    for a, b in zip(ours, torch_grads(kind, m)):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_states_initial_state_and_go_backwards_match_torch(kind):
    layer, weights = make_layer(kind, return_sequences=True, return_state=True,
                                go_backwards=True)
    rng = np.random.default_rng(12)
    x = rng.standard_normal((B, T, FEAT))
    n_states = 2 if kind == "lstm" else 1
    init = [rng.standard_normal((B, U)) for _ in range(n_states)]
    init_t = [Tensor(s, requires_grad=True) for s in init]
    out = layer(x, initial_state=init_t)
    assert isinstance(out, list) and len(out) == 1 + n_states
    seq = out[0]
    g = [rng.standard_normal(o.shape) for o in out]
    sum((o * Tensor(gi)).sum() for o, gi in zip(out, g)).backward()

    m = make_torch(kind, weights)
    t_init = [torch.tensor(s[None], requires_grad=True) for s in init]
    tseq, tstate = m(torch.tensor(x[:, ::-1].copy()),
                     tuple(t_init) if kind == "lstm" else t_init[0])
    tstates = list(tstate) if kind == "lstm" else [tstate]
    touts = [tseq] + [s[0] for s in tstates]
    sum((o * torch.tensor(gi)).sum() for o, gi in zip(touts, g)).backward()
    np.testing.assert_allclose(seq.numpy(), tseq.detach().numpy(), rtol=RTOL, atol=ATOL)
    for ours, theirs in zip(out[1:], touts[1:]):
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=RTOL, atol=ATOL)
    for ours, theirs in zip(init_t, t_init):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy()[0], rtol=RTOL,
                                   atol=ATOL)
    for a, b in zip([layer.kernel.grad.numpy(), layer.recurrent_kernel.grad.numpy(),
                     layer.bias.grad.numpy()], torch_grads(kind, m)):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


@pytest.mark.torch
@pytest.mark.parametrize("steps", [9, 11, 17])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_long_sequences_match_torch(steps, go_backwards):
    """Sequences long enough for the chunked time slicing (chunks of isqrt(T) steps)."""
    layer, weights = make_layer("lstm", return_sequences=True, go_backwards=go_backwards)
    rng = np.random.default_rng(18)
    x = rng.standard_normal((2, steps, FEAT))
    gy = rng.standard_normal((2, steps, U))
    xt = Tensor(x, requires_grad=True)
    (layer(xt) * Tensor(gy)).sum().backward()
    m = make_torch("lstm", weights)
    tx = torch.tensor(x, requires_grad=True)
    ty, _ = m(tx.flip(1) if go_backwards else tx)
    (ty * torch.tensor(gy)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=RTOL, atol=ATOL)
    for a, b in zip([layer.kernel.grad.numpy(), layer.recurrent_kernel.grad.numpy(),
                     layer.bias.grad.numpy()], torch_grads("lstm", m)):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
    with gradkit.no_grad():
        np.testing.assert_allclose(layer(x).numpy(), ty.detach().numpy(), rtol=RTOL,
                                   atol=ATOL)


@pytest.mark.torch
def test_lstm_float32_and_custom_activations():
    rng = np.random.default_rng(13)
    layer = LSTM(U)
    x = rng.standard_normal((B, T, FEAT)).astype(np.float32)
    y = layer(x)
    assert y.dtype == np.float32 and y.shape == (B, U)
    m = make_torch("lstm", [w.astype(np.float64) for w in layer.get_weights()])
    ty = m(torch.tensor(x, dtype=torch.float64))[0][:, -1]
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    relu_rnn, weights = make_layer("rnn", activation="relu")
    m = torch.nn.RNN(FEAT, U, nonlinearity="relu", batch_first=True).double()
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.tensor(weights[0].T))
        m.weight_hh_l0.copy_(torch.tensor(weights[1].T))
        m.bias_ih_l0.copy_(torch.tensor(weights[2]))
        m.bias_hh_l0.zero_()
    x = rng.standard_normal((B, T, FEAT))
    np.testing.assert_allclose(relu_rnn(x).numpy(), m(torch.tensor(x))[0][:, -1].detach(),
                               rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------ gradcheck
@pytest.mark.parametrize("kind,kwargs", [
    ("rnn", {}),
    ("rnn", {"return_sequences": True, "use_bias": False}),
    ("lstm", {}),
    ("lstm", {"return_sequences": True, "go_backwards": True}),
    ("gru", {}),
    ("gru", {"reset_after": False, "return_sequences": True}),
    ("gru", {"reset_after": False, "use_bias": False}),
])
def test_gradcheck(kind, kwargs):
    cls = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}[kind]
    layer = cls(3, dtype="float64", **kwargs)
    layer.build((None, 4, 2))
    rng = np.random.default_rng(14)
    names = ["kernel", "recurrent_kernel"] + (["bias"] if layer.use_bias else [])
    ws = [rng.standard_normal(getattr(layer, n).shape) * 0.7 for n in names]
    gradcheck(with_weights(layer, names), rng.standard_normal((2, 4, 2)), *ws)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_gradcheck_initial_state(kind):
    cls = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}[kind]
    layer = cls(3, dtype="float64", return_state=True)
    layer.build((None, 3, 2))
    rng = np.random.default_rng(15)
    n = 2 if kind == "lstm" else 1

    def fn(x, *states):
        out = layer(x, initial_state=list(states))
        return gradkit.ops.concatenate(out, axis=1)

    gradcheck(fn, rng.standard_normal((2, 3, 2)), *[rng.standard_normal((2, 3))
                                                     for _ in range(n)])


# ------------------------------------------------------------------ shapes, counts
@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_output_shapes(cls):
    seq = cls(7, return_sequences=True)
    last = cls(7)
    assert seq.compute_output_shape((None, None, 3)) == (None, None, 7)
    assert last.compute_output_shape((None, None, 3)) == (None, 7)
    assert seq.compute_output_shape((2, 9, 3)) == (2, 9, 7)
    x = np.zeros((2, 9, 3), np.float32)
    assert seq(x).shape == (2, 9, 7) and last(x).shape == (2, 7)
    assert seq(SymbolicTensor((None, None, 3))).shape == (None, None, 7)
    assert last(SymbolicTensor((None, 9, 3))).shape == (None, 7)
    st = cls(7, return_state=True)
    n = 2 if cls is LSTM else 1
    assert st.compute_output_shape((None, 9, 3)) == [(None, 7)] * (1 + n)
    out = st(x)
    assert len(out) == 1 + n and all(o.shape == (2, 7) for o in out)
    np.testing.assert_array_equal(out[0].numpy(), out[1].numpy())  # output is h
    with pytest.raises(NotImplementedError, match="return_state"):
        st(SymbolicTensor((None, 9, 3)))


def test_weight_counts_and_layouts():
    lstm = LSTM(32)
    lstm(np.zeros((1, 28, 28), np.float32))
    assert lstm.count_params() == 4 * (28 * 32 + 32 * 32 + 32) == 7808
    assert [w.shape for w in lstm.weights] == [(28, 128), (32, 128), (128,)]
    rnn = SimpleRNN(4, input_shape=(None, 3))  # built at once
    assert rnn.built and rnn.count_params() == 3 * 4 + 4 * 4 + 4
    gru = GRU(5)
    gru(np.zeros((1, 2, 3), np.float32))
    assert [w.shape for w in gru.weights] == [(3, 15), (5, 15), (2, 15)]
    assert GRU(5, reset_after=False, input_shape=(2, 3)).weights[2].shape == (15,)
    assert LSTM(4, use_bias=False, input_shape=(2, 3)).count_params() == 4 * (12 + 16)


def test_initializers():
    lstm = LSTM(8, input_shape=(None, 3))
    b = lstm.bias.numpy()
    np.testing.assert_array_equal(b[8:16], 1.0)  # unit_forget_bias
    np.testing.assert_array_equal(np.delete(b, np.s_[8:16]), 0.0)
    assert np.all(LSTM(8, unit_forget_bias=False, input_shape=(None, 3)).bias.numpy() == 0)
    rnn = SimpleRNN(6, input_shape=(None, 3))
    rk = rnn.recurrent_kernel.numpy().astype(np.float64)
    np.testing.assert_allclose(rk.T @ rk, np.eye(6), atol=1e-5)  # orthogonal


def test_int_inputs_are_cast():
    layer = SimpleRNN(2)
    y = layer(np.ones((2, 3, 4), dtype=np.int64))
    assert y.dtype == np.float32


# ------------------------------------------------------------------ training, config
@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_training_step_decreases_loss(cls):
    gradkit.random.seed(0)
    rng = np.random.default_rng(16)
    x = rng.standard_normal((8, 6, 3)).astype(np.float32)
    target = rng.standard_normal((8, 5)).astype(np.float32) * 0.5
    layer = cls(5)

    def loss_fn():
        return gradkit.ops.mean_squared_error(layer(x), target)

    before = loss_fn()
    before.backward()
    with gradkit.no_grad():
        for w in layer.trainable_weights:
            assert w.grad is not None
            w.assign_sub(0.1 * w.grad.numpy())
    assert loss_fn().item() < before.item()


@pytest.mark.parametrize("layer", [
    SimpleRNN(4, activation="relu", use_bias=False, return_sequences=True, name="r",
              kernel_regularizer="l2"),
    LSTM(3, recurrent_activation="hard_sigmoid", unit_forget_bias=False, return_state=True,
         go_backwards=True, recurrent_initializer="glorot_uniform"),
    GRU(5, reset_after=False, return_sequences=True),
], ids=lambda layer: type(layer).__name__)
def test_config_round_trip(layer):
    cfg = layer.get_config()
    clone = type(layer).from_config(json.loads(json.dumps(cfg)))
    assert type(clone) is type(layer) and clone.get_config() == cfg
    again = deserialize(json.loads(json.dumps(serialize(layer))))
    assert type(again) is type(layer) and again.get_config() == cfg
    x = np.random.default_rng(17).standard_normal((2, 3, 2)).astype(np.float32)
    y = layer(x)
    again(x)
    again.set_weights(layer.get_weights())
    ys, ys2 = (y, again(x)) if not isinstance(y, list) else (y[0], again(x)[0])
    np.testing.assert_array_equal(ys.numpy(), ys2.numpy())


# ------------------------------------------------------------------ errors
def test_bad_inputs():
    with pytest.raises(ValueError) as e:
        LSTM(4, name="lstm")(np.zeros((8, 20), np.float32))
    assert str(e.value) == (
        "LSTM 'lstm' expected input with 3 axes, received shape (8, 20); LSTM takes sequences "
        "(batch, time, features); for one feature per step add an axis, e.g. x[..., None] or "
        "Reshape((20, 1))")
    with pytest.raises(ValueError, match=r"SimpleRNN 's' expected input with 3 axes, received "
                                         r"shape \(8, 28, 28, 1\).*Reshape\(\(28, 28\)\)"):
        SimpleRNN(4, name="s")(np.zeros((8, 28, 28, 1), np.float32))
    gru = GRU(4, name="g")
    gru(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError) as e:
        gru(np.zeros((2, 3, 6), np.float32))
    assert "GRU 'g' was built for 5 input features but received 6" in str(e.value)
    assert "(2, 3, 6)" in str(e.value)
    with pytest.raises(ValueError, match=r"initial state must have shape \(2, 4\)"):
        gru(np.zeros((2, 3, 5), np.float32), initial_state=[np.zeros((2, 3))])
    with pytest.raises(ValueError, match="initial_state needs 2 tensor"):
        LSTM(4)(np.zeros((2, 3, 5), np.float32), initial_state=[np.zeros((2, 4))])
    with pytest.raises(ValueError, match="0 time steps"):
        SimpleRNN(2)(np.zeros((2, 0, 3), np.float32))
    with pytest.raises(ValueError, match="units must be an integer >= 1"):
        LSTM(0)
    with pytest.raises(ValueError, match="needs a known features axis"):
        SimpleRNN(2)(SymbolicTensor((None, 5, None)))
