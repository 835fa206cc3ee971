"""Recurrent layers: ``SimpleRNN``, ``LSTM`` and ``GRU`` (Keras semantics and weight layouts).

Inputs are ``(batch, time, features)``. Each layer multiplies the whole input
sequence by its kernel in ONE matmul before the time loop (``x @ kernel +
bias`` for all steps at once), then runs the loop with gradkit ops only:
``matmul`` with the recurrent kernel, slicing, ``sigmoid``/``tanh``... and
``stack`` for ``return_sequences``. Backpropagation through time is
therefore plain autodiff through the unrolled loop.

Weight layouts (as Keras, so weights load from Keras models):

* SimpleRNN: ``kernel (F, U)``, ``recurrent_kernel (U, U)``, ``bias (U,)``.
* LSTM: gates in the order ``i, f, c, o`` (input, forget, cell candidate,
  output) along the last axis: ``kernel (F, 4U)``, ``recurrent_kernel (U, 4U)``,
  ``bias (4U,)``. PyTorch's ``i, f, g, o`` is the same order.
* GRU: gates ``z, r, h`` (update, reset, candidate): ``kernel (F, 3U)``,
  ``recurrent_kernel (U, 3U)``; ``bias (2, 3U)`` (input and recurrent biases)
  with ``reset_after=True`` (the default, as PyTorch's GRU), ``(3U,)`` otherwise.
"""

from __future__ import annotations

import math

import numpy as np

from gradkit import activations, initializers, ops
from gradkit.backend import is_array
from gradkit.layers.base import InputSpec, Layer, shape_str
from gradkit.layers.core import serialize_arg
from gradkit.layers.registry import register_builtin
from gradkit.tensor import Tensor
from gradkit.utils.validation import check_int

__all__ = ["GRU", "LSTM", "SimpleRNN"]



class SequenceInputSpec(InputSpec):
    """``(batch, time, features)``, with the feature count fixed once built.

    The rank error hints at the usual fixes (a missing features axis, images).
    """

    def __init__(self, features=None):
        super().__init__(ndim=3)
        self.features = features

    def check(self, layer, shape):
        shape = tuple(shape)
        if len(shape) != 3:
            if len(shape) == 2 and shape[1] is not None:
                self.hint = (f"{type(layer).__name__} takes sequences (batch, time, features); "
                             f"for one feature per step add an axis, e.g. x[..., None] or "
                             f"Reshape(({shape[1]}, 1))")
            elif len(shape) == 4 and all(d is not None for d in shape[1:]):
                self.hint = (f"{type(layer).__name__} takes sequences (batch, time, features); "
                             f"to read images row by row, e.g. "
                             f"Reshape(({shape[1]}, {shape[2] * shape[3]}))")
            else:
                self.hint = (f"{type(layer).__name__} takes sequences shaped "
                             "(batch, time, features)")
            super().check(layer, shape)
        if self.features is not None and shape[2] is not None and shape[2] != self.features:
            raise ValueError(
                f"{type(layer).__name__} '{layer.name}' was built for {self.features} input "
                f"features but received {shape[2]} (last axis of shape {shape_str(shape)}); "
                "a layer keeps the feature count of its first input: create a new layer for "
                "other inputs")


def _time_slices(xw, steps, backwards=False):
    """``xw[:, t]`` for every step ``t`` (in reverse with ``backwards``), as Tensors.

    Slicing goes through chunks of about ``sqrt(T)`` steps: the gradient of a
    slice is a zero buffer shaped like what it was sliced from, so slicing
    each step straight from the whole sequence would cost ``T`` full-sequence
    buffers (and additions) in the backward pass, O(T^2); through chunks it is
    about ``2 sqrt(T)`` of them.
    """
    k = math.isqrt(steps)
    if k < 3:  # short sequences: chunks would not pay
        chunks = [(0, steps, xw)]
    else:
        chunks = [(c, min(c + k, steps), xw[:, c:c + k]) for c in range(0, steps, k)]
    if backwards:
        for start, stop, chunk in reversed(chunks):
            for j in range(stop - start - 1, -1, -1):
                yield chunk[:, j]
    else:
        for start, stop, chunk in chunks:
            for j in range(stop - start):
                yield chunk[:, j]


