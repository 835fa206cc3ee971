"""Clipping helpers vs torch.nn.utils and vs their formulas."""

import math

import numpy as np
import pytest

import gradkit as gk
from gradkit import optimizers as O

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)
SHAPES = [(4, 3), (3,), (2, 2, 2)]


def _grads(scale):
    return [RNG.standard_normal(s) * scale for s in SHAPES]


def _pair(gs, dtype=np.float64):
    ours = [gk.Variable(np.zeros(s, dtype)) for s in SHAPES]
    theirs = [torch.zeros(s, dtype=getattr(torch, np.dtype(dtype).name), requires_grad=True)
              for s in SHAPES]
    for p, t, g in zip(ours, theirs, gs):
        p.grad = gk.Tensor(g.astype(dtype))
        t.grad = torch.tensor(g.astype(dtype))
    return ours, theirs


@pytest.mark.parametrize("max_norm", [0.1, 1.0, 100.0])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grad_norm_vs_torch(max_norm, norm_type, dtype):
    gs = _grads(1.5)
    ours, theirs = _pair(gs, dtype)
    arrays = [p.grad._data for p in ours]
    n1 = O.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    n2 = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert math.isclose(float(n1), float(n2), rel_tol=tol)
    assert n1.dtype == dtype
    for p, t, a in zip(ours, theirs, arrays):
        assert p.grad._data is a                       # in place
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)


def test_clip_grad_norm_single_tensor_and_no_grads():
    w = gk.Variable(np.zeros(2))
    w.grad = gk.Tensor(np.array([3.0, 4.0]))
    assert float(O.clip_grad_norm_(w, 1.0)) == 5.0
    np.testing.assert_allclose(w.grad.numpy(), np.array([3.0, 4.0]) / (5 + 1e-6))
    assert float(O.clip_grad_norm_([gk.Variable(np.zeros(2))], 1.0)) == 0.0


def test_clip_grad_norm_nonfinite():
    w = gk.Variable(np.zeros(2))
    w.grad = gk.Tensor(np.array([np.inf, 1.0]))
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        O.clip_grad_norm_([w], 1.0, error_if_nonfinite=True)
    t = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    t.grad = torch.tensor([np.nan, 1.0], dtype=torch.float64)
    w.grad = gk.Tensor(np.array([np.nan, 1.0]))
    torch.nn.utils.clip_grad_norm_([t], 1.0)
    O.clip_grad_norm_([w], 1.0)
    np.testing.assert_array_equal(np.isnan(w.grad.numpy()), np.isnan(t.grad.numpy()))


@pytest.mark.parametrize("clip", [0.0, 0.3, 5.0])
def test_clip_grad_value_vs_torch(clip):
    gs = _grads(1.0)
    ours, theirs = _pair(gs)
    O.clip_grad_value_(ours, clip)
    torch.nn.utils.clip_grad_value_(theirs, clip)
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())


def test_clip_by_value():
    a = np.array([-3.0, 0.5, 2.0])
    np.testing.assert_array_equal(O.clip_by_value(a, -1.0, 1.0), [-1.0, 0.5, 1.0])
    np.testing.assert_array_equal(a, [-3.0, 0.5, 2.0])               # input untouched
    t = O.clip_by_value(gk.Tensor(a.astype(np.float32)), -1.0, 1.0)
    assert isinstance(t, gk.Tensor) and t.dtype == np.float32
    with pytest.raises(ValueError):
        O.clip_by_value(a, 1.0, -1.0)


