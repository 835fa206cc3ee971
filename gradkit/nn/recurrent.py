"""``RNN``, ``LSTM`` and ``GRU`` with PyTorch's weights, gate order and shapes.

Parameters are named as in PyTorch (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``,
``bias_hh_l0``, ``..._reverse`` for the backward direction), shaped ``(gates * hidden,
in)``; gates are stacked in PyTorch's order: LSTM ``i, f, g, o``, GRU ``r, z, n``. The
input projection of a whole sequence is one ``ops.dense``; each step then adds the
hidden projection and applies the gates, with gradkit ops.
"""

from __future__ import annotations

import math

import numpy as np

from gradkit import ops
from gradkit.nn.functional import dropout, linear
from gradkit.nn.module import Module, builtin, factory_dtype, new_parameter
from gradkit.tensor import Tensor
from gradkit.utils.validation import check_choice, check_int, check_number


def _rnn_tanh(gi, gh, h, c, n):
    return ops.tanh(gi + gh), None


def _rnn_relu(gi, gh, h, c, n):
    return ops.relu(gi + gh), None


def _lstm(gi, gh, h, c, n):
    g = gi + gh  # i, f, g, o
    i, f = ops.sigmoid(g[..., :n]), ops.sigmoid(g[..., n:2 * n])
    cand, o = ops.tanh(g[..., 2 * n:3 * n]), ops.sigmoid(g[..., 3 * n:])
    c = f * c + i * cand
    return o * ops.tanh(c), c


def _gru(gi, gh, h, c, n):
    r = ops.sigmoid(gi[..., :n] + gh[..., :n])  # r, z, n
    z = ops.sigmoid(gi[..., n:2 * n] + gh[..., n:2 * n])
    cand = ops.tanh(gi[..., 2 * n:] + r * gh[..., 2 * n:])
    return (1.0 - z) * cand + z * h, None


