"""The op table: one row per gradkit op, as PyTorch's OpInfo.

A row (:class:`OpInfo`) names the op, its NumPy reference, its PyTorch twin and its
samples; ``test_op_table.py`` turns the rows into float64 gradcheck, second-order
gradcheck, value-and-gradient comparisons with PyTorch (float64 and float32), a
Hessian-vector comparison with PyTorch and the NumPy forward reference, and
``tests/robustness/test_properties.py`` draws its elementwise and reduction ops from here.
Adding an op is adding a row.

A sample (:class:`Sample`) is a list of input specs (``(shape, kind[, extra])``, see
:mod:`tests.ops.inputs`: the kind is the domain: ``pos`` for log, ``nz`` for abs...),
keyword arguments passed to all three of op, reference and twin, and the checks it
takes part in. The twins receive torch tensors and the gradkit keyword arguments and
translate them (``axis`` to ``dim``...); references receive arrays.

A new unary op on positive inputs, for example, is one line in ``ELEMENTWISE``::

    _unary_row("log1p", ops.log1p, np.log1p, lambda a: T.log1p(a), "pos"),

which sweeps the shapes of ``UNARY_SHAPES`` (0-d, size-1 axes...) through gradcheck,
PyTorch and NumPy, and a (2, 3) sample through float32, second order and the property
tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gradkit import ops

try:
    import torch as T
    import torch.nn.functional as TF
except ImportError:  # the twins are only called when torch is installed
    T = TF = None

# The checks a sample can take part in (test_op_table.py has one test per check).
GRAD, GRAD2, TORCH, TORCH32, TORCH_GRAD2, NUMPY = (
    "gradcheck", "grad2", "torch", "torch32", "torch_grad2", "numpy")
CHECKS = (GRAD, GRAD2, TORCH, TORCH32, TORCH_GRAD2, NUMPY)
WIDE = frozenset({GRAD, TORCH, NUMPY})  # every sample of an op family
DEEP = frozenset({TORCH32, GRAD2, TORCH_GRAD2, NUMPY})  # one representative sample
ALL = frozenset(CHECKS)


@dataclass(frozen=True)
class Sample:
    """One input configuration of an op."""

    id: str
    inputs: tuple  # specs, one per positional input
    kwargs: dict = field(default_factory=dict)
    checks: frozenset = WIDE


@dataclass(frozen=True)
class OpInfo:
    """One op: what to call, what to compare it with, on which inputs.

    ``family``: the group (elementwise, activation, reduce, shape, linalg, loss, conv_pool,
    fused)
    and ``arity`` (unary, binary, reduction, other): what the property tests draw.
    ``grad2``: second derivatives exist (``create_graph``); ``"square"`` checks them on
    ``op(x * x)``, for ops linear in their inputs whose own second derivative is 0.
    ``tol``: ``{check: (rtol, atol)}`` overriding the checks' defaults.
    """

    name: str
    op: Callable
    ref: Callable | None
    twin: Callable | None
    samples: tuple
    family: str
    arity: str = "other"
    grad2: bool | str = True
    tol: dict = field(default_factory=dict)

    def checks(self, sample):
        """The checks this sample of this row runs (the row can rule some out)."""
        out = set(sample.checks)
        if self.twin is None:
            out -= {TORCH, TORCH32, TORCH_GRAD2}
        if self.ref is None:
            out.discard(NUMPY)
        if not self.grad2:
            out -= {GRAD2, TORCH_GRAD2}
        if self.grad2 == "square":  # gradcheck of op(x * x) covers these; torch adds little
            out.discard(TORCH_GRAD2)
        return out


def _shape_id(*shapes):
    return "&".join(str(s) for s in shapes)


def _merge(samples):
    """Samples with the same id (a representative that is also in the sweep) become one."""
    merged = {}
    for s in samples:
        if s.id in merged:
            m = merged[s.id]
            merged[s.id] = Sample(s.id, m.inputs, m.kwargs, m.checks | s.checks)
        else:
            merged[s.id] = s
    return tuple(merged.values())


def _variants(variants, build):
    """``build(kwargs, prefix)`` for each ``(id, kwargs)`` variant, concatenated."""
    return tuple(s for vid, kw in variants for s in build(kw, f"{vid}-" if vid else ""))


# ============================================================== elementwise
UNARY_SHAPES = [(), (1,), (4,), (2, 1, 3), (2, 3, 2)]
PAIRS = [((2, 3), (2, 3)), ((3, 1), (4,)), ((2, 3, 4), (3, 1)), ((), (2, 3)), ((2, 3), ()),
         ((1,), (3,)), ((2, 1, 3), (1, 4, 1)), ((), ())]
REP_PAIR = ((3, 1), (4,))
WHERE_SHAPES = [((2, 3), (2, 3), (2, 3)), ((3, 1), (4,), (3, 4)), ((2, 3), (), (1, 3)),
                ((4,), (3, 1), ())]
WHERE_REP = WHERE_SHAPES[1]


def _unary(kind, shapes=UNARY_SHAPES, rep=(2, 3), variants=(("", {}),), rep_checks=DEEP):
    def build(kw, pre):
        out = [Sample(f"{pre}{s}", ((s, kind),), kw) for s in shapes]
        return _merge(out + [Sample(f"{pre}{rep}", ((rep, kind),), kw, rep_checks)])
    return _variants(variants, build)


def _binary(kinds):
    out = [Sample(_shape_id(a, b), ((a, kinds[0]), (b, kinds[1]))) for a, b in PAIRS]
    return out + [Sample("rep-" + _shape_id(*REP_PAIR),
                         ((REP_PAIR[0], kinds[0]), (REP_PAIR[1], kinds[1])), {}, DEEP)]


def _row(name, op, ref, twin, samples, family, **kw):
    return OpInfo(name, op, ref, twin, tuple(samples), family, **kw)


def _unary_row(name, op, ref, twin, kind, **kw):
    return _row(name, op, ref, twin, _unary(kind, **kw), "elementwise", arity="unary")


def _binary_row(name, op, ref, twin, kinds):
    return _row(name, op, ref, twin, _binary(kinds), "elementwise", arity="binary")


def _clip(x, lo=None, hi=None):
    return ops.clip(x, lo, hi)


CLIPS = (("", {"lo": -0.5, "hi": 0.5}), ("lo", {"lo": -0.5}), ("hi", {"hi": 0.5}))


def _scalar_op(f):
    """An operator row whose op, reference and twin are the same expression."""
    return f, f, f


ELEMENTWISE = [
    _unary_row("negative", ops.negative, np.negative, lambda a: -a, "any"),
    _unary_row("exp", ops.exp, np.exp, lambda a: T.exp(a), "any"),
    _unary_row("log", ops.log, np.log, lambda a: T.log(a), "pos"),
    _unary_row("sin", ops.sin, np.sin, lambda a: T.sin(a), "any"),
    _unary_row("cos", ops.cos, np.cos, lambda a: T.cos(a), "any"),
    _unary_row("sqrt", ops.sqrt, np.sqrt, lambda a: T.sqrt(a), "pos"),
    _unary_row("abs", ops.abs, np.abs, lambda a: T.abs(a), "nz"),
    _unary_row("sign", ops.sign, np.sign, lambda a: T.sign(a), "nz"),
    _unary_row("log1p", ops.log1p, np.log1p, lambda a: T.log1p(a), "pos"),
    _unary_row("expm1", ops.expm1, np.expm1, lambda a: T.expm1(a), "any"),
    _unary_row("arctan", ops.arctan, np.arctan, lambda a: T.arctan(a), "any"),
    _unary_row("arcsin", ops.arcsin, np.arcsin, lambda a: T.arcsin(a), "prob"),
    _unary_row("clip", _clip, lambda a, lo=None, hi=None: np.clip(a, lo, hi),
               lambda a, lo=None, hi=None: T.clamp(a, lo, hi), "grid_a", variants=CLIPS),
    # Tensor operators with a Python scalar on either side
    _unary_row("pow_int", *_scalar_op(lambda a: a ** 3), "any"),
    _unary_row("pow_half", *_scalar_op(lambda a: a ** 0.5), "pos"),
    _unary_row("pow_neg", lambda a: ops.power(a, -1.5), lambda a: np.power(a, -1.5),
               lambda a: a ** -1.5, "pos"),
    _unary_row("rpow", *_scalar_op(lambda a: 2.0 ** a), "any"),
    _unary_row("scalar_add", *_scalar_op(lambda a: 1.5 + a), "any"),
    _unary_row("scalar_rsub", *_scalar_op(lambda a: 1.5 - a), "any"),
    _unary_row("scalar_mul", *_scalar_op(lambda a: a * 3.0), "any"),
    _unary_row("scalar_rdiv", *_scalar_op(lambda a: 2.0 / a), "nz"),
    _unary_row("scalar_div", *_scalar_op(lambda a: a / 4.0), "any"),
    _binary_row("add", ops.add, np.add, lambda a, b: T.add(a, b), ("any", "any")),
    _binary_row("subtract", ops.subtract, np.subtract, lambda a, b: T.sub(a, b),
                ("any", "any")),
    _binary_row("multiply", ops.multiply, np.multiply, lambda a, b: T.mul(a, b),
                ("any", "any")),
    _binary_row("divide", ops.divide, np.divide, lambda a, b: T.div(a, b), ("any", "nz")),
    _binary_row("power", ops.power, np.power, lambda a, b: T.pow(a, b), ("pos", "any")),
    _binary_row("maximum", ops.maximum, np.maximum, lambda a, b: T.maximum(a, b),
                ("grid_a", "grid_b")),
    _binary_row("minimum", ops.minimum, np.minimum, lambda a, b: T.minimum(a, b),
                ("grid_a", "grid_b")),
    _binary_row("operators", *_scalar_op(lambda a, b: (a - b) * a / (b * b + 1.0) + (-a)),
                ("any", "any")),
    _row("where", ops.where, np.where, lambda c, a, b: T.where(c, a, b),
         [Sample(_shape_id(*s), ((s[0], "mask"), (s[1], "any"), (s[2], "any")), {},
                 WIDE | DEEP if s == WHERE_REP else WIDE) for s in WHERE_SHAPES],
         "elementwise"),
]

# ============================================================== activations
ACT_SHAPES = [(), (1,), (5,), (2, 3), (2, 3, 2)]


def _act_row(name, op, ref, twin, kind="any", variants=(("", {}),), axis=False):
    if not axis:
        samples = _unary(kind, ACT_SHAPES, variants=variants)
    else:  # softmax-like: no 0-d input; every axis form on a 3-D input
        samples = _unary(kind, ACT_SHAPES[1:]) + tuple(
            Sample(f"axis{a}", (((2, 3, 2), kind),), {"axis": a}) for a in (0, 1, -2, 2))
    return _row(name, op, ref, twin, samples, "activation", arity="other" if axis else "unary")


def _np_sigmoid(a):
    return np.exp(-np.logaddexp(0.0, -a))


def _np_gelu(a, approximate=False):
    if approximate:
        return 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a ** 3)))
    return 0.5 * a * (1 + _np_erf(a / np.sqrt(2)))


def _np_erf(a):
    import math
    return np.vectorize(math.erf, otypes=[np.float64])(a)


def _np_log_softmax(a, axis=-1):
    m = np.max(a, axis=axis, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis=axis, keepdims=True))


def _np_relu(a, max_value=None, negative_slope=0.0, threshold=0.0):
    """Keras's relu: the cap from ``max_value`` up, ``x`` from ``threshold``, a slope below."""
    y = np.where(a >= threshold, a, (a - threshold) * negative_slope)
    return y if max_value is None else np.where(a >= max_value, max_value, y)