# the constructor arguments handled by _RNN and _GatedRNN (see _shared_args)
_SHARED_PARAMS = ("units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
                  "recurrent_initializer", "bias_initializer", "kernel_regularizer",
                  "recurrent_regularizer", "bias_regularizer", "return_sequences",
                  "return_state", "go_backwards")


class _RNN(Layer):
    """Shared machinery of the recurrent layers: weights, the time loop, configs.

    Subclasses set ``gates`` (blocks of ``units`` columns in the kernels),
    ``n_states`` and implement ``_step(xw_t, states) -> (output, states)``
    where ``xw_t`` is the step's slice of ``x @ kernel + bias`` and
    ``states`` is a list of Tensors, or ``None`` at the first step when no
    initial state was given (all zeros: the step may skip work).
    """

    gates = 1
    n_states = 1

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, return_sequences=False, return_state=False,
                 go_backwards=False, **kwargs):
        super().__init__(**kwargs)
        self.units = check_int(f"{type(self).__name__} '{self.name}'", "units", units,
                               minimum=1)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.recurrent_regularizer = recurrent_regularizer
        self.bias_regularizer = bias_regularizer
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.input_spec = SequenceInputSpec()
        self.kernel = self.recurrent_kernel = self.bias = None

    def _build_if_declared(self):
        if self._build_input_shape is not None:  # sizes known: create the weights now
            self._maybe_build(self._build_input_shape)

    # ------------------------------------------------------------ weights
    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self.input_spec.check(self, input_shape)
        features = input_shape[-1]
        if features is None:
            raise ValueError(f"{type(self).__name__} '{self.name}' needs a known features "
                             f"axis to create its kernel, received shape "
                             f"{shape_str(input_shape)}")
        width = self.gates * self.units
        self.kernel = self.add_weight((int(features), width), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, name="kernel")
        self.recurrent_kernel = self.add_weight(
            (self.units, width), initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, name="recurrent_kernel")
        if self.use_bias:
            self.bias = self.add_weight(self._bias_shape(), initializer=self._bias_initializer(),
                                        regularizer=self.bias_regularizer, name="bias")
        self.input_spec = SequenceInputSpec(int(features))
        self.built = True

    # ------------------------------------------------------------ the loop
    def _input_projection(self, x):
        """``x @ kernel (+ bias)`` for every step at once: ``(B, T, gates * U)``."""
        b, t, f = x.shape
        xw = ops.reshape(ops.matmul(ops.reshape(x, (b * t, f)), self.kernel),
                         (b, t, self.gates * self.units))
        if self.use_bias:
            xw = xw + self.bias
        return xw

    def _initial_states(self, initial_state, batch):
        if initial_state is None:
            return None
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) \
            else [initial_state]
        if len(states) != self.n_states:
            raise ValueError(f"{type(self).__name__} '{self.name}': initial_state needs "
                             f"{self.n_states} tensor(s), received {len(states)}")
        out = []
        for s in states:
            s = s if isinstance(s, Tensor) else Tensor(s, dtype=self.dtype, device=self.device)
            if s.dtype != self.dtype:
                s = ops.cast(s, self.dtype)
            if tuple(s.shape) != (batch, self.units):
                raise ValueError(f"{type(self).__name__} '{self.name}': each initial state "
                                 f"must have shape ({batch}, {self.units}) (batch, units), "
                                 f"received {tuple(s.shape)}")
            out.append(s)
        return out

    supports_masking = True

    def call(self, inputs, initial_state=None, training=None, mask=None):
        x = inputs if inputs.dtype == self.dtype else ops.cast(inputs, self.dtype)
        batch, steps = x.shape[0], x.shape[1]
        if steps == 0:
            raise ValueError(f"{type(self).__name__} '{self.name}' received a sequence with "
                             f"0 time steps (shape {tuple(x.shape)})")
        keep = self._step_mask(mask, batch, steps)
        xw = self._input_projection(x)
        states = self._initial_states(initial_state, batch)
        outputs = []
        out = None
        for t, xw_t in enumerate(_time_slices(xw, steps, self.go_backwards)):
            new_out, new_states = self._step(xw_t, states)
            if keep is not None:  # a masked step keeps the previous output and states
                k = keep[steps - 1 - t if self.go_backwards else t]
                zero = new_out.dtype.type(0)
                new_out = ops.where(k, new_out, zero if out is None else out)
                new_states = [ops.where(k, n, zero if states is None else o)
                              for n, o in zip(new_states, states or new_states)]
            out, states = new_out, new_states
            if self.return_sequences:
                outputs.append(out)
        y = ops.stack(outputs, axis=1) if self.return_sequences else out
        if self.return_state:
            return [y] + list(states)
        return y

    def _step_mask(self, mask, batch, steps):
        """The mask as ``steps`` boolean columns ``(batch, 1)``, or None (all steps kept)."""
        if mask is None:
            return None
        m = mask._data if isinstance(mask, Tensor) else mask
        if not is_array(m):
            m = np.asarray(m)  # host: a mask given as a list
        m = m.astype(bool)
        if m.shape != (batch, steps):
            raise ValueError(f"{type(self).__name__} '{self.name}': the mask must have shape "
                             f"(batch, time) = ({batch}, {steps}), received {m.shape}")
        return [m[:, t:t + 1] for t in range(steps)]

    def compute_mask(self, inputs, mask=None):
        """The input mask for ``return_sequences`` (None for the last step alone); no mask
        on returned states."""
        out = mask if self.return_sequences else None
        return [out] + [None] * self.n_states if self.return_state else out

    # ------------------------------------------------------------ shapes
    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.input_spec.check(self, input_shape)
        batch, steps = input_shape[0], input_shape[1]
        y = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [y] + [(batch, self.units)] * self.n_states
        return y

    def _symbolic_call(self, inputs, args, training, kwargs):
        if self.return_state:
            raise NotImplementedError(
                f"{type(self).__name__} '{self.name}': return_state=True is supported on "
                "tensors, not yet in functional models (symbolic inputs); call the layer on "
                "arrays/Tensors or use return_state=False")
        return super()._symbolic_call(inputs, args, training, kwargs)

    # ------------------------------------------------------------ config
    def get_config(self):
        cfg = super().get_config()
        cfg.update(
            units=self.units, activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=serialize_arg(self.kernel_initializer, "initializers"),
            recurrent_initializer=serialize_arg(self.recurrent_initializer, "initializers"),
            bias_initializer=serialize_arg(self.bias_initializer, "initializers"),
            kernel_regularizer=serialize_arg(self.kernel_regularizer, "regularizers"),
            recurrent_regularizer=serialize_arg(self.recurrent_regularizer, "regularizers"),
            bias_regularizer=serialize_arg(self.bias_regularizer, "regularizers"),
            return_sequences=self.return_sequences, return_state=self.return_state,
            go_backwards=self.go_backwards)
        return cfg


