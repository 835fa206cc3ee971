"""conv2d, max_pool2d and avg_pool2d beyond the op table: layouts agree, what is computed
and saved, float32 end to end, max-pool ties, error messages, a CNN block against PyTorch
(every padding/stride/dilation case against PyTorch, NumPy and gradcheck: test_op_table)."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit import ops
from gradkit.autograd.function import OpError
from gradkit.ops import conv as conv_mod
from gradkit.tensor import Tensor

# ------------------------------------------------------------------ helpers


def _conv_arrays(case, seed=0, bias=True):
    n, ci, h, w, co, (kh, kw), *_ = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, ci, h, w))                 # NCHW
    k = rng.standard_normal((co, ci, kh, kw)) / np.sqrt(ci * kh * kw)  # OIHW
    b = rng.standard_normal(co) if bias else None
    return x, k, b


def test_conv2d_formats_agree_and_non_contiguous_inputs():
    x, k, b = _conv_arrays((2, 3, 7, 8, 4, (3, 3), 2, "same", 1))
    xl, kl = x.transpose(0, 2, 3, 1), k.transpose(2, 3, 1, 0)  # views, not copies
    y_last = ops.conv2d(xl, kl, b, strides=2, padding="same").numpy()
    y_first = ops.conv2d(x, k, b, strides=2, padding="same", data_format="channels_first")
    np.testing.assert_allclose(y_first.numpy().transpose(0, 2, 3, 1), y_last, atol=1e-12)
    y_copy = ops.conv2d(xl.copy(), kl.copy(), b, strides=2, padding="same").numpy()
    np.testing.assert_allclose(y_copy, y_last, atol=1e-12)


@pytest.mark.parametrize("kmajor_max", [0, 64])
def test_conv2d_im2col_layouts_agree(monkeypatch, kmajor_max):
    """Both im2col layouts (K-major for few channels, M-major for many) give the same."""
    case = (2, 3, 7, 8, 4, (3, 3), 1, 1, 1)
    x, k, b = _conv_arrays(case)
    x, k = x.transpose(0, 2, 3, 1).copy(), k.transpose(2, 3, 1, 0).copy()

    def run():
        xt, kt, bt = (Tensor(a, requires_grad=True) for a in (x, k, b))
        y = ops.conv2d(xt, kt, bt, padding=1)
        y.backward(np.cos(np.arange(y.size)).reshape(y.shape))
        return [y.numpy(), xt.grad.numpy(), kt.grad.numpy(), bt.grad.numpy()]

    ref = run()
    monkeypatch.setattr(conv_mod, "KMAJOR_MAX_CHANNELS", kmajor_max)
    for a, r in zip(run(), ref):
        np.testing.assert_allclose(a, r, atol=1e-12)


# ------------------------------------------------------------------ conv2d: what is computed


def test_conv2d_skips_the_input_gradient_when_not_needed(monkeypatch):
    x, k, b = _conv_arrays((2, 3, 6, 6, 4, (3, 3), 1, "valid", 1))
    x, k = x.transpose(0, 2, 3, 1).copy(), k.transpose(2, 3, 1, 0).copy()

    def boom(*a, **kw):
        raise AssertionError("the input gradient was computed")

    monkeypatch.setattr(conv_mod, "_input_grad", boom)
    kt, bt = Tensor(k, requires_grad=True), Tensor(b, requires_grad=True)
    y = ops.conv2d(Tensor(x), kt, bt)  # a first layer: the image needs no gradient
    assert not hasattr(y._ctx, "wk")
    y.sum().backward()
    assert kt.grad.shape == k.shape and bt.grad.shape == b.shape
    np.testing.assert_allclose(bt.grad.numpy(), np.full(4, 2 * 4 * 4.0))


def test_conv2d_bias_only_gradient_and_no_saving_in_inference():
    x, k, b = _conv_arrays((2, 3, 6, 6, 4, (3, 3), 1, "valid", 1))
    x, k = x.transpose(0, 2, 3, 1).copy(), k.transpose(2, 3, 1, 0).copy()
    bt = Tensor(b, requires_grad=True)
    y = ops.conv2d(x, k, bt)
    assert not hasattr(y._ctx, "cols") and not hasattr(y._ctx, "wk")
    y.sum().backward()
    np.testing.assert_allclose(bt.grad.numpy(), np.full(4, 32.0))
    with gradkit.no_grad():
        y = ops.conv2d(x, Tensor(k, requires_grad=True), bt)
    assert y._ctx is None and not y.requires_grad


def test_conv2d_create_graph_is_a_clear_error():
    x, k, _ = _conv_arrays((1, 1, 5, 5, 1, (3, 3), 1, "valid", 1))
    kt = Tensor(k.transpose(2, 3, 1, 0).copy(), requires_grad=True)
    y = ops.conv2d(x.transpose(0, 2, 3, 1), kt).sum()
    with pytest.raises(NotImplementedError, match="conv2d"):
        y.backward(create_graph=True)


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize("cin,padding", [(1, "valid"), (3, "same"), (8, 1)])
def test_conv2d_float32_in_float32_out(fmt, cin, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 6, cin) if fmt == "channels_last" else (2, cin, 6, 6))
    k = rng.standard_normal((3, 3, cin, 4) if fmt == "channels_last" else (4, cin, 3, 3))
    xt = Tensor(x.astype(np.float32), requires_grad=True)
    kt = Tensor(k.astype(np.float32), requires_grad=True)
    bt = Tensor(np.zeros(4, np.float32), requires_grad=True)
    y = ops.conv2d(xt, kt, bt, padding=padding, data_format=fmt)
    assert y.dtype == np.float32
    y.sum().backward()
    for t in (xt, kt, bt):
        assert t.grad.dtype == np.float32 and t.grad.shape == t.shape


# ------------------------------------------------------------------ conv2d errors


def _err(fn, *words):
    with pytest.raises(OpError) as e:
        fn()
    msg = str(e.value)
    for w in words:
        assert w in msg, f"{w!r} not in: {msg}"
    return msg


def test_conv2d_errors_name_the_op_and_shapes():
    x = np.zeros((2, 8, 8, 3), np.float32)
    k = np.zeros((3, 3, 3, 4), np.float32)
    msg = _err(lambda: ops.conv2d(np.zeros((28, 28), np.float32), k), "conv2d",
               "(28, 28)", "4-D input", "channels_last", "x[..., None]")
    assert msg.startswith("conv2d expects a 4-D input (batch, height, width, channels)")
    _err(lambda: ops.conv2d(np.zeros((2, 28, 28)), np.zeros((4, 1, 3, 3)),
                            data_format="channels_first"),
         "conv2d", "(2, 28, 28)", "(batch, channels, height, width)", "channels_first")
    _err(lambda: ops.conv2d(x, np.zeros((3, 3, 4))), "conv2d", "kernel", "(3, 3, 4)")
    _err(lambda: ops.conv2d(np.zeros((2, 8, 8, 1)), k), "conv2d", "1 channels",
         "(2, 8, 8, 1)", "(3, 3, 3, 4)")
    _err(lambda: ops.conv2d(x, np.zeros((9, 9, 3, 4))), "conv2d", "larger than the padded",
         "(2, 8, 8, 3)", "(9, 9, 3, 4)")
    _err(lambda: ops.conv2d(x, np.zeros((3, 3, 3, 4)), dilation=4), "conv2d", "dilation")
    _err(lambda: ops.conv2d(x, k, padding="full"), "conv2d", "'valid', 'same'", "'full'")
    _err(lambda: ops.conv2d(x, k, padding=-1), "conv2d", "padding", "-1")
    _err(lambda: ops.conv2d(x, k, strides=0), "conv2d", "strides")
    _err(lambda: ops.conv2d(x, k, strides=(1, 2, 3)), "conv2d", "strides", "(1, 2, 3)")
    _err(lambda: ops.conv2d(x, k, data_format="NHWC"), "conv2d", "data_format", "'NHWC'")
    _err(lambda: ops.conv2d(x, k, np.zeros(3)), "conv2d", "bias", "(4,)", "(3,)")


# ------------------------------------------------------------------ pooling


@pytest.mark.torch
@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize("pool,strides,padding", [(2, None, 0), (3, 2, 0), (3, 1, 1),
                                                  ((2, 3), (1, 2), 0)])
def test_max_pool_ties_route_like_torch(torch, fmt, pool, strides, padding):
    """Many equal values (ReLU zeros, small integers): ONE element per window, the first
    maximum in row-major order, exactly as PyTorch."""
    rng = np.random.default_rng(4)
    x = np.maximum(rng.integers(-2, 3, (2, 3, 8, 9)), 0).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.max_pool2d(xt, pool, pool if strides is None else strides,
                                        padding)
    # integer upstream gradients: overlapping windows sum exactly, in any order
    gy = rng.integers(-9, 10, tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.tensor(gy))
    gx = Tensor(x if fmt == "channels_first" else x.transpose(0, 2, 3, 1).copy(),
                requires_grad=True)
    y = ops.max_pool2d(gx, pool, strides, padding, fmt)
    y.backward(gy if fmt == "channels_first" else gy.transpose(0, 2, 3, 1))
    got = gx.grad.numpy() if fmt == "channels_first" else gx.grad.numpy().transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(got, xt.grad.numpy())


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_pool_float32_in_float32_out(kind, padding):
    x = Tensor(np.random.default_rng(0).standard_normal((2, 7, 7, 3)).astype(np.float32),
               requires_grad=True)
    fn_op = ops.max_pool2d if kind == "max" else ops.avg_pool2d
    y = fn_op(x, 2, padding=padding)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.shape == x.shape


def test_pool_errors_name_the_op_and_shapes():
    x = np.zeros((2, 5, 5, 3), np.float32)
    for name, fn in (("max_pool2d", ops.max_pool2d), ("avg_pool2d", ops.avg_pool2d)):
        msg = _err(lambda fn=fn: fn(np.zeros((5, 5))), name, "(5, 5)", "4-D input")
        assert msg.startswith(f"{name} expects a 4-D input (batch, height, width, channels)")
        _err(lambda fn=fn: fn(x, 6), name, "larger than the padded", "(2, 5, 5, 3)")
        _err(lambda fn=fn: fn(x, 2, padding="full"), name, "'valid', 'same'", "'full'")
        _err(lambda fn=fn: fn(x, 2, padding=2), name, "at most half", "(2, 5, 5, 3)")
        _err(lambda fn=fn: fn(x, 0), name, "pool_size")
        _err(lambda fn=fn: fn(x, 2, strides=(1, 0)), name, "strides")
        _err(lambda fn=fn: fn(x, 2, data_format="NCHW"), name, "data_format")


def test_pool_create_graph_is_a_clear_error():
    x = Tensor(np.random.default_rng(0).standard_normal((1, 4, 4, 1)), requires_grad=True)
    y = ops.max_pool2d(x).sum()
    with pytest.raises(NotImplementedError, match="maxpool2d"):
        y.backward(create_graph=True)


def test_cnn_block_end_to_end_matches_torch(torch):
    """conv -> relu -> max pool -> conv -> relu -> max pool: the CNN benchmark's stack."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 12, 12, 1)).astype(np.float32)
    k1 = (rng.standard_normal((3, 3, 1, 4)) * 0.5).astype(np.float32)
    k2 = (rng.standard_normal((3, 3, 4, 6)) * 0.3).astype(np.float32)
    b1, b2 = (rng.standard_normal(4) * 0.1).astype(np.float32), np.zeros(6, np.float32)
    params = [Tensor(a, requires_grad=True) for a in (k1, b1, k2, b2)]
    h = ops.max_pool2d(ops.relu(ops.conv2d(x, params[0], params[1])))
    y = ops.max_pool2d(ops.relu(ops.conv2d(h, params[2], params[3])))
    (y * y).sum().backward()

    F = torch.nn.functional
    tp = [torch.tensor(a, requires_grad=True) for a in (k1, b1, k2, b2)]
    th = F.max_pool2d(F.relu(F.conv2d(torch.tensor(x).permute(0, 3, 1, 2),
                                      tp[0].permute(3, 2, 0, 1), tp[1])), 2)
    ty = F.max_pool2d(F.relu(F.conv2d(th, tp[2].permute(3, 2, 0, 1), tp[3])), 2)
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().permute(0, 2, 3, 1).numpy(),
                               rtol=1e-5, atol=1e-5)
    for p, t in zip(params, tp):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_conv2d_dtypes_and_array_like_inputs():
    k = np.ones((3, 3, 1, 2), np.float32)
    assert ops.conv2d(np.ones((1, 4, 4, 1), np.uint8), k).dtype == np.float32  # images
    assert ops.conv2d(np.ones((1, 4, 4, 1)), k).dtype == np.float64  # the wider float
    y = ops.conv2d(np.ones((1, 4, 4, 1)).tolist(), k, [1.0, 2.0])
    np.testing.assert_allclose(y.numpy()[0, 0, 0], [10.0, 11.0])
    x = Tensor(np.zeros((0, 5, 5, 1), np.float32), requires_grad=True)  # empty batch
    y = ops.conv2d(x, Tensor(k, requires_grad=True))
    assert y.shape == (0, 3, 3, 2)
    y.sum().backward()
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize("case", [(5, 6, 7, 8, 4, (3, 3), 1, "valid", 1),
                                  (5, 6, 9, 8, 3, (3, 2), 2, "same", (2, 1)),
                                  (3, 2, 6, 6, 2, (3, 3), 1, "same", 1)])  # few channels
