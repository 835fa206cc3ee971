"""Shape ops and indexing: gradcheck, PyTorch/NumPy diffs, second derivatives, errors."""

from __future__ import annotations

import numpy as np
import pytest

from gradkit import ops
from gradkit.autograd.function import OpError
from gradkit.tensor import Tensor
from gradkit.utils.validation import AxisError

try:
    import torch as T
    import torch.nn.functional as TF
except ImportError:  # the torch tests skip through the torch_ok fixture
    T = TF = None


def _a(*shape):
    return (shape, "any")


def _torch_pad(x, pw, value=0.0):
    flat = [p for pair in reversed(pw) for p in pair]
    return TF.pad(x, flat, value=value)


# (name, gradkit fn, torch fn, input specs)
SHAPE_OPS = [
    ("reshape", lambda x: ops.reshape(x, (4, 6)), lambda x: x.reshape(4, 6), [_a(2, 3, 4)]),
    ("reshape_-1", lambda x: x.reshape(-1, 2), lambda x: x.reshape(-1, 2), [_a(2, 3, 4)]),
    ("reshape_0d", lambda x: ops.reshape(x, (1, 1)), lambda x: x.reshape(1, 1), [_a()]),
    ("reshape_to_0d", lambda x: ops.reshape(x, ()), lambda x: x.reshape(()), [_a(1, 1)]),
    ("transpose", ops.transpose, lambda x: x.permute(2, 1, 0), [_a(2, 3, 4)]),
    ("transpose_axes", lambda x: ops.transpose(x, (1, 2, 0)), lambda x: x.permute(1, 2, 0),
     [_a(2, 3, 4)]),
    ("transpose_neg", lambda x: ops.transpose(x, (-1, 0, -2)), lambda x: x.permute(2, 0, 1),
     [_a(2, 3, 4)]),
    ("permute_method", lambda x: x.permute(0, 2, 1), lambda x: x.permute(0, 2, 1),
     [_a(2, 3, 4)]),
    ("T", lambda x: x.T, lambda x: x.permute(1, 0), [_a(2, 3)]),
    ("swapaxes", lambda x: ops.swapaxes(x, 0, 2), lambda x: T.swapaxes(x, 0, 2), [_a(2, 3, 4)]),
    ("swapaxes_neg", lambda x: x.swapaxes(-1, 1), lambda x: T.swapaxes(x, -1, 1),
     [_a(2, 3, 4)]),
    ("expand_dims0", lambda x: ops.expand_dims(x, 0), lambda x: x.unsqueeze(0), [_a(2, 3)]),
    ("expand_dims1", lambda x: ops.expand_dims(x, 1), lambda x: x.unsqueeze(1), [_a(2, 3)]),
    ("expand_dims-1", lambda x: ops.expand_dims(x, -1), lambda x: x.unsqueeze(-1), [_a(2, 3)]),
    ("expand_dims_0d", lambda x: ops.expand_dims(x, 0), lambda x: x.unsqueeze(0), [_a()]),
    ("squeeze", ops.squeeze, lambda x: x.squeeze(), [_a(1, 3, 1, 2)]),
    ("squeeze_axis", lambda x: ops.squeeze(x, 2), lambda x: x.squeeze(2), [_a(1, 3, 1, 2)]),
    ("squeeze_neg", lambda x: ops.squeeze(x, -4), lambda x: x.squeeze(0), [_a(1, 3, 1, 2)]),
    ("squeeze_tuple", lambda x: ops.squeeze(x, (0, 2)), lambda x: x.squeeze((0, 2)),
     [_a(1, 3, 1, 2)]),
    ("squeeze_all", ops.squeeze, lambda x: x.squeeze(), [_a(1, 1)]),
    ("broadcast_to", lambda x: ops.broadcast_to(x, (2, 3, 4)),
     lambda x: T.broadcast_to(x, (2, 3, 4)), [_a(3, 1)]),
    ("broadcast_to_0d", lambda x: ops.broadcast_to(x, (2, 3)),
     lambda x: T.broadcast_to(x, (2, 3)), [_a()]),
    ("broadcast_to_same", lambda x: ops.broadcast_to(x, (2, 3)),
     lambda x: T.broadcast_to(x, (2, 3)), [_a(2, 3)]),
    ("concatenate0", lambda a, b, c: ops.concatenate([a, b, c]),
     lambda a, b, c: T.cat([a, b, c]), [_a(1, 3), _a(2, 3), _a(3, 3)]),
    ("concatenate1", lambda a, b: ops.concatenate([a, b], axis=1),
     lambda a, b: T.cat([a, b], 1), [_a(2, 1, 2), _a(2, 3, 2)]),
    ("concat-1", lambda a, b: ops.concat((a, b), axis=-1), lambda a, b: T.cat([a, b], -1),
     [_a(2, 3), _a(2, 1)]),
    ("concatenate_self", lambda a: ops.concatenate([a, a * 2.0, a]),
     lambda a: T.cat([a, a * 2.0, a]), [_a(2, 2)]),
    ("stack0", lambda a, b: ops.stack([a, b]), lambda a, b: T.stack([a, b]), [_a(2, 3), _a(2, 3)]),
    ("stack1", lambda a, b, c: ops.stack([a, b, c], axis=1),
     lambda a, b, c: T.stack([a, b, c], 1), [_a(2, 3), _a(2, 3), _a(2, 3)]),
    ("stack-1", lambda a, b: ops.stack([a, b], axis=-1), lambda a, b: T.stack([a, b], -1),
     [_a(2, 3), _a(2, 3)]),
    ("stack_0d", lambda a, b: ops.stack([a, b]), lambda a, b: T.stack([a, b]), [_a(), _a()]),
    ("split_sections", lambda x: ops.split(x, 3, axis=1), lambda x: T.tensor_split(x, 3, 1),
     [_a(2, 6)]),
    ("split_indices", lambda x: ops.split(x, [1, 3]), lambda x: T.tensor_split(x, [1, 3]),
     [_a(5, 2)]),
    ("split_neg_axis", lambda x: ops.split(x, [2], axis=-1),
     lambda x: T.tensor_split(x, [2], -1), [_a(2, 3)]),
    ("pad_int", lambda x: ops.pad(x, 1), lambda x: _torch_pad(x, [(1, 1), (1, 1)]),
     [_a(2, 3)]),
    ("pad_pairs", lambda x: ops.pad(x, ((0, 2), (1, 0), (0, 0)), 0.5),
     lambda x: _torch_pad(x, [(0, 2), (1, 0), (0, 0)], 0.5), [_a(2, 3, 2)]),
    ("pad_mixed", lambda x: ops.pad(x, (2, (0, 1))),
     lambda x: _torch_pad(x, [(2, 2), (0, 1)]), [_a(2, 3)]),
    ("flatten", ops.flatten, lambda x: T.flatten(x), [_a(2, 3, 4)]),
    ("flatten1", lambda x: ops.flatten(x, 1), lambda x: T.flatten(x, 1), [_a(2, 3, 4)]),
    ("flatten_method", lambda x: x.flatten(), lambda x: x.flatten(), [_a(2, 3)]),
]

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

