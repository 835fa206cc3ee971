"""PyTorch's losses: functions (``cross_entropy``...) and Modules (``CrossEntropyLoss``...).

Arguments are ``(input, target)`` (PyTorch's order; Keras losses take ``(y_true,
y_pred)``), the class axis is 1 (``(N, C)``, ``(N, C, d1, ...)``), and
``reduction`` is ``"mean"``, ``"sum"`` or ``"none"``. Built from gradkit ops
(``log_softmax``, the fused ``softmax_cross_entropy`` and ``mean_squared_error``,
``softplus``...), so gradients come from theirs.
"""

from __future__ import annotations

import numpy as np

from gradkit import ops
from gradkit.backend import get_array_module
from gradkit.nn.module import Module
from gradkit.tensor import Tensor
from gradkit.utils.validation import check_choice, check_int, check_number

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "KLDivLoss",
           "L1Loss", "MSELoss", "NLLLoss", "SmoothL1Loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "cross_entropy", "huber_loss", "kl_div",
           "l1_loss", "mse_loss", "nll_loss", "smooth_l1_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _reduce(owner, loss, reduction):
    if reduction == "mean":
        return ops.mean(loss)
    if reduction == "sum":
        return ops.sum(loss)
    return loss


def _check_reduction(owner, reduction, extra=()):
    return check_choice(owner, "reduction", reduction, _REDUCTIONS + extra)


def _like(owner, input, target):  # noqa: A002
    """``target`` as a Tensor in ``input``'s float dtype, shapes checked to match."""
    x = _t(input)
    t = target if isinstance(target, Tensor) else Tensor(np.asarray(target), dtype=x.dtype)
    if t.shape != x.shape:
        raise ValueError(f"{owner}: target shape {t.shape} differs from input shape "
                         f"{x.shape}; they must match")
    return x, t


def _array(x):
    return x._data if isinstance(x, Tensor) else x


# ---------------------------------------------------------------- regression
def mse_loss(input, target, reduction="mean"):  # noqa: A002
    """``(input - target)^2``, reduced."""
    _check_reduction("mse_loss", reduction)
    x, t = _like("mse_loss", input, target)
    return ops.mean_squared_error(x, t, reduction)


def l1_loss(input, target, reduction="mean"):  # noqa: A002
    """``|input - target|``, reduced."""
    _check_reduction("l1_loss", reduction)
    x, t = _like("l1_loss", input, target)
    return _reduce("l1_loss", ops.abs(x - t), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0):  # noqa: A002
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``, with
    ``d = input - target``."""
    _check_reduction("huber_loss", reduction)
    delta = check_number("huber_loss", "delta", delta, 0, min_open=True)
    x, t = _like("huber_loss", input, target)
    d = ops.abs(x - t)
    small = _array(d) < delta
    return _reduce("huber_loss", ops.where(small, 0.5 * d * d, delta * (d - 0.5 * delta)),
                   reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):  # noqa: A002
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (Huber / beta)."""
    _check_reduction("smooth_l1_loss", reduction)
    beta = check_number("smooth_l1_loss", "beta", beta, 0)
    if beta == 0:
        return l1_loss(input, target, reduction)
    x, t = _like("smooth_l1_loss", input, target)
    d = ops.abs(x - t)
    small = _array(d) < beta
    return _reduce("smooth_l1_loss", ops.where(small, 0.5 * d * d / beta, d - 0.5 * beta),
                   reduction)


