"""Losses fused into single primitives: stable forward, cheap exact gradient.

Each returns the mean over all examples (``reduction="mean"``), the sum, or
the per-example values (``"none"``).
"""

from __future__ import annotations

from gradkit.autograd.function import Function, OpError, array_math, unbroadcast
from gradkit.backend import get_array_module as _xp

REDUCTIONS = ("mean", "sum", "none")  # checked by the public wrappers in gradkit.ops


def _reduce(per_example, reduction):
    if reduction == "mean":
        return per_example.mean()
    if reduction == "sum":
        return per_example.sum()
    return per_example


def _scale_back(M, g, n, reduction, shape):
    """The gradient of the reduction for each example: per-example values for "none",
    else one scalar that broadcasts over them (no full-size array is made)."""
    if reduction == "none":
        return g.reshape(shape)
    return g * (1.0 / n) if reduction == "mean" else g


class SoftmaxCrossEntropy(Function):
    """-log softmax(logits)[label], from logits (..., C) and integer labels (...)
    or one-hot / probability targets (..., C)."""

    def forward(self, logits, labels, reduction, probs=None):
        xp = _xp(logits)
        if logits.ndim < 1:
            raise OpError("softmax_cross_entropy: logits need a class axis, got a scalar")
        c = logits.shape[-1]
        self.probs = probs
        if probs is None:
            logp = array_math(xp).log_softmax(logits, -1)
        else:
            # softmax(z) is at hand (a softmax layer's output): log p = z - max z + log max p,
            # because the largest probability is 1 / sum(e^(z - max z)). No exp, no sum;
            # max p >= 1/C, so the log is always finite.
            logp = logits - logits.max(axis=-1, keepdims=True)
            logp += xp.log(probs.max(axis=-1, keepdims=True))
        if labels.shape == logits.shape and labels.dtype.kind == "f":
            self.sparse = False
            per = -(labels * logp).sum(axis=-1)
        else:
            if labels.shape != logits.shape[:-1]:
                hint = (f"one-hot labels need width {c}" if labels.ndim == logits.ndim
                        else "integer labels need one entry per example")
                raise OpError(f"softmax_cross_entropy: labels of shape {labels.shape} do not fit "
                              f"logits of shape {logits.shape}; {hint}")
            if labels.dtype.kind not in "iu":
                if labels.dtype.kind == "f" and xp.all(labels == xp.round(labels)):
                    labels = labels.astype("int64")
                else:
                    raise OpError(f"softmax_cross_entropy: integer class labels expected, "
                                  f"got dtype {labels.dtype}")
            if labels.size and (labels.min() < 0 or labels.max() >= c):
                bad = labels[(labels < 0) | (labels >= c)].ravel()[0]
                raise OpError(f"softmax_cross_entropy: label {int(bad)} is out of range for "
                              f"{c} classes (valid labels are 0..{c - 1})")
            self.sparse = True
            self.labels = labels
            per = -xp.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
        self.n = max(per.size, 1)
        self.per_shape = per.shape
        if self.needs is not None:
            self.logp = logp
        return _reduce(per, reduction)

    def backward(self, M, g, out, logits, labels, reduction, probs=None):
        # d/dlogits = softmax - target, times the upstream gradient of each example
        gp = _scale_back(M, g, self.n, reduction, self.per_shape)[..., None]
        if M.graph:
            p = M.softmax(logits, axis=-1)
        else:
            p = self.probs if self.probs is not None else M.exp(self.logp)
        if self.sparse:
            xp = _xp(self.labels)
            target = xp.zeros(p.shape, dtype=p.dtype)
            xp.put_along_axis(target, self.labels[..., None], 1.0, axis=-1)
            return (p - target) * gp, None, None, None
        t = labels
        return (p * t.sum(axis=-1, keepdims=True) - t) * gp, (
            -M.log_softmax(logits, axis=-1) * gp if self.needs[1] else None), None, None


class SigmoidCrossEntropy(Function):
    """Binary cross-entropy from logits: max(x,0) - x z + log(1 + e^-|x|)."""

    def forward(self, logits, targets, reduction):
        if logits.shape != targets.shape:
            raise OpError(f"binary_cross_entropy_with_logits: logits of shape {logits.shape} "
                          f"and targets of shape {targets.shape} must match")
        xp = _xp(logits)
        per = xp.maximum(logits, 0) - logits * targets + xp.log1p(xp.exp(-xp.abs(logits)))
        self.n = max(per.size, 1)
        return _reduce(per, reduction)

    def backward(self, M, g, out, logits, targets, reduction):
        gp = _scale_back(M, g, self.n, reduction, logits.shape)
        return ((M.sigmoid(logits) - targets) * gp,  # sigmoid(x) - z
                (-logits * gp) if self.needs[1] else None, None)


class MeanSquaredError(Function):
    """mean((pred - target)^2)."""

    def forward(self, pred, target, reduction):
        try:
            d = pred - target
        except ValueError:
            raise OpError(f"mean_squared_error: predictions of shape {pred.shape} and targets "
                          f"of shape {target.shape} do not broadcast") from None
        if d.shape != pred.shape:
            raise OpError(f"mean_squared_error: targets of shape {target.shape} would "
                          f"broadcast predictions of shape {pred.shape} to {d.shape}; "
                          "reshape them to match")
        self.n = max(d.size, 1)
        if reduction == "none":
            return d * d
        s = (d * d).sum()
        return s / self.n if reduction == "mean" else s

    def backward(self, M, g, out, pred, target, reduction):
        gp = _scale_back(M, g, self.n, reduction, pred.shape)
        d = (pred - target) * (2.0 * gp)  # 2 (pred - target)
        gt = unbroadcast(-d, target.shape) if self.needs[1] else None
        return (d if self.needs[0] else None), gt, None