cases = [pytest.param(f, t, s, id=n) for n, f, t, s in SHAPE_OPS]
cases += [pytest.param(lambda x, i=i: x[i], lambda x, i=i: x[_to_torch_index(i)],
                       [_a(3, 4, 2)], id=f"getitem-{n}") for n, i in INDICES]


def _to_torch_index(i):
    if isinstance(i, tuple):
        return tuple(_to_torch_index(j) for j in i)
    if isinstance(i, np.ndarray):
        return T.tensor(i)
    return i


@pytest.mark.parametrize("fn, tfn, specs", cases)
def test_gradcheck(fn, tfn, specs, make, grad_ok):
    grad_ok(lambda *xs: _join(fn(*xs)), make(specs))


@pytest.mark.parametrize("fn, tfn, specs", cases)
def test_matches_torch_float64(fn, tfn, specs, make, torch_ok):
    torch_ok(fn, tfn, make(specs))


@pytest.mark.parametrize("fn, tfn, specs", cases)
def test_matches_torch_float32(fn, tfn, specs, make, torch_ok):
    torch_ok(fn, tfn, make(specs), dtype=np.float32)


@pytest.mark.parametrize("fn, tfn, specs", cases)
def test_second_order(fn, tfn, specs, make, grad2_ok):
    # multiply by the input so the first derivative depends on it
    grad2_ok(lambda *xs: _join(fn(*[x * x for x in xs])), make(specs))


