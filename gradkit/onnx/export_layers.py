"""One ONNX converter per gradkit layer class: the table :func:`gradkit.onnx.export` reads.

A converter is ``fn(g, layer, inputs, shapes) -> output name``: ``g`` is the
:class:`~gradkit.onnx.graph_builder.GraphBuilder`, ``inputs`` the ONNX names of
the layer's inputs (one per tensor, a list for merge layers), ``shapes`` their
concrete shapes in the traced call (batch axis included; only the batch axis
is dynamic in the exported graph). Adding a layer is one decorated function::

    @converts(Scale)
    def _scale(g, layer, inputs, shapes):
        return g.op("Mul", [inputs[0], g.weight(layer.s)], name=layer.name)

gradkit keeps images channels-last (NHWC); ONNX's Conv and pooling are NCHW, so
those converters transpose in and out (runtimes cancel the back-to-back pairs).
"""

from __future__ import annotations

import math

import numpy as np

from gradkit import activations
from gradkit.layers import activation as act_layers
from gradkit.layers import core, merge, normalization, pooling, recurrent
from gradkit.layers.conv import Conv1D, Conv2D, conv_output_length

__all__ = ["CONVERTERS", "converter_for", "converts", "emit_activation"]

CONVERTERS: dict = {}
"""Layer class -> converter. A subclass uses its parent's converter only when it
keeps the parent's ``call`` (a changed ``call`` computes something else)."""


def converts(*classes):
    """Register the decorated function as the converter of ``classes``."""
    def register(fn):
        for cls in classes:
            CONVERTERS[cls] = fn
        return fn
    return register


def converter_for(layer):
    """The converter of ``layer``'s class (or of the nearest parent with the same ``call``)."""
    for cls in type(layer).__mro__:
        fn = CONVERTERS.get(cls)
        if fn is not None:
            return fn if type(layer).call is cls.call else None
    return None


class ExportError(ValueError):
    """A model (or one of its layers) that can't be written as ONNX; the message says why."""


def _who(layer):
    return f"{type(layer).__name__} '{layer.name}'"


# ------------------------------------------------------------------ activations
def _gelu(g, x, name, approximate=False):
    if approximate:  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.op("Mul", [g.op("Mul", [x, x]), x])
        inner = g.op("Add", [x, g.op("Mul", [cube, g.const(0.044715)])])
        t = g.op("Tanh", [g.op("Mul", [inner, g.const(math.sqrt(2.0 / math.pi))])])
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        t = g.op("Erf", [g.op("Mul", [x, g.const(1.0 / math.sqrt(2.0))])])
    half_x = g.op("Mul", [x, g.const(0.5)])
    return g.op("Mul", [half_x, g.op("Add", [t, g.const(1.0)])], name=name)


def _simple(op_type, **attrs):
    return lambda g, x, name: g.op(op_type, [x], name=name, **attrs)


ACTIVATIONS = {
    "relu": _simple("Relu"),
    "sigmoid": _simple("Sigmoid"),
    "tanh": _simple("Tanh"),
    "softmax": _simple("Softmax", axis=-1),
    "log_softmax": _simple("LogSoftmax", axis=-1),
    "elu": _simple("Elu", alpha=1.0),
    "selu": _simple("Selu", alpha=activations.SELU_ALPHA, gamma=activations.SELU_SCALE),
    "softplus": _simple("Softplus"),
    "leaky_relu": _simple("LeakyRelu", alpha=0.2),
    "hard_sigmoid": _simple("HardSigmoid", alpha=1.0 / 6.0, beta=0.5),
    "exponential": _simple("Exp"),
    "gelu": lambda g, x, name: _gelu(g, x, name),
    "swish": lambda g, x, name: g.op("Mul", [x, g.op("Sigmoid", [x])], name=name),
    "linear": lambda g, x, name: g.op("Identity", [x], name=name),
}
"""Activation name (as :func:`gradkit.activations.serialize` gives it) -> emitter."""


def emit_activation(g, fn, x, name, owner):
    """The nodes computing activation ``fn`` on ``x``; raises naming ``owner`` if unknown."""
    try:
        key = activations.serialize(fn)
    except (TypeError, ValueError):
        key = None
    emit = ACTIVATIONS.get(key) if isinstance(key, str) else None
    if emit is None:
        raise ExportError(f"{owner}: activation {getattr(fn, '__name__', fn)!r} has no ONNX "
                          f"form; exportable: {', '.join(sorted(ACTIVATIONS))}")
    return emit(g, x, name)


def _activate(g, layer, y):
    """Apply ``layer.activation`` (if any) to ``y``; the last node is named after the layer."""
    if layer.activation is activations.linear:
        return g.op("Identity", [y], name=layer.name)
    return emit_activation(g, layer.activation, y, layer.name, _who(layer))