def test_image_blocks_give_the_same_results(monkeypatch, fmt, case):
    """The blocked loops (inference forward, input gradient) in blocks of one image,
    of two (a remainder at the end) and of the whole batch agree with each other, and
    with the training forward that keeps the whole im2col matrix."""
    n, ci, h, w, co, ks, s, p, d = case
    x, k, b = _conv_arrays(case)
    if fmt == "channels_last":
        x, k = x.transpose(0, 2, 3, 1), k.transpose(2, 3, 1, 0)
    x, k, b = (np.ascontiguousarray(a, np.float32) for a in (x, k, b))

    def run(images):
        monkeypatch.setattr(conv_mod, "_images_per_block", lambda n, _bytes: min(n, images))
        y_inf = ops.conv2d(Tensor(x), Tensor(k), Tensor(b), s, p, fmt, d).numpy()
        xt = Tensor(x, requires_grad=True)
        kt = Tensor(k, requires_grad=True)
        y = ops.conv2d(xt, kt, Tensor(b), s, p, fmt, d)
        y.backward(np.cos(np.arange(y.size, dtype=np.float32)).reshape(y.shape))
        return y_inf, y.numpy(), xt.grad.numpy(), kt.grad.numpy()

    whole = run(n)
    np.testing.assert_allclose(whole[0], whole[1], rtol=1e-5, atol=1e-5)  # blocked = kept
    for images in (1, 2):
        for got, want in zip(run(images), whole):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
