"""One function per ONNX op, written with gradkit ops: the table :func:`gradkit.onnx.load` runs.

An op function is ``fn(node, inputs, attrs) -> output`` (or a list of outputs):
``node`` is a :class:`NodeContext` (name, op type, opset, for messages),
``inputs`` the values of the node's inputs (a ``Tensor`` for data, a NumPy
array for constants, ``None`` for an omitted optional input) and ``attrs`` the
node's attributes as Python values. Because every data path goes through
gradkit ops, gradients reach the weights: a loaded model trains.

Adding an op is one decorated function::

    @op("Softsign")
    def _softsign(node, x, attrs):
        return x[0] / (1.0 + ops.abs(x[0]))

Layout is ONNX's (NCHW images, ``(out, in, kh, kw)`` kernels): gradkit's ops
take channels-first data, so nothing is transposed.
"""

from __future__ import annotations

import math

import numpy as np

from gradkit import ops
from gradkit.tensor import Tensor

__all__ = ["OPS", "NodeContext", "OnnxImportError", "op"]

OPS: dict = {}
"""ONNX op type -> function."""


class OnnxImportError(ValueError):
    """An ONNX graph gradkit can't run (an op or attribute it lacks); the message names it."""


class NodeContext:
    """What an op function knows about its node: ``name``, ``op_type``, ``opset``."""

    def __init__(self, name, op_type, opset, n_outputs):
        self.name, self.op_type, self.opset, self.n_outputs = name, op_type, opset, n_outputs

    def unsupported(self, what):
        return OnnxImportError(f"ONNX node '{self.name}' ({self.op_type}): {what} is not "
                               "supported by gradkit")


def op(*names):
    """Register the decorated function for the ONNX op types ``names``."""
    def register(fn):
        for n in names:
            OPS[n] = fn
        return fn
    return register


def _arr(x):
    """A value's array (constants stay arrays; a Tensor's data, for shapes and masks)."""
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def _ints(x):
    return [int(v) for v in np.asarray(_arr(x)).reshape(-1)]


def _axes(node, inputs, attrs, index=1):
    """Axes given as an attribute (old opsets) or as input ``index`` (newer ones)."""
    if len(inputs) > index and inputs[index] is not None:
        return _ints(inputs[index])
    return attrs.get("axes")


# ------------------------------------------------------------------ elementwise
def _unary(fn):
    return lambda node, x, attrs: fn(x[0])


for _name, _fn in {"Relu": ops.relu, "Sigmoid": ops.sigmoid, "Tanh": ops.tanh, "Exp": ops.exp,
                   "Log": ops.log, "Sqrt": ops.sqrt, "Neg": ops.negative, "Abs": ops.abs,
                   "Erf": ops.erf, "Softplus": ops.softplus}.items():
    op(_name)(_unary(_fn))


@op("Identity", "Dropout")
def _identity(node, x, attrs):
    if node.n_outputs > 1:
        raise node.unsupported("the dropout mask output")
    return x[0]


@op("Reciprocal")
def _reciprocal(node, x, attrs):
    return ops.divide(1.0, x[0])


@op("LeakyRelu")
def _leaky_relu(node, x, attrs):
    return ops.leaky_relu(x[0], attrs.get("alpha", 0.01))


@op("Elu")
def _elu(node, x, attrs):
    return ops.elu(x[0], attrs.get("alpha", 1.0))


@op("Selu")
def _selu(node, x, attrs):
    alpha = attrs.get("alpha", 1.67326319217681884765625)
    return ops.elu(x[0], alpha) * attrs.get("gamma", 1.05070102214813232421875)


@op("HardSigmoid")
def _hard_sigmoid(node, x, attrs):
    return ops.clip(x[0] * attrs.get("alpha", 0.2) + attrs.get("beta", 0.5), 0.0, 1.0)


@op("Gelu")
def _gelu(node, x, attrs):
    return ops.gelu(x[0], approximate=attrs.get("approximate", "none") == "tanh")


