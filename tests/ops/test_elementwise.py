"""Elementwise ops beyond the op table: tie and kink semantics, casts, nested grad, dtypes,
errors and the gradcheck helper itself (gradcheck, PyTorch and NumPy sweeps: test_op_table)."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit import ops
from gradkit.autograd.function import OpError
from gradkit.tensor import Tensor
from tests.ops.op_table import rows, sample_kinds

try:
    import torch as T
except ImportError:  # the torch tests skip through the torch_ok fixture
    T = None

# ----------------------------------------------------------------- semantics
def test_maximum_minimum_ties_split_like_torch(torch_ok):
    a = np.array([1.0, 2.0, 3.0, -1.0])
    b = np.array([1.0, 0.0, 3.0, 2.0])
    torch_ok(ops.maximum, lambda x, y: T.maximum(x, y), [a, b])
    torch_ok(ops.minimum, lambda x, y: T.minimum(x, y), [a, b])
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    ops.maximum(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 1.0, 0.5, 0.0])
    np.testing.assert_array_equal(y.grad.numpy(), [0.5, 0.0, 0.5, 1.0])


def test_clip_gradient_at_the_bounds_like_torch(torch_ok):
    a = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    torch_ok(lambda x: ops.clip(x, -0.5, 0.5), lambda x: T.clamp(x, -0.5, 0.5), [a])


def test_abs_and_sign_have_zero_gradient_at_zero():
    x = Tensor(np.array([0.0, -2.0, 3.0]), requires_grad=True)
    (ops.abs(x) + ops.sign(x)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, -1.0, 1.0])


def test_power_gradient_wrt_exponent_is_zero_for_non_positive_base():
    a = Tensor(np.array([0.0, -2.0, 2.0]))
    b = Tensor(np.array([2.0, 2.0, 2.0]), requires_grad=True)
    ops.power(a, b).sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), [0.0, 0.0, 4.0 * np.log(2.0)])


def test_where_accepts_tensor_and_list_conditions(make):
    a, b = make([((2, 3), "any"), ((2, 3), "any")])
    cond = a > 0
    x = Tensor(a, requires_grad=True)
    out = ops.where(Tensor(cond), x, Tensor(b))
    np.testing.assert_array_equal(out.numpy(), np.where(cond, a, b))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), cond.astype(float))
    out2 = ops.where(x > 0, x, 0.0)
    np.testing.assert_array_equal(out2.numpy(), np.where(cond, a, 0.0))


def test_cast_between_floats_is_differentiable(torch_ok, make):
    (a,) = make([((2, 3), "any")])
    out = torch_ok(lambda x: ops.cast(x, "float32"), lambda x: x.to(T.float32), [a],
                   rtol=1e-6, atol=1e-6)
    assert out[0].dtype == np.float32
    x = Tensor(a.astype(np.float32), requires_grad=True)
    y = x.astype("float64")
    assert y.dtype == np.float64
    (y * 2.0).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0, np.float32))
    assert ops.cast(x, "float32") is x  # a no-op cast returns the tensor itself


def test_cast_of_python_and_numpy_values_is_exact():
    assert ops.cast(0.1, "float64").item() == 0.1
    assert ops.cast(np.float64(0.1), "float64").item() == 0.1
    assert ops.cast([0.1, 0.2], "float64").numpy().tolist() == [0.1, 0.2]
    assert ops.cast(np.array([0.1]), "float32").dtype == np.float32
    assert ops.cast(2 ** 40 + 1, "int64").item() == 2 ** 40 + 1


def test_cast_to_int_cuts_the_graph():
    x = Tensor(np.array([1.7, -2.2]), requires_grad=True)
    y = ops.cast(x, "int32")
    assert y.dtype == np.int32 and not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), [1, -2])


def test_second_derivatives_match_torch(torch):
    """d2/dx2 of sum(f(x)) through nested gradkit.grad equals torch's."""
    x = np.array([0.3, 0.7, 1.4, 2.1])
    fns = [(ops.exp, torch.exp), (ops.log, torch.log), (ops.sqrt, torch.sqrt),
           (lambda a: a ** 3, lambda a: a ** 3), (lambda a: 2.0 ** a, lambda a: 2.0 ** a),
           (lambda a: 1.0 / a, lambda a: 1.0 / a), (lambda a: ops.power(a, a), lambda a: a ** a)]
    for f, tf in fns:
        d2 = gradkit.grad(lambda a, f=f: gradkit.grad(lambda b: f(b).sum())(a).sum())
        got = d2(Tensor(x)).numpy()
        tx = torch.tensor(x, requires_grad=True)
        (g,) = torch.autograd.grad(tf(tx).sum(), tx, create_graph=True)
        (want,) = torch.autograd.grad(g.sum(), tx)
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-10, atol=1e-12)


