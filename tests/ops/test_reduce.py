"""Reductions: every axis form and keepdims, gradcheck, PyTorch diffs, second derivatives."""

from __future__ import annotations

import numpy as np
import pytest

from gradkit import ops
from gradkit.tensor import Tensor

try:
    import torch as T
except ImportError:  # the torch tests skip through the torch_ok fixture
    T = None


def _dims(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


# (name, gradkit fn(x, axis, keepdims), torch fn(x, dims, keepdims), input kind)
REDUCTIONS = [
    ("sum", ops.sum, lambda x, d, k: T.sum(x, d, keepdim=k), "any"),
    ("mean", ops.mean, lambda x, d, k: T.mean(x, d, keepdim=k), "any"),
    ("max", ops.max, lambda x, d, k: T.amax(x, d, keepdim=k), "distinct"),
    ("min", ops.min, lambda x, d, k: T.amin(x, d, keepdim=k), "distinct"),
    ("var", ops.var, lambda x, d, k: T.var(x, d, keepdim=k, correction=0), "any"),
    ("var_ddof1", lambda x, a, k: ops.var(x, a, k, ddof=1),
     lambda x, d, k: T.var(x, d, keepdim=k, correction=1), "any"),
    ("std", ops.std, lambda x, d, k: T.std(x, d, keepdim=k, correction=0), "any"),
    ("std_ddof1", lambda x, a, k: ops.std(x, a, k, ddof=1),
     lambda x, d, k: T.std(x, d, keepdim=k, correction=1), "any"),
    ("logsumexp", ops.logsumexp, lambda x, d, k: T.logsumexp(x, d, keepdim=k), "any"),
]
# (shape, axis): None, int, negative, tuple (with a negative entry), size-1 axes, 0-d
AXES = [((2, 3, 4), None), ((2, 3, 4), 1), ((2, 3, 4), -1), ((2, 3, 4), (0, 2)),
        ((2, 3, 4), (-1, 0)), ((2, 3, 4), (0, 1, 2)), ((5,), 0), ((5,), None), ((1, 3, 1), 0),
        ((1, 3, 1), (0, 2)), ((3, 1), -1), ((), None)]


def _case(name, fn, tfn, kind, shape, axis, keepdims):
    ddof1 = name.endswith("ddof1")
    if ddof1 and (shape == () or all(shape[a] == 1 for a in np.atleast_1d(
            _dims(axis, len(shape))))):
        return None  # n - ddof = 0: undefined
    return pytest.param(
        lambda x: fn(x, axis, keepdims),
        lambda x: tfn(x, _dims(axis, len(shape)), keepdims),
        ((shape, kind),), id=f"{name}-{shape}-axis{axis}-{'keep' if keepdims else 'drop'}")


cases = [c for n, f, t, k in REDUCTIONS for s, a in AXES for kd in (False, True)
         if (c := _case(n, f, t, k, s, a, kd)) is not None]
torch_cases = [c for c in cases if "()" not in c.id]  # torch has no 0-d var/amax over dims=()
ONE = [_case(n, f, t, k, (2, 3, 4), (0, 2), False) for n, f, t, k in REDUCTIONS]
ONE += [_case(n, f, t, k, (2, 3, 4), None, True) for n, f, t, k in REDUCTIONS]


@pytest.mark.parametrize("fn, tfn, specs", cases)
def test_gradcheck(fn, tfn, specs, make, grad_ok):
    grad_ok(fn, make(specs))


@pytest.mark.parametrize("fn, tfn, specs", torch_cases)
def test_matches_torch_float64(fn, tfn, specs, make, torch_ok):
    torch_ok(fn, tfn, make(specs))


@pytest.mark.parametrize("fn, tfn, specs", ONE)
def test_matches_torch_float32(fn, tfn, specs, make, torch_ok):
    torch_ok(fn, tfn, make(specs), dtype=np.float32)


@pytest.mark.parametrize("fn, tfn, specs", ONE)
def test_second_order(fn, tfn, specs, make, grad2_ok):
    grad2_ok(fn, make(specs))


@pytest.mark.parametrize("name, fn", [(n, f) for n, f, _, _ in REDUCTIONS])
def test_matches_numpy_and_tensor_methods(name, fn, make):
    (a,) = make([((2, 3, 4), "any")])
    ref = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "var": np.var,
           "std": np.std, "var_ddof1": lambda x, axis, keepdims: np.var(x, axis, ddof=1,
                                                                     keepdims=keepdims),
           "std_ddof1": lambda x, axis, keepdims: np.std(x, axis, ddof=1, keepdims=keepdims),
           "logsumexp": lambda x, axis, keepdims: np.log(np.exp(x).sum(axis, keepdims=keepdims)),
           }[name]
    for axis in (None, 0, -2, (1, 2)):
        for keepdims in (False, True):
            got = fn(Tensor(a), axis, keepdims).numpy()
            np.testing.assert_allclose(got, ref(a, axis=axis, keepdims=keepdims), rtol=1e-12)
    base = name.split("_")[0]
    if hasattr(Tensor, base):
        method = getattr(Tensor(a), base)
        kw = {"ddof": 1} if name.endswith("ddof1") else {}
        np.testing.assert_allclose(method(axis=1, keepdims=True, **kw).numpy(),
                                   fn(Tensor(a), 1, True).numpy())


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
def test_max_min_ties_split_the_gradient_like_torch_amax(axis, keepdims, torch_ok):
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.0, -1.0, 5.0]])
    d = (0, 1) if axis is None else axis
    torch_ok(lambda x: ops.max(x, axis, keepdims), lambda x: T.amax(x, d, keepdim=keepdims), [a])
    torch_ok(lambda x: ops.min(x, axis, keepdims), lambda x: T.amin(x, d, keepdim=keepdims), [a])


