"""Shape ops and indexing beyond the op table: gradient adjoints, tensor indices, errors,
NumPy integer axes (gradcheck, second order, PyTorch and NumPy sweeps: test_op_table)."""

from __future__ import annotations

import numpy as np
import pytest

from gradkit import ops
from gradkit.autograd.function import OpError
from gradkit.tensor import Tensor
from gradkit.utils.validation import AxisError
from tests.ops.op_table import INDICES, NEG_STEPS, ROWS

try:
    import torch as T
except ImportError:  # the torch tests skip through the torch_ok fixture
    T = None


@pytest.mark.parametrize("idx", [i for _, i in NEG_STEPS + INDICES],
                         ids=[n for n, _ in NEG_STEPS + INDICES])
def test_getitem_gradient_scatters_ones(idx, make):
    """The gradient is the adjoint: ones scattered (and accumulated) at the picked places."""
    (a,) = make([((3, 4, 2), "any")])
    x = Tensor(a, requires_grad=True)
    x[idx].sum().backward()
    want = np.zeros_like(a)
    np.add.at(want, idx if not isinstance(idx, list) else np.asarray(idx), 1.0)
    np.testing.assert_array_equal(x.grad.numpy(), want)


def test_getitem_with_tensor_indices(make, torch_ok):
    (a,) = make([((3, 4), "any")])
    torch_ok(lambda x: x[x > 0], lambda x: x[x > 0], [a])
    torch_ok(lambda x: x[Tensor(ROWS)], lambda x: x[T.tensor(ROWS)], [a])
    torch_ok(lambda x: x[Tensor(ROWS), 1:], lambda x: x[T.tensor(ROWS), 1:], [a])


def test_getitem_scalar_result_is_0d(make):
    (a,) = make([((3, 4), "any")])
    x = Tensor(a, requires_grad=True)
    y = x[1, 2]
    assert y.shape == ()
    y.backward()
    assert x.grad.numpy()[1, 2] == 1.0 and x.grad.numpy().sum() == 1.0


# --------------------------------------------------------------------- errors
@pytest.mark.parametrize("fn, words", [
    (lambda x: ops.reshape(x, (4, 2)), ["reshape", "(2, 3)", "(4, 2)"]),
    (lambda x: ops.transpose(x, (0, 0)), ["transpose", "(2, 3)"]),
    (lambda x: ops.broadcast_to(x, (4, 4)), ["broadcast_to", "(2, 3)", "(4, 4)"]),
    (lambda x: ops.concatenate([x, Tensor(np.ones((3, 2)))]), ["concatenate", "(3, 2)",
                                                                "(2, 3)"]),
    (lambda x: ops.stack([x, Tensor(np.ones((3, 2)))]), ["stack", "(3, 2)", "(2, 3)"]),
    (lambda x: ops.squeeze(x, 0), ["squeeze", "(2, 3)"]),
    (lambda x: ops.split(x, 2, axis=1), ["split", "3", "2"]),
    (lambda x: ops.concatenate([]), ["concatenate", "empty"]),
    (lambda x: ops.stack([]), ["stack", "empty"]),
    (lambda x: ops.pad(x, [(1, 1), (1, 1), (1, 1)]), ["pad", "3 entries", "2 axes"]),
])
def test_shape_errors_name_the_op_and_shapes(fn, words):
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(OpError) as e:
        fn(x)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


@pytest.mark.parametrize("fn, words", [
    (lambda x: ops.concatenate([x, x], axis=2), ["concatenate", "axis 2", "(2, 3)"]),
    (lambda x: ops.concatenate([x, x], axis=-3), ["concatenate", "axis -3"]),
    (lambda x: ops.stack([x, x], axis=3), ["stack", "axis 3"]),
    (lambda x: ops.stack([x, x], axis=-4), ["stack", "axis -4"]),
    (lambda x: ops.squeeze(ops.reshape(x, (1, 6, 1)), 3), ["squeeze", "axis 3"]),
    (lambda x: ops.squeeze(ops.reshape(x, (1, 6, 1)), -4), ["squeeze", "axis -4"]),
    (lambda x: ops.squeeze(x[0, 0], 0), ["squeeze", "axis 0"]),
    (lambda x: ops.split(x, 2, axis=2), ["split", "axis 2"]),
    (lambda x: ops.flatten(x, 3), ["flatten", "3"]),
    (lambda x: ops.swapaxes(x, 0, 2), ["swapaxes", "(2, 3)"]),
    (lambda x: ops.expand_dims(x, 3), ["expand_dims", "3"]),
])
def test_axis_out_of_range_is_an_error_not_a_wrap(fn, words):
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(AxisError) as e:
        fn(x)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_squeeze_of_0d_and_negative_axes(make):
    x = Tensor(np.array(2.0), requires_grad=True)
    assert ops.squeeze(x).shape == ()
    assert ops.squeeze(Tensor(np.ones((1, 3, 1))), -1).shape == (1, 3)
    assert ops.squeeze(Tensor(np.ones((1, 3, 1))), (0, -1)).shape == (3,)
    assert ops.flatten(Tensor(np.ones((2, 3, 4))), -1).shape == (2, 3, 4)
    assert ops.flatten(Tensor(np.ones((2, 3, 4))), -2).shape == (2, 12)


def test_numpy_integer_axes_and_shapes():
    x = Tensor(np.ones((1, 3, 1)), requires_grad=True)
    assert ops.squeeze(x, np.int64(0)).shape == (3, 1)
    assert ops.reshape(x, np.int64(3)).shape == (3,)
    assert ops.reshape(x, np.array([3, 1])).shape == (3, 1)
    assert x.reshape(np.int64(3), 1).shape == (3, 1)
    assert ops.expand_dims(x, np.int64(-1)).shape == (1, 3, 1, 1)
    assert ops.concatenate([x, x], axis=np.int64(1)).shape == (1, 6, 1)
    assert ops.stack([x, x], axis=np.int64(-1)).shape == (1, 3, 1, 2)
    assert [t.shape for t in ops.split(x, 3, axis=np.int64(1))] == [(1, 1, 1)] * 3
    assert ops.flatten(x, np.int64(1)).shape == (1, 3)
    with pytest.raises(OpError, match=r"into shape \(4,\)"):
        ops.reshape(x, (np.int64(4),))


def test_pad_of_0d_is_identity():
    x = Tensor(np.array(3.0), requires_grad=True)
    y = ops.pad(x, 2)
    assert y.shape == () and y.item() == 3.0
    y.backward()
    assert x.grad.item() == 1.0


def test_getitem_out_of_range_raises():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(IndexError):
        x[5]
    with pytest.raises(IndexError):
        x[np.array([0, 3])]


def test_views_do_not_alias_gradients(make):
    """Gradients of reshape/transpose/slices own their memory: changing one grad leaves
    the other leaf's grad alone."""
    (a,) = make([((2, 3), "any")])
    x = Tensor(a, requires_grad=True)
    y = Tensor(a, requires_grad=True)
    (ops.reshape(x, (3, 2)).sum() + ops.transpose(y).sum()).backward()
    x.grad.numpy()[0, 0] = 100.0
    assert y.grad.numpy()[0, 0] == 1.0
