"""matmul, dot and einsum beyond the op table: constant operands, errors, float32 (every
operand rank and batch broadcasting through the checks: test_op_table)."""

from __future__ import annotations

import numpy as np
import pytest

from gradkit import ops
from gradkit.autograd.function import OpError
from gradkit.tensor import Tensor


def test_matmul_with_a_constant_operand(make):
    a, b = make([((2, 3, 4), "any"), ((4,), "any")])
    x = Tensor(a, requires_grad=True)
    (x @ b).sum().backward()  # only one side needs a gradient
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(b, a.shape))
    y = Tensor(b, requires_grad=True)
    (a @ y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), a.sum(axis=(0, 1)))


@pytest.mark.parametrize("a, b", [((2, 3), (4, 2)), ((3,), (4,)), ((2, 3), (2,)),
                                  ((2, 2, 3), (2, 4, 2)), ((3,), (2, 4))])
def test_matmul_misaligned_names_shapes(a, b):
    with pytest.raises(OpError) as e:
        ops.matmul(Tensor(np.ones(a)), Tensor(np.ones(b)))
    msg = str(e.value)
    assert "matmul" in msg and str(a) in msg and str(b) in msg, msg


def test_matmul_of_scalars_and_bad_batches_raise():
    with pytest.raises(OpError, match="matmul"):
        ops.matmul(Tensor(np.array(2.0)), Tensor(np.ones(3)))
    with pytest.raises(OpError) as e:
        ops.matmul(Tensor(np.ones((2, 3, 4))), Tensor(np.ones((3, 4, 5))))
    assert "matmul" in str(e.value) and "(2, 3, 4)" in str(e.value)


def test_dot_refuses_more_than_two_axes():
    with pytest.raises(OpError, match="dot"):
        ops.dot(Tensor(np.ones((2, 2, 2))), Tensor(np.ones((2, 2))))


@pytest.mark.parametrize("spec, shapes, word", [
    ("ij,jk->ik", [(2, 3)], "operands"), ("ij->i", [(2, 3, 4)], "axes"),
    ("ii->i", [(3, 3)], "repeated"), ("...ij->ij", [(2, 3)], "ellipsis"),
    ("ij,jk->ik", [(2, 3), (4, 2)], "einsum"),
])
def test_einsum_errors(spec, shapes, word):
    with pytest.raises(OpError) as e:
        ops.einsum(spec, *[Tensor(np.ones(s)) for s in shapes])
    assert "einsum" in str(e.value) and word in str(e.value)


def test_float32_matmul_stays_float32(make):
    a, b = make([((2, 1, 3, 4), "any"), ((5, 4, 2), "any")])
    x = Tensor(a.astype(np.float32), requires_grad=True)
    y = Tensor(b.astype(np.float32), requires_grad=True)
    z = x @ y
    assert z.dtype == np.float32
    z.sum().backward()
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float32
