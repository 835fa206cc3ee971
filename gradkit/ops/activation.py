"""Activation functions as primitives (numerically stable for large inputs)."""

from __future__ import annotations

import math

from gradkit.autograd.function import Function, array_math
from gradkit.backend import get_array_module as _xp

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _M(x):
    return array_math(_xp(x))


class ReLU(Function):
    def forward(self, x):
        return _xp(x).maximum(x, 0)

    def backward(self, M, g, out, x):
        return (g * (out > 0),)  # 1 where x > 0, else 0


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
        return 0.5 * x * (1.0 + _M(x).erf(x * (1.0 / math.sqrt(2.0))))

    def backward(self, M, g, out, x, approximate):
        if approximate:
            u = _SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)
            t = M.tanh(u)
            du = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)
            return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du), None
        cdf = 0.5 * (1.0 + M.erf(x * (1.0 / math.sqrt(2.0))))
        pdf = _INV_SQRT_2PI * M.exp(-0.5 * x * x)
        return g * (cdf + x * pdf), None  # Phi(x) + x phi(x)


class Erf(Function):
    def forward(self, x):
        return _M(x).erf(x)

    def backward(self, M, g, out, x):
        return (g * (2.0 / math.sqrt(math.pi)) * M.exp(-x * x),)


class Softmax(Function):
    def forward(self, x, axis):
        return _M(x).softmax(x, axis)

    def backward(self, M, g, out, x, axis):
        # J^T g = s * (g - <g, s>) along the axis
        return out * (g - (g * out).sum(axis=axis, keepdims=True)), None


class LogSoftmax(Function):
    def forward(self, x, axis):
        return _M(x).log_softmax(x, axis)

    def backward(self, M, g, out, x, axis):
        # g - softmax(x) * sum(g)
        return g - M.exp(out) * g.sum(axis=axis, keepdims=True), None