# ---------------------------------------------------------------- binary
def binary_cross_entropy(input, target, weight=None, reduction="mean"):  # noqa: A002
    """``-(t log p + (1 - t) log(1 - p))`` on probabilities ``p`` (each log clamped at
    -100, as PyTorch does), times ``weight`` (broadcast), reduced."""
    _check_reduction("binary_cross_entropy", reduction)
    p, t = _like("binary_cross_entropy", input, target)
    data = _array(p)
    if data.size and (data.min() < 0 or data.max() > 1):
        raise ValueError("binary_cross_entropy: input must hold probabilities in [0, 1]; "
                         "for logits use binary_cross_entropy_with_logits")
    log_p = ops.maximum(ops.log(p), -100.0)
    log_q = ops.maximum(ops.log(1.0 - p), -100.0)
    loss = -(t * log_p + (1.0 - t) * log_q)
    if weight is not None:
        loss = loss * _t(weight)
    return _reduce("binary_cross_entropy", loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",  # noqa: A002
                                     pos_weight=None):
    """Binary cross-entropy of ``sigmoid(input)``, computed stably from the logits.

    ``pos_weight`` (broadcast along the last axis, one per class) weighs the
    positive term: ``-(pos_weight t log s + (1 - t) log(1 - s))``.
    """
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    x, t = _like("binary_cross_entropy_with_logits", input, target)
    if pos_weight is None:
        loss = ops.binary_cross_entropy_with_logits(x, t, reduction="none")
    else:  # (1 - t) x + (1 + (pw - 1) t) softplus(-x)
        loss = (1.0 - t) * x + (1.0 + (_t(pos_weight) - 1.0) * t) * ops.softplus(-x)
    if weight is not None:
        loss = loss * _t(weight)
    return _reduce("binary_cross_entropy_with_logits", loss, reduction)


# ---------------------------------------------------------------- classes
def _class_axis(owner, x):
    if x.ndim == 0:
        raise ValueError(f"{owner}: input must have a class axis, received a 0-d tensor")
    return 1 if x.ndim >= 2 else 0


def _index_target(owner, x, target, class_axis):
    """Integer targets shaped like ``x`` without its class axis, as an array."""
    t = _array(target)
    t = get_array_module(_array(x)).asarray(t)
    want = x.shape[:class_axis] + x.shape[class_axis + 1:]
    if t.shape != want:
        raise ValueError(f"{owner}: class-index target must have shape {want} for input of "
                         f"shape {x.shape} (classes on axis {class_axis}), received "
                         f"{t.shape}")
    return t


def _weight_vector(owner, weight, n, dtype):
    if weight is None:
        return None
    w = np.asarray(_array(weight), dtype=dtype)
    if w.shape != (n,):
        raise ValueError(f"{owner}: weight must have one entry per class, shape ({n},), "
                         f"received {w.shape}")
    return w


def _along(v, class_axis, ndim):
    """A per-class vector shaped to broadcast along ``class_axis`` of an ``ndim`` tensor."""
    shape = [1] * ndim
    shape[class_axis] = v.shape[0]
    return v.reshape(shape)


