"""Activation gradients as one pass (numba; imported on first use only).

``relu_grad`` is ``g * (out > 0)`` reading ``g`` and ``out`` once and writing the
result once, where NumPy makes a mask pass and a multiply pass. Flat contiguous
arrays of one dtype; the NumPy ``_relu_masked`` in ``nn.py`` is the reference.
"""

from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True, error_model="numpy")
def relu_grad(g, out, m):
    """``m = g`` where ``out > 0``, else 0 (NaN outputs count as not positive)."""
    for i in range(g.size):
        m[i] = g[i] if out[i] > 0 else 0
