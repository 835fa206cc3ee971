"""The fused layer primitives: ops.dense, ops.relu's general form, ops.layer_norm and
ops.batch_norm. Each: float64 gradcheck (first and second order) and values and
gradients against PyTorch."""

import numpy as np
import pytest

from gradkit import ops
from gradkit.autograd.function import OpError
from gradkit.ops import activation as act_ops
from gradkit.ops import nn as nn_ops
from gradkit.tensor import Tensor
from gradkit.utils.validation import AxisError

try:
    import torch as T
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover - the torch diffs skip themselves
    T = TF = None


# ---------------------------------------------------------------- dense
def _torch_dense(activation, bias):
    def run(x, k, *b):
        y = TF.linear(x, k.T, b[0] if bias else None)
        return {None: y, "relu": T.relu(y) if activation == "relu" else y,
                "tanh": T.tanh(y)}[activation]
    return run


DENSE_CASES = [(act, bias, shape) for act in (None, "relu", "tanh") for bias in (True, False)
               for shape in ((4, 5), (2, 3, 5))]


@pytest.mark.parametrize("activation, bias, shape", DENSE_CASES,
                         ids=[f"{a}-{'bias' if b else 'nobias'}-{len(s)}d"
                              for a, b, s in DENSE_CASES])
def test_dense(activation, bias, shape, make, grad_ok, grad2_ok, torch_ok):
    specs = [(shape, "any"), ((5, 3), "any")] + ([((3,), "any")] if bias else [])
    arrays = make(specs)

    def fn(x, k, *b):
        return ops.dense(x, k, b[0] if bias else None, activation)

    grad_ok(fn, arrays)
    grad2_ok(fn, arrays)
    torch_ok(fn, _torch_dense(activation, bias), arrays)
    torch_ok(fn, _torch_dense(activation, bias), arrays, dtype=np.float32)


def test_dense_is_one_node_and_other_activations_are_applied_after(make):
    x, k, b = (Tensor(a, requires_grad=True) for a in make([((4, 5), "any"), ((5, 3), "any"),
                                                             ((3,), "any")]))
    for activation in ("relu", "tanh", ops.relu, ops.tanh, None, "linear"):
        assert isinstance(ops.dense(x, k, b, activation)._ctx, nn_ops.Dense)
    y = ops.dense(x, k, b, ops.sigmoid)
    assert isinstance(y._ctx, act_ops.Sigmoid)  # a sigmoid node on top of the dense one
    np.testing.assert_allclose(y.numpy(), ops.sigmoid(x @ k + b).numpy(), rtol=1e-12)


def test_dense_errors(make):
    x, k = (Tensor(a) for a in make([((4, 5), "any"), ((5, 3), "any")]))
    with pytest.raises(ValueError, match="or a callable, received 'sigmoid'"):
        ops.dense(x, k, None, "sigmoid")
    with pytest.raises(OpError, match=r"dense: .*bias \(4,\)"):
        ops.dense(x, k, np.zeros(4))
    with pytest.raises(OpError, match=r"dense: .*kernel \(5,\)"):
        ops.dense(x, np.zeros(5))
    with pytest.raises(OpError, match=r"\(4, 3\) and \(5, 3\)"):
        ops.dense(Tensor(np.zeros((4, 3))), k)


# ---------------------------------------------------------------- relu
def _keras_relu_torch(max_value, slope, threshold):
    """The reference formula in torch (torch has no single op for the general form)."""
    def run(x):
        y = T.where(x >= threshold, x, (x - threshold) * slope)
        return y if max_value is None else T.where(x >= max_value, T.full_like(x, max_value), y)
    return run


RELU_CASES = {  # kwargs, the torch builtin that computes the same
    "relu6": ({"max_value": 6.0}, lambda x: TF.relu6(x)),
    "leaky": ({"negative_slope": 0.1}, lambda x: TF.leaky_relu(x, 0.1)),
    "threshold": ({"threshold": 0.5}, lambda x: TF.threshold(x, 0.5, 0.0)),
    "all": ({"max_value": 4.0, "negative_slope": 0.2, "threshold": 1.0},
            lambda x: _keras_relu_torch(4.0, 0.2, 1.0)(x)),
}