def _picked(owner, logp, target, weight, ignore_index, class_axis):
    """Per-element ``-w[t] logp[t]`` and the weights ``w[t]`` (0 where ignored)."""
    c = logp.shape[class_axis]
    t = _index_target(owner, logp, target, class_axis)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{owner}: class-index targets must be integers, received {t.dtype}; "
                        "for class probabilities pass a float target shaped like the input")
    ignored = t == ignore_index
    safe = np.where(ignored, 0, t)
    if safe.size and (safe.min() < 0 or safe.max() >= c):
        raise ValueError(f"{owner}: class index out of range [0, {c}) in target (min "
                         f"{int(t.min())}, max {int(t.max())})")
    onehot = np.moveaxis(np.arange(c) == safe[..., None], -1, class_axis).astype(logp.dtype)
    w = np.ones(c, logp.dtype) if weight is None else weight
    wt = (w[safe] * ~ignored).astype(logp.dtype)
    return -ops.sum(logp * onehot, class_axis) * wt, wt, ignored


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):  # noqa: A002
    """Negative log-likelihood of class indices, on log-probabilities ``(N, C, ...)``.

    ``mean`` divides by the summed weights of the counted targets (targets equal to
    ``ignore_index`` count for nothing), as PyTorch does.
    """
    _check_reduction("nll_loss", reduction)
    x = _t(input)
    axis = _class_axis("nll_loss", x)
    weight = _weight_vector("nll_loss", weight, x.shape[axis], x.dtype)
    loss, wt, _ = _picked("nll_loss", x, target, weight, ignore_index, axis)
    if reduction == "mean":
        return ops.sum(loss) / x.dtype.type(wt.sum())
    return _reduce("nll_loss", loss, reduction)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",  # noqa: A002
                  label_smoothing=0.0):
    """Cross-entropy of ``softmax(input)`` (classes on axis 1) against class indices
    (integers, shaped like ``input`` without axis 1) or class probabilities (floats,
    shaped like ``input``).

    Args:
        input: logits ``(N, C)``, ``(N, C, d1, ...)`` or ``(C,)``.
        target: class indices or probabilities, see above.
        weight: optional per-class weights ``(C,)``.
        ignore_index: a class index whose targets are skipped (indices only).
        reduction: ``"mean"`` (weighted mean over counted targets for indices, plain mean
            over samples for probabilities), ``"sum"`` or ``"none"``.
        label_smoothing: in ``[0, 1]``; the target becomes ``(1 - s) target + s / C``.

    Returns:
        A scalar Tensor, or per-sample losses with ``reduction="none"``.

    Example::

        loss = F.cross_entropy(logits, labels, label_smoothing=0.1)
    """
    _check_reduction("cross_entropy", reduction)
    eps = check_number("cross_entropy", "label_smoothing", label_smoothing, 0.0, 1.0)
    x = _t(input)
    axis = _class_axis("cross_entropy", x)
    c = x.shape[axis]
    weight = _weight_vector("cross_entropy", weight, c, x.dtype)
    t = _array(target)
    probabilities = getattr(t, "dtype", np.asarray(t).dtype).kind == "f"
    if probabilities:
        if ignore_index != -100:
            raise ValueError("cross_entropy: ignore_index applies to class-index targets only; "
                             "with class probabilities leave it at -100")
        p = target if isinstance(target, Tensor) else Tensor(t, dtype=x.dtype)
        if p.shape != x.shape:
            raise ValueError(f"cross_entropy: probability target must have the input's shape "
                             f"{x.shape}, received {p.shape}")
        if eps:
            p = p * (1.0 - eps) + eps / c
        logp = ops.log_softmax(x, axis)
        per = logp * p if weight is None else logp * p * _along(weight, axis, x.ndim)
        return _reduce("cross_entropy", -ops.sum(per, axis), reduction)
    t = _index_target("cross_entropy", x, t, axis)
    if x.ndim == 2 and weight is None and not eps and not (t == ignore_index).any() \
            and t.dtype.kind in "iu":
        return ops.softmax_cross_entropy(x, t, reduction)  # the fused, common case
    logp = ops.log_softmax(x, axis)
    nll, wt, ignored = _picked("cross_entropy", logp, t, weight, ignore_index, axis)
    total = x.dtype.type(wt.sum())
    if not eps:
        return ops.sum(nll) / total if reduction == "mean" else _reduce("", nll, reduction)
    w = logp if weight is None else logp * _along(weight, axis, x.ndim)
    smooth = -ops.sum(w, axis) * (~ignored).astype(x.dtype)
    if reduction == "mean":
        nll_r, smooth_r = ops.sum(nll) / total, ops.sum(smooth) / total
    else:
        nll_r, smooth_r = _reduce("", nll, reduction), _reduce("", smooth, reduction)
    return nll_r * (1.0 - eps) + smooth_r * (eps / c)