class _RNNBase(Module):
    """Shared by RNN, LSTM and GRU: parameters, shapes, directions and layers."""

    _gates = 1
    _cell = None

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        owner = type(self).__name__
        dt = factory_dtype(owner, device, dtype)
        super().__init__(dtype=dt)
        if proj_size:
            raise NotImplementedError(f"{owner}: proj_size={proj_size} is not supported")
        self.input_size = check_int(owner, "input_size", input_size, minimum=1)
        self.hidden_size = check_int(owner, "hidden_size", hidden_size, minimum=1)
        self.num_layers = check_int(owner, "num_layers", num_layers, minimum=1)
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.dropout = check_number(owner, "dropout", dropout, 0.0, 1.0)
        self.bidirectional = bool(bidirectional)
        k = 1 / math.sqrt(hidden_size)
        rows = self._gates * hidden_size
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * self._dirs
            for suffix in ("", "_reverse")[:self._dirs]:
                setattr(self, f"weight_ih_l{layer}{suffix}", new_parameter((rows, width), dt, k))
                setattr(self, f"weight_hh_l{layer}{suffix}",
                        new_parameter((rows, hidden_size), dt, k))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", new_parameter((rows,), dt, k))
                    setattr(self, f"bias_hh_l{layer}{suffix}", new_parameter((rows,), dt, k))

    @property
    def _dirs(self):
        return 2 if self.bidirectional else 1

    def _params(self, layer, suffix):
        get = lambda name: getattr(self, f"{name}_l{layer}{suffix}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _initial(self, hx, batch, dtype):
        shape = (self.num_layers * self._dirs, batch, self.hidden_size)
        if hx is None:
            return Tensor(np.zeros(shape, dtype))
        hx = hx if isinstance(hx, Tensor) else Tensor(hx)
        if hx.shape != shape:
            raise ValueError(f"{type(self).__name__}: expected hidden state of shape {shape}, "
                             f"received {hx.shape}")
        return hx

    def _run(self, x, states):
        """``x`` time-major ``(L, N, F)``; ``states`` a list of ``(L*D, N, H)`` tensors."""
        n = self.hidden_size
        finals = [[] for _ in states]
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:self._dirs]):
                w_ih, w_hh, b_ih, b_hh = self._params(layer, suffix)
                gi_all = linear(x, w_ih, b_ih)  # the whole sequence at once
                idx = layer * self._dirs + d
                carry = [s[idx] for s in states]
                h, c = carry[0], carry[1] if len(carry) > 1 else None
                steps = range(x.shape[0] - 1, -1, -1) if d else range(x.shape[0])
                seq = [None] * x.shape[0]
                for t in steps:
                    h, c = self._cell(gi_all[t], linear(h, w_hh, b_hh), h, c, n)
                    seq[t] = h
                outs.append(ops.stack(seq, 0))
                finals[0].append(h)
                if c is not None:
                    finals[1].append(c)
            x = outs[0] if len(outs) == 1 else ops.concatenate(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = dropout(x, self.dropout, True)
        return x, [ops.stack(f, 0) for f in finals]

    def forward(self, input, hx=None):  # noqa: A002
        x = input if isinstance(input, Tensor) else Tensor(input)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: expected input (L, N, {self.input_size})"
                             f"{' batch_first (N, L, ...)' if self.batch_first else ''} or "
                             f"unbatched (L, {self.input_size}), received {x.shape}")
        unbatched = x.ndim == 2
        if unbatched:
            x = ops.expand_dims(x, 1)
        elif self.batch_first:
            x = ops.swapaxes(x, 0, 1)
        states = self._states(hx, x.shape[1], x.dtype, unbatched)
        y, finals = self._run(x, states)
        if unbatched:
            y, finals = ops.squeeze(y, 1), [ops.squeeze(f, 1) for f in finals]
        elif self.batch_first:
            y = ops.swapaxes(y, 0, 1)
        return y, (tuple(finals) if len(finals) > 1 else finals[0])

    def _states(self, hx, batch, dtype, unbatched):
        hxs = [None] * self._n_states if hx is None else (
            list(hx) if self._n_states > 1 else [hx])
        if len(hxs) != self._n_states:
            raise ValueError(f"{type(self).__name__}: expected {self._n_states} initial "
                             f"state(s), received {len(hxs)}")
        if unbatched:
            hxs = [h if h is None else ops.expand_dims(h, 1) for h in hxs]
        return [self._initial(h, batch, dtype) for h in hxs]

    _n_states = 1

    def get_config(self):
        return {"input_size": self.input_size, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, "bias": self.bias,
                "batch_first": self.batch_first, "dropout": self.dropout,
                "bidirectional": self.bidirectional}

    def extra_repr(self):
        extra = "".join(f", {k}={v}" for k, v in (
            ("num_layers", self.num_layers), ("batch_first", self.batch_first),
            ("bidirectional", self.bidirectional)) if v not in (1, False))
        return f"{self.input_size}, {self.hidden_size}{extra}"


@builtin
class RNN(_RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``.

    Args:
        input_size, hidden_size: feature sizes.
        num_layers: stacked layers. nonlinearity: ``"tanh"`` or ``"relu"``.
        bias, batch_first, dropout (between layers), bidirectional: as in PyTorch.

    Returns from a call: ``(output, h_n)``; output ``(L, N, D*H)`` (``(N, L, D*H)``
    with ``batch_first``), ``h_n`` ``(num_layers*D, N, H)``.

    Example::

        rnn = nn.RNN(10, 20, num_layers=2, batch_first=True)
        out, h = rnn(x)                  # x (batch, seq, 10)
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None,
                 dtype=None):
        self.nonlinearity = check_choice("RNN", "nonlinearity", nonlinearity, ("tanh", "relu"))
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)
        self._cell = _rnn_tanh if nonlinearity == "tanh" else _rnn_relu

    def get_config(self):
        return dict(super().get_config(), nonlinearity=self.nonlinearity)


@builtin
class LSTM(_RNNBase):
    """Long short-term memory (gates ``i, f, g, o``); a call returns
    ``(output, (h_n, c_n))`` and takes an optional ``(h_0, c_0)``. Arguments as
    :class:`RNN` (no ``nonlinearity``); ``proj_size`` is not supported.

    Example::

        lstm = nn.LSTM(10, 20, batch_first=True)
        out, (h, c) = lstm(x)
    """

    _gates = 4
    _n_states = 2
    _cell = staticmethod(_lstm)


@builtin
class GRU(_RNNBase):
    """Gated recurrent unit (gates ``r, z, n``; ``n = tanh(W_in x + b_in + r * (W_hn h +
    b_hn))``, ``h' = (1 - z) n + z h``); a call returns ``(output, h_n)``."""

    _gates = 3
    _cell = staticmethod(_gru)
