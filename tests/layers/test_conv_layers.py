"""Conv2D, Conv1D and the pooling layers: PyTorch parity (outputs and gradients),
gradcheck, shapes, parameter counts, training, configs and input errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gradkit
from gradkit.layers.base import SymbolicTensor
from gradkit.layers.conv import Conv1D, Conv2D
from gradkit.layers.pooling import (
    AveragePooling2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling2D,
)
from gradkit.layers.registry import deserialize, serialize
from gradkit.tensor import Tensor
from gradkit.testing import gradcheck

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL, ATOL = 1e-9, 1e-9


# ------------------------------------------------------------------ helpers
def run_gradkit(layer, x, gy):
    """Forward + backward through ``layer``; returns y, dx and the weights' grads."""
    xt = Tensor(x, requires_grad=True)
    y = layer(xt)
    (y * Tensor(gy)).sum().backward()
    return y.numpy(), xt.grad.numpy(), [w.grad.numpy() for w in layer.weights]


def torch_run(fn, x, params, gy):
    """Forward + backward through a torch function of (x, *params)."""
    xt = torch.tensor(x, requires_grad=True)
    ps = [torch.tensor(p, requires_grad=True) for p in params]
    y = fn(xt, *ps)
    (y * torch.tensor(gy)).sum().backward()
    return y.detach().numpy(), xt.grad.numpy(), [p.grad.numpy() for p in ps]


def to_nchw(a):
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2))


def to_nhwc(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1))


