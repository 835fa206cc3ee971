"""Property tests (Hypothesis) for the elementwise, reduction and shape ops of the op table.

The ops, their NumPy references and their input domains come from
``tests/ops/op_table.py`` (a row added there is drawn here too). Over random shapes,
broadcasting pairs, axes and indices:

* the forward pass equals NumPy's (values drawn by Hypothesis and moved into the op's
  domain, zeros and ties included);
* gradients pass ``gradcheck`` (values drawn by a seeded generator in each op's smooth
  region, so shrinking never lands on a kink such as |x| at 0 or a max tie);
* no op mutates its inputs or the upstream gradient, in forward or in backward;
* the fused layer primitives (dense, layer_norm, batch_norm) match NumPy and keep their
  inputs for random sizes of their batch axes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradkit.tensor import Tensor
from gradkit.testing import gradcheck
from tests.ops.inputs import into_domain, make_array
from tests.ops.op_table import BY_NAME, rows, sorted_axes

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)
pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)
seeds = st.integers(0, 2 ** 32 - 1)
finite = st.floats(-4, 4, allow_nan=False, allow_infinity=False, width=64)


def _variants(arity, drawn=()):
    """(row, kwargs, input kinds) for each keyword variant of the table's rows of an arity;
    the ``drawn`` keywords (axis...) are Hypothesis's to choose."""
    out = {}
    for row in rows(arity=arity):
        if row.ref is None:
            continue
        for s in row.samples:
            kw = {k: v for k, v in s.kwargs.items() if k not in drawn}
            key = (row.name, repr(sorted(kw.items())))
            kid = "".join(f"-{k}={v}" for k, v in sorted(kw.items()))
            out.setdefault(key, pytest.param(row, kw, tuple(spec[1] for spec in s.inputs),
                                             id=row.name + kid))
    return list(out.values())


def _values(shape, kind, rng):
    return np.asarray(make_array((shape, kind), rng))


def _unchanged(fn, arrays, upstream_seed=0):
    """Run forward and backward; inputs and the upstream gradient keep their values."""
    copies = [a.copy() for a in arrays]
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*xs)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c, err_msg="forward changed an input")
    up = np.random.default_rng(upstream_seed).standard_normal(out.shape)
    up_copy = up.copy()
    out.backward(up)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c, err_msg="backward changed an input")
    np.testing.assert_array_equal(up, up_copy, err_msg="backward changed the upstream gradient")
    for x in xs:
        assert x.grad is None or x.grad.shape == x.shape
    return out


# ---------------------------------------------------------------- elementwise
BINARY = _variants("binary")
UNARY = _variants("unary")


@pytest.mark.parametrize("row, kwargs, kinds", BINARY)
@SETTINGS
@given(data=st.data())
def test_binary_forward_matches_numpy_and_keeps_inputs(row, kwargs, kinds, data):
    (sa, sb), _ = data.draw(pairs)
    a = into_domain(data.draw(hnp.arrays(np.float64, sa, elements=finite)), kinds[0])
    b = into_domain(data.draw(hnp.arrays(np.float64, sb, elements=finite)), kinds[1])
    out = _unchanged(lambda x, y: row.op(x, y, **kwargs), [a, b])
    np.testing.assert_allclose(out.numpy(), row.ref(a, b, **kwargs), rtol=1e-14, atol=0)
    assert out.dtype == np.float64
    out32 = row.op(Tensor(a.astype(np.float32)), Tensor(b.astype(np.float32)), **kwargs)
    assert out32.dtype == np.float32


@pytest.mark.parametrize("row, kwargs, kinds", BINARY)
@SETTINGS
@given(shape_pair=pairs, seed=seeds)
def test_binary_gradcheck(row, kwargs, kinds, shape_pair, seed):
    rng = np.random.default_rng(seed)
    a, b = (_values(s, k, rng) for s, k in zip(shape_pair.input_shapes, kinds))
    assert gradcheck(lambda x, y: row.op(x, y, **kwargs), a, b)


@pytest.mark.parametrize("row, kwargs, kinds", UNARY)
@SETTINGS
@given(shape=shapes, data=st.data())
def test_unary_forward_matches_numpy_and_keeps_inputs(row, kwargs, kinds, shape, data):
    a = into_domain(data.draw(hnp.arrays(np.float64, shape, elements=finite)), kinds[0])
    out = _unchanged(lambda x: row.op(x, **kwargs), [a])
    np.testing.assert_allclose(out.numpy(), row.ref(a, **kwargs), rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("row, kwargs, kinds", UNARY)
@SETTINGS
@given(shape=shapes, seed=seeds)
def test_unary_gradcheck(row, kwargs, kinds, shape, seed):
    a = _values(shape, kinds[0], np.random.default_rng(seed))
    assert gradcheck(lambda x: row.op(x, **kwargs), a)


@SETTINGS
@given(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3),
       seeds)
