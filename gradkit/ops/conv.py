"""2-D convolution: im2col windows and one GEMM, forward and gradient side by side.

The input is seen channels-last (NHWC; a channels_first input is a transposed
view, copied once where a copy is needed), zero-padded only when there is
padding, and turned into the im2col matrix, ``M = N*OH*OW`` rows by
``K = kh*kw*C`` columns, in one of two layouts:

* many channels: the sliding-window view ``(N, OH, OW, kh, kw, C)`` (``as_strided``,
  no copy) copied once into ``(M, K)``;
* few channels (``C <= KMAJOR_MAX_CHANNELS``, e.g. the 1-channel MNIST image):
  ``(K, M)``, one copy per kernel offset with long contiguous rows.

Then ONE GEMM with the kernel reshaped to ``(K, C_out)``. The bias rides in
that GEMM as the weight of an extra ones column, so the forward needs no
broadcast add and the backward gets ``[dW; db] = [cols, 1]^T g`` from one
GEMM too. The input gradient ``col2im(g W^T)`` is computed offset by offset:
per kernel offset one GEMM ``g W[i, j]^T`` and one strided add into the image,
kh*kw iterations, no Python loop over pixels.

The geometry helpers here (:func:`_pair`, :func:`_pads`, :func:`_out_len`)
are shared with :mod:`gradkit.ops.pool`.
"""

from __future__ import annotations

import numbers

import numpy as _numpy

from gradkit.autograd.function import Function, OpError
from gradkit.backend import get_array_module as _xp
from gradkit.ops.nn import activate_in_place, activation_grad

FORMATS = ("channels_last", "channels_first")


# ------------------------------------------------------------------ geometry
def _pair(v, op, what, minimum=1):
    """``v`` as a pair of ints ``>= minimum`` (an int is used for both axes)."""
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        v = (int(v), int(v))
    elif (isinstance(v, (tuple, list)) and len(v) == 2
          and all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in v)):
        v = (int(v[0]), int(v[1]))
    else:
        raise OpError(f"{op}: {what} must be an int or a pair of ints, got {v!r}")
    if v[0] < minimum or v[1] < minimum:
        raise OpError(f"{op}: {what} must be >= {minimum}, got {v}")
    return v


def _check_format(op, data_format):
    if data_format not in FORMATS:
        raise OpError(f"{op}: data_format must be 'channels_last' or 'channels_first', "
                      f"got {data_format!r}")
    return data_format == "channels_first"


def _check_rank(op, x, channels_first, what="input"):
    if x.ndim != 4:
        layout = ("(batch, channels, height, width)" if channels_first
                  else "(batch, height, width, channels)")
        fix = "x[:, None]" if channels_first else "x[..., None]"
        raise OpError(f"{op} expects a 4-D {what} {layout} for "
                      f"{'channels_first' if channels_first else 'channels_last'}, got shape "
                      f"{tuple(x.shape)}; add batch/channel axes, e.g. {fix}")


