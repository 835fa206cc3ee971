"""2-D max and average pooling, forward and gradient side by side.

Both work in the input's own layout (no transposes): the spatial axes are
axes 1, 2 (channels_last) or 2, 3 (channels_first). The forward pass combines
strided slices of the (padded) input, separably: first the pool_h rows of
each window (slices that keep whole rows, long contiguous runs), then the
pool_w columns of that smaller result. The backward pass visits the
pool_h * pool_w offsets inside the window, one strided slice each. Nothing
loops over output pixels.

* max: ``'same'``/explicit padding pads with ``-inf``; the gradient goes to
  ONE element per window, the first maximum in row-major order within the
  window (as PyTorch does), so ties (e.g. zeros after ReLU) match PyTorch.
* avg: the padding is excluded from the count (Keras ``'same'``; PyTorch's
  ``count_include_pad=False``).
"""

from __future__ import annotations

from gradkit import accel
from gradkit.autograd.function import Function, OpError
from gradkit.backend import get_array_module as _xp
from gradkit.ops.conv import _check_format, _check_rank, _out_len, _pads, _pair


def _geometry(op, x, pool_size, strides, padding, data_format):
    cf = _check_format(op, data_format)
    _check_rank(op, x, cf)
    ph, pw = _pair(pool_size, op, "pool_size")
    sh, sw = (ph, pw) if strides is None else _pair(strides, op, "strides")
    ha = 2 if cf else 1  # height axis; width is ha + 1
    h, w = x.shape[ha], x.shape[ha + 1]
    pads = _pads(op, padding, (h, w), (ph, pw), (sh, sw))
    if not isinstance(padding, str) and (2 * pads[0] > ph or 2 * pads[2] > pw):
        raise OpError(f"{op}: explicit padding {padding!r} must be at most half the pool "
                      f"size {(ph, pw)} (input shape {tuple(x.shape)})")
    shapes = f"input shape {tuple(x.shape)}, pool_size {(ph, pw)}, {data_format}"
    oh = _out_len(op, h, pads[0] + pads[1], ph, sh, "height", shapes)
    ow = _out_len(op, w, pads[2] + pads[3], pw, sw, "width", shapes)
    return ha, (h, w), (ph, pw), (sh, sw), pads, (oh, ow)


def _fast_loops(*arrays):
    """numba's one-pass max-pool loops when usable for ``arrays``, else None (NumPy runs)."""
    return accel.loops_for("gradkit.ops._pool_numba", *arrays)


def _index(ha, hs, ws):
    return (slice(None),) * ha + (hs, ws)


class _Pool(Function):
    """Shared geometry: padding, offset views, gradient scatter."""

    higher_order = False

    def _setup(self, x, pool_size, strides, padding, data_format, fill):
        op = self.op
        ha, (h, w), (ph, pw), (sh, sw), (pt, pb, pl, pr), (oh, ow) = _geometry(
            op, x, pool_size, strides, padding, data_format)
        xp = _xp(x)
        if pt or pb or pl or pr:
            shape = list(x.shape)
            shape[ha] += pt + pb
            shape[ha + 1] += pl + pr
            a = xp.full(shape, fill, dtype=x.dtype)
            a[_index(ha, slice(pt, pt + h), slice(pl, pl + w))] = x
        else:
            a = x
        # offsets (i, j) inside the window, in row-major order
        idx = [_index(ha, slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw))
               for i in range(ph) for j in range(pw)]
        # every padded element in exactly one window: assignment instead of +=, no zeros
        exact = (sh == ph and sw == pw and a.shape[ha] == oh * sh
                 and a.shape[ha + 1] == ow * sw)
        overlap = sh < ph or sw < pw
        self.geo = (ha, (h, w), (pt, pl), (oh, ow), exact, overlap)
        self.window = ((ph, pw), (sh, sw), pt or pb or pl or pr)
        return xp, a, idx

    def _reduce(self, xp, a, ufunc):
        """Combine each window of ``a`` with ``ufunc`` (maximum or add), separably.

        Rows first, over slices that keep the input's long contiguous rows (W*C
        values channels_last), then columns over the smaller row-reduced array:
        (ph - 1) fast passes and (pw - 1) strided ones instead of ph*pw - 1 strided.
        """
        ha, _, _, (oh, ow), *_ = self.geo
        (ph, pw), (sh, sw), _ = self.window
        used = slice(0, (ow - 1) * sw + pw)
        r = None
        for i in range(ph):
            v = a[_index(ha, slice(i, i + sh * (oh - 1) + 1, sh), used)]
            r = v if r is None else ufunc(r, v) if i == 1 else ufunc(r, v, out=r)
        out = None
        for j in range(pw):
            v = r[_index(ha, slice(None), slice(j, j + sw * (ow - 1) + 1, sw))]
            out = v if out is None else ufunc(out, v) if j == 1 else ufunc(out, v, out=out)
        if ph == 1 and pw == 1:
            out = out.copy()  # never hand out a view of the input
        return xp.ascontiguousarray(out)

    def _grad_buffer(self, xp, shape, dtype):
        # exact cover: every element is written below, no need to zero it first
        return xp.empty(shape, dtype=dtype) if self.geo[4] else xp.zeros(shape, dtype=dtype)

    def _crop(self, dx):
        ha, (h, w), (pt, pl), *_ = self.geo
        if dx.shape[ha] != h or dx.shape[ha + 1] != w:
            dx = dx[_index(ha, slice(pt, pt + h), slice(pl, pl + w))]
        return dx


