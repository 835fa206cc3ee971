"""The fused layer primitives beyond the op table: which graph node ops.dense and ops.relu
build, the moving-statistics update of ops.batch_norm, and the argument errors.

Values, gradients (first and second order), PyTorch and NumPy comparisons of ops.dense,
ops.relu's general form, ops.layer_norm and ops.batch_norm are rows of
``tests/ops/op_table.py`` (``dense``, ``relu``, ``layer_norm``, ``batch_norm``)."""

import numpy as np
import pytest

from gradkit import ops
from gradkit.autograd.function import OpError
from gradkit.ops import activation as act_ops
from gradkit.ops import nn as nn_ops
from gradkit.tensor import Tensor
from gradkit.utils.validation import AxisError, normalize_axes
from tests.ops.op_table import BN_CASES, RELU_VARIANTS

try:
    import torch as T
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover - the torch diffs skip themselves
    T = TF = None


# ---------------------------------------------------------------- dense
def test_dense_is_one_node_and_other_activations_are_applied_after(make):
    x, k, b = (Tensor(a, requires_grad=True) for a in make([((4, 5), "any"), ((5, 3), "any"),
                                                             ((3,), "any")]))
    for activation in ("relu", "tanh", ops.relu, ops.tanh, None, "linear"):
        assert isinstance(ops.dense(x, k, b, activation)._ctx, nn_ops.Dense)
    y = ops.dense(x, k, b, ops.sigmoid)
    assert isinstance(y._ctx, act_ops.Sigmoid)  # a sigmoid node on top of the dense one
    assert isinstance(y._ctx.parents[0]._ctx, nn_ops.Dense)


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


# ---------------------------------------------------------------- conv2d's fused activation
def test_conv2d_fuses_relu_and_tanh_into_one_node(make):
    from gradkit.ops import conv as conv_ops

    x, k, b = (Tensor(a, requires_grad=True) for a in make([((2, 6, 6, 2), "any"),
                                                             ((3, 3, 2, 4), "any"),
                                                             ((4,), "any")]))
    plain = ops.conv2d(x, k, b).numpy()
    for activation, ref in (("relu", np.maximum(plain, 0)), (ops.relu, np.maximum(plain, 0)),
                            ("tanh", np.tanh(plain)), (None, plain), ("linear", plain)):
        y = ops.conv2d(x, k, b, activation=activation)
        assert isinstance(y._ctx, conv_ops.Conv2D), activation
        np.testing.assert_allclose(y.numpy(), ref, rtol=1e-6, atol=1e-6)
    y = ops.conv2d(x, k, b, activation=ops.sigmoid)  # not fused: a node of its own on top
    assert isinstance(y._ctx, act_ops.Sigmoid)
    with pytest.raises(ValueError, match="conv2d: activation must be .* received 'elu'"):
        ops.conv2d(x, k, b, activation="elu")


def test_conv_layers_fuse_their_activation(make):
    from gradkit import layers
    from gradkit.ops import conv as conv_ops

    x = Tensor(make([((2, 6, 6, 2), "any")])[0])
    for activation in ("relu", "tanh"):
        y = layers.Conv2D(3, 3, activation=activation)(x)
        assert isinstance(y._ctx, conv_ops.Conv2D)  # no activation node after the conv
    y = layers.Conv1D(3, 3, activation="relu")(Tensor(x.numpy()[:, 0]))
    assert isinstance(y._ctx.parents[0]._ctx, conv_ops.Conv2D)  # the squeeze's input
    assert (y.numpy() >= 0).all()
    y = layers.Conv2D(3, 3, activation="sigmoid")(x)
    assert isinstance(y._ctx, act_ops.Sigmoid)


# ---------------------------------------------------------------- relu
def test_relu_general_form_is_one_clipped_relu_node(make):
    x = Tensor(make([((3, 4), "kinks")])[0], requires_grad=True)
    for kwargs in [kw for _, kw in RELU_VARIANTS if kw]:
        assert isinstance(ops.relu(x, **kwargs)._ctx, act_ops.ClippedReLU), kwargs


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
def test_layer_norm_errors():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"layer_norm: gamma must have shape \(3,\).*\(2,\)"):
        ops.layer_norm(x, np.ones(2))
    with pytest.raises(ValueError, match="layer_norm: epsilon"):
        ops.layer_norm(x, epsilon=0.0)
    with pytest.raises(AxisError, match="layer_norm: axis 2"):
        ops.layer_norm(x, axis=2)


# ---------------------------------------------------------------- batch_norm
def _to_torch_layout(x, axis):
    """torch's batch_norm wants the channels on axis 1."""
    return x if axis in (1, -x.dim() + 1) else T.movedim(x, axis, 1)


@pytest.mark.parametrize("case", BN_CASES, ids=[c[0] for c in BN_CASES])
def test_batch_norm_updates_the_moving_statistics_in_place(case, make, torch):
    _, shape, axis = case
    axes = normalize_axes("test", axis, len(shape))
    pshape = tuple(shape[a] for a in axes)
    x, mean0, var0 = make([(shape, "any"), (pshape, "any"), (pshape, "pos")])
    mean, var = Tensor(mean0.copy()), Tensor(var0.copy())
    version = mean._version
    m = 0.9
    ops.batch_norm(Tensor(x), mean, var, training=True, momentum=m, axis=axis)
    red = tuple(i for i in range(len(shape)) if i not in axes)
    # Keras: moving = moving * momentum + batch * (1 - momentum), biased batch variance
    np.testing.assert_allclose(mean.numpy(), mean0 * m + x.mean(axis=red) * (1 - m), rtol=1e-12)
    np.testing.assert_allclose(var.numpy(), var0 * m + x.var(axis=red) * (1 - m), rtol=1e-12)
    assert mean._version == version + 1  # an in-place change that graphs can detect
    if isinstance(axis, int):  # the mean follows torch's running_mean with momentum 1 - m
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


@pytest.mark.parametrize("op", [lambda x: ops.layer_norm(x, axis=None),
                                lambda x: ops.batch_norm(x, None, None, axis=None,
                                                         training=True)])
def test_norm_axis_none_is_a_clear_type_error(op):
    with pytest.raises(TypeError, match="axis must be an int or a tuple of ints, received None"):
        op(Tensor(np.ones((2, 3))))
