"""Reductions beyond the op table: ties, std at 0, stability, Tensor methods, axis errors,
dtypes (every axis form through gradcheck, PyTorch and NumPy: test_op_table)."""

from __future__ import annotations

import numpy as np
import pytest

from gradkit import ops
from gradkit.tensor import Tensor

try:
    import torch as T
except ImportError:  # the torch tests skip through the torch_ok fixture
    T = None


@pytest.mark.parametrize("name, kw", [("sum", {}), ("mean", {}), ("max", {}), ("min", {}),
                                      ("var", {}), ("var", {"ddof": 1}), ("std", {}),
                                      ("std", {"ddof": 1})])
def test_tensor_methods_match_the_ops(name, kw, make):
    (a,) = make([((2, 3, 4), "any")])
    method = getattr(Tensor(a), name)
    np.testing.assert_allclose(method(axis=1, keepdims=True, **kw).numpy(),
                               getattr(ops, name)(Tensor(a), 1, True, **kw).numpy())


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