class _GatedRNN(_RNN):
    """A recurrent layer whose gates use ``recurrent_activation`` (LSTM, GRU)."""

    def __init__(self, units, recurrent_activation="sigmoid", **kwargs):
        super().__init__(units, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)

    def get_config(self):
        cfg = super().get_config()
        cfg["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        return cfg


def _shared_args(args):
    """The arguments a layer's ``__init__`` passes on to ``_RNN``/``_GatedRNN``.

    ``args`` is that ``__init__``'s ``locals()``: each layer spells out Keras's
    signature (for ``help()`` and positional calls) and forwards it in one line;
    the arguments only it knows are the ones it stores itself.
    """
    shared = {name: args[name] for name in _SHARED_PARAMS if name in args}
    return {**shared, **args["kwargs"]}


_RNN_ARGS = """
        units: size of the hidden state (and of the output).
        activation: applied to the new state (default ``"tanh"``).
        use_bias: add learned biases.
        kernel_initializer: for the input kernel (default ``"glorot_uniform"``).
        recurrent_initializer: for the recurrent kernel (default ``"orthogonal"``).
        bias_initializer: for the bias (default ``"zeros"``).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: optional penalties.
        return_sequences: output every step ``(B, T, U)`` instead of the last ``(B, U)``.
        return_state: also return the final state(s): ``[output, *states]``.
        go_backwards: read the sequence from the end (outputs come in that order).
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape``.

    Call arguments:
        inputs: ``(batch, time, features)``.
        initial_state: optional list of ``(batch, units)`` tensors (default zeros).
        mask: optional ``(batch, time)`` booleans (default: the input's mask, e.g. from
            ``Embedding(mask_zero=True)`` or ``Masking``): a False step leaves output and
            states as they were (Keras's ``zero_output_for_mask=False``)."""


def _with_rnn_args(cls):
    """Put the arguments every recurrent layer shares into ``cls``'s docstring."""
    cls.__doc__ = cls.__doc__.replace("{rnn_args}", _RNN_ARGS)
    return cls


@register_builtin
@_with_rnn_args
class SimpleRNN(_RNN):
    """Fully connected recurrence: ``h_t = activation(x_t W + h_{t-1} U + b)``.

    Args:{rnn_args}

    Shapes:
        kernel ``(F, U)``, recurrent_kernel ``(U, U)``, bias ``(U,)``; output ``(B, U)``
        or ``(B, T, U)``; state ``[h]``.

    Example::

        rnn = SimpleRNN(16, return_sequences=True)
        rnn(np.zeros((4, 10, 3), "float32")).shape   # (4, 10, 16)
    """

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, return_sequences=False, return_state=False,
                 go_backwards=False, **kwargs):
        super().__init__(**_shared_args(locals()))
        self._build_if_declared()

    def _step(self, xw_t, states):
        z = xw_t if states is None else xw_t + ops.matmul(states[0], self.recurrent_kernel)
        h = self.activation(z)
        return h, [h]