@op("Clip")
def _clip(node, x, attrs):
    lo = x[1] if len(x) > 1 and x[1] is not None else attrs.get("min")
    hi = x[2] if len(x) > 2 and x[2] is not None else attrs.get("max")
    return ops.clip(x[0], None if lo is None else float(_arr(lo)),
                    None if hi is None else float(_arr(hi)))


_BINARY = {"Add": ops.add, "Sub": ops.subtract, "Mul": ops.multiply, "Div": ops.divide,
           "Pow": ops.power}


@op(*_BINARY)
def _binary(node, x, attrs):
    a, b = x
    if node.op_type == "Div" and _arr(a).dtype.kind in "iu" and _arr(b).dtype.kind in "iu":
        return np.floor_divide(_arr(a), _arr(b))  # integer division (shape arithmetic)
    return _BINARY[node.op_type](a, b)


@op("Sum", "Mean", "Max", "Min")
def _variadic(node, x, attrs):
    fn = {"Sum": ops.add, "Mean": ops.add, "Max": ops.maximum, "Min": ops.minimum}
    y = x[0]
    for v in x[1:]:
        y = fn[node.op_type](y, v)
    return y * (1.0 / len(x)) if node.op_type == "Mean" else y


@op("Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Not")
def _compare(node, x, attrs):  # masks carry no gradient: plain arrays
    fn = {"Equal": np.equal, "Greater": np.greater, "Less": np.less,
          "GreaterOrEqual": np.greater_equal, "LessOrEqual": np.less_equal}
    if node.op_type == "Not":
        return np.logical_not(_arr(x[0]))
    return fn[node.op_type](_arr(x[0]), _arr(x[1]))


@op("Where")
def _where(node, x, attrs):
    return ops.where(_arr(x[0]), x[1], x[2])


@op("Cast")
def _cast(node, x, attrs):
    from gradkit.utils.optional import require

    onnx = require("onnx", "onnx", "ONNX import")
    dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(attrs["to"]))
    if not isinstance(x[0], Tensor):
        return np.asarray(x[0]).astype(dtype)
    return ops.cast(x[0], dtype)


# ------------------------------------------------------------------ softmax
def _softmax_like(fn):
    def run(node, x, attrs):
        v = x[0]
        if node.opset >= 13:
            return fn(v, attrs.get("axis", -1))
        axis = attrs.get("axis", 1) % v.ndim  # before opset 13: over all axes from `axis` on
        shape = tuple(v.shape)
        flat = ops.reshape(v, (math.prod(shape[:axis]), -1))
        return ops.reshape(fn(flat, -1), shape)
    return run


op("Softmax")(_softmax_like(ops.softmax))
op("LogSoftmax")(_softmax_like(ops.log_softmax))


# ------------------------------------------------------------------ linear algebra
@op("MatMul")
def _matmul(node, x, attrs):
    return ops.matmul(x[0], x[1])


@op("Gemm")
def _gemm(node, x, attrs):
    a, b = x[0], x[1]
    if attrs.get("transA", 0):
        a = ops.transpose(a)
    if attrs.get("transB", 0):
        b = ops.transpose(b)
    y = ops.matmul(a, b)
    if attrs.get("alpha", 1.0) != 1.0:
        y = y * attrs["alpha"]
    if len(x) > 2 and x[2] is not None:
        c = x[2] if attrs.get("beta", 1.0) == 1.0 else x[2] * attrs["beta"]
        y = y + c
    return y