class MaxPool2D(_Pool):
    op = "max_pool2d"

    def forward(self, x, pool_size, strides, padding, data_format):
        xp = _xp(x)
        x = xp.asarray(x)
        kind = x.dtype.kind
        fill = xp.iinfo(x.dtype).min if kind in "iu" else False if kind == "b" else -xp.inf
        xp, a, idx = self._setup(x, pool_size, strides, padding, data_format, fill)
        self.arg = None
        loops = _fast_loops(a)
        if loops is not None:                # gradkit[fast]: one pass, argmax recorded
            out = self._fast_forward(xp, a, loops)
        else:
            out = self._reduce(xp, a, xp.maximum)
        if self.needs is not None:
            self.a = a  # the padded input (x itself when unpadded)
            self.idx = idx
        return out

    def _nhwc(self, v):
        return v.transpose(0, 2, 3, 1) if self.geo[0] == 2 else v

    def _fast_forward(self, xp, a, loops):
        ha, _, _, (oh, ow), *_ = self.geo
        (ph, pw), (sh, sw), _ = self.window
        shape = list(a.shape)
        shape[ha], shape[ha + 1] = oh, ow
        out = xp.empty(shape, dtype=a.dtype)
        arg = xp.empty(shape, dtype=xp.uint8 if ph * pw <= 256 else xp.int32)
        loops.max_pool2d_forward(self._nhwc(a), self._nhwc(out), self._nhwc(arg),
                                 ph, pw, sh, sw)
        if self.needs is not None:
            self.arg = arg
        return out

    def backward(self, M, g, out, x, *_):
        xp = _xp(g)
        a, idx = self.a, self.idx
        overlap = self.geo[5]
        loops = _fast_loops(a, g) if self.arg is not None else None
        if loops is not None:
            return (self._crop(self._fast_backward(xp, g, loops)),) + (None,) * 4
        dx = self._grad_buffer(xp, a.shape, g.dtype)
        free = None  # windows whose maximum has not been claimed yet
        last = len(idx) - 1
        for k, ix in enumerate(idx):
            # dx at the first max of each window (row-major) = g; 0 elsewhere
            if k == last:  # the remaining windows (NaN ones too) have their max at the last offset
                m = free if free is not None else xp.ones(out.shape, dtype=bool)
            else:
                m = a[ix] == out
                if free is None:
                    free = ~m
                else:
                    m &= free
                    free ^= m
            if overlap:
                dx[ix] += g * m
            else:
                xp.multiply(g, m, out=dx[ix])
        return (self._crop(dx),) + (None,) * 4

    def _fast_backward(self, xp, g, loops):
        """numba's scatter of ``g`` to the recorded maxima (``dx`` need not be zeroed where
        windows cover every element once: the loop writes each of them)."""
        overlap = self.geo[5]
        (ph, pw), (sh, sw), _ = self.window
        dx = self._grad_buffer(xp, self.a.shape, g.dtype)
        loops.max_pool2d_backward(self._nhwc(g), self._nhwc(self.arg), self._nhwc(dx),
                                  ph, pw, sh, sw, overlap)
        return dx


class AvgPool2D(_Pool):
    op = "avg_pool2d"

    def forward(self, x, pool_size, strides, padding, data_format):
        xp = _xp(x)
        x = xp.asarray(x)
        if x.dtype.kind != "f":
            x = x.astype(xp.float32)
        xp, a, idx = self._setup(x, pool_size, strides, padding, data_format, 0)
        out = self._reduce(xp, a, xp.add)
        inv = self._inverse_count(xp, out.dtype)
        out *= inv
        if self.needs is not None:
            self.inv = inv
            self.idx = idx
            self.pshape = a.shape
        return out

    def _inverse_count(self, xp, dtype):
        """1 / (number of real, unpadded elements) per window: a scalar or (OH, OW[, 1])."""
        ha, (h, w), (pt, pl), (oh, ow), *_ = self.geo
        (ph, pw), (sh, sw), padded = self.window
        if not padded:  # every window lies inside the input
            return dtype.type(1.0 / (ph * pw))

        def counts(o, s, p, k, n):
            start = xp.arange(o) * s - p
            return xp.minimum(start + k, n) - xp.maximum(start, 0)

        cnt = counts(oh, sh, pt, ph, h)[:, None] * counts(ow, sw, pl, pw, w)[None, :]
        inv = (1.0 / cnt).astype(dtype)
        return inv if ha == 2 else inv[:, :, None]

    def backward(self, M, g, out, x, *_):
        xp = _xp(g)
        gs = g * self.inv  # each window element gets g / count
        overlap = self.geo[5]
        dx = self._grad_buffer(xp, self.pshape, g.dtype)
        for ix in self.idx:
            if overlap:
                dx[ix] += gs
            else:
                dx[ix] = gs
        return (self._crop(dx),) + (None,) * 4