def _pads(op, padding, size, eff, strides):
    """(top, bottom, left, right) padding for spatial ``size`` and effective window ``eff``.

    ``"same"`` follows Keras/TensorFlow: output ``ceil(in / stride)``, the odd
    extra row/column of padding at the bottom/right.
    """
    if isinstance(padding, str):
        p = padding.lower()
        if p == "valid":
            return 0, 0, 0, 0
        if p == "same":
            pads = []
            for n, k, s in zip(size, eff, strides):
                total = max((-(-n // s) - 1) * s + k - n, 0)
                pads += [total // 2, total - total // 2]
            return tuple(pads)
        raise OpError(f"{op}: padding must be 'valid', 'same', an int or a pair of ints, "
                      f"got {padding!r}")
    try:
        ph, pw = _pair(padding, op, "padding", minimum=0)
    except OpError:
        raise OpError(f"{op}: padding must be 'valid', 'same', an int or a pair of "
                      f"non-negative ints, got {padding!r}") from None
    return ph, ph, pw, pw


def _out_len(op, n, pad, eff, s, axis, shapes):
    """Output length along one spatial axis; an error when the window does not fit."""
    span = n + pad
    if eff > span:
        raise OpError(f"{op}: the window ({eff} along the {axis} after dilation) is larger "
                      f"than the padded input ({span} = {n} + padding {pad}); {shapes}. "
                      "Use a smaller kernel/pool, padding='same', or a larger input")
    return (span - eff) // s + 1


def _windows(xp, a, kh, kw, oh, ow, sh, sw, dh, dw):
    """Read-only sliding-window view ``(N, OH, OW, kh, kw, C)`` of NHWC ``a`` (no copy)."""
    n, _, _, c = a.shape
    s0, s1, s2, s3 = a.strides
    return xp.lib.stride_tricks.as_strided(
        a, (n, oh, ow, kh, kw, c), (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3),
        writeable=False)


#: up to this many input channels the im2col matrix is built K-major, (K, N*OH*OW):
#: one copy per kernel offset with long contiguous rows (fast for 1-3 channel images);
#: above it, N*OH*OW-major in one strided copy of the windows (rows of kw*C values).
KMAJOR_MAX_CHANNELS = 4


def _im2col(xp, a, kh, kw, oh, ow, sh, sw, dh, dw, ones, kmajor):
    """The im2col matrix of the padded NHWC (view) ``a``, with a ones column if ``ones``.

    Returns ``(M, K)`` (or ``(K, M)`` when ``kmajor``), ``M = N*OH*OW``,
    ``K = kh*kw*C (+1)``, columns ordered (kh, kw, C) like a Keras kernel. The
    ones column lets the bias ride in the GEMM: ``[cols, 1] @ [W; b]``, and
    ``[cols, 1]^T g`` gives ``[dW; db]`` in one product.
    """
    n, _, _, c = a.shape
    k = kh * kw * c
    m = n * oh * ow
    if kmajor:
        buf = xp.empty((k + ones, n, oh, ow), dtype=a.dtype)
        b6 = buf[:k].reshape(kh, kw, c, n, oh, ow)
        for i in range(kh):
            hs = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
            for j in range(kw):
                b6[i, j] = a[:, hs, j * dw:j * dw + sw * (ow - 1) + 1:sw].transpose(3, 0, 1, 2)
        if ones:
            buf[k] = 1
        return buf.reshape(k + ones, m)
    win = _windows(xp, a, kh, kw, oh, ow, sh, sw, dh, dw)
    if not ones:
        return win.reshape(m, k)  # the one copy (a view for 1x1 stride-1 kernels)
    buf = xp.empty((n, oh, ow, k + 1), dtype=a.dtype)
    buf[..., k] = 1
    s0, s1, s2, s3 = buf.strides
    xp.copyto(xp.lib.stride_tricks.as_strided(
        buf, (n, oh, ow, kh, kw, c), (s0, s1, s2, kw * c * s3, c * s3, s3)), win)
    return buf.reshape(m, k + 1)


#: bytes of the per-block working set (im2col rows, GEMM results, gradient rows) that the
#: blocked loops below aim for: it stays in a core's L2 cache between the copy and the
#: GEMM that reads it, where a whole batch's matrix (tens of MB) would not
BLOCK_BYTES = 1 << 20


def _images_per_block(n, per_image_bytes):
    return max(1, min(n, BLOCK_BYTES // max(per_image_bytes, 1)))


def _input_grad(xp, g2, wk, pshape, oh, ow, sh, sw, dh, dw):
    """Gradient of the (padded) NHWC input: the col2im of ``g W^T``, offset by offset.

    ``g2`` is the output gradient ``(N*OH*OW, C_out)``, ``wk`` the kernel
    ``(kh, kw, C, C_out)``. For each of the kh*kw kernel offsets one GEMM gives
    the gradient of the input pixels that offset touched, ``(rows, C)``,
    contiguous, and one strided add puts it in place (for stride 1 the add runs
    over rows of OW*C values). Images go in blocks of about ``BLOCK_BYTES``, so a
    block's gradient rows, GEMM results and input gradient stay in cache across its
    kh*kw GEMMs and adds. Nothing loops over output pixels.
    """
    kh, kw, c, co = wk.shape
    n = pshape[0]
    wt = xp.ascontiguousarray(wk.transpose(0, 1, 3, 2))  # (kh, kw, C_out, C)
    dx = xp.zeros(pshape, dtype=g2.dtype)
    per = oh * ow
    step = _images_per_block(n, (per * (co + c) + pshape[1] * pshape[2] * c)
                             * g2.dtype.itemsize)
    tmp = xp.empty((step * per, c), dtype=g2.dtype)
    for b0 in range(0, n, step):
        b1 = min(n, b0 + step)
        gb = g2[b0 * per:b1 * per]
        tb = tmp[:(b1 - b0) * per]
        t4 = tb.reshape(b1 - b0, oh, ow, c)
        block = dx[b0:b1]
        for i in range(kh):
            hs = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
            for j in range(kw):
                w0 = j * dw
                xp.matmul(gb, wt[i, j], out=tb)  # d window(i, j) = g W[i, j]^T
                block[:, hs, w0:w0 + sw * (ow - 1) + 1:sw] += t4
    return dx


def _blocked_gemm(xp, a, wmat, kh, kw, oh, ow, sh, sw, dh, dw):
    """``im2col(a) @ wmat`` for many-channel NHWC ``a``, images in blocks of about
    ``BLOCK_BYTES``: each block's im2col rows are copied into one reused buffer and
    multiplied at once, so the copy is read back from cache (when the matrix is not
    kept for the kernel's gradient, e.g. in inference)."""
    n, _, _, c = a.shape
    k, co = wmat.shape
    per = oh * ow
    step = _images_per_block(n, per * (k + co) * a.dtype.itemsize)
    out = xp.empty((n * per, co), dtype=xp.result_type(a.dtype, wmat.dtype))
    buf = xp.empty((step * per, k), dtype=a.dtype)
    for b0 in range(0, n, step):
        b1 = min(n, b0 + step)
        cb = buf[:(b1 - b0) * per]
        xp.copyto(cb.reshape(b1 - b0, oh, ow, kh, kw, c),
                  _windows(xp, a[b0:b1], kh, kw, oh, ow, sh, sw, dh, dw))
        xp.matmul(cb, wmat, out=out[b0 * per:b1 * per])
    return out


# ------------------------------------------------------------------ conv2d
class Conv2D(Function):
    """``conv2d`` (cross-correlation, as in every DL framework); see ``gradkit.ops.conv2d``."""

    higher_order = False  # col2im works on raw arrays only

    def forward(self, x, kernel, bias, strides, padding, data_format, dilation, act=None):
        op = "conv2d"
        xp = _xp(x, kernel)
        x, kernel = xp.asarray(x), xp.asarray(kernel)  # lists, scalars: arrays
        if bias is not None:
            bias = xp.asarray(bias)
        cf = _check_format(op, data_format)
        _check_rank(op, x, cf)
        if kernel.ndim != 4:
            layout = "(out_channels, in_channels, kh, kw)" if cf else \
                "(kh, kw, in_channels, out_channels)"
            raise OpError(f"conv2d expects a 4-D kernel {layout} for {data_format}, got "
                          f"shape {tuple(kernel.shape)}")
        if cf:
            n, c, h, w = x.shape
            co, ci, kh, kw = kernel.shape
        else:
            n, h, w, c = x.shape
            kh, kw, ci, co = kernel.shape
        shapes = f"input shape {tuple(x.shape)}, kernel shape {tuple(kernel.shape)}"
        if c != ci:
            raise OpError(f"conv2d: the input has {c} channels but the kernel expects {ci} "
                          f"({shapes}, {data_format}); the kernel must be "
                          + ("(out_channels, in_channels, kh, kw)" if cf
                             else "(kh, kw, in_channels, out_channels)"))
        if bias is not None and tuple(bias.shape) != (co,):
            raise OpError(f"conv2d: bias must have shape ({co},) (one per output channel), "
                          f"got {tuple(bias.shape)}; {shapes}")
        sh, sw = _pair(strides, op, "strides")
        dh, dw = _pair(dilation, op, "dilation")
        ekh, ekw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
        pt, pb, pl, pr = _pads(op, padding, (h, w), (ekh, ekw), (sh, sw))
        oh = _out_len(op, h, pt + pb, ekh, sh, "height", shapes)
        ow = _out_len(op, w, pl + pr, ekw, sw, "width", shapes)

        fx, fk = x.dtype.kind == "f", kernel.dtype.kind == "f"
        dtype = (xp.result_type(x.dtype, kernel.dtype) if fx and fk else kernel.dtype if fk
                 else x.dtype if fx else xp.dtype(xp.float32))  # uint8 images: the kernel's
        if x.dtype != dtype:
            x = x.astype(dtype)
        if kernel.dtype != dtype:
            kernel = kernel.astype(dtype)
        padded = pt or pb or pl or pr
        kmajor = c <= KMAJOR_MAX_CHANNELS
        if padded and kmajor:  # pad in the input's own memory layout
            if cf:
                a = xp.zeros((n, c, h + pt + pb, w + pl + pr), dtype=dtype)
                a[:, :, pt:pt + h, pl:pl + w] = x
                a = a.transpose(0, 2, 3, 1)
            else:
                a = xp.zeros((n, h + pt + pb, w + pl + pr, c), dtype=dtype)
                a[:, pt:pt + h, pl:pl + w] = x
        elif padded:
            a = xp.zeros((n, h + pt + pb, w + pl + pr, c), dtype=dtype)
            a[:, pt:pt + h, pl:pl + w] = x.transpose(0, 2, 3, 1) if cf else x
        elif cf and not kmajor:
            a = xp.ascontiguousarray(x.transpose(0, 2, 3, 1))  # the one transpose
        else:
            a = x.transpose(0, 2, 3, 1) if cf else x  # NHWC (view)
        # few channels: the bias rides in the GEMM as the weight of a ones row of cols
        ones = bias is not None and kmajor
        wk = kernel.transpose(2, 3, 1, 0) if cf else kernel  # (kh, kw, C, C_out)
        wmat = wk.reshape(kh * kw * c, co)
        if ones:  # [W; b]
            wmat = xp.concatenate([wmat, bias.astype(dtype, copy=False).reshape(1, co)])
        keep = self.needs is not None and self.needs[1]  # dW reads the im2col matrix
        one_by_one = kh == kw == sh == sw == 1  # im2col is a view: nothing to block
        if kmajor or keep or one_by_one or xp is not _numpy:
            cols = _im2col(xp, a, kh, kw, oh, ow, sh, sw, dh, dw, ones, kmajor)
            out = (cols.T if kmajor else cols) @ wmat  # (N*OH*OW, K) @ (K, C_out): one GEMM
        else:
            out = _blocked_gemm(xp, a, wmat, kh, kw, oh, ow, sh, sw, dh, dw)
        if bias is not None and not ones:  # rows of OW*C_out values: long inner loops
            rows = out.reshape(n * oh, ow * co)  # a view: out is fresh and contiguous
            rows += xp.tile(bias.astype(dtype, copy=False), ow)
        activate_in_place(out, act)  # relu/tanh on the fresh result: no second array
        needs = self.needs
        if needs is not None:
            self.geom = (cf, a.shape, (n, oh, ow, kh, kw, c, co), (sh, sw, dh, dw),
                         (pt, pl, h, w), dtype)
            if needs[1]:
                self.cols, self.kmajor, self.ones = cols, kmajor, ones  # for dW only
            if needs[0]:
                self.wk = wk
        out = out.reshape(n, oh, ow, co)
        return out.transpose(0, 3, 1, 2) if cf else out

    def backward(self, M, g, out, x, kernel, bias, strides, padding, data_format, dilation,
                 act=None):
        nx, nk, nb = self.needs[:3]
        cf, pshape, (n, oh, ow, kh, kw, c, co), (sh, sw, dh, dw), (pt, pl, h, w), dtype = \
            self.geom
        xp = _xp(g)
        g = activation_grad(M, g, out, act)  # through the fused activation first
        if g.dtype != dtype:
            g = g.astype(dtype)
        g2 = (g.transpose(0, 2, 3, 1) if cf else g).reshape(n * oh * ow, co)
        gx = gk = gb = None
        k = kh * kw * c
        folded = False
        if nk:
            cols = self.cols
            dwb = (cols if self.kmajor else cols.T) @ g2  # dW = cols^T g ([dW; db] if folded)
            gk = dwb[:k].reshape(kh, kw, c, co)
            if cf:
                gk = gk.transpose(3, 2, 0, 1)
            folded = self.ones
            if nb and folded:
                gb = dwb[k]
        if nb and not folded:
            gb = xp.ones(g2.shape[0], dtype=dtype) @ g2  # db = sum of g over N, OH, OW
        if nx:
            # dx = col2im(g W^T)
            dx = _input_grad(xp, g2, self.wk, pshape, oh, ow, sh, sw, dh, dw)
            if pshape[1] != h or pshape[2] != w:
                dx = dx[:, pt:pt + h, pl:pl + w]
            gx = dx.transpose(0, 3, 1, 2) if cf else dx
        return gx, gk, gb, None, None, None, None, None


# ------------------------------------------------------------------ conv2d_transpose
def _transpose_geometry(op, n_in, ek, s, padding, output_padding, axis):
    """``(out_len, crop)`` along one axis of a transposed convolution.

    The full result has ``(n_in - 1) * s + ek`` positions; the output is the
    window ``[crop, crop + out_len)`` of it (positions past its end are zeros).
    ``"valid"``/``"same"`` follow Keras (``output_padding=None``: ``n_in * s``
    for "same", ``n_in * s + max(ek - s, 0)`` for "valid"; with it, Keras's
    ``(n_in - 1) * s + ek % 2 + output_padding`` for "same"); an int crops both
    sides as PyTorch's ``padding``, ``output_padding`` adds to the end.
    """
    full = (n_in - 1) * s + ek
    if isinstance(padding, str):
        if padding == "same":
            if output_padding is None:
                return n_in * s, max(ek - s, 0) // 2
            return (n_in - 1) * s + ek % 2 + output_padding, \
                max((ek - ek % 2 - output_padding) // 2, 0)
        else:
            if output_padding is None:
                return n_in * s + max(ek - s, 0), 0
            crop = 0
    else:
        crop = padding
    out = full - 2 * crop + (output_padding or 0)
    if out < 1:
        raise OpError(f"{op}: the output {axis} would be {out} (input {n_in}, window {ek}, "
                      f"stride {s}, padding {padding!r}); use less padding")
    return out, crop


class Conv2DTranspose(Function):
    """``conv2d_transpose``: the gradient of ``conv2d`` with respect to its input, as an op.

    Forward is conv2d's col2im (:func:`_input_grad`); backward is conv2d's forward
    (im2col and one GEMM) for the input gradient and ``cols^T x`` for the kernel.
    """

    higher_order = False  # col2im works on raw arrays only

    def forward(self, x, kernel, bias, strides, padding, output_padding, data_format, dilation):
        op = "conv2d_transpose"
        xp = _xp(x, kernel)
        x, kernel = xp.asarray(x), xp.asarray(kernel)
        cf = _check_format(op, data_format)
        _check_rank(op, x, cf)
        layout = "(in_channels, out_channels, kh, kw)" if cf else \
            "(kh, kw, out_channels, in_channels)"
        if kernel.ndim != 4:
            raise OpError(f"{op} expects a 4-D kernel {layout} for {data_format}, got shape "
                          f"{tuple(kernel.shape)}")
        a = x.transpose(0, 2, 3, 1) if cf else x  # NHWC
        wk = kernel.transpose(2, 3, 1, 0) if cf else kernel  # (kh, kw, C_out, C_in)
        n, h, w, ci = a.shape
        kh, kw, co, kci = wk.shape
        if ci != kci:
            raise OpError(f"{op}: the input has {ci} channels but the kernel expects {kci} "
                          f"(input shape {tuple(x.shape)}, kernel shape "
                          f"{tuple(kernel.shape)}); the kernel must be {layout}")
        if bias is not None:
            bias = xp.asarray(bias)
            if tuple(bias.shape) != (co,):
                raise OpError(f"{op}: bias must have shape ({co},) (one per output channel), "
                              f"got {tuple(bias.shape)}")
        sh, sw = _pair(strides, op, "strides")
        dh, dw = _pair(dilation, op, "dilation")
        if isinstance(padding, str):
            padding = padding.lower()
            if padding not in ("valid", "same"):
                raise OpError(f"{op}: padding must be 'valid', 'same', an int or a pair of "
                              f"ints, got {padding!r}")
            pads = (padding, padding)
        else:
            pads = _pair(padding, op, "padding", minimum=0)
        if output_padding is None:
            ops_ = (None, None)
        else:
            ops_ = _pair(output_padding, op, "output_padding", minimum=0)
            if ops_[0] >= max(sh, dh) or ops_[1] >= max(sw, dw):
                raise OpError(f"{op}: output_padding {ops_} must be smaller than the stride "
                              f"{(sh, sw)} or the dilation {(dh, dw)}")
        ekh, ekw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
        oh, ct = _transpose_geometry(op, h, ekh, sh, pads[0], ops_[0], "height")
        ow, cl = _transpose_geometry(op, w, ekw, sw, pads[1], ops_[1], "width")
        dtype = xp.result_type(a.dtype, wk.dtype) if a.dtype.kind == "f" else wk.dtype
        a = a.astype(dtype, copy=False)
        wk = wk.astype(dtype, copy=False)
        full_h, full_w = (h - 1) * sh + ekh, (w - 1) * sw + ekw
        g2 = xp.ascontiguousarray(a).reshape(n * h * w, ci)
        # the full result: col2im of x W^T, exactly conv2d's input gradient
        full = _input_grad(xp, g2, wk, (n, full_h, full_w, co), h, w, sh, sw, dh, dw)
        out = _crop_or_pad(xp, full, ct, cl, oh, ow)
        if bias is not None:
            out += bias.astype(dtype, copy=False)
        if self.needs is not None:
            self.geom = (cf, (n, h, w, ci), (kh, kw, co), (sh, sw, dh, dw),
                         (full_h, full_w, ct, cl), dtype)
            if self.needs[1]:
                self.x2 = g2
            if self.needs[0]:
                self.wk = wk
        return out.transpose(0, 3, 1, 2) if cf else out

    def backward(self, M, g, out, x, kernel, bias, *_):
        nx, nk, nb = self.needs[:3]
        cf, (n, h, w, ci), (kh, kw, co), (sh, sw, dh, dw), (full_h, full_w, ct, cl), dtype = \
            self.geom
        xp = _xp(g)
        g = (g.transpose(0, 2, 3, 1) if cf else g).astype(dtype, copy=False)
        gx = gk = gb = None
        if nb:
            gb = g.sum(axis=(0, 1, 2))  # db = sum of g over N, OH, OW
        if nx or nk:
            # the gradient of the full result: g placed back where the output was cut from
            gfull = _crop_or_pad(xp, g, -ct, -cl, full_h, full_w)
            cols = _im2col(xp, gfull, kh, kw, h, w, sh, sw, dh, dw, False, False)  # (NHW, K)
            if nx:
                gx = (cols @ self.wk.reshape(kh * kw * co, ci)).reshape(n, h, w, ci)
                gx = gx.transpose(0, 3, 1, 2) if cf else gx  # dx = im2col(g) W
            if nk:
                gk = (cols.T @ self.x2).reshape(kh, kw, co, ci)  # dW = im2col(g)^T x
                gk = gk.transpose(3, 2, 0, 1) if cf else gk
        return gx, gk, gb, None, None, None, None, None


def _crop_or_pad(xp, a, top, left, oh, ow):
    """``a[:, top:top + oh, left:left + ow]`` of NHWC ``a``, zeros where that leaves ``a``
    (``top``/``left`` may be negative)."""
    n, h, w, c = a.shape
    out = xp.zeros((n, oh, ow, c), dtype=a.dtype)
    r0, r1 = max(top, 0), min(top + oh, h)
    c0, c1 = max(left, 0), min(left + ow, w)
    if r1 > r0 and c1 > c0:
        out[:, r0 - top:r1 - top, c0 - left:c1 - left] = a[:, r0:r1, c0:c1]
    return out
