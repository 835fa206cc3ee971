"""Max pooling's gradient as one pass over the windows (numba; imported on first use only).

``max_pool2d_backward`` gives each window's output gradient to the window's first
maximum in row-major order, or to its last element when no element equals the
maximum (a NaN window), exactly as the NumPy backward in ``pool.py`` routes it.
Arrays are in NHWC order (channels_first callers pass transposed views).
"""

from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True, error_model="numpy")
def max_pool2d_backward(a, out, g, dx, ph, pw, sh, sw, free):
    """``dx += g`` routed to each window's maximum; ``dx`` zeroed, shaped like ``a``;
    ``free`` is boolean scratch, one per channel (its maximum not found yet)."""
    n, oh, ow, c = out.shape
    last = ph * pw - 1
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                free[:] = True
                for k in range(last + 1):       # offsets in row-major order; channels inner
                    yy, xx = i * sh + k // pw, j * sw + k % pw
                    for ch in range(c):
                        hit = free[ch] and (k == last or a[b, yy, xx, ch] == out[b, i, j, ch])
                        if hit:
                            dx[b, yy, xx, ch] += g[b, i, j, ch]
                            free[ch] = False