def test_where_broadcasts_like_numpy(shapes3, seed):
    row = BY_NAME["where"]
    sc, sa, sb = shapes3.input_shapes
    rng = np.random.default_rng(seed)
    cond, a, b = rng.random(sc) < 0.5, rng.standard_normal(sa), rng.standard_normal(sb)
    out = _unchanged(lambda x, y: row.op(cond, x, y), [a, b])
    np.testing.assert_array_equal(out.numpy(), row.ref(cond, a, b))
    assert gradcheck(lambda x, y: row.op(cond, x, y), a, b)


# ---------------------------------------------------------------- reductions
REDUCTIONS = _variants("reduction", drawn=("axis", "keepdims"))


@st.composite
def reduction_case(draw):
    shape = draw(shapes)
    nd = len(shape)
    axis = draw(st.one_of(st.none(), st.integers(-nd, nd - 1) if nd else st.none(),
                          hnp.valid_tuple_axes(nd, min_size=1) if nd else st.none()))
    return shape, axis, draw(st.booleans())


def _reduced_size(shape, axis):
    axes = range(len(shape)) if axis is None else np.atleast_1d(axis)
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


@pytest.mark.parametrize("row, kwargs, kinds", REDUCTIONS)
@SETTINGS
@given(case=reduction_case(), data=st.data())
def test_reduction_forward_matches_numpy_and_keeps_inputs(row, kwargs, kinds, case, data):
    shape, axis, keepdims = case
    kw = {**kwargs, "axis": axis, "keepdims": keepdims}
    assume(_reduced_size(shape, axis) > kw.get("ddof", 0))  # n - ddof = 0: undefined
    a = into_domain(data.draw(hnp.arrays(np.float64, shape, elements=finite)), kinds[0])
    out = _unchanged(lambda x: row.op(x, **kw), [a])
    want = row.ref(a, **kw)
    assert out.shape == np.shape(want)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("row, kwargs, kinds", REDUCTIONS)
@SETTINGS
@given(case=reduction_case(), seed=seeds)
def test_reduction_gradcheck(row, kwargs, kinds, case, seed):
    shape, axis, keepdims = case
    kw = {**kwargs, "axis": axis, "keepdims": keepdims}
    assume(_reduced_size(shape, axis) > kw.get("ddof", 0))
    a = _values(shape, kinds[0], np.random.default_rng(seed))
    if row.name == "std":  # keep away from std = 0, where sqrt has a kink
        a = a + np.arange(a.size).reshape(shape) * 0.7
    assert gradcheck(lambda x: row.op(x, **kw), a)


# ---------------------------------------------------------------- shape ops
SHAPE_KINDS = ["reshape", "transpose", "broadcast_to", "expand_dims", "squeeze", "basic_index",
               "array_index", "concatenate", "stack", "flatten", "swapaxes", "pad"]


@st.composite
def shape_case(draw, kind):
    """(table row name, keyword arguments, input shape) for a random instance of a shape op;
    concatenate and stack get ``(x, 2 x, x)``."""
    shape = draw(shapes)
    nd = len(shape)
    if kind == "reshape":
        return "reshape", {"shape": draw(st.permutations(shape)) + [1] * draw(
            st.integers(0, 1))}, shape
    if kind == "transpose":
        return "transpose", {"axes": draw(st.permutations(range(nd)))}, shape
    if kind == "broadcast_to":
        target = draw(hnp.broadcastable_shapes(shape, max_side=3)
                      .map(lambda s: np.broadcast_shapes(s, shape)))
        return "broadcast_to", {"shape": target}, shape
    if kind == "expand_dims":
        return "expand_dims", {"axis": draw(st.integers(-nd - 1, nd))}, shape
    if kind == "squeeze":
        ones = [i for i, n in enumerate(shape) if n == 1]
        ax = draw(st.one_of(st.none(), st.sets(st.sampled_from(ones)).map(tuple))
                  if ones else st.none())
        return "squeeze", {"axis": ax}, shape
    if kind == "basic_index":
        idx = draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
        return "getitem", {"index": idx}, shape
    if kind == "array_index":
        if nd == 0:
            return "getitem", {"index": None}, shape
        idx = draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(
            min_dims=1, max_dims=2, max_side=4)))
        return "getitem", {"index": idx}, shape
    if kind in ("concatenate", "stack"):
        if nd == 0 and kind == "concatenate":
            shape, nd = (2,), 1
        extra = kind == "stack"
        return kind, {"axis": draw(st.integers(-nd - extra, nd - 1 + extra))}, shape
    if kind == "flatten":
        return "flatten", {"start_axis": draw(st.integers(-nd, nd - 1)) if nd else 0}, shape
    if kind == "swapaxes":
        if nd == 0:
            shape, nd = (2,), 1
        return "swapaxes", {"a": draw(st.integers(-nd, nd - 1)),
                            "b": draw(st.integers(-nd, nd - 1))}, shape
    widths = [tuple(draw(st.integers(0, 2)) for _ in range(2)) for _ in range(nd)]
    return "pad", {"pad_width": widths, "constant_values": 0.5}, shape


