"""Reductions over ``axis`` (None, an int or a tuple) with ``keepdims``."""

from __future__ import annotations

from gradkit.autograd.function import Function
from gradkit.backend import get_array_module as _xp
from gradkit.utils.validation import normalize_axes


def _axes(op, axis, ndim):
    """``axis`` (None: all) as a sorted tuple of distinct non-negative axes."""
    return tuple(range(ndim)) if axis is None else normalize_axes(op, axis, ndim)


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _expand(M, g, x, axes, keepdims):
    """Bring ``g`` (reduced) back to ``x``'s shape by broadcasting."""
    if not keepdims:
        g = g.reshape(_kept_shape(x.shape, axes))
    return M.broadcast_to(g, x.shape)


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


class Sum(Function):
    def forward(self, x, axis, keepdims):
        self.axes = _axes(self.name, axis, x.ndim)
        return x.sum(axis=self.axes, keepdims=keepdims)

    def backward(self, M, g, out, x, axis, keepdims):
        return _expand(M, g, x, self.axes, keepdims), None, None  # every input counts once


class Mean(Function):
    def forward(self, x, axis, keepdims):
        self.axes = _axes(self.name, axis, x.ndim)
        return x.mean(axis=self.axes, keepdims=keepdims)

    def backward(self, M, g, out, x, axis, keepdims):
        n = _count(x.shape, self.axes)  # each input counts 1/n
        return _expand(M, g * (1.0 / max(n, 1)), x, self.axes, keepdims), None, None


class _Extreme(Function):
    """max/min: the gradient goes to the extreme element(s), split evenly among ties."""

    def forward(self, x, axis, keepdims):
        self.axes = _axes(self.name, axis, x.ndim)
        if x.size == 0:
            raise ValueError(f"{self.name}: cannot reduce an empty tensor of shape {x.shape}")
        return self.reduce(x, axis=self.axes, keepdims=keepdims)

    def backward(self, M, g, out, x, axis, keepdims):
        kept = out if keepdims else out.reshape(_kept_shape(x.shape, self.axes))
        hit = x == kept
        share = hit / hit.sum(axis=self.axes, keepdims=True)
        return _expand(M, g, x, self.axes, keepdims) * share, None, None


class Max(_Extreme):
    @staticmethod
    def reduce(x, **kw):
        return x.max(**kw)


class Min(_Extreme):
    @staticmethod
    def reduce(x, **kw):
        return x.min(**kw)


class Var(Function):
    def forward(self, x, axis, keepdims, ddof):
        self.axes = _axes(self.name, axis, x.ndim)
        return x.var(axis=self.axes, keepdims=keepdims, ddof=ddof)

    def backward(self, M, g, out, x, axis, keepdims, ddof):
        n = _count(x.shape, self.axes)  # d var = 2 (x - mean) / (n - ddof)
        centered = x - x.mean(axis=self.axes, keepdims=True)
        scale = 2.0 / max(n - ddof, 1)
        return _expand(M, g, x, self.axes, keepdims) * centered * scale, None, None, None


class Std(Function):
    def forward(self, x, axis, keepdims, ddof):
        self.axes = _axes(self.name, axis, x.ndim)
        return x.std(axis=self.axes, keepdims=keepdims, ddof=ddof)

    def backward(self, M, g, out, x, axis, keepdims, ddof):
        n = _count(x.shape, self.axes)  # d std = (x - mean) / ((n - ddof) std), 0 where std = 0
        centered = x - x.mean(axis=self.axes, keepdims=True)
        kept = out if keepdims else out.reshape(_kept_shape(x.shape, self.axes))
        zero = kept == 0  # constant (or one-element) groups: 0, as in PyTorch, not 0/0 = NaN
        denom = M.where(zero, 1.0, kept) * max(n - ddof, 1)
        grad = M.where(zero, 0.0, centered / denom)
        return _expand(M, g, x, self.axes, keepdims) * grad, None, None, None


class LogSumExp(Function):
    def forward(self, x, axis, keepdims):
        xp = _xp(x)
        self.axes = _axes(self.name, axis, x.ndim)
        m = x.max(axis=self.axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # all -inf rows stay -inf, not NaN
        out = xp.log(xp.exp(x - m).sum(axis=self.axes, keepdims=True)) + m
        return out if keepdims else out.reshape(
            tuple(n for i, n in enumerate(x.shape) if i not in self.axes))

    def backward(self, M, g, out, x, axis, keepdims):
        kept = out if keepdims else out.reshape(_kept_shape(x.shape, self.axes))
        return _expand(M, g, x, self.axes, keepdims) * M.exp(x - kept), None, None  # softmax


class CumSum(Function):
    def forward(self, x, axis):
        self.axis = axis = normalize_axes(self.name, axis, x.ndim)[0]
        return _xp(x).cumsum(x, axis)

    def backward(self, M, g, out, x, axis):
        # each input feeds every later position: the reversed running sum of g
        rev = (slice(None),) * self.axis + (slice(None, None, -1),)
        return M.cumsum(g[rev], self.axis)[rev], None