# ------------------------------------------------------------------ convolution and pooling
def _pads(node, attrs, spatial, kernel, strides, dilations):
    """``[(begin, end)]`` per spatial axis, from ``pads`` or ``auto_pad``."""
    auto = attrs.get("auto_pad", "NOTSET")
    if isinstance(auto, bytes):
        auto = auto.decode()
    n = len(spatial)
    if auto in ("NOTSET", "VALID"):
        pads = attrs.get("pads", [0] * 2 * n) if auto == "NOTSET" else [0] * 2 * n
        return [(pads[i], pads[i + n]) for i in range(n)]
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        raise node.unsupported(f"auto_pad={auto!r}")
    out = []
    for size, k, s, d in zip(spatial, kernel, strides, dilations):
        eff = (k - 1) * d + 1
        total = max((-(-size // s) - 1) * s + eff - size, 0)
        small = total // 2
        out.append((small, total - small) if auto == "SAME_UPPER" else (total - small, small))
    return out


def _window_args(node, x, attrs, kernel):
    n = len(kernel)
    if n not in (1, 2):
        raise node.unsupported(f"a {n}-D window (gradkit has 1-D and 2-D)")
    strides = attrs.get("strides", [1] * n)
    dilations = attrs.get("dilations", [1] * n)
    pads = _pads(node, attrs, tuple(x.shape[2:]), kernel, strides, dilations)
    return list(strides), list(dilations), pads


def _as_2d(x, kernel, strides, dilations, pads):
    """1-D windows as 2-D ones over a height-1 image."""
    if len(kernel) == 2:
        return x, kernel, strides, dilations, pads
    return (ops.expand_dims(x, 2), [1] + list(kernel), [1] + strides, [1] + dilations,
            [(0, 0)] + pads)


def _pad_then(x, pads, value, limit):
    """Symmetric pads within ``limit`` stay op arguments; others are applied first."""
    if all(b == e and b <= lim for (b, e), lim in zip(pads, limit)):
        return x, tuple(b for b, _ in pads)
    x = ops.pad(x, [(0, 0), (0, 0), *pads], constant_values=value)
    return x, (0, 0)


@op("Conv")
def _conv(node, x, attrs):
    data, w = x[0], x[1]
    bias = x[2] if len(x) > 2 else None
    if attrs.get("group", 1) != 1:
        raise node.unsupported(f"group={attrs['group']} (grouped/depthwise convolution)")
    kernel = list(attrs.get("kernel_shape", w.shape[2:]))
    strides, dilations, pads = _window_args(node, data, attrs, kernel)
    one_d = len(kernel) == 1
    data, kernel, strides, dilations, pads = _as_2d(data, kernel, strides, dilations, pads)
    if one_d:
        w = ops.expand_dims(w, 2)
    data, padding = _pad_then(data, pads, 0.0, [10 ** 9, 10 ** 9])
    y = ops.conv2d(data, w, bias, strides=tuple(strides), padding=padding,
                   data_format="channels_first", dilation=tuple(dilations))
    return ops.squeeze(y, 2) if one_d else y


def _ceil_pads(spatial, kernel, strides, pads):
    """Extra end padding that makes floor-mode pooling give ceil-mode's output."""
    out = []
    for n, k, s, (b, e) in zip(spatial, kernel, strides, pads):
        span = n + b + e - k
        want = -(-span // s) + 1
        if (want - 1) * s >= n + b:  # the last window must start inside the input
            want -= 1
        out.append((b, e + max((want - 1) * s + k - (n + b + e), 0)))
    return out


@op("MaxPool", "AveragePool")
def _pool(node, x, attrs):
    if node.n_outputs > 1:
        raise node.unsupported("the indices output")
    data = x[0]
    kernel = list(attrs["kernel_shape"])
    strides, dilations, pads = _window_args(node, data, attrs, kernel)
    if any(d != 1 for d in dilations):
        raise node.unsupported(f"dilations={dilations}")
    is_max = node.op_type == "MaxPool"
    if attrs.get("ceil_mode", 0):
        if not is_max:
            raise node.unsupported("ceil_mode=1 with AveragePool")
        pads = _ceil_pads(tuple(data.shape[2:]), kernel, strides, pads)
    one_d = len(kernel) == 1
    data, kernel, strides, _, pads = _as_2d(data, kernel, strides, [1] * len(kernel), pads)
    half = [k // 2 for k in kernel]
    if is_max:
        data, padding = _pad_then(data, pads, -np.inf, half)
        y = ops.max_pool2d(data, tuple(kernel), tuple(strides), padding, "channels_first")
    else:
        if attrs.get("count_include_pad", 0):  # padding counts: pad with zeros first
            data, padding = _pad_then(data, pads, 0.0, [-1, -1])
        elif all(b == e and b <= h for (b, e), h in zip(pads, half)):
            padding = tuple(b for b, _ in pads)
        else:
            raise node.unsupported(f"asymmetric pads {pads} with count_include_pad=0")
        y = ops.avg_pool2d(data, tuple(kernel), tuple(strides), padding, "channels_first")
    return ops.squeeze(y, 2) if one_d else y


@op("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(node, x, attrs):
    axes = tuple(range(2, x[0].ndim))
    fn = ops.mean if node.op_type == "GlobalAveragePool" else ops.max
    return fn(x[0], axis=axes, keepdims=True)


# ------------------------------------------------------------------ normalization
@op("BatchNormalization")
def _batch_norm(node, x, attrs):
    if attrs.get("training_mode", 0) or node.n_outputs > 1:
        raise node.unsupported("training_mode=1")
    data, scale, bias, mean, var = x[:5]
    return ops.batch_norm(data, mean, var, scale, bias, training=False,
                          epsilon=attrs.get("epsilon", 1e-5), axis=1)


@op("LayerNormalization")
def _layer_norm(node, x, attrs):
    if node.n_outputs > 1:
        raise node.unsupported("the mean/inv_std_dev outputs")
    data = x[0]
    axis = attrs.get("axis", -1) % data.ndim
    return ops.layer_norm(data, x[1], x[2] if len(x) > 2 else None,
                          tuple(range(axis, data.ndim)), attrs.get("epsilon", 1e-5))


# ------------------------------------------------------------------ shapes
@op("Flatten")
def _flatten(node, x, attrs):
    v = x[0]
    axis = attrs.get("axis", 1) % (v.ndim + 1) if v.ndim else 0
    shape = tuple(v.shape)
    return ops.reshape(v, (math.prod(shape[:axis]), math.prod(shape[axis:])))


@op("Reshape")
def _reshape(node, x, attrs):
    v, target = x[0], _ints(x[1])
    if not attrs.get("allowzero", 0):  # 0 copies the input's size on that axis
        target = [v.shape[i] if d == 0 else d for i, d in enumerate(target)]
    if not isinstance(v, Tensor):
        return np.reshape(v, target)
    return ops.reshape(v, tuple(target))


@op("Transpose")
def _transpose(node, x, attrs):
    perm = attrs.get("perm")
    v = x[0]
    if not isinstance(v, Tensor):
        return np.transpose(v, perm)
    return ops.transpose(v, None if perm is None else tuple(perm))


@op("Concat")
def _concat(node, x, attrs):
    parts = [v for v in x if v is not None]
    if not any(isinstance(v, Tensor) for v in parts):
        return np.concatenate([np.asarray(v) for v in parts], axis=attrs["axis"])
    return ops.concatenate(parts, axis=attrs["axis"])


@op("Squeeze")
def _squeeze(node, x, attrs):
    v, axes = x[0], _axes(node, x, attrs)
    axes = tuple(a % v.ndim for a in axes) if axes is not None else \
        tuple(i for i, d in enumerate(v.shape) if d == 1)
    if not isinstance(v, Tensor):
        return np.squeeze(v, axes)
    return ops.reshape(v, tuple(d for i, d in enumerate(v.shape) if i not in axes))


@op("Unsqueeze")
def _unsqueeze(node, x, attrs):
    v, axes = x[0], _axes(node, x, attrs)
    rank = v.ndim + len(axes)
    shape = list(v.shape)
    for a in sorted(a % rank for a in axes):
        shape.insert(a, 1)
    if not isinstance(v, Tensor):
        return np.reshape(v, shape)
    return ops.reshape(v, tuple(shape))


@op("Shape")
def _shape(node, x, attrs):
    shape = tuple(x[0].shape)
    start, end = attrs.get("start", 0), attrs.get("end", len(shape))
    return np.asarray(shape[start:end], dtype=np.int64)


@op("Gather")
def _gather(node, x, attrs):
    data, idx = x[0], np.asarray(_arr(x[1]))
    axis = attrs.get("axis", 0) % data.ndim
    idx = np.where(idx < 0, idx + data.shape[axis], idx)
    if not isinstance(data, Tensor):
        return np.take(data, idx, axis=axis)
    return ops.getitem(data, (slice(None),) * axis + (idx,))


@op("Slice")
def _slice(node, x, attrs):
    v = x[0]
    if node.opset < 10:
        starts, ends, axes, steps = attrs["starts"], attrs["ends"], attrs.get("axes"), None
    else:
        starts, ends = _ints(x[1]), _ints(x[2])
        axes = _ints(x[3]) if len(x) > 3 and x[3] is not None else None
        steps = _ints(x[4]) if len(x) > 4 and x[4] is not None else None
    axes = axes if axes is not None else list(range(len(starts)))
    steps = steps or [1] * len(starts)
    index = [slice(None)] * v.ndim
    for a, s, e, st in zip(axes, starts, ends, steps):
        index[a % v.ndim] = slice(s, e, st)
    if not isinstance(v, Tensor):
        return np.asarray(v)[tuple(index)]
    return ops.getitem(v, tuple(index))


@op("Constant")
def _constant(node, x, attrs):
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in attrs:
            value = attrs[key]
            if key.startswith("value_float"):
                return np.asarray(value, dtype=np.float32)
            if key.startswith("value_int"):
                return np.asarray(value, dtype=np.int64)
            return value
    raise node.unsupported(f"attributes {sorted(attrs)}")


@op("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin")
def _reduce(node, x, attrs):
    fn = {"ReduceMean": ops.mean, "ReduceSum": ops.sum, "ReduceMax": ops.max,
          "ReduceMin": ops.min}[node.op_type]
    axes = _axes(node, x, attrs)
    if not axes:
        if attrs.get("noop_with_empty_axes", 0):
            return x[0]
        axes = None
    return fn(x[0], axis=None if axes is None else tuple(axes),
              keepdims=bool(attrs.get("keepdims", 1)))


# ------------------------------------------------------------------ recurrent
_RNN_FUNCS = {"Sigmoid": ops.sigmoid, "Tanh": ops.tanh, "Relu": ops.relu}
_RNN_DEFAULTS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}
_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _rnn_step(kind, xw_t, h, c, r, rb, acts, hid, linear_before_reset):
    """One time step of ONNX's RNN/GRU/LSTM for one direction (ONNX gate orders)."""
    rec = None if h is None else ops.matmul(h, r)
    if kind == "RNN":
        z = xw_t + rb if rec is None else xw_t + rec + rb
        return acts[0](z), None
    if kind == "LSTM":  # gates i, o, f, c
        z = xw_t + rb if rec is None else xw_t + rec + rb
        f, g, hh = acts
        i, o = f(z[:, :hid]), f(z[:, hid:2 * hid])
        cand = g(z[:, 3 * hid:])
        c_new = i * cand if c is None else f(z[:, 2 * hid:3 * hid]) * c + i * cand
        return o * hh(c_new), c_new
    f, g = acts  # GRU: gates z, r, h
    zr = xw_t[:, :2 * hid] + rb[:2 * hid] if rec is None else \
        xw_t[:, :2 * hid] + rec[:, :2 * hid] + rb[:2 * hid]
    zg, rg = f(zr[:, :hid]), f(zr[:, hid:])
    if h is None:
        cand = g(xw_t[:, 2 * hid:] + rg * rb[2 * hid:] if linear_before_reset
                 else xw_t[:, 2 * hid:] + rb[2 * hid:])
        return (1.0 - zg) * cand, None
    if linear_before_reset:
        cand = g(xw_t[:, 2 * hid:] + rg * (rec[:, 2 * hid:] + rb[2 * hid:]))
    else:
        cand = g(xw_t[:, 2 * hid:] + ops.matmul(rg * h, r[:, 2 * hid:]) + rb[2 * hid:])
    return (1.0 - zg) * cand + zg * h, None


@op("RNN", "GRU", "LSTM")
def _recurrent(node, x, attrs):
    kind = node.op_type
    x = list(x) + [None] * (8 - len(x))
    data, w, r, b, seq_lens, h0, c0, peep = x[:8]
    if seq_lens is not None:
        raise node.unsupported("sequence_lens")
    if peep is not None:
        raise node.unsupported("peephole weights P")
    for key in ("clip", "input_forget"):
        if attrs.get(key):
            raise node.unsupported(f"{key}={attrs[key]}")
    hid, gates = attrs["hidden_size"], _GATES[kind]
    direction = attrs.get("direction", "forward")
    dirs = 2 if direction == "bidirectional" else 1
    names = attrs.get("activations") or _RNN_DEFAULTS[kind] * dirs
    if any(n not in _RNN_FUNCS for n in names):
        raise node.unsupported(f"activations {names}")
    per = len(names) // dirs
    layout = attrs.get("layout", 0)
    if layout:
        data = ops.transpose(data, (1, 0, 2))  # (B, T, I) -> (T, B, I)
        h0 = None if h0 is None else ops.transpose(h0, (1, 0, 2))
        c0 = None if c0 is None else ops.transpose(c0, (1, 0, 2))
    steps = data.shape[0]
    ys, hs, cs = [], [], []
    for d in range(dirs):
        acts = [_RNN_FUNCS[n] for n in names[d * per:(d + 1) * per]]
        wd, rd = ops.transpose(w[d]), ops.transpose(r[d])
        xw = ops.matmul(data, wd)  # (T, B, gates * H)
        rb = 0.0
        if b is not None:
            xw = xw + b[d][:gates * hid]
            rb = b[d][gates * hid:]
        elif kind == "GRU":
            rb = np.zeros(gates * hid, np.float32)
        h = None if h0 is None else h0[d]
        c = None if c0 is None else c0[d]
        outs = [None] * steps
        order = range(steps - 1, -1, -1) if direction == "reverse" or d == 1 else range(steps)
        for t in order:
            h, c_new = _rnn_step(kind, xw[t], h, c, rd, rb, acts, hid,
                                 attrs.get("linear_before_reset", 0))
            c = c_new if kind == "LSTM" else c
            outs[t] = h
        ys.append(ops.stack(outs, axis=0))
        hs.append(h)
        cs.append(c)
    y = ops.stack(ys, axis=1)  # (T, D, B, H)
    y_h = ops.stack(hs, axis=0)
    y_c = ops.stack(cs, axis=0) if kind == "LSTM" else None
    if layout:
        y = ops.transpose(y, (2, 0, 1, 3))
        y_h = ops.transpose(y_h, (1, 0, 2))
        y_c = None if y_c is None else ops.transpose(y_c, (1, 0, 2))
    return [y, y_h] + ([y_c] if kind == "LSTM" else [])


@op("ConstantOfShape")
def _constant_of_shape(node, x, attrs):
    value = np.asarray(attrs.get("value", np.zeros(1, np.float32))).reshape(-1)
    return np.full(_ints(x[0]), value[0], dtype=value.dtype)


@op("Expand")
def _expand(node, x, attrs):
    v, shape = x[0], _ints(x[1])
    target = np.broadcast_shapes(tuple(v.shape), tuple(shape))
    if not isinstance(v, Tensor):
        return np.broadcast_to(v, target).copy()
    return ops.broadcast_to(v, target)