def _join(out):
    """split returns a list: check all pieces at once."""
    if isinstance(out, list):
        return ops.concatenate([o.reshape(-1) for o in out])
    return out


@pytest.mark.parametrize("idx", [i for _, i in NEG_STEPS + INDICES],
                         ids=[n for n, _ in NEG_STEPS + INDICES])
def test_getitem_matches_numpy_and_gradcheck(idx, make, grad_ok, grad2_ok):
    (a,) = make([_a(3, 4, 2)])
    np.testing.assert_array_equal(Tensor(a)[idx].numpy(), a[idx])
    grad_ok(lambda x: x[idx], [a])
    grad2_ok(lambda x: (x * x)[idx], [a])
    # the gradient is the adjoint: ones scattered (and accumulated) at the picked places
    x = Tensor(a, requires_grad=True)
    x[idx].sum().backward()
    want = np.zeros_like(a)
    np.add.at(want, idx if not isinstance(idx, list) else np.asarray(idx), 1.0)
    np.testing.assert_array_equal(x.grad.numpy(), want)


def test_getitem_with_tensor_indices(make, torch_ok):
    (a,) = make([_a(3, 4)])
    torch_ok(lambda x: x[x > 0], lambda x: x[x > 0], [a])
    torch_ok(lambda x: x[Tensor(ROWS)], lambda x: x[T.tensor(ROWS)], [a])
    torch_ok(lambda x: x[Tensor(ROWS), 1:], lambda x: x[T.tensor(ROWS), 1:], [a])


def test_getitem_scalar_result_is_0d(make):
    (a,) = make([_a(3, 4)])
    x = Tensor(a, requires_grad=True)
    y = x[1, 2]
    assert y.shape == ()
    y.backward()
    assert x.grad.numpy()[1, 2] == 1.0 and x.grad.numpy().sum() == 1.0


SCATTER = [
    ("rows_repeats", (5, 3), np.array([0, 2, 0, 4]), _a(4, 3)),
    ("elements", (6,), np.array([1, 1, 1, 5]), _a(4)),
    ("pairs", (3, 4), (np.array([0, 2, 0]), np.array([1, 3, 1])), _a(3)),
]


@pytest.mark.parametrize("shape, idx, spec", [s[1:] for s in SCATTER],
                         ids=[s[0] for s in SCATTER])
def test_scatter_add(shape, idx, spec, make, grad_ok, grad2_ok, torch_ok):
    (v,) = make([spec])
    want = np.zeros(shape)
    np.add.at(want, idx, v)
    np.testing.assert_array_equal(ops.scatter_add(shape, idx, Tensor(v)).numpy(), want)
    grad_ok(lambda x: ops.scatter_add(shape, idx, x), [v])
    grad2_ok(lambda x: ops.scatter_add(shape, idx, x * x), [v])
    tidx = tuple(T.tensor(i) for i in (idx if isinstance(idx, tuple) else (idx,)))
    torch_ok(lambda x: ops.scatter_add(shape, idx, x),
             lambda x: T.zeros(shape, dtype=x.dtype).index_put(tidx, x, accumulate=True), [v])


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


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 1, 2)], ids=str)
@pytest.mark.parametrize("width", [1, np.int64(2), (1,), (1, 2), [(2,)], [(0, 2)], "per-axis"])
def test_pad_widths_follow_numpy(shape, width, grad_ok):
    a = np.arange(float(np.prod(shape))).reshape(shape)
    if isinstance(width, str):
        width = [(i, 2 - i) for i in range(len(shape))]
    out = ops.pad(Tensor(a), width, 0.5)
    np.testing.assert_array_equal(out.numpy(), np.pad(a, width, constant_values=0.5))
    grad_ok(lambda x: ops.pad(x, width), [a])


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
    (a,) = make([_a(2, 3)])
    x = Tensor(a, requires_grad=True)
    y = Tensor(a, requires_grad=True)
    (ops.reshape(x, (3, 2)).sum() + ops.transpose(y).sum()).backward()
    x.grad.numpy()[0, 0] = 100.0
    assert y.grad.numpy()[0, 0] == 1.0