def _relu_input(rng):
    # values in (-8, 8), none within 0.05 of a kink (0, 0.5, 1, 4, 6)
    x = rng.uniform(-8, 8, (5, 7))
    for kink in (0.0, 0.5, 1.0, 4.0, 6.0):
        x[np.abs(x - kink) < 0.05] += 0.1
    return x


@pytest.mark.parametrize("case", list(RELU_CASES))
def test_relu_general_form(case, make, grad_ok, grad2_ok, torch_ok):
    kwargs, tfn = RELU_CASES[case]
    arrays = make([_relu_input])

    def fn(x):
        return ops.relu(x, **kwargs)

    assert isinstance(fn(Tensor(arrays[0], requires_grad=True))._ctx, act_ops.ClippedReLU)
    grad_ok(fn, arrays)
    grad2_ok(fn, arrays)
    torch_ok(fn, tfn, arrays)
    torch_ok(fn, tfn, arrays, dtype=np.float32)


def test_relu_defaults_take_the_plain_primitive(make):
    x = Tensor(make([((3, 4), "any")])[0], requires_grad=True)
    for kwargs in ({}, {"negative_slope": 0, "threshold": 0.0}, {"threshold": np.float64(0)},
                   {"negative_slope": np.float32(0.0)}):
        y = ops.relu(x, **kwargs)
        assert isinstance(y._ctx, act_ops.ReLU), kwargs
        np.testing.assert_array_equal(y.numpy(), np.maximum(x.numpy(), 0))


def test_relu_argument_errors():
    x = Tensor(np.ones(3))
    with pytest.raises(ValueError, match="relu: max_value must be a finite number >= 0.0"):
        ops.relu(x, max_value=-1.0)
    with pytest.raises(ValueError, match="relu: negative_slope"):
        ops.relu(x, negative_slope=-0.5)
    with pytest.raises(TypeError, match="relu: threshold"):
        ops.relu(x, threshold="0")
    with pytest.raises(TypeError, match="relu: negative_slope"):
        ops.relu(x, negative_slope=np.ones(2))


# ---------------------------------------------------------------- layer_norm
LN_CASES = {  # input shape, gradkit axis, torch normalized_shape
    "last": ((4, 6), -1, (6,)),
    "seq": ((2, 3, 5), -1, (5,)),
    "two_axes": ((2, 3, 4), (1, 2), (3, 4)),
}


@pytest.mark.parametrize("case", list(LN_CASES))
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_layer_norm(case, affine, make, grad_ok, grad2_ok, torch_ok):
    shape, axis, norm_shape = LN_CASES[case]
    arrays = make([(shape, "any")] + ([(norm_shape, "pos"), (norm_shape, "any")]
                                      if affine else []))

    def fn(x, *gb):
        return ops.layer_norm(x, *gb, axis=axis, epsilon=1e-5)

    def tfn(x, *gb):
        return TF.layer_norm(x, norm_shape, *gb, eps=1e-5)

    grad_ok(fn, arrays)
    grad2_ok(fn, arrays)
    torch_ok(fn, tfn, arrays, rtol=1e-9, atol=1e-10)
    torch_ok(fn, tfn, arrays, dtype=np.float32, rtol=1e-4, atol=1e-5)


def test_layer_norm_errors():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"layer_norm: gamma must have shape \(3,\).*\(2,\)"):
        ops.layer_norm(x, np.ones(2))
    with pytest.raises(ValueError, match="layer_norm: epsilon"):
        ops.layer_norm(x, epsilon=0.0)
    with pytest.raises(AxisError, match="layer_norm: axis 2"):
        ops.layer_norm(x, axis=2)


# ---------------------------------------------------------------- batch_norm
BN_CASES = {  # input shape, gradkit feature axis, torch layout (channels at axis 1)
    "nc": ((6, 4), -1),
    "nhwc": ((3, 2, 2, 4), -1),
    "nchw": ((3, 4, 2, 2), 1),
}