def _bound(name, kwargs):
    """The row's op and reference with the drawn keyword arguments."""
    row = BY_NAME[name]
    if name in ("concatenate", "stack"):
        return (lambda x: row.op(x, x * 2.0, x, **kwargs),
                lambda a: row.ref(a, a * 2.0, a, **kwargs))
    return lambda x: row.op(x, **kwargs), lambda a: row.ref(a, **kwargs)


@pytest.mark.parametrize("kind", SHAPE_KINDS)
@SETTINGS
@given(data=st.data())
def test_shape_op_forward_matches_numpy_and_keeps_inputs(kind, data):
    name, kwargs, shape = data.draw(shape_case(kind))
    fn, ref = _bound(name, kwargs)
    a = data.draw(hnp.arrays(np.float64, shape, elements=finite))
    out = _unchanged(fn, [a])
    np.testing.assert_array_equal(out.numpy(), ref(a))


@pytest.mark.parametrize("kind", SHAPE_KINDS)
@SETTINGS
@given(data=st.data(), seed=seeds)
def test_shape_op_gradcheck(kind, data, seed):
    name, kwargs, shape = data.draw(shape_case(kind))
    fn, _ = _bound(name, kwargs)
    a = np.random.default_rng(seed).standard_normal(shape)
    assert gradcheck(fn, a)
    # the gradient is the adjoint of the linear part: <fn(x) - fn(0), v> = <x, grad>
    x = Tensor(a, requires_grad=True)
    out = fn(x)
    v = np.random.default_rng(seed + 1).standard_normal(out.shape)
    out.backward(v)
    linear = out.numpy() - fn(Tensor(np.zeros_like(a))).numpy()
    np.testing.assert_allclose((linear * v).sum(), (a * x.grad.numpy()).sum(),
                               rtol=1e-10, atol=1e-10)


@SETTINGS
@given(pairs, seeds)
def test_matmul_like_numpy_over_broadcast_batches(shape_pair, seed):
    row = BY_NAME["matmul"]
    sa, sb = shape_pair.input_shapes
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 4))
    a, b = rng.standard_normal(sa + (2, k)), rng.standard_normal(sb + (k, 3))
    out = _unchanged(row.op, [a, b])
    np.testing.assert_allclose(out.numpy(), row.ref(a, b), rtol=1e-12, atol=1e-12)
    assert gradcheck(row.op, a, b)


@pytest.mark.parametrize("kind", ["labels", "probs"])
@SETTINGS
@given(st.integers(1, 4), st.integers(1, 4), seeds)
def test_cross_entropy_inputs_unchanged(kind, n, c, seed):
    row = BY_NAME["softmax_cross_entropy"]
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, c)) * 10
    if kind == "labels":
        labels = rng.integers(0, c, n)
        keep = labels.copy()
        out = _unchanged(lambda x: row.op(x, labels), [logits])
        np.testing.assert_array_equal(labels, keep)
        np.testing.assert_allclose(out.numpy(), row.ref(logits, labels), rtol=1e-12)
    else:
        p = rng.dirichlet(np.ones(c), n)
        out = _unchanged(lambda x, t: row.op(x, t), [logits, p])
        np.testing.assert_allclose(out.numpy(), row.ref(logits, p), rtol=1e-12)


# ---------------------------------------------------------------- fused layer primitives
def _batch_axes(row, sample):
    """The axes of ``x`` that a sample's parameters don't depend on: dense's all but the
    last, layer_norm's unnormalized ones, batch_norm's reduced (non-feature) ones."""
    ndim = len(sample.inputs[0][0])
    if row.name == "dense":
        return range(ndim - 1)
    return [i for i in range(ndim) if i not in sorted_axes(sample.kwargs["axis"], ndim)]


@pytest.mark.parametrize("name", [r.name for r in rows(family="fused")])
@SETTINGS
@given(data=st.data(), seed=seeds)
def test_fused_forward_matches_numpy_and_keeps_inputs(name, data, seed):
    row = BY_NAME[name]
    sample = data.draw(st.sampled_from(row.samples))
    shape = list(sample.inputs[0][0])
    for i in _batch_axes(row, sample):
        shape[i] = data.draw(st.integers(1, 4))
    rng = np.random.default_rng(seed)
    arrays = [_values(tuple(shape), "any", rng)] + [np.asarray(make_array(spec, rng))
                                                    for spec in sample.inputs[1:]]
    out = _unchanged(lambda *xs: row.op(*xs, **sample.kwargs), arrays)
    np.testing.assert_allclose(out.numpy(), row.ref(*arrays, **sample.kwargs),
                               rtol=1e-10, atol=1e-12)