@register_builtin
@_with_rnn_args
class LSTM(_GatedRNN):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997), Keras's formulation.

    ``z = x_t W + h U + b`` split into gates ``i, f, c, o``;
    ``c_t = sigma(f) * c + sigma(i) * act(c~)``; ``h_t = sigma(o) * act(c_t)``, where
    ``sigma`` is ``recurrent_activation``.

    Args:{rnn_args}
        recurrent_activation: for the gates (default ``"sigmoid"``).
        unit_forget_bias: start the forget gate's bias at 1 (and the rest per
            ``bias_initializer``), as Keras does by default.

    Shapes:
        kernel ``(F, 4U)``, recurrent_kernel ``(U, 4U)``, bias ``(4U,)`` (gates i, f, c, o);
        output ``(B, U)`` or ``(B, T, U)``; states ``[h, c]``.

    Example::

        lstm = LSTM(32)
        lstm(np.zeros((8, 28, 28), "float32")).shape   # (8, 32)
        lstm.count_params()                             # 4 * (28*32 + 32*32 + 32) = 7808
    """

    gates = 4
    n_states = 2

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, return_sequences=False, return_state=False,
                 go_backwards=False, **kwargs):
        super().__init__(**_shared_args(locals()))
        self.unit_forget_bias = bool(unit_forget_bias)
        self._build_if_declared()

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, u = initializers.get(self.bias_initializer), self.units

        def init(shape, dtype=None):
            b = base(shape, dtype=dtype).astype(dtype)  # a copy on the layer's device
            b[u:2 * u] = 1.0  # forget gate: remember by default
            return b

        return init

    def _step(self, xw_t, states):
        u = self.units
        if states is None:
            z = xw_t
        else:
            z = xw_t + ops.matmul(states[0], self.recurrent_kernel)
        ra = self.recurrent_activation
        i = ra(z[:, :u])
        g = self.activation(z[:, 2 * u:3 * u])
        o = ra(z[:, 3 * u:])
        if states is None:
            c = i * g  # c_{-1} = 0: the forget gate has nothing to keep
        else:
            c = ra(z[:, u:2 * u]) * states[1] + i * g
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        cfg = super().get_config()
        cfg.update(unit_forget_bias=self.unit_forget_bias)
        return cfg


@register_builtin
@_with_rnn_args
class GRU(_GatedRNN):
    """Gated recurrent unit (Cho et al., 2014), Keras's formulation.

    Gates ``z`` (update) and ``r`` (reset), candidate ``h~``:
    ``h_t = z * h + (1 - z) * h~``. With ``reset_after=True`` (default; PyTorch's
    GRU too) ``h~ = act(x W_h + b_h + r * (h U_h + b'_h))``; with ``False``
    ``h~ = act(x W_h + (r * h) U_h + b_h)``.

    Args:{rnn_args}
        recurrent_activation: for the gates (default ``"sigmoid"``).
        reset_after: apply the reset gate after the recurrent matmul (two biases).

    Shapes:
        kernel ``(F, 3U)``, recurrent_kernel ``(U, 3U)`` (gates z, r, h); bias ``(2, 3U)``
        (input bias, recurrent bias) with ``reset_after``, else ``(3U,)``; state ``[h]``.

    Example::

        gru = GRU(8, return_sequences=True)
        gru(np.zeros((2, 5, 3), "float32")).shape   # (2, 5, 8)
    """

    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 return_sequences=False, return_state=False, go_backwards=False,
                 reset_after=True, **kwargs):
        super().__init__(**_shared_args(locals()))
        self.reset_after = bool(reset_after)
        self._build_if_declared()

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_projection(self, x):
        if not (self.use_bias and self.reset_after):
            return super()._input_projection(x)
        b, t, f = x.shape
        xw = ops.reshape(ops.matmul(ops.reshape(x, (b * t, f)), self.kernel),
                         (b, t, 3 * self.units))
        return xw + self.bias[0]

    def _step(self, xw_t, states):
        u = self.units
        ra = self.recurrent_activation
        h = None if states is None else states[0]
        if self.reset_after:
            if h is None:
                rec = self.bias[1] if self.use_bias else None
            else:
                rec = ops.matmul(h, self.recurrent_kernel)
                if self.use_bias:
                    rec = rec + self.bias[1]
            if rec is None:
                z = ra(xw_t[:, :u])
                r = ra(xw_t[:, u:2 * u])
                cand = self.activation(xw_t[:, 2 * u:])
            else:
                z = ra(xw_t[:, :u] + rec[..., :u])
                r = ra(xw_t[:, u:2 * u] + rec[..., u:2 * u])
                cand = self.activation(xw_t[:, 2 * u:] + r * rec[..., 2 * u:])
        else:
            if h is None:
                z = ra(xw_t[:, :u])
                cand = self.activation(xw_t[:, 2 * u:])
            else:
                zr = xw_t[:, :2 * u] + ops.matmul(h, self.recurrent_kernel[:, :2 * u])
                z = ra(zr[:, :u])
                r = ra(zr[:, u:])
                cand = self.activation(
                    xw_t[:, 2 * u:] + ops.matmul(r * h, self.recurrent_kernel[:, 2 * u:]))
        new = (1.0 - z) * cand if h is None else z * h + (1.0 - z) * cand
        return new, [new]

    def get_config(self):
        cfg = super().get_config()
        cfg.update(reset_after=self.reset_after)
        return cfg
