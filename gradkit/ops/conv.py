"""2-D convolution: im2col windows and one GEMM, forward and gradient side by side.

Internally everything is channels-last (NHWC): the input is padded (only when
there is padding), viewed as sliding windows ``(N, OH, OW, kh, kw, C)`` with
``as_strided`` (no copy), flattened into the im2col matrix
``(N*OH*OW, kh*kw*C)`` (the one copy) and multiplied by the kernel reshaped to
``(kh*kw*C, C_out)``. channels_first inputs are transposed once on the way in
and the output is handed back as a transposed view.

The geometry helpers here (:func:`_pair`, :func:`_pads`, :func:`_out_len`)
are shared with :mod:`gradkit.ops.pool`.
"""

from __future__ import annotations

import numbers

from gradkit.autograd.function import Function, OpError
from gradkit.backend import get_array_module as _xp

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


def _col2im(xp, d6, shape, sh, sw, dh, dw):
    """Sum window gradients ``d6 (N, OH, OW, kh, kw, C)`` back onto an NHWC image.

    One strided add per kernel offset (kh*kw of them), none per output pixel.
    """
    _, oh, ow, kh, kw, _ = d6.shape
    dx = xp.zeros(shape, dtype=d6.dtype)
    for i in range(kh):
        h0 = i * dh
        hs = slice(h0, h0 + sh * (oh - 1) + 1, sh)
        for j in range(kw):
            w0 = j * dw
            dx[:, hs, w0:w0 + sw * (ow - 1) + 1:sw] += d6[:, :, :, i, j]
    return dx


# ------------------------------------------------------------------ conv2d
class Conv2D(Function):
    """``conv2d`` (cross-correlation, as in every DL framework); see ``gradkit.ops.conv2d``."""

    higher_order = False  # col2im works on raw arrays only

    def forward(self, x, kernel, bias, strides, padding, data_format, dilation):
        op = "conv2d"
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

        xp = _xp(x, kernel)
        dtype = kernel.dtype if kernel.dtype.kind == "f" else xp.result_type(x, kernel)
        if x.dtype != dtype:
            x = x.astype(dtype)
        if kernel.dtype != dtype:
            kernel = kernel.astype(dtype)
        xl = x.transpose(0, 2, 3, 1) if cf else x  # NHWC view
        if pt or pb or pl or pr:
            a = xp.zeros((n, h + pt + pb, w + pl + pr, c), dtype=dtype)
            a[:, pt:pt + h, pl:pl + w] = xl
        else:
            a = xp.ascontiguousarray(xl)  # no copy for channels_last
        k = kh * kw * c
        cols = _windows(xp, a, kh, kw, oh, ow, sh, sw, dh, dw).reshape(n * oh * ow, k)
        wmat = (kernel.transpose(2, 3, 1, 0) if cf else kernel).reshape(k, co)
        out = cols @ wmat  # (N*OH*OW, K) @ (K, C_out): the one GEMM
        if bias is not None:
            out += bias.astype(dtype, copy=False)
        needs = self.needs
        if needs is not None:
            self.geom = (cf, a.shape, (n, oh, ow, kh, kw, c, co), (sh, sw, dh, dw),
                         (pt, pl, h, w), dtype)
            if needs[1]:
                self.cols = cols  # for dW only
            if needs[0]:
                self.wmat = wmat
        out = out.reshape(n, oh, ow, co)
        return out.transpose(0, 3, 1, 2) if cf else out

    def backward(self, M, g, out, x, kernel, bias, *_):
        nx, nk, nb = self.needs[:3]
        cf, pshape, (n, oh, ow, kh, kw, c, co), (sh, sw, dh, dw), (pt, pl, h, w), dtype = \
            self.geom
        xp = _xp(g)
        if g.dtype != dtype:
            g = g.astype(dtype)
        g2 = (g.transpose(0, 2, 3, 1) if cf else g).reshape(n * oh * ow, co)
        gx = gk = gb = None
        if nb:
            gb = g2.sum(axis=0)  # db = sum of g over N, OH, OW
        if nk:
            dw_ = self.cols.T @ g2  # dW = cols^T g
            gk = dw_.reshape(kh, kw, c, co)
            if cf:
                gk = gk.transpose(3, 2, 0, 1)
        if nx:
            dcols = g2 @ self.wmat.T  # dcols = g W^T, then scatter windows back (col2im)
            dx = _col2im(xp, dcols.reshape(n, oh, ow, kh, kw, c), pshape, sh, sw, dh, dw)
            if pshape[1] != h or pshape[2] != w:
                dx = dx[:, pt:pt + h, pl:pl + w]
            gx = dx.transpose(0, 3, 1, 2) if cf else dx
        return gx, gk, gb, None, None, None, None
