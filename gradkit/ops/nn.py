"""Fused layer primitives: dense (``act(x @ kernel + bias)``) and normalization.

Each is one graph node instead of a chain of small ops, with a closed-form
backward; the public functions are :func:`gradkit.ops.dense`,
:func:`gradkit.ops.batch_norm` and :func:`gradkit.ops.layer_norm`.
"""

from __future__ import annotations

from gradkit import accel
from gradkit.autograd.function import Function, OpError, unbroadcast
from gradkit.backend import get_array_module as _xp


def _relu_masked(g, out):
    """``g * (out > 0)`` on raw arrays: with gradkit[fast] one numba pass, else the mask
    written straight as floats, then scaled in place (cheaper than multiplying by a
    boolean array)."""
    xp = _xp(g)
    m = xp.empty_like(g)
    loops = _fast_loops(g, out)
    if loops is not None:
        loops.relu_grad(g.reshape(-1), out.reshape(-1), m.reshape(-1))
        return m
    xp.greater(out, 0, out=m)
    m *= g
    return m


def _fast_loops(g, out):
    """numba's activation loops for these arrays, or None (NumPy runs)."""
    loops = accel.loops_for("gradkit.ops._activation_numba", g, out)  # NumPy floats only
    if loops is None or g.shape != out.shape or not (g.flags.c_contiguous
                                                     and out.flags.c_contiguous):
        return None
    return loops


def activate_in_place(y, act):
    """Apply the fused activation ``act`` (None, ``"relu"`` or ``"tanh"``) to ``y`` in place;
    ``y`` must be the primitive's own fresh result."""
    if act == "relu":
        _xp(y).maximum(y, 0, out=y)
    elif act == "tanh":
        _xp(y).tanh(y, out=y)
    return y


def activation_grad(M, g, out, act):
    """The upstream gradient ``g`` times the derivative of ``act``, read off the output."""
    if act == "relu":  # 1 where the output is positive, else 0
        return g * (out > 0) if M.graph else _relu_masked(g, out)
    if act == "tanh":
        return g * (1.0 - out * out)  # 1 - tanh^2
    return g


class Dense(Function):
    """``act(x @ kernel + bias)`` as one primitive (Dense's hot path).

    Fusing saves the separate add and activation nodes: the bias is added (and
    relu applied) in place on the fresh matmul result, and the backward pass
    produces the three gradients from one upstream gradient, masked or scaled by
    the activation's derivative, which it reads off the output. ``bias`` may be
    None; ``act`` is None, ``"relu"`` or ``"tanh"``. ``x`` is ``(batch, ..., in)``,
    ``kernel`` ``(in, out)``, ``bias`` ``(out,)``.
    """

    def forward(self, x, kernel, bias, act):
        if kernel.ndim != 2 or (bias is not None and bias.shape != kernel.shape[1:]):
            raise OpError(f"dense: kernel must be (in, out) and bias (out,), received kernel "
                          f"{kernel.shape} and bias {None if bias is None else bias.shape}")
        y = x @ kernel
        if bias is not None:
            y += bias
        return activate_in_place(y, act)

    def backward(self, M, g, out, x, kernel, bias, act):
        nx, nk, nb = self.needs[:3]
        g = activation_grad(M, g, out, act)
        gx = g @ kernel.T if nx else None  # d(x @ k)/dx = g k^T
        gk = gb = None
        if nk:  # x^T g, batch axes flattened
            if x.ndim == 2:
                gk = x.T @ g
            else:
                gk = x.reshape(-1, x.shape[-1]).T @ g.reshape(-1, g.shape[-1])
        if nb:  # the bias is added to every row
            gb = g.sum(axis=tuple(range(g.ndim - 1)))
        return gx, gk, gb, None


class Normalize(Function):
    """``y = (x - mean) * rsqrt(var + eps) * gamma + beta``, statistics over ``axes``.

    Positional inputs: ``x, gamma, beta, mean, var`` then constants ``axes``
    (reduced axes, a tuple), ``pshape`` (gamma/beta's broadcast shape, rank of
    ``x``), ``eps`` and ``stats`` (a dict or None).

    * ``mean is None``: the statistics are computed from ``x`` over ``axes``
      (biased variance) and are part of the function being differentiated
      (training batch norm, layer norm). They are written into ``stats`` as
      ``stats["mean"]``, ``stats["var"]`` (kept dims) for the caller.
    * ``mean``/``var`` given (arrays, kept dims): they are constants (inference
      batch norm): ``dx = g * gamma * inv_std``.

    ``gamma``/``beta`` may be None (no scale / no offset). The backward is the
    closed form ``dx = inv_std * (g' - mean(g') - xhat * mean(g' * xhat))`` with
    ``g' = g * gamma``.
    """

    def forward(self, x, gamma, beta, mean, var, axes, pshape, eps, stats):
        xp = _xp(x)
        self.batch_stats = mean is None
        if mean is None:
            mean = x.mean(axis=axes, keepdims=True)
            xc = x - mean
            var = (xc * xc).mean(axis=axes, keepdims=True)
            if stats is not None:
                stats["mean"], stats["var"] = mean, var
        else:
            xc = x - mean
        inv = 1.0 / xp.sqrt(var + eps)
        xc *= inv  # xc is ours: normalize in place -> xhat
        xhat = xc
        if gamma is not None:
            y = xhat * gamma.reshape(pshape)
            if beta is not None:
                y += beta.reshape(pshape)
        elif beta is not None:
            y = xhat + beta.reshape(pshape)
        else:
            y = xhat.copy()
        if self.needs is not None:
            self.xhat, self.inv = xhat, inv
        return y

    def backward(self, M, g, out, x, gamma, beta, mean, var, axes, pshape, eps, stats):
        nx, ngamma, nbeta = self.needs[:3]
        if M.graph:  # create_graph: rebuild xhat differentiably from x
            if self.batch_stats:
                xc = x - x.mean(axis=axes, keepdims=True)
                inv = 1.0 / M.sqrt((xc * xc).mean(axis=axes, keepdims=True) + eps)
            else:
                xc = x - mean
                inv = 1.0 / M.sqrt(var + eps)
            xhat = xc * inv
        else:
            xhat, inv = self.xhat, self.inv
        dgamma = unbroadcast(g * xhat, pshape).reshape(gamma.shape) if ngamma else None  # xhat
        dbeta = unbroadcast(g, pshape).reshape(beta.shape) if nbeta else None  # 1
        dx = None
        if nx:
            gg = g if gamma is None else g * gamma.reshape(pshape)
            if not self.batch_stats:  # constant statistics: a per-feature scale
                dx = gg * inv
            elif M.graph:
                dx = inv * (gg - gg.mean(axis=axes, keepdims=True)
                            - xhat * (gg * xhat).mean(axis=axes, keepdims=True))
            else:  # the same, computed in place
                m1 = gg.mean(axis=axes, keepdims=True)
                m2 = (gg * xhat).mean(axis=axes, keepdims=True)
                t = xhat * m2
                if gg is g:
                    dx = g - t
                else:  # gg = g * gamma is ours: reuse its memory
                    gg -= t
                    dx = gg
                dx -= m1
                dx *= inv
        return dx, dgamma, dbeta, None, None, None, None, None, None