def _t_relu(x, max_value=None, negative_slope=0.0, threshold=0.0):
    """The same from torch's builtins: threshold (x above it, else 0), plus the leak as
    leaky_relu - relu of the shifted input, capped by hardtanh."""
    y = TF.threshold(x, threshold, 0.0)
    if negative_slope:
        y = y + TF.leaky_relu(x - threshold, negative_slope) - TF.relu(x - threshold)
    return y if max_value is None else TF.hardtanh(y, float("-inf"), max_value)


# ops.relu's defaults (the plain ReLU primitive, swept over ACT_SHAPES) and its general
# form (ClippedReLU: one primitive whatever the keywords, so fewer shapes); the (5, 7)
# sample has values in every piece: below the threshold, between, on the cap. The Hessian
# of a piecewise linear op is 0: the torch HVP runs once, on the defaults.
RELU_VARIANTS = (
    ("", {}), ("max6", {"max_value": 6.0}), ("slope0.1", {"negative_slope": 0.1}),
    ("thr0.5", {"threshold": 0.5}), ("max4-slope0.2", {"max_value": 4.0, "negative_slope": 0.2}),
    ("max4-thr1", {"max_value": 4.0, "threshold": 1.0}),
    ("slope0.2-thr1", {"negative_slope": 0.2, "threshold": 1.0}),
    ("max4-slope0.2-thr1", {"max_value": 4.0, "negative_slope": 0.2, "threshold": 1.0}))

ACTIVATIONS = [
    _row("relu", ops.relu, _np_relu, _t_relu,
         _unary("kinks", ACT_SHAPES, rep=(5, 7)) + _unary(
             "kinks", [(), (2, 3, 2)], rep=(5, 7), variants=RELU_VARIANTS[1:],
             rep_checks=DEEP - {TORCH_GRAD2}), "activation", arity="unary"),
    _act_row("leaky_relu", ops.leaky_relu,
             lambda a, negative_slope=0.2: np.where(a > 0, a, negative_slope * a),
             lambda x, negative_slope=0.2: TF.leaky_relu(x, negative_slope), "nz",
             variants=(("", {}), ("0.01", {"negative_slope": 0.01}))),
    _act_row("elu", ops.elu, lambda a, alpha=1.0: np.where(a > 0, a, alpha * np.expm1(a)),
             lambda x, alpha=1.0: TF.elu(x, alpha), "nz",
             variants=(("", {}), ("0.5", {"alpha": 0.5}))),
    _act_row("gelu", ops.gelu, _np_gelu,
             lambda x, approximate=False: TF.gelu(x, approximate="tanh" if approximate
                                                  else "none"),
             variants=(("", {}), ("tanh", {"approximate": True}))),
    _act_row("sigmoid", ops.sigmoid, _np_sigmoid, lambda x: T.sigmoid(x)),
    _act_row("tanh", ops.tanh, np.tanh, lambda x: T.tanh(x)),
    _act_row("softplus", ops.softplus, lambda a: np.logaddexp(0.0, a), lambda x: TF.softplus(x)),
    _act_row("erf", ops.erf, _np_erf, lambda x: T.erf(x)),
    _act_row("softmax", ops.softmax, lambda a, axis=-1: np.exp(_np_log_softmax(a, axis)),
             lambda x, axis=-1: T.softmax(x, axis), axis=True),
    _act_row("log_softmax", ops.log_softmax, _np_log_softmax,
             lambda x, axis=-1: T.log_softmax(x, axis), axis=True),
]

# ============================================================== reductions
# (shape, axis): None, int, negative, tuple (with a negative entry), size-1 axes, 0-d
AXES = [((2, 3, 4), None), ((2, 3, 4), 1), ((2, 3, 4), -1), ((2, 3, 4), (0, 2)),
        ((2, 3, 4), (-1, 0)), ((2, 3, 4), (0, 1, 2)), ((5,), 0), ((5,), None), ((1, 3, 1), 0),
        ((1, 3, 1), (0, 2)), ((3, 1), -1), ((), None)]
REP_AXES = {((2, 3, 4), (0, 2), False), ((2, 3, 4), None, True)}
NUMPY_AXES = [((2, 3, 4), a) for a in (0, -2, (1, 2))]  # forward only


