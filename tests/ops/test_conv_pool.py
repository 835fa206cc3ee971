"""conv2d, max_pool2d and avg_pool2d: values and gradients against PyTorch and
finite differences, float32 end to end, error messages, and what is saved."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit import ops
from gradkit.autograd.function import OpError
from gradkit.ops import conv as conv_mod
from gradkit.tensor import Tensor
from gradkit.testing import gradcheck

# ------------------------------------------------------------------ helpers


def same_pads(n, k, s, d=1):
    """Keras/TF 'same' padding of one axis: (before, after)."""
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def torch_conv(torch, x_nchw, w_oihw, b, stride, padding, dilation):
    """PyTorch conv2d with Keras 'same' (possibly asymmetric) done by explicit F.pad."""
    F = torch.nn.functional
    s = (stride, stride) if isinstance(stride, int) else stride
    d = (dilation, dilation) if isinstance(dilation, int) else dilation
    if padding == "same":
        kh, kw = w_oihw.shape[2:]
        top, bottom = same_pads(x_nchw.shape[2], kh, s[0], d[0])
        left, right = same_pads(x_nchw.shape[3], kw, s[1], d[1])
        x_nchw = F.pad(x_nchw, (left, right, top, bottom))
        padding = 0
    elif padding == "valid":
        padding = 0
    return F.conv2d(x_nchw, w_oihw, b, stride=s, padding=padding, dilation=d)


# (N, C_in, H, W, C_out, (kh, kw), strides, padding, dilation)
CONV_CASES = [
    (2, 1, 7, 9, 3, (3, 3), 1, "valid", 1),
    (2, 3, 7, 9, 4, (3, 3), 1, "same", 1),
    (2, 3, 8, 7, 2, (3, 3), 2, "same", 1),
    (1, 3, 9, 9, 2, (5, 5), 2, "valid", 1),
    (2, 1, 6, 8, 3, (5, 5), 1, "same", 1),
    (2, 3, 5, 6, 4, (1, 1), 1, "valid", 1),
    (2, 3, 5, 7, 2, (1, 1), 2, "same", 1),
    (2, 3, 7, 8, 3, (2, 3), (2, 1), "same", 1),
    (2, 1, 7, 9, 2, (3, 2), 1, 1, 1),
    (2, 3, 6, 7, 2, (3, 3), 2, (2, 1), 1),
    (2, 6, 7, 7, 5, (3, 3), 1, "valid", 1),   # > KMAJOR_MAX_CHANNELS: N*OH*OW-major im2col
    (2, 6, 8, 9, 3, (3, 3), 2, "same", 1),
    (1, 7, 6, 5, 2, (2, 3), 1, (1, 2), 1),
    (2, 3, 9, 9, 2, (3, 3), 1, "valid", 2),   # dilation
    (1, 6, 9, 8, 2, (3, 2), 2, "same", (2, 3)),
    (2, 5, 4, 4, 3, (4, 4), 1, "valid", 1),   # kernel as large as the input
]


def _case_id(c):
    n, ci, h, w, co, k, s, p, d = c
    return f"{ci}x{h}x{w}-k{k[0]}x{k[1]}-s{s}-p{p}-d{d}"


def _conv_arrays(case, seed=0, bias=True):
    n, ci, h, w, co, (kh, kw), *_ = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, ci, h, w))                 # NCHW
    k = rng.standard_normal((co, ci, kh, kw)) / np.sqrt(ci * kh * kw)  # OIHW
    b = rng.standard_normal(co) if bias else None
    return x, k, b


# ------------------------------------------------------------------ conv2d vs torch


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize("case", CONV_CASES, ids=_case_id)
def test_conv2d_matches_torch(torch_ok, torch, case, fmt, dtype):
    *_, s, p, d = case
    x, k, b = _conv_arrays(case)
    if fmt == "channels_last":
        arrays = [x.transpose(0, 2, 3, 1).copy(), k.transpose(2, 3, 1, 0).copy(), b]

        def tfn(xt, kt, bt):
            y = torch_conv(torch, xt.permute(0, 3, 1, 2), kt.permute(3, 2, 0, 1), bt, s, p, d)
            return y.permute(0, 2, 3, 1)
    else:
        arrays = [x, k, b]

        def tfn(xt, kt, bt):
            return torch_conv(torch, xt, kt, bt, s, p, d)

    def fn(xt, kt, bt):
        return ops.conv2d(xt, kt, bt, strides=s, padding=p, data_format=fmt, dilation=d)

    torch_ok(fn, tfn, arrays, dtype=dtype)  # 1e-10 in float64, 1e-5 in float32


@pytest.mark.torch
@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize("cin", [1, 3, 6])
def test_conv2d_without_bias_matches_torch(torch_ok, torch, fmt, cin):
    case = (2, cin, 6, 7, 3, (3, 3), 1, "same", 1)
    x, k, _ = _conv_arrays(case, bias=False)
    if fmt == "channels_last":
        arrays = [x.transpose(0, 2, 3, 1).copy(), k.transpose(2, 3, 1, 0).copy()]

        def tfn(xt, kt):
            y = torch_conv(torch, xt.permute(0, 3, 1, 2), kt.permute(3, 2, 0, 1), None, 1,
                           "same", 1)
            return y.permute(0, 2, 3, 1)
    else:
        arrays = [x, k]

        def tfn(xt, kt):
            return torch_conv(torch, xt, kt, None, 1, "same", 1)

    torch_ok(lambda xt, kt: ops.conv2d(xt, kt, padding="same", data_format=fmt), tfn, arrays)


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


# ------------------------------------------------------------------ conv2d gradcheck


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize("case", [
    (1, 2, 5, 6, 2, (3, 3), 1, "valid", 1),
    (1, 2, 5, 6, 2, (3, 2), 2, "same", 1),
    (1, 5, 5, 5, 2, (3, 3), 1, (1, 2), 1),
    (1, 1, 7, 6, 2, (3, 3), 1, "same", 2),
], ids=_case_id)
def test_conv2d_gradcheck(case, fmt):
    *_, s, p, d = case
    x, k, b = _conv_arrays(case, seed=3)
    if fmt == "channels_last":
        x, k = x.transpose(0, 2, 3, 1).copy(), k.transpose(2, 3, 1, 0).copy()
    assert gradcheck(lambda a, w, c: ops.conv2d(a, w, c, strides=s, padding=p, data_format=fmt,
                                                dilation=d), x, k, b)


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


def pool_reference(x, kind, pool, stride, pads):
    """NumPy loops over output pixels; NCHW; padding excluded (max: -inf, avg: not counted)."""
    n, c, h, w = x.shape
    (ph, pw), (sh, sw), (pt, pb, pl, pr) = pool, stride, pads
    oh, ow = (h + pt + pb - ph) // sh + 1, (w + pl + pr - pw) // sw + 1
    out = np.empty((n, c, oh, ow), x.dtype)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * sh - pt, j * sw - pl
            win = x[:, :, max(r0, 0):r0 + ph, max(c0, 0):c0 + pw]
            out[:, :, i, j] = win.max(axis=(2, 3)) if kind == "max" else win.mean(axis=(2, 3))
    return out


# (H, W, pool, strides, padding)
POOL_CASES = [
    (8, 8, 2, None, "valid"),
    (7, 9, 2, None, "valid"),        # odd: the last row/column is dropped
    (7, 9, 3, 2, "valid"),           # overlapping
    (6, 7, 3, 1, "valid"),
    (5, 7, (2, 3), (1, 2), "valid"),
    (7, 9, 3, 2, 1),                 # explicit padding (PyTorch)
    (6, 8, (3, 2), (2, 1), (1, 1)),
    (7, 9, 2, None, "same"),         # Keras 'same': extra padding bottom/right
    (7, 9, 3, 2, "same"),
    (6, 6, 3, 1, "same"),
    (5, 6, 1, 1, "valid"),
]


def _pool_id(c):
    return f"{c[0]}x{c[1]}-p{c[2]}-s{c[3]}-{c[4]}"


def _torch_pool(torch, kind, xt, pool, strides, padding):
    F = torch.nn.functional
    stride = pool if strides is None else strides
    if padding == "same":  # only max goes through torch here; -inf padding
        p = (pool, pool) if isinstance(pool, int) else pool
        s = (stride, stride) if isinstance(stride, int) else stride
        top, bottom = same_pads(xt.shape[2], p[0], s[0])
        left, right = same_pads(xt.shape[3], p[1], s[1])
        xt = F.pad(xt, (left, right, top, bottom), value=-np.inf)
        padding = 0
    elif padding == "valid":
        padding = 0
    if kind == "max":
        return F.max_pool2d(xt, pool, stride, padding)
    return F.avg_pool2d(xt, pool, stride, padding, count_include_pad=False)


# avg with (possibly asymmetric) 'same' padding has no PyTorch twin: the NumPy reference
# and gradcheck cover it
TORCH_POOL_CASES = [pytest.param(kind, c, id=f"{kind}-{_pool_id(c)}")
                    for kind in ("max", "avg") for c in POOL_CASES
                    if not (kind == "avg" and c[4] == "same")]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize("kind,case", TORCH_POOL_CASES)
def test_pool_matches_torch(torch_ok, torch, case, kind, fmt, dtype):
    h, w, pool, strides, padding = case
    x = np.random.default_rng(1).standard_normal((2, 3, h, w))
    fn_op = ops.max_pool2d if kind == "max" else ops.avg_pool2d

    def fn(xt):
        return fn_op(xt, pool, strides, padding, fmt)

    if fmt == "channels_last":
        def tfn(xt):
            return _torch_pool(torch, kind, xt.permute(0, 3, 1, 2), pool, strides,
                               padding).permute(0, 2, 3, 1)
        x = x.transpose(0, 2, 3, 1).copy()
    else:
        def tfn(xt):
            return _torch_pool(torch, kind, xt, pool, strides, padding)
    torch_ok(fn, tfn, [x], dtype=dtype)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", POOL_CASES, ids=_pool_id)
def test_pool_matches_numpy_reference(case, kind):
    h, w, pool, strides, padding = case
    x = np.random.default_rng(2).standard_normal((2, 3, h, w))
    p = (pool, pool) if isinstance(pool, int) else pool
    s = p if strides is None else ((strides, strides) if isinstance(strides, int) else strides)
    if padding == "valid":
        pads = (0, 0, 0, 0)
    elif padding == "same":
        pads = same_pads(h, p[0], s[0]) + same_pads(w, p[1], s[1])
    else:
        q = (padding, padding) if isinstance(padding, int) else padding
        pads = (q[0], q[0], q[1], q[1])
    want = pool_reference(x, kind, p, s, pads)
    fn_op = ops.max_pool2d if kind == "max" else ops.avg_pool2d
    got = fn_op(x, pool, strides, padding, "channels_first").numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    got_last = fn_op(x.transpose(0, 2, 3, 1), pool, strides, padding).numpy()
    np.testing.assert_allclose(got_last, want.transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-12)


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


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("pool,strides,padding", [(2, None, "valid"), (3, 2, "same"),
                                                  ((2, 3), 1, "valid"), (3, 2, 1)])
def test_pool_gradcheck(kind, fmt, pool, strides, padding):
    rng = np.random.default_rng(5)
    # distinct values far apart: no max ties within the finite-difference step
    shape = (1, 5, 6, 2) if fmt == "channels_last" else (1, 2, 5, 6)
    x = rng.permutation(60).reshape(shape) * 0.1
    fn_op = ops.max_pool2d if kind == "max" else ops.avg_pool2d
    assert gradcheck(lambda a: fn_op(a, pool, strides, padding, fmt), x)


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