def kl_div(input, target, reduction="mean", log_target=False):  # noqa: A002
    """``target * (log(target) - input)`` with ``input`` log-probabilities (0 where
    ``target`` is 0); ``log_target``: the target is given as log-probabilities too.

    ``reduction="batchmean"`` divides the sum by the batch size (the KL divergence);
    ``"mean"`` averages over every element, as PyTorch does.
    """
    _check_reduction("kl_div", reduction, ("batchmean",))
    x, t = _like("kl_div", input, target)
    if log_target:
        loss = ops.exp(t) * (t - x)
    else:
        positive = _array(t) > 0
        safe = ops.where(positive, t, 1.0)
        loss = ops.where(positive, t * (ops.log(safe) - x), 0.0 * x)
    if reduction == "batchmean":
        return ops.sum(loss) / (x.shape[0] if x.ndim else 1)
    return _reduce("kl_div", loss, reduction)


# ---------------------------------------------------------------- modules
class _Loss(Module):
    """A loss as a Module: ``loss_fn(input, target)``."""

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = _check_reduction(type(self).__name__, reduction,
                                          ("batchmean",) if isinstance(self, KLDivLoss)
                                          else ())

    def __call__(self, input, target):  # noqa: A002 - no input casting: targets stay as given
        return self.forward(input, target)

    def get_config(self):
        return {"reduction": self.reduction}

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


def _weight_buffer(module, weight):
    module.register_buffer("weight", None if weight is None else _t(weight))


class MSELoss(_Loss):
    """Mean squared error: ``nn.MSELoss(reduction="mean")(input, target)``."""

    def forward(self, input, target):  # noqa: A002
        return mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error."""

    def forward(self, input, target):  # noqa: A002
        return l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    """Huber loss (``delta``): quadratic near 0, linear beyond."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = check_number("HuberLoss", "delta", delta, 0, min_open=True)

    def forward(self, input, target):  # noqa: A002
        return huber_loss(input, target, self.reduction, self.delta)

    def get_config(self):
        return {"reduction": self.reduction, "delta": self.delta}


class SmoothL1Loss(_Loss):
    """Smooth L1 loss (``beta``): Huber loss divided by ``beta``."""

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = check_number("SmoothL1Loss", "beta", beta, 0)

    def forward(self, input, target):  # noqa: A002
        return smooth_l1_loss(input, target, self.reduction, self.beta)

    def get_config(self):
        return {"reduction": self.reduction, "beta": self.beta}


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities; ``weight`` rescales each element."""

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        _weight_buffer(self, weight)

    def forward(self, input, target):  # noqa: A002
        return binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits (stable); ``pos_weight`` weighs positives per class."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        _weight_buffer(self, weight)
        self.register_buffer("pos_weight", None if pos_weight is None else _t(pos_weight))

    def forward(self, input, target):  # noqa: A002
        return binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                self.pos_weight)


class NLLLoss(_Loss):
    """Negative log-likelihood on log-probabilities (after ``LogSoftmax``)."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        _weight_buffer(self, weight)
        self.ignore_index = check_int("NLLLoss", "ignore_index", ignore_index)

    def forward(self, input, target):  # noqa: A002
        return nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class CrossEntropyLoss(_Loss):
    """Cross-entropy on logits against class indices or probabilities.

    Args:
        weight: optional per-class weights ``(C,)``.
        ignore_index: targets with this class index are skipped.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        label_smoothing: in ``[0, 1]``.

    Example::

        loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
        loss = loss_fn(model(x), y)          # (N, C) logits, (N,) int labels
    """

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        _weight_buffer(self, weight)
        self.ignore_index = check_int("CrossEntropyLoss", "ignore_index", ignore_index)
        self.label_smoothing = check_number("CrossEntropyLoss", "label_smoothing",
                                            label_smoothing, 0.0, 1.0)

    def forward(self, input, target):  # noqa: A002
        return cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                             self.label_smoothing)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence; input log-probabilities (``reduction="batchmean"`` for
    the mathematical KL per sample)."""

    def __init__(self, reduction="mean", log_target=False):
        super().__init__(reduction)
        self.log_target = bool(log_target)

    def forward(self, input, target):  # noqa: A002
        return kl_div(input, target, self.reduction, self.log_target)

    def get_config(self):
        return {"reduction": self.reduction, "log_target": self.log_target}