def _to_torch_layout(x, axis):
    """torch's batch_norm wants the channels on axis 1."""
    return x if axis in (1, -x.dim() + 1) else T.movedim(x, axis, 1)


def _from_torch_layout(y, axis):
    return y if axis in (1, -y.dim() + 1) else T.movedim(y, 1, axis)


@pytest.mark.parametrize("case", list(BN_CASES))
@pytest.mark.parametrize("training", [True, False], ids=["train", "infer"])
def test_batch_norm(case, training, make, grad_ok, grad2_ok, torch_ok):
    shape, axis = BN_CASES[case]
    c = shape[axis]
    x, gamma, beta, mean, var = make([(shape, "any"), ((c,), "pos"), ((c,), "any"),
                                      ((c,), "any"), ((c,), "pos")])
    moving = None if training else (mean, var)  # gradcheck calls fn many times: no updates

    def fn(x, g, b):
        m, v = moving or (None, None)
        return ops.batch_norm(x, m, v, g, b, training=training, epsilon=1e-5, axis=axis)

    def tfn(x, g, b):
        m, v = (None, None) if moving is None else (T.tensor(mean, dtype=x.dtype),
                                                     T.tensor(var, dtype=x.dtype))
        y = TF.batch_norm(_to_torch_layout(x, axis), m, v, g, b, training=training, eps=1e-5)
        return _from_torch_layout(y, axis)

    arrays = [x, gamma, beta]
    grad_ok(fn, arrays)
    grad2_ok(fn, arrays)
    torch_ok(fn, tfn, arrays, rtol=1e-9, atol=1e-10)
    torch_ok(fn, tfn, arrays, dtype=np.float32, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", list(BN_CASES))
def test_batch_norm_updates_the_moving_statistics_in_place(case, make, torch):
    shape, axis = BN_CASES[case]
    c = shape[axis]
    x, mean0, var0 = make([(shape, "any"), ((c,), "any"), ((c,), "pos")])
    mean, var = Tensor(mean0.copy()), Tensor(var0.copy())
    version = mean._version
    m = 0.9
    ops.batch_norm(Tensor(x), mean, var, training=True, momentum=m, axis=axis)
    red = tuple(i for i in range(len(shape)) if i != axis % len(shape))
    # Keras: moving = moving * momentum + batch * (1 - momentum), biased batch variance
    np.testing.assert_allclose(mean.numpy(), mean0 * m + x.mean(axis=red) * (1 - m), rtol=1e-12)
    np.testing.assert_allclose(var.numpy(), var0 * m + x.var(axis=red) * (1 - m), rtol=1e-12)
    assert mean._version == version + 1  # an in-place change that graphs can detect
    # the mean follows torch's running_mean with momentum 1 - m
    rm = torch.tensor(mean0.copy())
    TF.batch_norm(_to_torch_layout(torch.tensor(x), axis), rm, torch.tensor(var0.copy()),
                  training=True, momentum=1 - m)
    np.testing.assert_allclose(mean.numpy(), rm.numpy(), rtol=1e-12)
    # inference leaves them alone
    ops.batch_norm(Tensor(x), mean, var, axis=axis)
    assert mean._version == version + 1


def test_batch_norm_errors():
    x = Tensor(np.ones((4, 3)))
    with pytest.raises(ValueError, match="inference.*moving_mean and moving_variance"):
        ops.batch_norm(x, None, None)
    with pytest.raises(ValueError, match=r"batch_norm: moving_variance must have shape \(3,\)"):
        ops.batch_norm(x, np.zeros(3), np.ones(4))
    with pytest.raises(TypeError, match="batch_norm: moving_mean must be a Tensor or an array"):
        ops.batch_norm(x, [0.0, 0.0, 0.0], np.ones(3), training=True)
    with pytest.raises(ValueError, match="batch_norm: momentum"):
        ops.batch_norm(x, np.zeros(3), np.ones(3), momentum=1.5)
    with pytest.raises(AxisError, match="batch_norm: axis -3"):
        ops.batch_norm(x, np.zeros(3), np.ones(3), axis=-3)
