"""Elementwise arithmetic: forward and gradient side by side.

Binary ops broadcast like NumPy; their gradients are summed back to each
input's shape with :func:`unbroadcast`. ``g`` is the upstream gradient,
``out`` the op's output.
"""

from __future__ import annotations

from gradkit.autograd.function import Function, unbroadcast
from gradkit.backend import get_array_module as _xp


def _ub(g, x):
    return unbroadcast(g, x.shape)


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, M, g, out, a, b):
        n = self.needs  # d(a+b)/da = d(a+b)/db = 1
        return _ub(g, a) if n[0] else None, _ub(g, b) if n[1] else None


class Subtract(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, M, g, out, a, b):
        n = self.needs  # d/da = 1, d/db = -1
        return _ub(g, a) if n[0] else None, _ub(-g, b) if n[1] else None


class Multiply(Function):
    def forward(self, a, b):
        return a * b

    def backward(self, M, g, out, a, b):
        n = self.needs  # d(ab)/da = b, d(ab)/db = a
        return _ub(g * b, a) if n[0] else None, _ub(g * a, b) if n[1] else None


class Divide(Function):
    def forward(self, a, b):
        return a / b

    def backward(self, M, g, out, a, b):
        n = self.needs  # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        return (_ub(g / b, a) if n[0] else None,
                _ub(-g * a / (b * b), b) if n[1] else None)


class Power(Function):
    def forward(self, a, b):
        return a ** b

    def backward(self, M, g, out, a, b):
        n = self.needs
        ga = gb = None
        if n[0]:  # d(a^b)/da = b a^(b-1); 0 where b == 0 (not 0 * 0^-1 = NaN at a = 0)
            if isinstance(b, (int, float)):
                ga = _ub(g * b * a ** (b - 1 if b != 0 else 1), a)
            else:
                ga = _ub(g * b * a ** M.where(b == 0, 1.0, b - 1), a)
        if n[1]:  # d(a^b)/db = a^b log a, taken as 0 where a <= 0
            pos = a > 0
            ga_b = g * out * M.log(M.where(pos, a, 1.0))
            gb = _ub(M.where(pos, ga_b, 0.0), b)
        return ga, gb


class Negative(Function):
    def forward(self, a):
        return -a

    def backward(self, M, g, out, a):
        return (-g,)


class Exp(Function):
    def forward(self, a):
        return _xp(a).exp(a)

    def backward(self, M, g, out, a):
        return (g * out,)  # d e^a = e^a


class Log(Function):
    def forward(self, a):
        return _xp(a).log(a)

    def backward(self, M, g, out, a):
        return (g / a,)  # d log a = 1/a


class Sin(Function):
    def forward(self, a):
        return _xp(a).sin(a)

    def backward(self, M, g, out, a):
        return (g * M.cos(a),)  # d sin a = cos a


class Cos(Function):
    def forward(self, a):
        return _xp(a).cos(a)

    def backward(self, M, g, out, a):
        return (-g * M.sin(a),)  # d cos a = -sin a


class Sqrt(Function):
    def forward(self, a):
        return _xp(a).sqrt(a)

    def backward(self, M, g, out, a):
        return (g / (2.0 * out),)  # d sqrt(a) = 1 / (2 sqrt(a))


class Abs(Function):
    def forward(self, a):
        return _xp(a).abs(a)

    def backward(self, M, g, out, a):
        return (g * M.sign(a),)  # d|a| = sign(a), 0 at 0


class Sign(Function):
    def forward(self, a):
        return _xp(a).sign(a)

    def backward(self, M, g, out, a):
        return (M.zeros_like(a),)  # piecewise constant


class Maximum(Function):
    def forward(self, a, b):
        return _xp(a, b).maximum(a, b)

    def backward(self, M, g, out, a, b):
        # the larger input takes the gradient; ties split it (as PyTorch does)
        n = self.needs
        share = M.where(a == b, 0.5, 1.0) * g
        return (_ub(share * (a >= b), a) if n[0] else None,
                _ub(share * (b >= a), b) if n[1] else None)


class Minimum(Function):
    def forward(self, a, b):
        return _xp(a, b).minimum(a, b)

    def backward(self, M, g, out, a, b):
        n = self.needs
        share = M.where(a == b, 0.5, 1.0) * g
        return (_ub(share * (a <= b), a) if n[0] else None,
                _ub(share * (b <= a), b) if n[1] else None)


class Where(Function):
    def forward(self, cond, a, b):
        self.cond = cond
        return _xp(a, b).where(cond, a, b)

    def backward(self, M, g, out, cond, a, b):
        n = self.needs  # the chosen branch gets the gradient
        c = self.cond
        return (None,
                _ub(M.where(c, g, 0.0), a) if n[1] else None,
                _ub(M.where(c, 0.0, g), b) if n[2] else None)


class Clip(Function):
    def forward(self, a, lo, hi):
        return _xp(a).clip(a, lo, hi)

    def backward(self, M, g, out, a, lo, hi):
        inside = a == out  # d clip = 1 inside [lo, hi], 0 where clipped
        return g * inside, None, None


class Cast(Function):
    def forward(self, a, dtype):
        return a.astype(dtype)

    def backward(self, M, g, out, a, dtype):
        return (g.astype(a.dtype) if a.dtype.kind == "f" else None), None


class Log1p(Function):
    def forward(self, a):
        return _xp(a).log1p(a)

    def backward(self, M, g, out, a):
        return (g / (1.0 + a),)  # d log(1 + a) = 1 / (1 + a)


class Expm1(Function):
    def forward(self, a):
        return _xp(a).expm1(a)

    def backward(self, M, g, out, a):
        return (g * (out + 1.0),)  # d (e^a - 1) = e^a


class Arctan(Function):
    def forward(self, a):
        return _xp(a).arctan(a)

    def backward(self, M, g, out, a):
        return (g / (1.0 + a * a),)  # d atan a = 1 / (1 + a^2)


class Arcsin(Function):
    def forward(self, a):
        return _xp(a).arcsin(a)

    def backward(self, M, g, out, a):
        return (g / M.sqrt(1.0 - a * a),)  # d asin a = 1 / sqrt(1 - a^2)