# ------------------------------------------------------------------ core
@converts(core.Dense, core.Linear)
def _dense(g, layer, inputs, shapes):
    y = g.op("MatMul", [inputs[0], g.weight(layer.kernel)], name=f"{layer.name}/matmul")
    if layer.use_bias:
        y = g.op("Add", [y, g.weight(layer.bias)], name=f"{layer.name}/bias")
    return _activate(g, layer, y)


def _torch_linear(g, layer, inputs, shapes):
    """``gradkit.nn.Linear``: ``x @ weight.T + bias``, the weight stored transposed."""
    w = layer.weight
    y = g.op("MatMul", [inputs[0], g.weight(w, w.numpy().T.copy(), ":transposed")],
             name=f"{layer.name}/matmul" if layer.bias is not None else layer.name)
    if layer.bias is not None:
        y = g.op("Add", [y, g.weight(layer.bias)], name=layer.name)
    return y


def _register_nn():
    """Converters for the PyTorch-style modules (gradkit.nn) that have a Keras twin."""
    from gradkit.nn.linear import Linear

    converts(Linear)(_torch_linear)


@converts(core.Activation)
def _activation(g, layer, inputs, shapes):
    return _activate(g, layer, inputs[0])


@converts(core.Dropout, core.Identity)
def _identity(g, layer, inputs, shapes):
    return g.op("Identity", [inputs[0]], name=layer.name)


@converts(core.Flatten)
def _flatten(g, layer, inputs, shapes):
    return g.op("Flatten", [inputs[0]], name=layer.name, axis=1)


@converts(core.Reshape)
def _reshape(g, layer, inputs, shapes):
    target = layer._resolve(math.prod(shapes[0][1:]))
    return g.op("Reshape", [inputs[0], g.ints([-1, *target], f"{layer.name}/shape")],
                name=layer.name)


@converts(core.Embedding)
def _embedding(g, layer, inputs, shapes):
    ids = inputs[0]
    if g.input_dtypes.get(ids, np.dtype("int64")).kind != "i":
        ids = g.op("Cast", [ids], name=f"{layer.name}/ids", to=g.onnx.TensorProto.INT64)
    return g.op("Gather", [g.weight(layer.embeddings), ids], name=layer.name, axis=0)


# ------------------------------------------------------------------ activation layers
@converts(act_layers.ReLU)
def _relu(g, layer, inputs, shapes):
    x, slope, thr, cap = inputs[0], layer.negative_slope, layer.threshold, layer.max_value
    if slope == 0 and thr == 0:
        y = g.op("Relu", [x], name=layer.name if cap is None else f"{layer.name}/relu")
    else:  # x >= threshold ? x : slope * (x - threshold)
        low = g.op("Mul", [g.op("Sub", [x, g.const(thr)]), g.const(slope)])
        keep = g.op("GreaterOrEqual", [x, g.const(thr)])
        y = g.op("Where", [keep, x, low], name=layer.name if cap is None else None)
    if cap is not None:
        y = g.op("Min", [y, g.const(cap)], name=layer.name)
    return y


@converts(act_layers.LeakyReLU)
def _leaky(g, layer, inputs, shapes):
    return g.op("LeakyRelu", inputs[:1], name=layer.name, alpha=layer.negative_slope)


@converts(act_layers.ELU)
def _elu(g, layer, inputs, shapes):
    return g.op("Elu", inputs[:1], name=layer.name, alpha=layer.alpha)


@converts(act_layers.GELU)
def _gelu_layer(g, layer, inputs, shapes):
    return _gelu(g, inputs[0], layer.name, layer.approximate)


@converts(act_layers.Sigmoid, act_layers.Tanh)
def _sig_tanh(g, layer, inputs, shapes):
    return g.op(type(layer).__name__, inputs[:1], name=layer.name)


@converts(act_layers.Softmax)
def _softmax(g, layer, inputs, shapes):
    return g.op("Softmax", inputs[:1], name=layer.name, axis=layer.axis)


# ------------------------------------------------------------------ convolution and pooling
def _pads(spatial, window, strides, dilation, padding):
    """ONNX ``pads`` (all begins, then all ends) for Keras's padding modes."""
    begin, end = [], []
    for n, k, s, d in zip(spatial, window, strides, dilation):
        eff = (k - 1) * d + 1
        if padding == "valid":
            total, front = 0, 0
        elif padding == "causal":
            total, front = eff - 1, eff - 1
        else:  # same: the odd extra row/column at the end, as Keras
            out = conv_output_length(n, k, "same", s, d)
            total = max((out - 1) * s + eff - n, 0)
            front = total // 2
        begin.append(front)
        end.append(total - front)
    return begin + end


def _to_channels_first(g, layer, x, rank):
    if layer.data_format == "channels_first":
        return x
    return g.op("Transpose", [x], name=f"{layer.name}/to_nchw", perm=[0, rank + 1,
                                                                      *range(1, rank + 1)])


