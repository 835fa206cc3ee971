"""Activation functions as primitives (numerically stable for large inputs)."""

from __future__ import annotations

import math

from gradkit.autograd.function import Function, array_math
from gradkit.backend import get_array_module as _xp
from gradkit.utils.validation import normalize_axis

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _M(x):
    return array_math(_xp(x))


def _erf(x):
    """erf to the precision of ``x``'s dtype (NumPy has none).

    A power series for |x| <= 2.5, a continued fraction of erfc beyond; float64 to
    ~1e-15, float32 (and float16, computed in float32) to a few ulps, relative error
    included near 0 (``1 - erfc`` would cancel there).
    """
    xp = _xp(x)
    n_series, n_frac = (40, 26) if x.dtype == xp.float64 else (24, 8)
    z = xp.abs(x if x.dtype.itemsize >= 4 else x.astype(xp.float32))
    small = z <= 2.5
    out = xp.empty_like(z)
    s = z[small]  # erf(s) = 2/sqrt(pi) e^-s^2 sum_n s (2 s^2)^n / (1 3 ... (2n+1)): terms > 0
    term, total, s2 = s, s, 2.0 * s * s
    for n in range(1, n_series):
        term = term * s2 / (2 * n + 1)
        total = total + term
    out[small] = (2.0 / math.sqrt(math.pi)) * xp.exp(-s * s) * total
    b = xp.minimum(z[~small], 10.0)  # erfc(10) < 1e-44: erf is 1.0 from there on
    f = b  # erfc(b) = e^-b^2 / sqrt(pi) / (b + (1/2) / (b + 1 / (b + (3/2) / (b + ...))))
    for k in range(n_frac, 0, -1):
        f = b + (0.5 * k) / f
    out[~small] = 1.0 - xp.exp(-b * b) / (math.sqrt(math.pi) * f)
    return xp.copysign(out, x).astype(x.dtype, copy=False)


class ReLU(Function):
    def forward(self, x):
        return _xp(x).maximum(x, 0)

    def backward(self, M, g, out, x):
        return (g * (out > 0),)  # 1 where x > 0, else 0


class ClippedReLU(Function):
    """Keras's general relu: ``max_value`` from ``max_value`` up, ``x`` from ``threshold``
    up, ``negative_slope * (x - threshold)`` below (``max_value`` may be None)."""

    def forward(self, x, max_value, negative_slope, threshold):
        xp = _xp(x)
        y = xp.where(x >= threshold, x, (x - threshold) * negative_slope)
        if max_value is not None:
            y = xp.where(x >= max_value, max_value, y)
        return y.astype(x.dtype, copy=False)

    def backward(self, M, g, out, x, max_value, negative_slope, threshold):
        d = M.where(x >= threshold, g, g * negative_slope)  # 1 or negative_slope
        if max_value is not None:
            d = d * (x < max_value)  # 0 on the cap
        return d, None, None, None


class LeakyReLU(Function):
    def forward(self, x, slope):
        self.slope = slope
        return _xp(x).where(x > 0, x, x * slope)

    def backward(self, M, g, out, x, slope):
        return M.where(x > 0, g, g * self.slope), None  # 1 or slope


class ELU(Function):
    def forward(self, x, alpha):
        xp = _xp(x)
        return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))

    def backward(self, M, g, out, x, alpha):
        return M.where(x > 0, g, g * (out + alpha)), None  # 1, or alpha e^x = out + alpha


class Sigmoid(Function):
    def forward(self, x):
        return _M(x).sigmoid(x)

    def backward(self, M, g, out, x):
        return (g * out * (1.0 - out),)  # s (1 - s)


class Tanh(Function):
    def forward(self, x):
        return _xp(x).tanh(x)

    def backward(self, M, g, out, x):
        return (g * (1.0 - out * out),)  # 1 - tanh^2


class Softplus(Function):
    def forward(self, x):
        xp = _xp(x)  # log(1 + e^x) = max(x, 0) + log1p(e^-|x|), never overflows
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, M, g, out, x):
        return (g * M.sigmoid(x),)


class GELU(Function):
    def forward(self, x, approximate):
        xp = _xp(x)
        if approximate:  # tanh form
            return 0.5 * x * (1.0 + xp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)))
        cdf = 0.5 * (1.0 + _erf(x * (1.0 / math.sqrt(2.0))))
        if self.needs is not None:
            self.cdf = cdf
        return x * cdf

    def backward(self, M, g, out, x, approximate):
        if approximate:
            u = _SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)
            t = M.tanh(u)
            du = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)
            return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du), None
        cdf = 0.5 * (1.0 + M.erf(x * (1.0 / math.sqrt(2.0)))) if M.graph else self.cdf
        pdf = _INV_SQRT_2PI * M.exp(-0.5 * x * x)
        return g * (cdf + x * pdf), None  # Phi(x) + x phi(x)


class Erf(Function):
    def forward(self, x):
        return _erf(x)

    def backward(self, M, g, out, x):
        return (g * (2.0 / math.sqrt(math.pi)) * M.exp(-x * x),)


class Softmax(Function):
    def forward(self, x, axis):
        normalize_axis("softmax", axis, x.ndim)
        return _M(x).softmax(x, axis)

    def backward(self, M, g, out, x, axis):
        # J^T g = s * (g - <g, s>) along the axis
        return out * (g - (g * out).sum(axis=axis, keepdims=True)), None


class LogSoftmax(Function):
    def forward(self, x, axis):
        normalize_axis("log_softmax", axis, x.ndim)
        return _M(x).log_softmax(x, axis)

    def backward(self, M, g, out, x, axis):
        # g - softmax(x) * sum(g)
        return g - M.exp(out) * g.sum(axis=axis, keepdims=True), None