@pytest.mark.parametrize("c", [0.5, 1.0, 10.0])
def test_clip_by_norm_formula(c):
    g = RNG.standard_normal((5, 4))
    norm = np.sqrt((g ** 2).sum())
    expected = g * c / max(norm, c)                       # tf.clip_by_norm's definition
    out = O.clip_by_norm(g, c)
    np.testing.assert_allclose(out, expected, rtol=1e-14)
    assert out is not g
    assert np.linalg.norm(out) <= c * (1 + 1e-12)
    # per-row norms with axes
    rows = O.clip_by_norm(g, c, axes=1)
    rn = np.sqrt((g ** 2).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(rows, g * c / np.maximum(rn, c), rtol=1e-14)
    t = O.clip_by_norm(gk.Tensor(g.astype(np.float32)), c)
    assert isinstance(t, gk.Tensor) and t.dtype == np.float32


def test_clip_by_global_norm_formula_and_torch():
    gs = _grads(2.0)
    clipped, norm = O.clip_by_global_norm(gs + [None], 1.0)
    expected_norm = np.sqrt(sum((g ** 2).sum() for g in gs))
    assert math.isclose(norm, expected_norm, rel_tol=1e-14)
    assert math.isclose(O.global_norm(gs), expected_norm, rel_tol=1e-14)
    assert clipped[-1] is None
    for a, g in zip(clipped, gs):
        np.testing.assert_allclose(a, g / expected_norm, rtol=1e-14)
    # same as torch's clip_grad_norm_ up to its 1e-6 in the denominator
    _, theirs = _pair(gs)
    torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    for a, t in zip(clipped, theirs):
        np.testing.assert_allclose(a, t.grad.numpy(), rtol=1e-5)
    # below the threshold: unchanged copies
    small, n = O.clip_by_global_norm(gs, 1e6)
    assert all(np.array_equal(a, g) and a is not g for a, g in zip(small, gs))
    # non-finite norm gives NaN (TensorFlow's behaviour)
    bad, n = O.clip_by_global_norm([np.array([np.inf, 1.0])], 1.0)
    assert math.isinf(n) and np.isnan(bad[0]).all()


def test_clip_validation():
    with pytest.raises(ValueError, match="clip_norm"):
        O.clip_by_norm(np.ones(2), 0.0)
    with pytest.raises(ValueError, match="max_norm"):
        O.clip_grad_norm_([], -1.0)
    with pytest.raises(ValueError, match="clip_value"):
        O.clip_grad_value_([], -1.0)
    with pytest.raises(TypeError, match="clip_norm"):
        O.clip_by_global_norm([np.ones(2)], True)
    with pytest.raises(TypeError, match="norm_type"):
        O.clip_grad_norm_([], 1.0, norm_type="2")
    with pytest.raises(ValueError, match="use_norm .* axes=0"):
        O.clip_by_norm(np.ones((2, 2)), 1.0, axes=0, use_norm=2.0)
    with pytest.raises(ValueError, match="out has 1 arrays for 2 tensors"):
        O.clip_by_global_norm([np.ones(2), np.ones(2)], 1.0, out=[np.empty(2)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_writes_the_same_values_into_the_given_arrays(dtype):
    """``out=`` (what the optimizers' clip options use) changes where, not what."""
    gs = [g.astype(dtype) for g in _grads(2.0)]
    copies = [g.copy() for g in gs]
    cases = [(lambda g, **kw: O.clip_by_value(g, -0.5, 0.5, **kw)),
             (lambda g, **kw: O.clip_by_norm(g, 1.0, **kw)),
             (lambda g, **kw: O.clip_by_norm(g, 100.0, **kw)),      # below the norm
             (lambda g, **kw: O.clip_by_norm(g, 1.0, axes=0, **kw)),
             (lambda g, **kw: O.clip_by_norm(g, 1.0, use_norm=O.global_norm([g]), **kw))]
    for fn in cases:
        for g in gs:
            buf = np.empty_like(g)
            assert fn(g, out=buf) is buf
            np.testing.assert_array_equal(buf, fn(g))
            own = g.copy()
            fn(own, out=own)                                   # in place is allowed
            np.testing.assert_array_equal(own, fn(g))
    bufs = [np.empty_like(g) for g in gs]
    for c in (1.0, 1e6):
        clipped, norm = O.clip_by_global_norm(gs, c, out=bufs)
        assert all(a is b for a, b in zip(clipped, bufs))
        expected, norm2 = O.clip_by_global_norm(gs, c)
        assert norm == norm2
        for a, b in zip(clipped, expected):
            np.testing.assert_array_equal(a, b)
    for g, c in zip(gs, copies):
        np.testing.assert_array_equal(g, c)                    # inputs untouched


def test_nan_norm_gives_nan_as_in_keras():
    out = O.clip_by_norm(np.array([np.nan, 1.0]), 1.0)
    assert np.isnan(out).all()