NESTED = [
    ("exp", ops.exp, "any"), ("power", lambda x: ops.power(x, x), "pos"),
    ("divide", lambda x: 1.0 / (x * x + 1.0), "any"), ("sigmoid", ops.sigmoid, "any"),
    ("gelu", ops.gelu, "any"), ("softmax", ops.softmax, "any"),
    ("logsumexp", lambda x: ops.logsumexp(x, 1), "any"), ("std", lambda x: ops.std(x, 0), "any"),
    ("matmul", lambda x: x @ x.T, "any"),
    ("einsum", lambda x: ops.einsum("ij,kj->ik", x, x), "any"),
    ("getitem", lambda x: (x * x)[np.array([1, 1, 0])], "any"),
    ("cross_entropy", lambda x: ops.softmax_cross_entropy(x, np.array([0, 2])), "any"),
]


@pytest.mark.parametrize("fn, kind", [pytest.param(f, k, id=n) for n, f, k in NESTED])
def test_second_order_through_nested_grad(fn, kind, make, grad_ok):
    """``gradcheck`` of ``gradkit.grad`` itself: the gradient is differentiable in a graph."""
    (a,) = make([((2, 3), kind)])
    v = np.random.default_rng(5).standard_normal(fn(Tensor(a)).shape)
    grad_ok(lambda x: gradkit.grad(lambda y: (fn(y) * Tensor(v)).sum())(x), [a])


def test_third_derivative_through_nested_grad():
    x = Tensor(np.array([0.5, 1.5, -2.0]))
    d3 = gradkit.grad(lambda a: gradkit.grad(lambda b: gradkit.grad(
        lambda c: (c ** 4 + ops.exp(c)).sum())(b).sum())(a).sum())
    np.testing.assert_allclose(d3(x).numpy(), 24 * x.numpy() + np.exp(x.numpy()), rtol=1e-12)


def test_cast_second_derivative():
    x = Tensor(np.array([0.5, -1.5], np.float32))
    d2 = gradkit.grad(lambda a: gradkit.grad(lambda b: (ops.cast(b, "float64") ** 3).sum())(a)
                      .sum())
    out = d2(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), 6 * x.numpy(), rtol=1e-6)


# ------------------------------------------------------------ engine behaviour
ALL_F32 = [
    ("add", lambda x: x + 1.5), ("radd", lambda x: 1.5 + x), ("sub", lambda x: x - 2),
    ("rsub", lambda x: 2 - x), ("mul", lambda x: x * 0.3), ("rmul", lambda x: 0.3 * x),
    ("div", lambda x: x / 3.0), ("rdiv", lambda x: 3.0 / (x + 5.0)), ("pow", lambda x: x ** 2.0),
    ("rpow", lambda x: 1.5 ** x), ("neg", lambda x: -x), ("exp", ops.exp),
    ("log", lambda x: ops.log(x + 5.0)), ("sqrt", lambda x: ops.sqrt(x + 5.0)),
    ("abs", ops.abs), ("sign", lambda x: ops.sign(x) * x),
    ("maximum", lambda x: ops.maximum(x, 0.1)),
    ("minimum", lambda x: ops.minimum(0.1, x)), ("where", lambda x: ops.where(x > 0, x, 0.5)),
    ("where2", lambda x: ops.where(x > 0, 0.5, x)), ("clip", lambda x: ops.clip(x, -0.5, 0.5)),
    ("cast", lambda x: ops.cast(x, "float32")),
]


@pytest.mark.parametrize("fn", [f for _, f in ALL_F32], ids=[n for n, _ in ALL_F32])
def test_float32_stays_float32_with_python_scalars(fn, make):
    (a,) = make([((2, 3), "any")])
    x = Tensor(a.astype(np.float32), requires_grad=True)
    y = fn(x)
    assert y.dtype == np.float32
    y.backward(np.ones(y.shape, np.float32))
    assert x.grad.dtype == np.float32


