"""Max pooling as one pass over the windows each way (numba; imported on first use only).

``max_pool2d_forward`` computes each window's maximum and records where it is: the
offset ``k = row * pw + col`` inside the window of the first maximum in row-major
order; a window with a NaN has the maximum NaN (as NumPy's ``maximum`` makes it) and
the offset of its last element (where the NumPy backward routes such a window's
gradient, as no element equals NaN). ``max_pool2d_backward`` gives each window's output
gradient to that offset. Arrays are in NHWC order (channels_first callers pass
transposed views). The NumPy path in ``pool.py`` is the reference these agree with.
"""

from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True, error_model="numpy")
def max_pool2d_forward(a, out, arg, ph, pw, sh, sw):
    """``out`` = the maximum of each window of ``a``, ``arg`` = its offset in the window."""
    n, oh, ow, c = out.shape
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                y0, x0 = i * sh, j * sw
                for ch in range(c):                 # offset 0 first
                    out[b, i, j, ch] = a[b, y0, x0, ch]
                    arg[b, i, j, ch] = 0
                for k in range(1, ph * pw):         # then the others, row-major
                    yy, xx = y0 + k // pw, x0 + k % pw
                    for ch in range(c):
                        v = a[b, yy, xx, ch]
                        m = out[b, i, j, ch]
                        if v > m or (v != v and m == m):   # a larger value, or the first NaN
                            out[b, i, j, ch] = v
                            arg[b, i, j, ch] = k
                for ch in range(c):
                    if out[b, i, j, ch] != out[b, i, j, ch]:  # NaN: the last offset
                        arg[b, i, j, ch] = ph * pw - 1


@numba.njit(cache=True, nogil=True, error_model="numpy")
def max_pool2d_backward(g, arg, dx, ph, pw, sh, sw, overlap):
    """Each window's gradient ``g`` to its offset ``arg``. Without ``overlap`` every
    element of a window is written (``g`` or 0), so ``dx`` need not be zeroed where
    windows cover it; with it, ``dx`` is zeroed and gradients are added."""
    n, oh, ow, c = g.shape
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                y0, x0 = i * sh, j * sw
                for k in range(ph * pw):
                    yy, xx = y0 + k // pw, x0 + k % pw
                    for ch in range(c):
                        hit = arg[b, i, j, ch] == k
                        if overlap:
                            if hit:
                                dx[b, yy, xx, ch] += g[b, i, j, ch]
                        else:
                            dx[b, yy, xx, ch] = g[b, i, j, ch] if hit else 0