def _dims(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


def _reduce_samples(kind, ddof=0):
    out = []
    for (shape, axis), keep in itertools.product(AXES + NUMPY_AXES, (False, True)):
        reduced = np.atleast_1d(_dims(axis, len(shape)))
        if ddof and (shape == () or all(shape[a] == 1 for a in reduced)):
            continue  # n - ddof = 0: undefined
        checks = WIDE if (shape, axis) in AXES else frozenset({NUMPY})
        if shape == ():
            checks = checks - {TORCH}  # torch has no reduction of a 0-d tensor over dims=()
        if (shape, axis, keep) in REP_AXES:
            checks = checks | DEEP
        kw = {"axis": axis, "keepdims": keep}
        if ddof:
            kw["ddof"] = ddof
        pre = f"ddof{ddof}-" if ddof else ""
        out.append(Sample(f"{pre}{shape}-axis{axis}-{'keep' if keep else 'drop'}",
                          ((shape, kind),), kw, checks))
    return out


def _torch_reduce(f):
    return lambda x, axis=None, keepdims=False: f(x, _dims(axis, x.ndim), keepdim=keepdims)


def _torch_moment(f):
    return lambda x, axis=None, keepdims=False, ddof=0: f(x, _dims(axis, x.ndim),
                                                          keepdim=keepdims, correction=ddof)


def _np_logsumexp(a, axis=None, keepdims=False):
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.exp(a - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _reduce_row(name, op, ref, twin, kind="any", ddofs=(0,)):
    samples = [s for d in ddofs for s in _reduce_samples(kind, d)]
    return _row(name, op, ref, twin, samples, "reduce", arity="reduction")


REDUCTIONS = [
    _reduce_row("sum", ops.sum, np.sum, _torch_reduce(lambda *a, **k: T.sum(*a, **k))),
    _reduce_row("mean", ops.mean, np.mean, _torch_reduce(lambda *a, **k: T.mean(*a, **k))),
    _reduce_row("max", ops.max, np.max, _torch_reduce(lambda *a, **k: T.amax(*a, **k)),
                "distinct"),
    _reduce_row("min", ops.min, np.min, _torch_reduce(lambda *a, **k: T.amin(*a, **k)),
                "distinct"),
    _reduce_row("var", ops.var, np.var, _torch_moment(lambda *a, **k: T.var(*a, **k)),
                ddofs=(0, 1)),
    _reduce_row("std", ops.std, np.std, _torch_moment(lambda *a, **k: T.std(*a, **k)),
                ddofs=(0, 1)),
    _reduce_row("logsumexp", ops.logsumexp, _np_logsumexp,
                _torch_reduce(lambda *a, **k: T.logsumexp(*a, **k))),
    _row("cumsum", ops.cumsum, lambda a, axis=None: np.cumsum(a, axis),
         lambda x, axis=None: T.cumsum(x.reshape(-1) if axis is None else x,
                                       0 if axis is None else axis),
         [Sample(f"{shape}-axis{axis}", ((shape, "any"),), {"axis": axis},
                 WIDE | DEEP if (shape, axis) == ((2, 3, 4), 1) else WIDE)
          for shape, axis in (((2, 3, 4), 1), ((2, 3, 4), -1), ((2, 3, 4), 0), ((5,), 0),
                              ((2, 3), None), ((1, 3, 1), 2))], "reduce", grad2="square"),
]

# ============================================================== shape ops and indexing


EXACT = {NUMPY: (0.0, 0.0)}  # shape ops move values: equal to NumPy's, bit for bit


def _a(*shape):
    return (shape, "any")


def _shape_row(name, op, ref, twin, cases, **kw):
    """``cases``: ``(id, specs, kwargs)``; every shape op sample runs every check."""
    samples = [Sample(i, tuple(specs), kwargs, kw.pop("checks", ALL)) for i, specs, kwargs
               in cases]
    return _row(name, op, ref, twin, samples, "shape", grad2="square", tol=EXACT, **kw)


def _torch_pad(x, pad_width, constant_values=0.0):
    """``pad_width``: an int, or one int or (before, after) pair per axis."""
    if isinstance(pad_width, int):
        pad_width = [pad_width] * x.ndim
    pairs = [(p, p) if isinstance(p, int) else p for p in pad_width]
    return TF.pad(x, [v for pair in reversed(pairs) for v in pair], value=constant_values)


def _concat(*xs, axis=0):
    return ops.concatenate(list(xs), axis=axis)


def _stack(*xs, axis=0):
    return ops.stack(list(xs), axis=axis)


def _to_torch_index(i):
    if isinstance(i, tuple):
        return tuple(_to_torch_index(j) for j in i)
    if isinstance(i, np.ndarray):
        return T.tensor(i)
    return i


def _np_scatter_add(v, shape, index):
    out = np.zeros(shape)
    np.add.at(out, index, v)
    return out


def _torch_scatter_add(v, shape, index):
    tidx = tuple(T.tensor(i) for i in (index if isinstance(index, tuple) else (index,)))
    return T.zeros(shape, dtype=v.dtype).index_put(tidx, v, accumulate=True)


ROWS = np.array([0, 2, 0, 0])
MASK = np.array([[True, False, True, True], [False, False, True, False],
                 [True, True, False, False]])
# (name, index) for x of shape (3, 4, 2); torch understands all of them
INDICES = [
    ("int", 1), ("neg_int", -1), ("slice", slice(1, 3)), ("step", (slice(None, None, 2), 1)),
    ("tuple_ints", (0, 1, 1)), ("none", (None, Ellipsis, 1)), ("ellipsis", (Ellipsis, 0)),
    ("none_mid", (1, None, slice(1, None))), ("int_array_repeats", ROWS),
    ("list_repeats", [1, 1, 2]), ("int_array_2d", np.array([[0, 1], [1, 1]])),
    ("array_axis1", (slice(None), np.array([3, 0, 3]))),
    ("paired_arrays", (np.array([0, 1, 1]), np.array([2, 2, 2]))),
    ("array_and_int", (np.array([2, 2]), 0, slice(None))),
    ("mask_full", MASK), ("mask_rows", np.array([True, False, True])),
    ("mask_then_int", (MASK, 1)),
]
# negative steps: NumPy semantics (torch has no negative steps)
NEG_STEPS = [
    ("reverse", slice(None, None, -1)), ("reverse_axis1", (slice(None), slice(None, None, -1))),
    ("neg_step2", (slice(None, None, -2), slice(3, 0, -2))),
    ("neg_and_none", (None, slice(2, None, -1), Ellipsis, -1)),
]
NO_TORCH = ALL - {TORCH, TORCH32, TORCH_GRAD2}
# pad widths in every NumPy form, on three ranks: NumPy and gradcheck only
PAD_WIDTHS = [("1", 1), ("int64", np.int64(2)), ("(1,)", (1,)), ("(1, 2)", (1, 2)),
              ("[(2,)]", [(2,)]), ("[(0, 2)]", [(0, 2)]), ("per-axis", None)]


def _pad_cases():
    out = [("int", [_a(2, 3)], {"pad_width": 1}),
           ("pairs", [_a(2, 3, 2)], {"pad_width": ((0, 2), (1, 0), (0, 0)),
                                    "constant_values": 0.5}),
           ("mixed", [_a(2, 3)], {"pad_width": (2, (0, 1))})]
    for shape in [(3,), (2, 3), (2, 1, 2)]:
        for wid, w in PAD_WIDTHS:
            w = [(i, 2 - i) for i in range(len(shape))] if w is None else w
            out.append((f"{wid}-{shape}", [(shape, "any")],
                        {"pad_width": w, "constant_values": 0.5}))
    return out


def _np_pad(a, pad_width, constant_values=0.0):
    if a.ndim == 0:
        return a.copy()  # no axis to pad (np.pad refuses an empty width list)
    if isinstance(pad_width, tuple) and len({type(p) for p in pad_width}) > 1:
        pad_width = [(p, p) if isinstance(p, int) else p for p in pad_width]  # (2, (0, 1))
    return np.pad(a, pad_width, constant_values=constant_values)


def _np_swapaxes(x, a, b):
    return np.swapaxes(x, a, b)


def _torch_swapaxes(x, a, b):
    return T.swapaxes(x, a, b)


def _np_flatten(a, start_axis=0):
    return a.reshape(a.shape[:start_axis] + (-1,))


SHAPE = [
    _shape_row("reshape", ops.reshape, np.reshape, lambda x, shape: x.reshape(shape), [
        ("(4, 6)", [_a(2, 3, 4)], {"shape": (4, 6)}),
        ("0d", [_a()], {"shape": (1, 1)}),
        ("to_0d", [_a(1, 1)], {"shape": ()})]),
    _shape_row("Tensor.reshape", lambda x, shape: x.reshape(*shape),
               lambda a, shape: a.reshape(shape), lambda x, shape: x.reshape(shape),
               [("-1", [_a(2, 3, 4)], {"shape": (-1, 2)})]),
    _shape_row("transpose", ops.transpose, np.transpose,
               lambda x, axes=None: x.permute(*(range(x.ndim)[::-1] if axes is None else axes)),
               [("", [_a(2, 3, 4)], {}), ("axes", [_a(2, 3, 4)], {"axes": (1, 2, 0)}),
                ("neg", [_a(2, 3, 4)], {"axes": (-1, 0, -2)})]),
    _shape_row("Tensor.permute", lambda x, dims: x.permute(*dims),
               lambda a, dims: np.transpose(a, dims),
               lambda x, dims: x.permute(*dims), [("", [_a(2, 3, 4)], {"dims": (0, 2, 1)})]),
    _shape_row("Tensor.T", lambda x: x.T, lambda a: a.T, lambda x: x.permute(1, 0),
               [("", [_a(2, 3)], {})]),
    _shape_row("swapaxes", ops.swapaxes, _np_swapaxes, _torch_swapaxes,
               [("", [_a(2, 3, 4)], {"a": 0, "b": 2})]),
    _shape_row("Tensor.swapaxes", lambda x, a, b: x.swapaxes(a, b), _np_swapaxes,
               _torch_swapaxes, [("neg", [_a(2, 3, 4)], {"a": -1, "b": 1})]),
    _shape_row("expand_dims", ops.expand_dims, np.expand_dims,
               lambda x, axis: x.unsqueeze(axis),
               [(f"{a}", [_a(2, 3)], {"axis": a}) for a in (0, 1, -1)]
               + [("0d", [_a()], {"axis": 0})]),
    _shape_row("squeeze", ops.squeeze, np.squeeze,
               lambda x, axis=None: x.squeeze() if axis is None else x.squeeze(axis),
               [("", [_a(1, 3, 1, 2)], {}), ("axis", [_a(1, 3, 1, 2)], {"axis": 2}),
                ("neg", [_a(1, 3, 1, 2)], {"axis": -4}),
                ("tuple", [_a(1, 3, 1, 2)], {"axis": (0, 2)}), ("all", [_a(1, 1)], {})]),
    _shape_row("broadcast_to", ops.broadcast_to, np.broadcast_to,
               lambda x, shape: T.broadcast_to(x, shape),
               [("", [_a(3, 1)], {"shape": (2, 3, 4)}), ("0d", [_a()], {"shape": (2, 3)}),
                ("same", [_a(2, 3)], {"shape": (2, 3)})]),
    _shape_row("concatenate", _concat, lambda *a, axis=0: np.concatenate(a, axis),
               lambda *x, axis=0: T.cat(x, axis),
               [("0", [_a(1, 3), _a(2, 3), _a(3, 3)], {}),
                ("1", [_a(2, 1, 2), _a(2, 3, 2)], {"axis": 1})]),
    _shape_row("concat", lambda *xs, axis=0: ops.concat(xs, axis=axis),
               lambda *a, axis=0: np.concatenate(a, axis), lambda *x, axis=0: T.cat(x, axis),
               [("-1", [_a(2, 3), _a(2, 1)], {"axis": -1})]),
    _shape_row("concatenate(x, 2x, x)", lambda a: ops.concatenate([a, a * 2.0, a]),
               lambda a: np.concatenate([a, a * 2.0, a]), lambda a: T.cat([a, a * 2.0, a]),
               [("", [_a(2, 2)], {})]),
    _shape_row("stack", _stack, lambda *a, axis=0: np.stack(a, axis),
               lambda *x, axis=0: T.stack(x, axis),
               [("0", [_a(2, 3), _a(2, 3)], {}), ("1", [_a(2, 3)] * 3, {"axis": 1}),
                ("-1", [_a(2, 3), _a(2, 3)], {"axis": -1}), ("0d", [_a(), _a()], {})]),
    _shape_row("split", ops.split, np.array_split,
               lambda x, indices_or_sections, axis=0: T.tensor_split(x, indices_or_sections,
                                                                     axis),
               [("sections", [_a(2, 6)], {"indices_or_sections": 3, "axis": 1}),
                ("indices", [_a(5, 2)], {"indices_or_sections": [1, 3]}),
                ("neg_axis", [_a(2, 3)], {"indices_or_sections": [2], "axis": -1})]),
    OpInfo("pad", ops.pad, _np_pad, _torch_pad, tuple(
        Sample(i, tuple(specs), kw, ALL if k < 3 else frozenset({GRAD, NUMPY}))
        for k, (i, specs, kw) in enumerate(_pad_cases())), "shape", grad2="square", tol=EXACT),
    _shape_row("flatten", ops.flatten, _np_flatten,
               lambda x, start_axis=0: T.flatten(x, start_axis),
               [("", [_a(2, 3, 4)], {}), ("1", [_a(2, 3, 4)], {"start_axis": 1})]),
    _shape_row("Tensor.flatten", lambda x: x.flatten(), lambda a: a.reshape(-1),
               lambda x: x.flatten(), [("", [_a(2, 3)], {})]),
    OpInfo("getitem", lambda x, index: x[index], lambda a, index: a[index],
           lambda x, index: x[_to_torch_index(index)],
           tuple([Sample(n, (_a(3, 4, 2),), {"index": i}, ALL) for n, i in INDICES]
                 + [Sample(n, (_a(3, 4, 2),), {"index": i}, NO_TORCH) for n, i in NEG_STEPS]),
           "shape", grad2="square", tol=EXACT),
    _shape_row("scatter_add", lambda v, shape, index: ops.scatter_add(shape, index, v),
               _np_scatter_add, _torch_scatter_add,
               [("rows_repeats", [_a(4, 3)], {"shape": (5, 3), "index": np.array([0, 2, 0, 4])}),
                ("elements", [_a(4)], {"shape": (6,), "index": np.array([1, 1, 1, 5])}),
                ("pairs", [_a(3)], {"shape": (3, 4),
                                     "index": (np.array([0, 2, 0]), np.array([1, 3, 1]))})],
               checks=ALL - {TORCH32}),
]

# ============================================================== linalg
MATMUL_SHAPES = [
    ((4,), (4,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((1, 1), (1, 1)),
    ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((5, 4, 2), (2, 1, 2, 3)),
    ((3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)),
    ((1, 3, 4), (2, 4, 1)),
]
EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("i,i->", [(4,), (4,)]), ("ij->j", [(3, 4)]), ("ij->", [(3, 4)]), ("ij->ji", [(3, 4)]),
    ("bi,bj->bij", [(2, 3), (2, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("i,j->ij", [(3,), (2,)]),
    ("ij,ij->i", [(3, 4), (3, 4)]), ("bij,jk->bk", [(2, 3, 4), (4, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 4)]), ("i,jk->ijk", [(2,), (1, 3)]),
    ("ijk->kj", [(2, 3, 4)]), ("ba", [(2, 3)]), (" ij , jk -> ki ", [(2, 3), (3, 4)]),
]


def _lin_row(name, op, ref, twin, cases):
    samples = [Sample(i, tuple((s, "any") for s in shapes), kw, ALL)
               for i, shapes, kw in cases]
    return _row(name, op, ref, twin, samples, "linalg", grad2="square")


LINALG = [
    _lin_row("matmul", ops.matmul, np.matmul, lambda a, b: T.matmul(a, b),
             [(_shape_id(a, b), (a, b), {}) for a, b in MATMUL_SHAPES]),
    _lin_row("operator@", *_scalar_op(lambda a, b: a @ b), [("", ((2, 3), (3, 2)), {})]),
    _lin_row("a@a.T", *_scalar_op(lambda a: a @ a.T), [("", ((2, 3),), {})]),
    _lin_row("dot", ops.dot, np.dot, lambda a, b: T.matmul(a, b),
             [("1d", ((4,), (4,)), {}), ("2d", ((2, 3), (3, 2)), {})]),
    _lin_row("Tensor.dot", lambda a, b: a.dot(b), np.dot, lambda a, b: T.mv(a, b),
             [("", ((2, 3), (3,)), {})]),
    _lin_row("einsum", lambda *xs, spec: ops.einsum(spec, *xs),
             lambda *a, spec: np.einsum(spec, *a),
             lambda *x, spec: T.einsum(spec.replace(" ", ""), *x),
             [(spec.strip(), shapes, {"spec": spec}) for spec, shapes in EINSUMS]),
]

# ============================================================== fused losses
LOSS_REDUCTIONS = ["mean", "sum", "none"]


def _reduce_loss(per, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": np.asarray}[reduction](per)


def _np_ce(logits, target, reduction="mean"):
    logp = _np_log_softmax(logits, -1)
    if target.dtype.kind in "iu":
        per = -np.take_along_axis(logp, target[..., None], -1)[..., 0]
    else:
        per = -(target * logp).sum(-1)
    return _reduce_loss(per, reduction)


def _t_ce(logits, target, reduction="mean"):
    """torch's cross_entropy wants the class axis second."""
    if logits.ndim == 3:
        logits = logits.permute(0, 2, 1)
        if target.ndim == 3:
            target = target.permute(0, 2, 1)
    return TF.cross_entropy(logits, target, reduction=reduction)


def _np_bce(x, z, reduction="mean"):
    return _reduce_loss(np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x))), reduction)


def _np_mse(p, t, reduction="mean"):
    return _reduce_loss((p - t) ** 2, reduction)


def _loss_row(name, op, ref, twin, cases, extra=()):
    # the Hessian-vector product against PyTorch once per target form (reduction 'mean')
    samples = [Sample(f"{i}-{r}", tuple(specs), {"reduction": r},
                      ALL if r == "mean" else ALL - {TORCH_GRAD2})
               for i, specs in cases for r in LOSS_REDUCTIONS]
    samples += [Sample(f"{i}-{r}", tuple(specs), {"reduction": r}, checks)
                for i, specs, checks in extra for r in LOSS_REDUCTIONS]
    return _row(name, op, ref, twin, samples, "loss")


LOSSES = [
    _loss_row("softmax_cross_entropy", ops.softmax_cross_entropy, _np_ce, _t_ce, [
        ("labels_2d", [((4, 5), "any"), ((4,), "labels", 5)]),
        ("labels_3d", [((2, 3, 4), "any"), ((2, 3), "labels", 4)]),
        ("labels_1d", [((5,), "any"), ((), "labels", 5)]),
        ("probs_2d", [((4, 5), "any"), ((4, 5), "probs")]),
        ("probs_3d", [((2, 3, 4), "any"), ((2, 3, 4), "probs")])]),
    _loss_row("binary_cross_entropy_with_logits", ops.binary_cross_entropy_with_logits,
              _np_bce, lambda x, z, reduction="mean": TF.binary_cross_entropy_with_logits(
                  x, z, reduction=reduction), [
        ("2d", [((4, 3), "any"), ((4, 3), "prob")]),
        ("1d", [((5,), "any"), ((5,), "prob")])]),
    _loss_row("mean_squared_error", ops.mean_squared_error, _np_mse,
              lambda p, t, reduction="mean": TF.mse_loss(p, t, reduction=reduction), [
        ("2d", [((4, 3), "any"), ((4, 3), "any")]),
        ("0d", [((), "any"), ((), "any")])],
              # a broadcast target: torch's mse_loss warns and is not the reference here
              extra=[("broadcast_target", [((4, 3), "any"), ((3,), "any")],
                      frozenset({GRAD, GRAD2, NUMPY}))]),
]

# ============================================================== convolution and pooling


def same_pads(n, k, s, d=1):
    """Keras/TF 'same' padding of one axis: (before, after)."""
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def _pair(v):
    return (v, v) if isinstance(v, (int, np.integer)) else tuple(v)


def _pads(padding, hw, khw, s, d):
    """(top, bottom, left, right) for any padding form."""
    if padding == "valid":
        return 0, 0, 0, 0
    if padding == "same":
        return same_pads(hw[0], khw[0], s[0], d[0]) + same_pads(hw[1], khw[1], s[1], d[1])
    p = _pair(padding)
    return p[0], p[0], p[1], p[1]


def _np_conv(x, k, b=None, strides=1, padding="valid", data_format="channels_last",
             dilation=1, activation=None):
    """NumPy reference: a sum over kernel taps of strided slices times the tap's matrix."""
    first = data_format == "channels_first"
    if first:
        x, k = x.transpose(0, 2, 3, 1), k.transpose(2, 3, 1, 0)
    (sh, sw), (dh, dw), (kh, kw) = _pair(strides), _pair(dilation), k.shape[:2]
    t, bo, le, r = _pads(padding, x.shape[1:3], (kh, kw), (sh, sw), (dh, dw))
    xp = np.pad(x, ((0, 0), (t, bo), (le, r), (0, 0)))
    oh = (xp.shape[1] - (kh - 1) * dh - 1) // sh + 1
    ow = (xp.shape[2] - (kw - 1) * dw - 1) // sw + 1
    out = np.zeros((x.shape[0], oh, ow, k.shape[3]))
    for p, q in itertools.product(range(kh), range(kw)):
        patch = xp[:, p * dh:p * dh + sh * (oh - 1) + 1:sh, q * dw:q * dw + sw * (ow - 1) + 1:sw]
        out += patch @ k[p, q]
    if b is not None:
        out += b
    out = DENSE_NP_ACTS[activation](out)
    return out.transpose(0, 3, 1, 2) if first else out


def _torch_conv(x, k, b=None, strides=1, padding="valid", data_format="channels_last",
                dilation=1, activation=None):
    """PyTorch conv2d with Keras 'same' (possibly asymmetric) done by explicit F.pad."""
    last = data_format == "channels_last"
    if last:
        x, k = x.permute(0, 3, 1, 2), k.permute(3, 2, 0, 1)
    s, d = _pair(strides), _pair(dilation)
    if padding == "same":
        t, bo, le, r = _pads("same", x.shape[2:], k.shape[2:], s, d)
        x, padding = TF.pad(x, (le, r, t, bo)), 0
    elif padding == "valid":
        padding = 0
    y = TF.conv2d(x, k, b, stride=s, padding=padding, dilation=d)
    y = {None: lambda v: v, "relu": T.relu, "tanh": T.tanh}[activation](y)
    return y.permute(0, 2, 3, 1) if last else y


# (N, C_in, H, W, C_out, (kh, kw), strides, padding, dilation)
CONV_CASES = [
    (2, 1, 7, 9, 3, (3, 3), 1, "valid", 1),
    (2, 3, 7, 9, 4, (3, 3), 1, "same", 1),
    (2, 3, 8, 7, 2, (3, 3), 2, "same", 1),
    (1, 3, 9, 9, 2, (5, 5), 2, "valid", 1),
    (2, 1, 6, 8, 3, (5, 5), 1, "same", 1),
    (2, 3, 5, 6, 4, (1, 1), 1, "valid", 1),
    (2, 3, 5, 7, 2, (1, 1), 2, "same", 1),
    (2, 3, 7, 8, 3, (2, 3), (2, 1), "same", 1),
    (2, 1, 7, 9, 2, (3, 2), 1, 1, 1),
    (2, 3, 6, 7, 2, (3, 3), 2, (2, 1), 1),
    (2, 6, 7, 7, 5, (3, 3), 1, "valid", 1),   # > KMAJOR_MAX_CHANNELS: N*OH*OW-major im2col
    (2, 6, 8, 9, 3, (3, 3), 2, "same", 1),
    (1, 7, 6, 5, 2, (2, 3), 1, (1, 2), 1),
    (2, 3, 9, 9, 2, (3, 3), 1, "valid", 2),   # dilation
    (1, 6, 9, 8, 2, (3, 2), 2, "same", (2, 3)),
    (2, 5, 4, 4, 3, (4, 4), 1, "valid", 1),   # kernel as large as the input
]
CONV_GRAD_CASES = [
    (1, 2, 5, 6, 2, (3, 3), 1, "valid", 1),
    (1, 2, 5, 6, 2, (3, 2), 2, "same", 1),
    (1, 5, 5, 5, 2, (3, 3), 1, (1, 2), 1),
    (1, 1, 7, 6, 2, (3, 3), 1, "same", 2),
]
FORMATS = ("channels_last", "channels_first")


def _conv_id(c):
    n, ci, h, w, co, k, s, p, d = c
    return f"{ci}x{h}x{w}-k{k[0]}x{k[1]}-s{s}-p{p}-d{d}"


def _conv_sample(case, fmt, checks, bias=True, prefix="", activation=None):
    n, ci, h, w, co, (kh, kw), s, p, d = case
    x = (n, h, w, ci) if fmt == "channels_last" else (n, ci, h, w)
    k = (kh, kw, ci, co) if fmt == "channels_last" else (co, ci, kh, kw)
    specs = [(x, "any"), (k, "any", 1 / np.sqrt(ci * kh * kw))] + ([((co,), "any")] if bias
                                                                   else [])
    kw_ = {"strides": s, "padding": p, "data_format": fmt, "dilation": d}
    if activation is not None:
        kw_["activation"] = activation
    return Sample(f"{prefix}{fmt}-{_conv_id(case)}", tuple(specs), kw_, checks)


def _conv(x, k, b=None, **kw):
    return ops.conv2d(x, k, b, **kw)


CONV_TORCH = frozenset({TORCH, TORCH32, NUMPY})
CONV = _row("conv2d", _conv, _np_conv, _torch_conv, _merge(
    [_conv_sample(c, f, CONV_TORCH) for c in CONV_CASES for f in FORMATS]
    + [_conv_sample((2, ci, 6, 7, 3, (3, 3), 1, "same", 1), f, WIDE - {GRAD}, bias=False,
                    prefix="nobias-") for ci in (1, 3, 6) for f in FORMATS]
    + [_conv_sample(c, f, WIDE, prefix="grad-") for c in CONV_GRAD_CASES for f in FORMATS]
    # relu and tanh fused into the op: applied in place, their derivative read off the output
    + [_conv_sample(c, f, WIDE, prefix=f"{a}-", activation=a) for a in ("relu", "tanh")
       for c in (CONV_GRAD_CASES[0], CONV_CASES[10]) for f in FORMATS]),
    "conv_pool", grad2=False)


def _keras_transpose_window(n, k, s, padding, output_padding):
    """(crop from the front, output length) of Keras's "valid"/"same" transposed conv,
    written from Keras's left/right padding of the dilated input."""
    if padding == "valid":
        op = max(k, s) - k if output_padding is None else output_padding
        left, right = k - 1, k - 1 + op
    else:
        pad_len = s + k - 2 if output_padding is None else k + k % 2 - 2 + output_padding
        left = min(pad_len // 2 + pad_len % 2, k - 1)
        right = pad_len - left
    return (k - 1) - left, (n - 1) * s + 1 + left + right - k + 1


def _np_conv_t(x, k, b=None, strides=1, padding="valid", output_padding=None,
               data_format="channels_last", dilation=1):
    """NumPy reference: each input pixel scatters ``x @ W[p, q]^T`` into the full output."""
    first = data_format == "channels_first"
    if first:
        x, k = x.transpose(0, 2, 3, 1), k.transpose(2, 3, 1, 0)
    (sh, sw), (dh, dw), (kh, kw) = _pair(strides), _pair(dilation), k.shape[:2]
    n, h, w, _ = x.shape
    ekh, ekw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    full = np.zeros((n, (h - 1) * sh + ekh, (w - 1) * sw + ekw, k.shape[2]))
    for i, j, p, q in itertools.product(range(h), range(w), range(kh), range(kw)):
        full[:, i * sh + p * dh, j * sw + q * dw] += x[:, i, j] @ k[p, q].T
    opad = (None, None) if output_padding is None else _pair(output_padding)
    if isinstance(padding, str):
        (ct, oh), (cl, ow) = (_keras_transpose_window(h, ekh, sh, padding, opad[0]),
                              _keras_transpose_window(w, ekw, sw, padding, opad[1]))
    else:
        (ct, cl), op2 = _pair(padding), tuple(v or 0 for v in opad)
        oh, ow = full.shape[1] - 2 * ct + op2[0], full.shape[2] - 2 * cl + op2[1]
    big = np.zeros((n, ct + oh + ekh, cl + ow + ekw, full.shape[3]))
    big[:, :full.shape[1], :full.shape[2]] = full
    out = big[:, ct:ct + oh, cl:cl + ow]
    if b is not None:
        out = out + b
    return out.transpose(0, 3, 1, 2) if first else out


def _torch_conv_t(x, k, b=None, strides=1, padding=0, output_padding=None,
                  data_format="channels_last", dilation=1):
    last = data_format == "channels_last"
    if last:
        x, k = x.permute(0, 3, 1, 2), k.permute(3, 2, 0, 1)
    y = TF.conv_transpose2d(x, k, b, stride=strides, padding=padding,
                            output_padding=output_padding or 0, dilation=dilation)
    return y.permute(0, 2, 3, 1) if last else y


def _conv_t(x, k, b=None, **kw):
    return ops.conv2d_transpose(x, k, b, **kw)


# (N, C_in, H, W, C_out, (kh, kw), strides, padding, output_padding, dilation); integer
# paddings are PyTorch's (checked against it too), "valid"/"same" Keras's (NumPy, gradcheck)
CONV_T_CASES = [
    ((2, 3, 4, 5, 2, (3, 3), 2, 1, 1, 1), WIDE),
    ((1, 2, 3, 4, 3, (2, 3), (2, 1), 0, 0, 1), WIDE),
    ((2, 3, 4, 4, 2, (3, 3), 1, (1, 0), 0, 2), WIDE),
    ((1, 5, 3, 3, 6, (4, 4), 3, 2, (2, 1), 1), WIDE | {TORCH32}),
    ((2, 3, 4, 3, 2, (3, 3), 2, "same", None, 1), WIDE - {TORCH}),
    ((1, 2, 3, 3, 2, (2, 2), 3, "valid", None, 1), WIDE - {TORCH}),
    ((1, 2, 4, 3, 3, (4, 3), 2, "same", 1, 1), WIDE - {TORCH}),
    ((1, 2, 3, 4, 2, (3, 3), 2, "valid", 1, 1), WIDE - {TORCH}),
]


def _conv_t_sample(case, fmt, checks):
    n, ci, h, w, co, (kh, kw), s, p, op, d = case
    x = (n, h, w, ci) if fmt == "channels_last" else (n, ci, h, w)
    k = (kh, kw, co, ci) if fmt == "channels_last" else (ci, co, kh, kw)
    specs = ((x, "any"), (k, "any", 1 / np.sqrt(ci * kh * kw)), ((co,), "any"))
    kw_ = {"strides": s, "padding": p, "output_padding": op, "data_format": fmt, "dilation": d}
    return Sample(f"{fmt}-{ci}x{h}x{w}-k{kh}x{kw}-s{s}-p{p}-op{op}-d{d}", specs, kw_, checks)


CONV_T = _row("conv2d_transpose", _conv_t, _np_conv_t, _torch_conv_t, _merge(
    [_conv_t_sample(c, f, checks) for c, checks in CONV_T_CASES for f in FORMATS]),
    "conv_pool", grad2=False)


def _np_pool(kind):
    def ref(x, pool_size=2, strides=None, padding="valid", data_format="channels_last"):
        """NumPy loops over output pixels; padding excluded (max: -inf, avg: not counted)."""
        last = data_format == "channels_last"
        if last:
            x = x.transpose(0, 3, 1, 2)
        n, c, h, w = x.shape
        ph, pw = _pair(pool_size)
        sh, sw = (ph, pw) if strides is None else _pair(strides)
        pt, pb, pl, pr = _pads(padding, (h, w), (ph, pw), (sh, sw), (1, 1))
        oh, ow = (h + pt + pb - ph) // sh + 1, (w + pl + pr - pw) // sw + 1
        out = np.empty((n, c, oh, ow), x.dtype)
        for i, j in itertools.product(range(oh), range(ow)):
            r0, c0 = i * sh - pt, j * sw - pl
            win = x[:, :, max(r0, 0):r0 + ph, max(c0, 0):c0 + pw]
            out[:, :, i, j] = win.max(axis=(2, 3)) if kind == "max" else win.mean(axis=(2, 3))
        return out.transpose(0, 2, 3, 1) if last else out
    return ref


def _torch_pool(kind):
    def twin(x, pool_size=2, strides=None, padding="valid", data_format="channels_last"):
        last = data_format == "channels_last"
        if last:
            x = x.permute(0, 3, 1, 2)
        stride = pool_size if strides is None else strides
        if padding == "same":  # only max goes through torch here; -inf padding
            t, b, le, r = _pads("same", x.shape[2:], _pair(pool_size), _pair(stride), (1, 1))
            x, padding = TF.pad(x, (le, r, t, b), value=-np.inf), 0
        elif padding == "valid":
            padding = 0
        if kind == "max":
            y = TF.max_pool2d(x, pool_size, stride, padding)
        else:
            y = TF.avg_pool2d(x, pool_size, stride, padding, count_include_pad=False)
        return y.permute(0, 2, 3, 1) if last else y
    return twin


# (H, W, pool, strides, padding)
POOL_CASES = [
    (8, 8, 2, None, "valid"),
    (7, 9, 2, None, "valid"),        # odd: the last row/column is dropped
    (7, 9, 3, 2, "valid"),           # overlapping
    (6, 7, 3, 1, "valid"),
    (5, 7, (2, 3), (1, 2), "valid"),
    (7, 9, 3, 2, 1),                 # explicit padding (PyTorch)
    (6, 8, (3, 2), (2, 1), (1, 1)),
    (7, 9, 2, None, "same"),         # Keras 'same': extra padding bottom/right
    (7, 9, 3, 2, "same"),
    (6, 6, 3, 1, "same"),
    (5, 6, 1, 1, "valid"),
]
POOL_GRAD_CASES = [(2, None, "valid"), (3, 2, "same"), ((2, 3), 1, "valid"), (3, 2, 1)]


def _pool_samples(kind):
    # avg with (possibly asymmetric) 'same' padding has no PyTorch twin: NumPy and
    # gradcheck cover it
    def no_twin(padding):
        return kind == "avg" and padding == "same"

    out = []
    for (h, w, pool, s, p), fmt in itertools.product(POOL_CASES, FORMATS):
        x = (2, h, w, 3) if fmt == "channels_last" else (2, 3, h, w)
        checks = frozenset({NUMPY}) if no_twin(p) else CONV_TORCH
        out.append(Sample(f"{fmt}-{h}x{w}-p{pool}-s{s}-{p}", ((x, "any"),),
                          {"pool_size": pool, "strides": s, "padding": p,
                           "data_format": fmt}, checks))
    for (pool, s, p), fmt in itertools.product(POOL_GRAD_CASES, FORMATS):
        # distinct values far apart: no max ties within the finite-difference step
        x = (1, 5, 6, 2) if fmt == "channels_last" else (1, 2, 5, 6)
        out.append(Sample(f"grad-{fmt}-p{pool}-s{s}-{p}", ((x, "distinct"),),
                          {"pool_size": pool, "strides": s, "padding": p, "data_format": fmt},
                          WIDE - ({TORCH} if no_twin(p) else set())))
    return out


POOL = [
    _row("max_pool2d", ops.max_pool2d, _np_pool("max"), _torch_pool("max"),
         _pool_samples("max"), "conv_pool", grad2=False),
    _row("avg_pool2d", ops.avg_pool2d, _np_pool("avg"), _torch_pool("avg"),
         _pool_samples("avg"), "conv_pool", grad2=False),
]

# ============================================================== fused layer primitives
# Positional inputs: ``x`` then the parameters present (dense: kernel, then the bias if
# any); for the norms the ``params`` keyword names them: ``"gb"``, ``"g"``, ``"b"`` or ``""``.


def _present(p, params, names):
    """The optional parameters by name, None for those absent."""
    it = iter(p)
    return [next(it) if n in params else None for n in names]


DENSE_NP_ACTS = {None: lambda y: y, "linear": lambda y: y, "relu": lambda y: np.maximum(y, 0.0),
                 "tanh": np.tanh, ops.tanh: np.tanh, ops.sigmoid: _np_sigmoid}


def _dense(x, k, *b, activation=None):
    return ops.dense(x, k, b[0] if b else None, activation)


def _np_dense(x, k, *b, activation=None):
    return DENSE_NP_ACTS[activation](x @ k + (b[0] if b else 0.0))


def _t_dense(x, k, *b, activation=None):
    """torch's linear takes PyTorch's (out, in) weight: Keras's kernel transposed."""
    y = TF.linear(x, k.T, b[0] if b else None)
    if activation in (None, "linear"):
        return y
    return {"relu": T.relu, "tanh": T.tanh, ops.tanh: T.tanh, ops.sigmoid: T.sigmoid}[activation](y)


def _dense_samples():
    out = []
    for act, bias, shape in itertools.product((None, "relu", "tanh"), (True, False),
                                              ((4, 5), (2, 3, 5))):
        specs = [(shape, "any"), ((5, 3), "any")] + ([((3,), "any")] if bias else [])
        checks = ALL if bias and len(shape) == 2 else ALL - {TORCH_GRAD2}
        out.append(Sample(f"{act}-{'bias' if bias else 'nobias'}-{len(shape)}d",
                          tuple(specs), {"activation": act}, checks))
    # the unfused path: 'linear', and callables (ops.tanh is fused, ops.sigmoid applied after)
    for act, name in (("linear", "linear"), (ops.tanh, "ops.tanh"), (ops.sigmoid, "ops.sigmoid")):
        out.append(Sample(f"{name}-bias-2d", (((4, 5), "any"), ((5, 3), "any"), ((3,), "any")),
                          {"activation": act}))
    return out


def sorted_axes(axis, ndim):
    """An int or tuple axis as a sorted list of non-negative axes (as the ops order them)."""
    return sorted(a % ndim for a in (axis if isinstance(axis, tuple) else (axis,)))


def _np_normalize(x, g, b, axes, stat_axes, mean, var, eps):
    """``(x - mean) / sqrt(var + eps) * g + b``; statistics over ``stat_axes`` unless given
    (shaped like the parameters), ``g`` and ``b`` shaped like the ``axes`` of ``x``."""
    pshape = tuple(n if i in axes else 1 for i, n in enumerate(x.shape))
    if mean is None:
        mean, var = x.mean(axis=stat_axes, keepdims=True), x.var(axis=stat_axes, keepdims=True)
    else:
        mean, var = mean.reshape(pshape), var.reshape(pshape)
    y = (x - mean) / np.sqrt(var + eps)
    y = y if g is None else y * g.reshape(pshape)
    return y if b is None else y + b.reshape(pshape)


def _layer_norm(x, *p, params="gb", **kw):
    return ops.layer_norm(x, *_present(p, params, "gb"), **kw)


def _np_layer_norm(x, *p, params="gb", axis=-1, epsilon=1e-3):
    axes = tuple(sorted_axes(axis, x.ndim))
    return _np_normalize(x, *_present(p, params, "gb"), axes, axes, None, None, epsilon)


def _t_layer_norm(x, *p, params="gb", axis=-1, epsilon=1e-3):
    """torch normalizes trailing axes: move the normalized ones to the end and back.
    Keras's epsilon default (1e-3) passed explicitly (torch's is 1e-5)."""
    axes = sorted_axes(axis, x.ndim)
    perm = [i for i in range(x.ndim) if i not in axes] + axes
    g, b = _present(p, params, "gb")
    y = TF.layer_norm(x.permute(perm), [x.shape[a] for a in axes], g, b, eps=epsilon)
    return y.permute(list(np.argsort(perm)))


def _batch_norm(x, *p, params="gb", moving=None, **kw):
    """Fresh copies of the moving statistics each call: training updates them in place."""
    m, v = (None, None) if moving is None else (moving[0].copy(), moving[1].copy())
    return ops.batch_norm(x, m, v, *_present(p, params, "gb"), **kw)


def _np_batch_norm(x, *p, params="gb", moving=None, training=False, momentum=0.99,
                   epsilon=1e-3, axis=-1):
    axes = sorted_axes(axis, x.ndim)
    red = tuple(i for i in range(x.ndim) if i not in axes)
    m, v = (None, None) if training else moving
    return _np_normalize(x, *_present(p, params, "gb"), axes, red, m, v, epsilon)


def _t_batch_norm(x, *p, params="gb", moving=None, training=False, momentum=0.99,
                  epsilon=1e-3, axis=-1):
    """torch's batch_norm on ``(rows, features)``: the feature axes moved first, flattened
    into one and transposed, and back. Keras's momentum (the old value's weight) is
    torch's ``1 - momentum``; Keras's epsilon default (1e-3) passed explicitly."""
    axes = sorted_axes(axis, x.ndim)
    perm = axes + [i for i in range(x.ndim) if i not in axes]
    xp = x.permute(perm)
    c = int(np.prod([x.shape[a] for a in axes]))
    g, b = (None if t is None else t.reshape(c) for t in _present(p, params, "gb"))
    rm, rv = (None, None) if moving is None else (T.tensor(s, dtype=x.dtype).reshape(c)
                                                  for s in moving)
    y = TF.batch_norm(xp.reshape(c, -1).T, rm, rv, g, b, training=training,
                      momentum=1.0 - momentum, eps=epsilon)
    return y.T.reshape(xp.shape).permute(list(np.argsort(perm)))


# (id, x shape, axis): the last axis, a sequence, two trailing axes, leading and split axes
LN_CASES = [("last", (4, 6), -1), ("seq", (2, 3, 5), -1), ("two_axes", (2, 3, 4), (1, 2)),
            ("first", (5, 3), 0), ("outer", (2, 3, 4), (0, 2)), ("neg", (3, 2, 4), (-2, -1))]
# (id, x shape, feature axis): dense, channels last, channels first, two feature axes
BN_CASES = [("nc", (6, 4), -1), ("nhwc", (3, 2, 2, 4), -1), ("nchw", (3, 4, 2, 2), 1),
            ("multi", (2, 3, 2, 4), (1, 3))]
NORM_DEEP = ALL - {TORCH_GRAD2}  # one representative per norm adds the torch HVP
NORM_PLAIN_DEEP = ("last", "seq", "two_axes")  # without gamma/beta: these go deep too


def _param_specs(shape, axes, params):
    pshape = tuple(shape[a] for a in axes)
    return [(pshape, "pos" if n == "g" else "any") for n in params]


def _norm_sample(sid, shape, axis, params, kw, checks):
    specs = [(shape, "any")] + _param_specs(shape, sorted_axes(axis, len(shape)), params)
    return Sample(sid, tuple(specs), {"params": params, "axis": axis, **kw}, checks)


def _ln_samples():
    out = [_norm_sample(f"{cid}-{params or 'plain'}", shape, axis, params, {"epsilon": 1e-5},
                        (NORM_DEEP if params or cid in NORM_PLAIN_DEEP else WIDE)
                        | ({TORCH_GRAD2} if cid == "two_axes" and params else set()))
           for cid, shape, axis in LN_CASES for params in ("gb", "")]
    # gamma alone, beta alone, Keras's default epsilon
    out += [_norm_sample(f"last-{p}", (4, 6), -1, p, {"epsilon": 1e-5}, WIDE) for p in "gb"]
    out.append(_norm_sample("seq-gb-eps_default", (2, 3, 5), -1, "gb", {}, WIDE))
    return out


def _moving(shape, axis, seed):
    """Moving statistics shaped like the features (variance > 0)."""
    rng = np.random.default_rng(seed)
    pshape = tuple(shape[a] for a in sorted_axes(axis, len(shape)))
    return rng.standard_normal(pshape), rng.uniform(0.5, 2.0, pshape)


def _bn_samples():
    out = []
    for (cid, shape, axis), training in itertools.product(BN_CASES, (True, False)):
        mode = "train" if training else "infer"
        kw = {"training": training, "momentum": 0.9, "epsilon": 1e-5,
              "moving": _moving(shape, axis, len(out))}
        for params in ("gb", ""):
            sid = f"{mode}-{cid}-{params or 'plain'}"
            out.append(_norm_sample(sid, shape, axis, params, kw, (NORM_DEEP if params else WIDE)
                                    | ({TORCH_GRAD2} if sid in ("train-nchw-gb", "infer-nhwc-gb")
                                       else set())))
    nc = BN_CASES[0]
    # training without moving statistics; gamma alone, beta alone; Keras's defaults
    out.append(_norm_sample("train-nc-no_moving", nc[1], -1, "gb",
                            {"training": True, "epsilon": 1e-5}, WIDE))
    for p in "gb":
        out.append(_norm_sample(f"infer-nc-{p}", nc[1], -1, p,
                                {"moving": _moving(nc[1], -1, 99), "epsilon": 1e-5}, WIDE))
    for training in (True, False):
        out.append(_norm_sample(f"{'train' if training else 'infer'}-nc-defaults", nc[1], -1,
                                "gb", {"training": training, "moving": _moving(nc[1], -1, 7)},
                                WIDE))
    return out


NORM_TOL = {TORCH: (1e-9, 1e-10), TORCH32: (1e-4, 1e-5)}
FUSED = [
    _row("dense", _dense, _np_dense, _t_dense, _dense_samples(), "fused"),
    _row("layer_norm", _layer_norm, _np_layer_norm, _t_layer_norm, _ln_samples(), "fused",
         tol=NORM_TOL),
    _row("batch_norm", _batch_norm, _np_batch_norm, _t_batch_norm, _bn_samples(), "fused",
         tol=NORM_TOL),
]

OPS = (ELEMENTWISE + ACTIVATIONS + REDUCTIONS + SHAPE + LINALG + LOSSES + [CONV, CONV_T] + POOL
       + FUSED)
BY_NAME = {row.name: row for row in OPS}
assert len(BY_NAME) == len(OPS), "op names in the table must be unique"


def rows(family=None, arity=None):
    """The rows of one family and/or arity."""
    return [r for r in OPS if (family is None or r.family == family)
            and (arity is None or r.arity == arity)]


def sample_kinds(row):
    """The input kinds (domains) of a row: those of its first sample."""
    return tuple(spec[1] for spec in row.samples[0].inputs)