def test_max_ties_share_evenly():
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.0, -1.0, 5.0]])
    x = Tensor(a, requires_grad=True)
    ops.max(x, 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3] * 3, [0, 0, 1]])


@pytest.mark.parametrize("axis, ddof", [(1, 0), (1, 1), (None, 0), (None, 1)])
def test_std_gradient_is_zero_where_std_is_zero_like_torch(axis, ddof, torch_ok):
    a = np.array([[1.5, 1.5, 1.5], [0.0, 1.0, 2.0]])
    d = (0, 1) if axis is None else axis
    torch_ok(lambda x: ops.std(x * 2.0, axis, ddof=ddof),
             lambda x: T.std(x * 2.0, d, correction=ddof), [a])
    torch_ok(lambda x: ops.std(x, 0), lambda x: T.std(x, 0, correction=0), [a[:1]])
    x = Tensor(a[:1], requires_grad=True)
    with np.errstate(all="raise"):
        ops.std(x, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((1, 3)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_logsumexp_is_stable_for_huge_inputs(axis, dtype, torch_ok):
    a = np.array([[1000.0, 1000.0, -1000.0], [-1000.0, -1001.0, -1002.0]])
    d = (0, 1) if axis is None else axis
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = torch_ok(lambda x: ops.logsumexp(x, axis), lambda x: T.logsumexp(x, d), [a],
                       dtype=dtype)
    assert np.isfinite(out[0].numpy()).all()


def test_logsumexp_with_minus_inf(torch_ok):
    a = np.array([[0.0, -np.inf, 1.0], [2.0, -np.inf, -np.inf]])
    torch_ok(lambda x: ops.logsumexp(x, 1), lambda x: T.logsumexp(x, 1), [a])


def test_bad_axis_raises():
    x = Tensor(np.ones((2, 3)))
    for fn in (ops.sum, ops.mean, ops.max, ops.var, ops.logsumexp):
        with pytest.raises((IndexError, ValueError), match="axis"):
            fn(x, 2)
        with pytest.raises((IndexError, ValueError), match="axis"):
            fn(x, -3)


def test_max_of_empty_raises():
    with pytest.raises(ValueError, match="empty"):
        ops.max(Tensor(np.ones((0, 3))))


def test_reductions_keep_float32(make):
    (a,) = make([((3, 4), "any")])
    for fn in (ops.sum, ops.mean, ops.max, ops.min, ops.var, ops.std, ops.logsumexp):
        x = Tensor(a.astype(np.float32), requires_grad=True)
        y = fn(x, 1)
        assert y.dtype == np.float32
        y.sum().backward()
        assert x.grad.dtype == np.float32


def test_numpy_integer_axes():
    a = np.arange(24.0).reshape(2, 3, 4)
    for fn in (ops.sum, ops.mean, ops.max, ops.min, ops.var, ops.std, ops.logsumexp):
        x = Tensor(a, requires_grad=True)
        y = fn(x, np.int64(1))
        np.testing.assert_allclose(y.numpy(), fn(Tensor(a), 1).numpy())
        fn(x, (np.int32(0), np.int64(-1)), True).sum().backward()
        assert x.grad.shape == a.shape