def _to_channels_last(g, layer, y, rank, name):
    if layer.data_format == "channels_first":
        return g.op("Identity", [y], name=name)
    return g.op("Transpose", [y], name=name, perm=[0, *range(2, rank + 2), 1])


def _spatial(layer, shape, rank):
    return shape[2:] if layer.data_format == "channels_first" else shape[1:rank + 1]


@converts(Conv2D, Conv1D)
def _conv(g, layer, inputs, shapes):
    rank = layer.rank
    x = _to_channels_first(g, layer, inputs[0], rank)
    k = layer.kernel.numpy()  # (kh, kw, in, out) or (k, in, out)
    w = k.transpose(3, 2, 0, 1) if rank == 2 else k.transpose(2, 1, 0)
    ins = [x, g.weight(layer.kernel, w, ":oihw")]
    if layer.use_bias:
        ins.append(g.weight(layer.bias))
    pads = _pads(_spatial(layer, shapes[0], rank), layer.kernel_size, layer.strides,
                 layer.dilation_rate, layer.padding)
    y = g.op("Conv", ins, name=f"{layer.name}/conv", kernel_shape=list(layer.kernel_size),
             strides=list(layer.strides), dilations=list(layer.dilation_rate), pads=pads)
    linear = layer.activation is activations.linear
    y = _to_channels_last(g, layer, y, rank, layer.name if linear else f"{layer.name}/nhwc")
    return y if linear else emit_activation(g, layer.activation, y, layer.name, _who(layer))


@converts(pooling.MaxPooling2D, pooling.AveragePooling2D)
def _pool(g, layer, inputs, shapes):
    x = _to_channels_first(g, layer, inputs[0], 2)
    pads = _pads(_spatial(layer, shapes[0], 2), layer.pool_size, layer.strides, (1, 1),
                 layer.padding)
    attrs = dict(kernel_shape=list(layer.pool_size), strides=list(layer.strides), pads=pads)
    if isinstance(layer, pooling.MaxPooling2D):
        y = g.op("MaxPool", [x], name=f"{layer.name}/pool", **attrs)
    else:  # padding is left out of each window's count, as Keras
        y = g.op("AveragePool", [x], name=f"{layer.name}/pool", count_include_pad=0, **attrs)
    return _to_channels_last(g, layer, y, 2, layer.name)


@converts(pooling.GlobalAveragePooling2D, pooling.GlobalMaxPooling2D,
          pooling.GlobalAveragePooling1D, pooling.GlobalMaxPooling1D)
def _global_pool(g, layer, inputs, shapes):
    mean = isinstance(layer, (pooling.GlobalAveragePooling2D, pooling.GlobalAveragePooling1D))
    op = "ReduceMean" if mean else "ReduceMax"  # a masked 1-D input is refused upstream
    return g.op(op, inputs[:1], name=layer.name, axes=list(layer._axes),
                keepdims=int(layer.keepdims))


# ------------------------------------------------------------------ normalization
def _norm_params(g, layer, shape):
    gamma = g.weight(layer.gamma) if layer.gamma is not None else \
        g.const(np.ones(shape), f"{layer.name}/ones")
    beta = g.weight(layer.beta) if layer.beta is not None else \
        g.const(np.zeros(shape), f"{layer.name}/zeros")
    return gamma, beta


@converts(normalization.BatchNormalization)
def _batch_norm(g, layer, inputs, shapes):
    if len(layer._axes) != 1:
        raise ExportError(f"{_who(layer)}: ONNX BatchNormalization has one feature axis, the "
                          f"layer normalizes over axes {list(layer._axes)}")
    axis, ndim = layer._axes[0], len(shapes[0])
    gamma, beta = _norm_params(g, layer, layer._param_shape)
    ins = [gamma, beta, g.weight(layer.moving_mean), g.weight(layer.moving_variance)]
    if axis == 1:
        return g.op("BatchNormalization", [inputs[0], *ins], name=layer.name,
                    epsilon=layer.epsilon)
    perm = [0, axis] + [a for a in range(1, ndim) if a != axis]  # features to axis 1
    x = g.op("Transpose", inputs[:1], name=f"{layer.name}/features_first", perm=perm)
    y = g.op("BatchNormalization", [x, *ins], name=f"{layer.name}/bn", epsilon=layer.epsilon)
    return g.op("Transpose", [y], name=layer.name, perm=list(np.argsort(perm)))


@converts(normalization.LayerNormalization)
def _layer_norm(g, layer, inputs, shapes):
    axes, ndim = sorted(layer._axes), len(shapes[0])
    if axes != list(range(axes[0], ndim)):
        raise ExportError(f"{_who(layer)}: ONNX LayerNormalization normalizes trailing axes, "
                          f"the layer normalizes axes {axes} of a rank-{ndim} input")
    gamma, beta = _norm_params(g, layer, layer._param_shape)
    return g.op("LayerNormalization", [inputs[0], gamma, beta], name=layer.name,
                axis=axes[0], epsilon=layer.epsilon)