def keras_same_pads(size, window, stride, dilation=(1, 1)):
    """(left, right, top, bottom) for F.pad on NCHW, Keras 'same' (extra at the end)."""
    out = []
    for n, k, s, d in zip(size, window, stride, dilation):
        eff = (k - 1) * d + 1
        total = max((-(-n // s) - 1) * s + eff - n, 0)
        out.append((total // 2, total - total // 2))
    (t, b), (l, r) = out
    return (l, r, t, b)


def with_weights(layer, names):
    """``fn(x, *weights)`` calling ``layer`` with the given tensors as its weights."""

    def fn(x, *ws):
        saved = [getattr(layer, n) for n in names]
        for n, w in zip(names, ws):
            setattr(layer, n, w)
        try:
            return layer(x)
        finally:
            for n, w in zip(names, saved):
                setattr(layer, n, w)

    return fn


# ------------------------------------------------------------------ Conv2D vs torch
CONV_CASES = [
    (padding, stride, fmt, dil)
    for padding in ("valid", "same")
    for stride in (1, 2)
    for fmt in ("channels_last", "channels_first")
    for dil in (1,)
] + [("valid", 1, "channels_last", 2), ("same", 1, "channels_first", 2)]


@pytest.mark.torch
@pytest.mark.parametrize("padding,stride,fmt,dilation", CONV_CASES)
def test_conv2d_matches_torch(padding, stride, fmt, dilation):
    rng = np.random.default_rng(0)
    x_nhwc = rng.standard_normal((2, 8, 7, 3))
    layer = Conv2D(4, (3, 2), strides=stride, padding=padding, data_format=fmt,
                   dilation_rate=dilation, dtype="float64")
    x = x_nhwc if fmt == "channels_last" else to_nchw(x_nhwc)
    layer.build(x.shape)
    kernel = rng.standard_normal((3, 2, 3, 4))
    bias = rng.standard_normal(4)
    layer.set_weights([kernel, bias])
    out_shape = layer.compute_output_shape(x.shape)
    gy = rng.standard_normal(out_shape)
    y, dx, (dk, db) = run_gradkit(layer, x, gy)
    assert y.shape == out_shape

    def tconv(xt, w, b):
        if fmt == "channels_last":
            xt = xt.permute(0, 3, 1, 2)
        if padding == "same":
            xt = F.pad(xt, keras_same_pads(xt.shape[2:], (3, 2), (stride, stride),
                                           (dilation, dilation)))
        out = F.conv2d(xt, w.permute(3, 2, 0, 1), b, stride=stride, dilation=dilation)
        return out.permute(0, 2, 3, 1) if fmt == "channels_last" else out

    ty, tdx, (tdk, tdb) = torch_run(tconv, x, [kernel, bias], gy)
    np.testing.assert_allclose(y, ty, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dx, tdx, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dk, tdk, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(db, tdb, rtol=RTOL, atol=ATOL)


@pytest.mark.torch
def test_conv2d_activation_and_float32_match_torch():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 10, 10, 2)).astype(np.float32)
    layer = Conv2D(5, 3, activation="relu", padding="same")
    layer.build(x.shape)
    kernel = rng.standard_normal((3, 3, 2, 5)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    layer.set_weights([kernel, bias])
    y = layer(x)
    assert y.dtype == np.float32
    ty = F.relu(F.conv2d(torch.tensor(to_nchw(x)), torch.tensor(kernel).permute(3, 2, 0, 1),
                         torch.tensor(bias), padding=1))
    np.testing.assert_allclose(y.numpy(), to_nhwc(ty.numpy()), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ Conv1D vs torch
@pytest.mark.torch
@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize("stride,dilation", [(1, 1), (2, 1), (1, 2)])
def test_conv1d_matches_torch(padding, fmt, stride, dilation):
    rng = np.random.default_rng(2)
    x_nlc = rng.standard_normal((2, 11, 3))
    x = x_nlc if fmt == "channels_last" else np.ascontiguousarray(x_nlc.transpose(0, 2, 1))
    layer = Conv1D(4, 3, strides=stride, padding=padding, data_format=fmt,
                   dilation_rate=dilation, dtype="float64")
    layer.build(x.shape)
    kernel, bias = rng.standard_normal((3, 3, 4)), rng.standard_normal(4)
    layer.set_weights([kernel, bias])
    out_shape = layer.compute_output_shape(x.shape)
    gy = rng.standard_normal(out_shape)
    y, dx, (dk, db) = run_gradkit(layer, x, gy)
    assert y.shape == out_shape

    def tconv(xt, w, b):
        if fmt == "channels_last":
            xt = xt.permute(0, 2, 1)
        eff = 2 * dilation + 1
        if padding == "causal":
            xt = F.pad(xt, (eff - 1, 0))
        elif padding == "same":
            n = xt.shape[2]
            total = max((-(-n // stride) - 1) * stride + eff - n, 0)
            xt = F.pad(xt, (total // 2, total - total // 2))
        out = F.conv1d(xt, w.permute(2, 1, 0), b, stride=stride, dilation=dilation)
        return out.permute(0, 2, 1) if fmt == "channels_last" else out

    ty, tdx, (tdk, tdb) = torch_run(tconv, x, [kernel, bias], gy)
    np.testing.assert_allclose(y, ty, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dx, tdx, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dk, tdk, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(db, tdb, rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------ pooling vs torch
POOL_CASES = [
    (pool, stride, padding, fmt)
    for pool, stride in ((2, None), (3, 2), (2, 1))
    for padding in ("valid", "same")
    for fmt in ("channels_last", "channels_first")
]


def torch_pool(kind, pool, stride, padding, fmt):
    s = pool if stride is None else stride

    def fn(xt):
        if fmt == "channels_last":
            xt = xt.permute(0, 3, 1, 2)
        if padding == "same":
            pads = keras_same_pads(xt.shape[2:], (pool, pool), (s, s))
            if kind == "max":
                out = F.max_pool2d(F.pad(xt, pads, value=-np.inf), pool, s)
            else:  # Keras: padding is left out of the count
                total = F.avg_pool2d(F.pad(xt, pads), pool, s, divisor_override=1)
                count = F.avg_pool2d(F.pad(torch.ones_like(xt), pads), pool, s,
                                     divisor_override=1)
                out = total / count
        else:
            out = (F.max_pool2d if kind == "max" else F.avg_pool2d)(xt, pool, s)
        return out.permute(0, 2, 3, 1) if fmt == "channels_last" else out

    return fn


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("pool,stride,padding,fmt", POOL_CASES)
def test_pooling_matches_torch(kind, pool, stride, padding, fmt):
    rng = np.random.default_rng(3)
    x_nhwc = rng.standard_normal((2, 7, 8, 3))
    x = x_nhwc if fmt == "channels_last" else to_nchw(x_nhwc)
    cls = MaxPooling2D if kind == "max" else AveragePooling2D
    layer = cls(pool, strides=stride, padding=padding, data_format=fmt, dtype="float64")
    out_shape = layer.compute_output_shape(x.shape)
    gy = rng.standard_normal(out_shape)
    y, dx, grads = run_gradkit(layer, x, gy)
    assert grads == [] and y.shape == out_shape
    ty, tdx, _ = torch_run(torch_pool(kind, pool, stride, padding, fmt), x, [], gy)
    np.testing.assert_allclose(y, ty, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dx, tdx, rtol=RTOL, atol=ATOL)


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_matches_torch(kind, fmt, keepdims):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 5, 4, 6))
    cls = GlobalAveragePooling2D if kind == "avg" else GlobalMaxPooling2D
    layer = cls(data_format=fmt, keepdims=keepdims, dtype="float64")
    axes = (2, 3) if fmt == "channels_first" else (1, 2)
    out_shape = layer.compute_output_shape(x.shape)
    gy = rng.standard_normal(out_shape)
    y, dx, _ = run_gradkit(layer, x, gy)
    assert y.shape == out_shape

    def fn(xt):
        return xt.mean(dim=axes, keepdim=keepdims) if kind == "avg" else \
            xt.amax(dim=axes, keepdim=keepdims)

    ty, tdx, _ = torch_run(fn, x, [], gy)
    np.testing.assert_allclose(y, ty, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dx, tdx, rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------ gradcheck
@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize("padding,stride", [("valid", 1), ("same", 2)])
def test_conv2d_gradcheck(fmt, padding, stride):
    rng = np.random.default_rng(5)
    layer = Conv2D(2, (2, 3), strides=stride, padding=padding, data_format=fmt,
                   activation="tanh", dtype="float64")
    shape = (2, 4, 5, 2) if fmt == "channels_last" else (2, 2, 4, 5)
    layer.build(shape)
    gradcheck(with_weights(layer, ["kernel", "bias"]), rng.standard_normal(shape),
              rng.standard_normal((2, 3, 2, 2)), rng.standard_normal(2))


@pytest.mark.parametrize("padding", ["valid", "causal"])
def test_conv1d_gradcheck(padding):
    rng = np.random.default_rng(6)
    layer = Conv1D(2, 3, padding=padding, dilation_rate=2 if padding == "causal" else 1,
                   dtype="float64")
    layer.build((2, 6, 2))
    gradcheck(with_weights(layer, ["kernel", "bias"]), rng.standard_normal((2, 6, 2)),
              rng.standard_normal((3, 2, 2)), rng.standard_normal(2))


@pytest.mark.parametrize("layer", [
    MaxPooling2D(2, dtype="float64"),
    MaxPooling2D(3, strides=2, padding="same", dtype="float64"),
    AveragePooling2D(2, strides=1, dtype="float64"),
    AveragePooling2D(3, strides=2, padding="same", data_format="channels_first",
                     dtype="float64"),
    GlobalAveragePooling2D(dtype="float64"),
    GlobalMaxPooling2D(data_format="channels_first", dtype="float64"),
], ids=lambda layer: type(layer).__name__)
def test_pooling_gradcheck(layer):
    # distinct values, 0.05 apart at least: no ties for max, differences far above eps
    rng = np.random.default_rng(7)
    x = (rng.permutation(2 * 5 * 5 * 2) * 0.05).reshape(2, 5, 5, 2)
    gradcheck(lambda t: layer(t), x)


# ------------------------------------------------------------------ shapes and counts
@pytest.mark.parametrize("kwargs,in_shape,out_shape", [
    (dict(filters=32, kernel_size=3), (None, 28, 28, 1), (None, 26, 26, 32)),
    (dict(filters=8, kernel_size=3, padding="same"), (None, 28, 28, 1), (None, 28, 28, 8)),
    (dict(filters=8, kernel_size=3, strides=2, padding="same"), (5, 7, 8, 2), (5, 4, 4, 8)),
    (dict(filters=8, kernel_size=(3, 5), strides=(2, 1)), (5, 9, 9, 2), (5, 4, 5, 8)),
    (dict(filters=8, kernel_size=3, dilation_rate=2), (None, 9, 10, 2), (None, 5, 6, 8)),
    (dict(filters=6, kernel_size=3, data_format="channels_first"), (None, 3, 10, 12),
     (None, 6, 8, 10)),
    (dict(filters=6, kernel_size=3), (None, None, None, 3), (None, None, None, 6)),
])
def test_conv2d_output_shape(kwargs, in_shape, out_shape):
    layer = Conv2D(**kwargs)
    assert layer.compute_output_shape(in_shape) == out_shape
    sym = layer(SymbolicTensor(in_shape))
    assert sym.shape == out_shape
    concrete = tuple(5 if d is None else d for d in in_shape)
    y = layer(np.zeros(concrete, np.float32))
    assert y.shape == layer.compute_output_shape(concrete)


@pytest.mark.parametrize("layer,in_shape,out_shape", [
    (MaxPooling2D(), (None, 26, 26, 32), (None, 13, 13, 32)),
    (MaxPooling2D(3, strides=2), (None, 7, 8, 3), (None, 3, 3, 3)),
    (MaxPooling2D(3, strides=2, padding="same"), (None, 7, 8, 3), (None, 4, 4, 3)),
    (AveragePooling2D(2, data_format="channels_first"), (4, 3, 9, 8), (4, 3, 4, 4)),
    (AveragePooling2D(2, padding="same"), (None, None, 5, 3), (None, None, 3, 3)),
    (GlobalAveragePooling2D(), (None, 7, 7, 64), (None, 64)),
    (GlobalAveragePooling2D(keepdims=True), (None, 7, 7, 64), (None, 1, 1, 64)),
    (GlobalMaxPooling2D(data_format="channels_first"), (None, 64, 7, 7), (None, 64)),
    (GlobalMaxPooling2D(data_format="channels_first", keepdims=True), (None, 64, 7, 7),
     (None, 64, 1, 1)),
], ids=lambda v: type(v).__name__ if hasattr(v, "name") else None)
def test_pooling_output_shape(layer, in_shape, out_shape):
    assert layer.compute_output_shape(in_shape) == out_shape
    concrete = tuple(3 if d is None else d for d in in_shape)
    assert layer(np.zeros(concrete, np.float32)).shape == layer.compute_output_shape(concrete)


def test_conv1d_output_shape():
    layer = Conv1D(16, 5, padding="causal", dilation_rate=2)
    assert layer.compute_output_shape((None, 100, 3)) == (None, 100, 16)
    assert layer(np.zeros((4, 100, 3), np.float32)).shape == (4, 100, 16)
    assert Conv1D(4, 3, strides=2).compute_output_shape((None, None, 3)) == (None, None, 4)
    assert Conv1D(4, 3, data_format="channels_first").compute_output_shape((2, 3, 10)) == \
        (2, 4, 8)


def test_conv2d_weight_counts_and_layout():
    layer = Conv2D(32, 3)
    layer(np.zeros((1, 28, 28, 1), np.float32))
    assert layer.count_params() == 320
    assert layer.kernel.shape == (3, 3, 1, 32) and layer.bias.shape == (32,)
    cf = Conv2D(64, 3, data_format="channels_first", use_bias=False)
    cf(np.zeros((1, 32, 8, 8), np.float32))
    assert cf.kernel.shape == (3, 3, 32, 64)  # one layout in both data formats
    assert cf.count_params() == 3 * 3 * 32 * 64 and cf.bias is None
    assert Conv2D(8, 3, input_shape=(28, 28, 1)).count_params() == 80  # built at once


def test_conv2d_dtype_and_initialization():
    layer = Conv2D(16, 3)
    y = layer(np.random.default_rng(0).integers(0, 255, (2, 8, 8, 3)).astype(np.uint8))
    assert y.dtype == np.float32 and layer.kernel.dtype == np.float32
    k = layer.kernel.numpy()
    limit = np.sqrt(6.0 / (9 * 3 + 9 * 16))  # glorot_uniform with receptive fields
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.5 * limit
    assert np.all(layer.bias.numpy() == 0)


# ------------------------------------------------------------------ training, config
def test_conv_training_step_decreases_loss():
    gradkit.random.seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 8, 8, 1)).astype(np.float32)
    target = rng.standard_normal((16, 4)).astype(np.float32)
    conv, pool, gap = Conv2D(4, 3, activation="relu", padding="same"), MaxPooling2D(), \
        GlobalAveragePooling2D()

    def loss_fn():
        return gradkit.ops.mean_squared_error(gap(pool(conv(x))), target)

    before = loss_fn()
    before.backward()
    with gradkit.no_grad():
        for w in conv.trainable_weights:
            assert w.grad is not None and np.any(w.grad.numpy() != 0)
            w.assign_sub(0.1 * w.grad.numpy())
    assert loss_fn().item() < before.item()


@pytest.mark.parametrize("layer", [
    Conv2D(8, (3, 5), strides=2, padding="same", data_format="channels_first",
           dilation_rate=1, activation="relu", use_bias=False, kernel_initializer="he_normal",
           name="my_conv", kernel_regularizer="l2"),
    Conv1D(4, 3, padding="causal", dilation_rate=2, activation="tanh"),
    MaxPooling2D((3, 2), strides=(1, 2), padding="same", data_format="channels_first"),
    AveragePooling2D(3),
    GlobalAveragePooling2D(keepdims=True),
    GlobalMaxPooling2D(data_format="channels_first"),
], ids=lambda layer: type(layer).__name__)
def test_config_round_trip(layer):
    cfg = layer.get_config()
    cfg2 = json.loads(json.dumps(cfg))  # JSON-serializable
    clone = type(layer).from_config(cfg2)
    assert type(clone) is type(layer) and clone.get_config() == cfg
    again = deserialize(json.loads(json.dumps(serialize(layer))))
    assert type(again) is type(layer) and again.get_config() == cfg


def test_conv_clone_computes_the_same():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    layer = Conv2D(4, 3, activation="relu", padding="same")
    y = layer(x)
    clone = Conv2D.from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x).numpy(), y.numpy())


# ------------------------------------------------------------------ errors
def test_conv2d_missing_channel_axis_message():
    layer = Conv2D(32, 3, name="conv2d")
    with pytest.raises(ValueError) as e:
        layer(np.zeros((128, 28, 28), np.float32))
    assert str(e.value) == (
        "Conv2D 'conv2d' expected input with 4 axes, received shape (128, 28, 28); add a "
        "channel axis, e.g. x[..., None] or Reshape((28, 28, 1))")
    cf = Conv2D(32, 3, data_format="channels_first", name="cf")
    with pytest.raises(ValueError, match=r"x\[:, None\] or Reshape\(\(1, 28, 28\)\)"):
        cf(np.zeros((128, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"received shape \(128, 784\).*Reshape\(\(28, 28, 1\)\)"):
        Conv2D(32, 3)(np.zeros((128, 784), np.float32))
    with pytest.raises(ValueError, match=r"expected input with 4 axes, received shape "
                                         r"\(None, 28, 28\); add a channel axis"):
        Conv2D(32, 3)(SymbolicTensor((None, 28, 28)))
    assert not layer.built


def test_conv2d_channel_mismatch_names_both_sizes():
    layer = Conv2D(8, 3, name="c")
    layer(np.zeros((2, 10, 10, 3), np.float32))
    with pytest.raises(ValueError) as e:
        layer(np.zeros((2, 10, 10, 1), np.float32))
    msg = str(e.value)
    assert "Conv2D 'c'" in msg and "3 input channels" in msg and "received 1" in msg
    assert "(2, 10, 10, 1)" in msg
    with pytest.raises(ValueError, match="built for 3 input channels but received 5"):
        layer(SymbolicTensor((None, 10, 10, 5)))


def test_window_too_large_and_bad_arguments():
    with pytest.raises(ValueError, match=r"Conv2D 'big'.*does not fit inputs of shape "
                                         r"\(None, 2, 2, 1\)"):
        Conv2D(4, 3, name="big")(SymbolicTensor((None, 2, 2, 1)))
    with pytest.raises(ValueError, match="MaxPooling2D.*does not fit"):
        MaxPooling2D(4).compute_output_shape((None, 3, 3, 1))
    with pytest.raises(ValueError, match="padding must be one of"):
        Conv2D(4, 3, padding="full")
    with pytest.raises(ValueError, match="padding must be one of"):
        Conv2D(4, 3, padding="causal")
    with pytest.raises(ValueError, match="kernel_size must be an int or a tuple of 2 ints"):
        Conv2D(4, (3, 3, 3))
    with pytest.raises(ValueError, match="filters must be an integer >= 1, received 0"):
        Conv2D(0, 3)
    with pytest.raises(TypeError, match="filters must be an integer"):
        Conv2D(2.5, 3)
    with pytest.raises(ValueError, match="data_format"):
        MaxPooling2D(data_format="NHWC")
    with pytest.raises(ValueError, match="strides must be an integer >= 1, received 0"):
        AveragePooling2D(2, strides=0)
    with pytest.raises(ValueError, match=r"MaxPooling2D 'p' expected input with 4 axes, "
                                         r"received shape \(2, 9, 9\); add a channel axis"):
        MaxPooling2D(name="p")(np.zeros((2, 9, 9), np.float32))
    with pytest.raises(ValueError, match=r"GlobalAveragePooling2D .*expected input with 4 axes"):
        GlobalAveragePooling2D()(np.zeros((2, 9), np.float32))
    with pytest.raises(ValueError, match=r"Conv1D 'c1' expected input with 3 axes, received "
                                         r"shape \(4, 100\); add a channel axis, e\.g\. "
                                         r"x\[\.\.\., None\] or Reshape\(\(100, 1\)\)"):
        Conv1D(4, 3, name="c1")(np.zeros((4, 100), np.float32))
