"""matmul, dot and einsum: every operand rank, batch broadcasting, second derivatives, errors."""

from __future__ import annotations

import numpy as np
import pytest

from gradkit import ops
from gradkit.autograd.function import OpError
from gradkit.tensor import Tensor

try:
    import torch as T
except ImportError:  # the torch tests skip through the torch_ok fixture
    T = None

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


def _specs(shapes):
    return [(s, "any") for s in shapes]


cases = [pytest.param(ops.matmul, lambda a, b: T.matmul(a, b), _specs(s),
                      id=f"matmul-{s[0]}@{s[1]}") for s in MATMUL_SHAPES]
cases += [pytest.param(lambda a, b: a @ b, lambda a, b: a @ b, _specs(((2, 3), (3, 2))),
                       id="operator@"),
          pytest.param(lambda a: a @ a.T, lambda a: a @ a.T, _specs(((2, 3),)), id="a@a.T"),
          pytest.param(ops.dot, lambda a, b: T.dot(a, b), _specs(((4,), (4,))), id="dot-1d"),
          pytest.param(ops.dot, lambda a, b: T.matmul(a, b), _specs(((2, 3), (3, 2))),
                       id="dot-2d"),
          pytest.param(lambda a, b: a.dot(b), lambda a, b: T.mv(a, b), _specs(((2, 3), (3,))),
                       id="dot-method")]
cases += [pytest.param(lambda *xs, s=spec: ops.einsum(s, *xs),
                       lambda *xs, s=spec: T.einsum(s.replace(" ", ""), *xs), _specs(shapes),
                       id=f"einsum-{spec.strip()}") for spec, shapes in EINSUMS]


@pytest.mark.parametrize("fn, tfn, specs", cases)
def test_gradcheck(fn, tfn, specs, make, grad_ok):
    grad_ok(fn, make(specs))


@pytest.mark.parametrize("fn, tfn, specs", cases)
def test_matches_torch_float64(fn, tfn, specs, make, torch_ok):
    torch_ok(fn, tfn, make(specs))


@pytest.mark.parametrize("fn, tfn, specs", cases)
def test_matches_torch_float32(fn, tfn, specs, make, torch_ok):
    torch_ok(fn, tfn, make(specs), dtype=np.float32)


@pytest.mark.parametrize("fn, tfn, specs", cases)
def test_second_order(fn, tfn, specs, make, grad2_ok):
    grad2_ok(fn, make(specs))  # mixed second derivatives d(dL/da)/db are non-zero


@pytest.mark.parametrize("fn, tfn, specs", cases[:3] + cases[-5:])
def test_second_order_nonlinear(fn, tfn, specs, make, grad2_ok):
    grad2_ok(lambda *xs: fn(*[x * x for x in xs]), make(specs))


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_matches_numpy(shapes, make):
    a, b = make(_specs(shapes))
    np.testing.assert_allclose(ops.matmul(Tensor(a), Tensor(b)).numpy(), a @ b, rtol=1e-13)


def test_matmul_with_a_constant_operand(make):
    a, b = make(_specs(((2, 3, 4), (4,))))
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
    a, b = make(_specs(((2, 1, 3, 4), (5, 4, 2))))
    x = Tensor(a.astype(np.float32), requires_grad=True)
    y = Tensor(b.astype(np.float32), requires_grad=True)
    z = x @ y
    assert z.dtype == np.float32
    z.sum().backward()
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float32