# ------------------------------------------------------------------ merge
@converts(merge.Add, merge.Multiply)
def _fold(g, layer, inputs, shapes):
    op = "Add" if isinstance(layer, merge.Add) else "Mul"
    y = inputs[0]
    for i, x in enumerate(inputs[1:], 2):
        y = g.op(op, [y, x], name=layer.name if i == len(inputs) else None)
    return y


@converts(merge.Subtract)
def _subtract(g, layer, inputs, shapes):
    return g.op("Sub", inputs, name=layer.name)


@converts(merge.Maximum, merge.Minimum, merge.Average)
def _variadic(g, layer, inputs, shapes):
    op = {merge.Maximum: "Max", merge.Minimum: "Min", merge.Average: "Mean"}[type(layer)]
    return g.op(op, inputs, name=layer.name)


@converts(merge.Concatenate)
def _concat(g, layer, inputs, shapes):
    return g.op("Concat", inputs, name=layer.name, axis=layer.axis)


# ------------------------------------------------------------------ recurrent
_RNN_ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu"}


def _rnn_activation(layer, fn):
    name = activations.serialize(fn)
    if name not in _RNN_ACTIVATIONS:
        raise ExportError(f"{_who(layer)}: activation {name!r} has no ONNX recurrent form; "
                          f"exportable: {', '.join(_RNN_ACTIVATIONS)}")
    return _RNN_ACTIVATIONS[name]


def _blocks(a, order, u):
    """Reorder ``u``-row gate blocks of ``a`` (axis 0)."""
    return np.concatenate([a[i * u:(i + 1) * u] for i in order], axis=0)


@converts(recurrent.SimpleRNN, recurrent.LSTM, recurrent.GRU)
def _recurrent(g, layer, inputs, shapes):
    if layer.return_state:
        raise ExportError(f"{_who(layer)}: return_state=True is not exportable; export a "
                          "model whose recurrent layers return only their output")
    u, name = layer.units, layer.name
    kernel, rec = layer.kernel.numpy().T, layer.recurrent_kernel.numpy().T  # (gates*U, F)
    zeros = np.zeros(layer.gates * u, layer.dtype)
    bias = layer.bias.numpy() if layer.use_bias else None
    attrs = {"hidden_size": u, "direction": "reverse" if layer.go_backwards else "forward"}
    act = _rnn_activation(layer, layer.activation)
    if isinstance(layer, recurrent.LSTM):
        order = [0, 3, 1, 2]  # Keras i, f, c, o -> ONNX i, o, f, c
        kernel, rec = _blocks(kernel, order, u), _blocks(rec, order, u)
        b = np.concatenate([_blocks(bias, order, u), zeros]) if bias is not None else None
        op, outputs = "LSTM", 3
        attrs["activations"] = [_rnn_activation(layer, layer.recurrent_activation), act, act]
    elif isinstance(layer, recurrent.GRU):  # gates z, r, h in both
        if bias is None:
            b = None
        else:
            b = bias.reshape(-1) if layer.reset_after else np.concatenate([bias, zeros])
        op, outputs = "GRU", 2
        attrs["linear_before_reset"] = int(layer.reset_after)
        attrs["activations"] = [_rnn_activation(layer, layer.recurrent_activation), act]
    else:
        b = np.concatenate([bias, zeros]) if bias is not None else None
        op, outputs = "RNN", 2
        attrs["activations"] = [act]
    ins = [g.op("Transpose", inputs[:1], name=f"{name}/time_major", perm=[1, 0, 2]),
           g.weight(layer.kernel, kernel[None], ":onnx_W"),
           g.weight(layer.recurrent_kernel, rec[None], ":onnx_R")]
    if b is not None:
        ins.append(g.weight(layer.bias, b[None].astype(layer.dtype), ":onnx_B"))
    outs = g.op(op, ins, name=f"{name}/{op.lower()}", outputs=outputs, **attrs)
    if not layer.return_sequences:  # Y_h: (1, B, U)
        return g.op("Squeeze", [outs[1], g.ints([0])], name=name)
    y = g.op("Squeeze", [outs[0], g.ints([1])], name=f"{name}/y")  # (T, B, U)
    if layer.go_backwards:  # Keras lists outputs in processing order (last step first)
        y = g.op("Slice", [y, g.ints([-1]), g.ints([-(2 ** 62)]), g.ints([0]), g.ints([-1])],
                 name=f"{name}/reversed")
    return g.op("Transpose", [y], name=name, perm=[1, 0, 2])


_register_nn()