NUMPY_SCALARS = [
    ("mul", lambda x, s: x * s), ("rmul", lambda x, s: s * x), ("radd", lambda x, s: s + x),
    ("rsub", lambda x, s: s - x), ("div", lambda x, s: x / s), ("rdiv", lambda x, s: s / (x + 5)),
    ("pow", lambda x, s: (x * x + 0.5) ** s), ("rpow", lambda x, s: s ** x),
    ("maximum", lambda x, s: ops.maximum(x, s)), ("minimum", lambda x, s: ops.minimum(s, x)),
    ("where", lambda x, s: ops.where(x > 0, x, s)), ("clip", lambda x, s: ops.clip(x, -s, s)),
    ("leaky_relu", lambda x, s: ops.leaky_relu(x, s / 10)), ("elu", lambda x, s: ops.elu(x, s)),
    ("pad", lambda x, s: ops.pad(x, 1, s)),
]


@pytest.mark.parametrize("scalar", [np.float64(1.5), np.int64(2), np.array(1.5)],
                         ids=["np.float64", "np.int64", "0-d array"])
@pytest.mark.parametrize("fn", [f for _, f in NUMPY_SCALARS], ids=[n for n, _ in NUMPY_SCALARS])
def test_numpy_scalars_do_not_upcast_float32(fn, scalar, make):
    """``x / np.sqrt(d)`` must stay float32, as with Python scalars (and in PyTorch)."""
    (a,) = make([((2, 3), "any")])
    x = Tensor(a.astype(np.float32), requires_grad=True)
    y = fn(x, scalar)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    want = fn(Tensor(a.astype(np.float32)), scalar.item())  # same values as a Python scalar
    np.testing.assert_array_equal(y.numpy(), want.numpy())


