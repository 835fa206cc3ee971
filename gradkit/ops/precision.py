"""Rounding to a lower float precision while keeping the array's dtype (mixed precision).

NumPy has no fast float16 matmul (no BLAS: ~30x slower than float32) and no bfloat16 at
all, so on the CPU mixed precision is emulated: values are rounded to float16 or
bfloat16 and held in float32, and matmuls accumulate in float32, as GPU tensor cores do.
The gradient is rounded the same way (so float16 gradients underflow and overflow as
they do on a GPU, which is what loss scaling is for).
"""

from __future__ import annotations

from gradkit.autograd.function import Function
from gradkit.backend import get_array_module


def round_bfloat16(a):
    """``a`` (float32) rounded to bfloat16's 8-bit mantissa, to nearest even, as float32.

    Bit-exact with ``ml_dtypes.bfloat16`` casts (tested); NaN stays NaN.
    """
    xp = get_array_module(a)
    a = xp.ascontiguousarray(a, dtype="float32")
    bits = a.view("uint32")
    bias = ((bits >> 16) & 1) + 0x7FFF                 # round half to even
    out = ((bits + bias) & 0xFFFF0000).astype("uint32").view("float32")
    return xp.where(a != a, a, out)                    # keep NaN payloads NaN


def round_to(a, dtype):
    """``a``'s values at ``dtype``'s precision ("float16" or "bfloat16"), in ``a``'s dtype."""
    if dtype == "bfloat16":
        return round_bfloat16(a).astype(a.dtype, copy=False)
    return a.astype(dtype).astype(a.dtype)


class RoundTo(Function):
    """Values (and, backward, gradients) rounded to a lower precision; dtype kept."""

    higher_order = False  # rounding has no useful second derivative

    def forward(self, a, dtype):
        return round_to(a, dtype)

    def backward(self, M, g, out, a, dtype):
        return round_to(g, dtype), None  # d(round(a))/da taken as 1, at the same precision
