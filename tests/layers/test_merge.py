"""Merge layers: outputs and gradients vs PyTorch, gradcheck, shapes, errors."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit import layers as L
from gradkit.layers.base import SymbolicTensor
from gradkit.utils.validation import AxisError

F64 = "float64"

ELEMENTWISE = {
    # name: (layer class, torch reduction over a list of tensors)
    "Add": (L.Add, lambda t, xs: xs[0] + xs[1] + xs[2]),
    "Multiply": (L.Multiply, lambda t, xs: xs[0] * xs[1] * xs[2]),
    "Average": (L.Average, lambda t, xs: (xs[0] + xs[1] + xs[2]) / 3),
    "Maximum": (L.Maximum, lambda t, xs: t.maximum(t.maximum(xs[0], xs[1]), xs[2])),
    "Minimum": (L.Minimum, lambda t, xs: t.minimum(t.minimum(xs[0], xs[1]), xs[2])),
}


def _run_both(torch, rng, layer, torch_fn, shapes):
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = [gradkit.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = layer(ours)
    yt = torch_fn(torch, theirs)
    up = rng.standard_normal(yt.shape)
    (y * gradkit.Tensor(up)).sum().backward()
    (yt * torch.from_numpy(up)).sum().backward()
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
    return y


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_matches_torch(torch, rng, name):
    cls, fn = ELEMENTWISE[name]
    y = _run_both(torch, rng, cls(dtype=F64), fn, [(4, 3, 2)] * 3)
    assert y.shape == (4, 3, 2)


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_broadcasts_size_one_axes(torch, rng, name):
    cls, fn = ELEMENTWISE[name]
    y = _run_both(torch, rng, cls(dtype=F64), fn, [(4, 3), (4, 1), (4, 3)])
    assert y.shape == (4, 3)
    assert cls().compute_output_shape([(None, 3), (None, 1), (None, 3)]) == (None, 3)


def test_subtract_matches_torch(torch, rng):
    _run_both(torch, rng, L.Subtract(dtype=F64), lambda t, xs: xs[0] - xs[1], [(5, 2)] * 2)


@pytest.mark.parametrize("axis,shapes", [(-1, [(3, 2), (3, 4), (3, 1)]),
                                         (1, [(2, 3, 4), (2, 1, 4)]),
                                         (0, [(2, 3), (5, 3)])])
def test_concatenate_matches_torch(torch, rng, axis, shapes):
    y = _run_both(torch, rng, L.Concatenate(axis=axis, dtype=F64),
                  lambda t, xs: t.cat(xs, dim=axis), shapes)
    expect = list(shapes[0])
    expect[axis] = sum(s[axis] for s in shapes)
    assert y.shape == tuple(expect)


@pytest.mark.parametrize("layer", [L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum,
                                   L.Minimum, L.Concatenate])
def test_gradcheck(rng, layer):
    from gradkit.testing import gradcheck

    merge = layer(dtype=F64)
    xs = [rng.standard_normal((3, 2)) for _ in range(2)]
    assert gradcheck(lambda a, b: merge([a, b]), *xs)


@pytest.mark.parametrize("layer", [L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum,
                                   L.Minimum])
def test_mismatched_shapes_name_layer_and_all_shapes(layer):
    merge = layer(name="m_bad")
    with pytest.raises(ValueError, match=rf"{layer.__name__} 'm_bad' received inputs of "
                                         r"incompatible shapes \(2, 3\), \(2, 4\)"):
        merge([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match=rf"{layer.__name__} 'm_bad'.*different numbers of axes"
                                         r".*\(2, 3\), \(2, 3, 1\)"):
        merge([np.zeros((2, 3)), np.zeros((2, 3, 1))])


def test_batch_axis_does_not_broadcast():
    with pytest.raises(ValueError, match=r"\(1, 3\), \(4, 3\).*axis 0"):
        L.Add()([np.zeros((1, 3)), np.zeros((4, 3))])


def test_three_shapes_listed():
    with pytest.raises(ValueError, match=r"\(2, 3\), \(2, 3\), \(2, 5\)"):
        L.Add(name="add3")([np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 5))])


def test_input_count_errors():
    with pytest.raises(ValueError, match=r"Add 'add_one' expects a list of inputs, received a "
                                         r"single input of shape \(2, 3\)"):
        L.Add(name="add_one")(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="Add 'add_1in' expects at least 2 inputs, received 1"):
        L.Add(name="add_1in")([np.zeros((2, 3))])
    with pytest.raises(ValueError, match="Subtract 'sub3' expects exactly 2 inputs, received 3"):
        L.Subtract(name="sub3")([np.zeros((2, 3))] * 3)


def test_concatenate_errors():
    cat = L.Concatenate(name="cat_bad")
    with pytest.raises(ValueError, match=r"Concatenate 'cat_bad' received inputs of shapes "
                                         r"\(2, 3\), \(4, 3\): all axes but axis -1 must match"):
        cat([np.zeros((2, 3)), np.zeros((4, 3))])
    with pytest.raises(AxisError, match="axis 2 is out of range"):
        L.Concatenate(axis=2)([np.zeros((2, 3)), np.zeros((2, 3))])
    with pytest.raises(TypeError, match="axis must be an integer"):
        L.Concatenate(axis="last")


def test_symbolic_shapes():
    a, b = SymbolicTensor((None, 4)), SymbolicTensor((None, 4))
    assert L.Add()([a, b]).shape == (None, 4)
    assert L.Concatenate()([a, SymbolicTensor((None, 6))]).shape == (None, 10)
    assert L.Concatenate(axis=1)([SymbolicTensor((None, None, 3)),
                                  SymbolicTensor((None, 2, 3))]).shape == (None, None, 3)
    with pytest.raises(ValueError, match=r"\(None, 4\), \(None, 5\)"):
        L.Multiply()([a, SymbolicTensor((None, 5))])


def test_no_weights_and_training_through_merge(rng, sgd_step):
    d1, d2 = L.Dense(3, input_dim=2), L.Dense(3, input_dim=2)
    add = L.Add()
    x = rng.standard_normal((8, 2)).astype("float32")
    assert add.weights == []

    def loss():
        return (add([d1(x), d2(x)]) ** 2).mean()

    first = loss()
    first.backward()
    sgd_step(d1, 0.1)
    sgd_step(d2, 0.1)
    assert loss().item() < first.item()