def test_float32_stays_float32_under_create_graph(make):
    (a,) = make([((3,), "pos")])
    x = Tensor(a.astype(np.float32), requires_grad=True)
    y = (ops.exp(x) * 2.0 + x ** 3 / 3.0 - ops.sqrt(x) + ops.log(x)).sum()
    y.backward(create_graph=True)
    g = x.grad
    assert g.dtype == np.float32 and g.requires_grad
    x.grad = None
    g.sum().backward()
    assert x.grad.dtype == np.float32


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        Tensor(np.array([1, 2, 3]), requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        Tensor(np.array([True, False])).requires_grad_()
    t = Tensor(np.array([1, 2, 3])) * 2
    assert t.dtype.kind == "i" and not t.requires_grad


def test_integer_ops_with_float_tensors_flow_gradients():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    i = Tensor(np.array([3, 4]))
    y = x * i
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


@pytest.mark.parametrize("op", ["__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"])
def test_comparisons_return_bool_without_grad(op):
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    for other in (2.0, Tensor(np.array([3.0, 2.0, 1.0]), requires_grad=True),
                  np.array([0.0, 2.0, 4.0])):
        r = getattr(x, op)(other)
        assert isinstance(r, Tensor)
        assert r.dtype == np.bool_ and not r.requires_grad and r.is_leaf
        o = other._data if isinstance(other, Tensor) else other
        np.testing.assert_array_equal(r.numpy(), getattr(x.numpy(), op)(o))


@pytest.mark.parametrize("name, fn", [
    ("add", lambda a, t: a + t), ("sub", lambda a, t: a - t), ("mul", lambda a, t: a * t),
    ("div", lambda a, t: a / t), ("pow", lambda a, t: a ** t), ("matmul", lambda a, t: a @ t),
    ("np.maximum", lambda a, t: np.maximum(a, t)), ("np.exp", lambda a, t: np.exp(t) * a),
])
def test_numpy_array_with_tensor_is_differentiable(name, fn, torch):
    a = np.array([[1.5, 2.0], [0.5, 3.0]])
    t = Tensor(np.array([[0.2, 1.0], [2.0, 0.7]]), requires_grad=True)
    out = fn(a, t)
    assert isinstance(out, Tensor) and out.requires_grad, name
    out.sum().backward()
    tt = torch.tensor(t.numpy(), requires_grad=True)
    tfn = {"np.maximum": lambda a, x: torch.maximum(a, x),
           "np.exp": lambda a, x: torch.exp(x) * a}.get(name, fn)
    want = tfn(torch.tensor(a), tt)
    want.sum().backward()
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("row", rows("elementwise", "binary"), ids=lambda r: r.name)
def test_gradient_when_only_one_input_requires_it(row, make):
    fn, kinds = row.op, sample_kinds(row)
    a, b = make([((3, 1), kinds[0]), ((4,), kinds[1])])
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    fn(x, y).sum().backward()
    for which in (0, 1):
        p = Tensor(a, requires_grad=which == 0)
        q = Tensor(b, requires_grad=which == 1)
        fn(p, q).sum().backward()
        done, other = (p, q) if which == 0 else (q, p)
        assert other.grad is None
        np.testing.assert_allclose(done.grad.numpy(), (x, y)[which].grad.numpy(), rtol=1e-14)


def test_no_graph_under_no_grad(make):
    a, b = make([((3, 1), "pos"), ((4,), "nz")])
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    with gradkit.no_grad():
        outs = [ops.add(x, y), ops.power(x, y), ops.gelu(x), ops.softmax(x * y),
                ops.std(x), x[np.array([0, 0])], ops.concatenate([x, x]), x @ y[None, :1],
                ops.softmax_cross_entropy(x * y, np.array([0, 1, 2])),
                ops.binary_cross_entropy_with_logits(x, Tensor(a / 3))]
    for out in outs:
        assert not out.requires_grad and out.is_leaf


def test_non_scalar_backward_needs_a_gradient():
    y = Tensor(np.ones((2, 3)), requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        y.backward()


@pytest.mark.parametrize("name, fn", [
    ("add", ops.add), ("subtract", ops.subtract), ("multiply", ops.multiply),
    ("divide", ops.divide), ("power", ops.power), ("maximum", ops.maximum),
    ("minimum", ops.minimum),
])
def test_shape_errors_name_op_and_shapes(name, fn):
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.ones((4,)))
    with pytest.raises(OpError) as e:
        fn(a, b)
    msg = str(e.value)
    assert name in msg and "(2, 3)" in msg and "(4,)" in msg, msg
    with pytest.raises(ValueError):  # OpError is a ValueError
        a + b


def test_where_shape_error_names_op():
    with pytest.raises(OpError) as e:
        ops.where(np.ones((2, 3), bool), Tensor(np.ones((4,))), 0.0)
    assert "where" in str(e.value) and "(4,)" in str(e.value)


def test_inputs_unchanged_by_forward_and_backward(make):
    a, b = make([((3, 1), "pos"), ((4,), "nz")])
    x, y = Tensor(a.copy(), requires_grad=True), Tensor(b.copy(), requires_grad=True)
    for f in (ops.add, ops.subtract, ops.multiply, ops.divide, ops.power, ops.maximum):
        f(x, y).sum().backward()
    for f in (ops.exp, ops.log, ops.sqrt, ops.abs, ops.negative, lambda t: ops.clip(t, 0.6, 1)):
        f(x).sum().backward()
    np.testing.assert_array_equal(x.numpy(), a)
    np.testing.assert_array_equal(y.numpy(), b)


# ------------------------------------------------------------ the checker itself
class _WrongSquare(gradkit.ops.Function):
    def forward(self, a):
        return a * a

    def backward(self, M, g, out, a):
        return (g * a * 2.001,)  # off by 0.05%: gradcheck at default tolerance must see it


def test_gradcheck_catches_a_wrong_gradient():
    from gradkit.testing import GradcheckError, gradcheck

    a = np.array([[1.0, -2.0], [3.0, 0.5]])
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(_WrongSquare.apply, a, rtol=1e-4)
    assert not gradcheck(_WrongSquare.apply, a, rtol=1e-4, raise_on_fail=False)
    assert not gradcheck(lambda x: x.detach() * x.detach(), a, raise_on_fail=False)


@pytest.mark.parametrize("layout", ["transposed", "strided", "float32", "tensor"])
def test_gradcheck_with_any_input_layout(layout, make):
    from gradkit.testing import gradcheck

    (a,) = make([((3, 4), "any")])
    x = {"transposed": a.T, "strided": a[:, ::2], "float32": a.astype(np.float32),
         "tensor": Tensor(a.T, requires_grad=True)}[layout]
    assert gradcheck(lambda t: t * t * 0.5 + ops.exp(t), x)
    with pytest.raises(AssertionError):
        gradcheck(_WrongSquare.apply, x, rtol=1e-5)
