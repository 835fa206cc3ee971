"""Keras-style losses: classes with reductions and sample weights, and plain functions.

A loss *class* is called as ``loss(y_true, y_pred, sample_weight=None)`` and
returns a scalar Tensor (or, with ``reduction="none"``, the per-example
losses). A loss *function* of the same name returns the per-example losses.

Example::

    from gradkit import losses

    loss_fn = losses.SparseCategoricalCrossentropy()
    loss = loss_fn(labels, model(x))        # scalar Tensor
    loss.backward()

    losses.mean_squared_error(y, y_hat)     # per-example values, shape (N,)

Shapes
------
* ``y_pred`` is a Tensor (arrays are accepted and wrapped); ``y_true`` is an
  array or Tensor and never receives a gradient.
* Elementwise losses (MSE, MAE, Huber, binary cross-entropy) compare
  ``y_true`` and ``y_pred`` of the same shape. As in Keras, a ``y_true`` of
  shape ``(N,)`` against a ``y_pred`` of shape ``(N, 1)`` (or the reverse) is
  reshaped to match. Any other mismatch raises ``ValueError`` naming the loss
  and both shapes (no silent broadcasting). The per-example loss is the mean
  over the last axis when ``y_pred`` has two or more axes; a 1-D ``y_pred`` is
  one value per example (Keras would average it down to one number).
* Distribution losses (categorical, sparse categorical cross-entropy, KL
  divergence) treat the last axis as the class axis and sum over it.

Reductions
----------
``"sum_over_batch_size"`` (the default, as in Keras; ``"mean"`` is an alias):
the sum of the weighted per-example losses divided by their number.
``"sum"``: the plain sum. ``"none"`` (or ``None``): the weighted per-example
losses. ``"mean_with_sample_weight"``: divided by the sum of the weights.

Stability
---------
A probability ``y_pred`` made by ``softmax`` over the last axis (or by
``sigmoid``) is not fed to ``log``: the cross-entropies look at the op that
produced it (``y_pred._ctx``) and compute the loss from that op's input, the
logits, with the fused ``gradkit.ops.softmax_cross_entropy`` /
``binary_cross_entropy_with_logits``. That is as stable and as fast as
``from_logits=True`` (the softmax backward is skipped altogether). When no
such op is recorded (under ``no_grad``, or for probabilities that come from
elsewhere), probabilities are clipped to ``[1e-7, 1 - 1e-7]`` as Keras does,
so the loss stays finite.
"""

from __future__ import annotations

import math

import numpy as np

from gradkit import ops
from gradkit.backend import get_array_module
from gradkit.devices import device_of, place
from gradkit.ops import activation as _act
from gradkit.tensor import Tensor
from gradkit.utils.config import Configurable
from gradkit.utils.registry import Registry
from gradkit.utils.validation import check_choice, check_number

__all__ = [
    "LOSSES", "BinaryCrossentropy", "CategoricalCrossentropy", "Huber", "KLDivergence", "Loss",
    "LossFunctionWrapper", "MeanAbsoluteError", "MeanSquaredError",
    "SparseCategoricalCrossentropy", "binary_crossentropy", "categorical_crossentropy",
    "deserialize", "get", "huber", "kl_divergence", "mean_absolute_error",
    "mean_squared_error", "reduce_losses", "register_serializable", "serialize",
    "sigmoid_logits", "softmax_logits", "sparse_categorical_crossentropy",
]

EPSILON = 1e-7
"""Clipping bound for probabilities on the non-fused paths (Keras's ``epsilon()``)."""

REDUCTIONS = ("sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight", None)


# ------------------------------------------------------------------ helpers
def _as_pred(y_pred):
    """``y_pred`` as a floating-point Tensor (arrays become constant Tensors)."""
    if isinstance(y_pred, Tensor):
        if y_pred._data.dtype.kind != "f":
            return ops.cast(y_pred, "float32")
        return y_pred
    arr = np.asarray(y_pred)  # host: the caller's list or array; Tensor() places it
    if arr.dtype.kind != "f":
        arr = arr.astype("float32")
    return Tensor(arr)


def _raw(y_true, like):
    """``y_true``'s array on ``like``'s backend (a Tensor's data, never its graph)."""
    d = y_true._data if isinstance(y_true, Tensor) else y_true
    return get_array_module(like._data).asarray(d)


def _float_targets(name, y_true, y_pred):
    """``y_true`` as an array of ``y_pred``'s dtype and shape (see the module notes)."""
    t = _raw(y_true, y_pred).astype(y_pred.dtype, copy=False)
    ps = y_pred.shape
    if t.shape == ps:
        return t
    if t.ndim == len(ps) - 1 and ps[-1] == 1 and t.shape == ps[:-1]:
        return t.reshape(ps)  # (N,) targets for (N, 1) predictions
    if t.ndim == len(ps) + 1 and t.shape[-1] == 1 and t.shape[:-1] == ps:
        return t.reshape(ps)  # (N, 1) targets for (N,) predictions
    raise ValueError(
        f"{name}: y_true of shape {t.shape} does not match y_pred of shape {ps}; pass "
        "targets of the same shape ((N,) against (N, 1) is the only mismatch reshaped "
        "automatically)")


def _onehot_targets(name, y_true, y_pred):
    """One-hot / probability targets shaped like ``y_pred`` (..., C), as floats."""
    ps = y_pred.shape
    if len(ps) == 0:
        raise ValueError(f"{name}: y_pred needs a class axis, got a scalar")
    t = _raw(y_true, y_pred)
    if t.shape == ps:
        return t.astype(y_pred.dtype, copy=False)
    c = ps[-1]
    if t.ndim == len(ps) and t.shape[:-1] == ps[:-1]:
        hint = ("; y_true looks like integer class labels: use "
                "SparseCategoricalCrossentropy, or one-hot encode them" if t.shape[-1] == 1
                else "")
        raise ValueError(
            f"{name}: y_true has width {t.shape[-1]} (shape {t.shape}) but y_pred has "
            f"width {c} (shape {ps}); one-hot targets need one column per class{hint}")
    if t.shape == ps[:-1]:
        raise ValueError(
            f"{name}: y_true of shape {t.shape} looks like integer class labels for y_pred "
            f"of shape {ps}; use SparseCategoricalCrossentropy, or one-hot encode them to "
            f"width {c}")
    raise ValueError(f"{name}: y_true of shape {t.shape} does not fit y_pred of shape {ps}; "
                     f"one-hot targets of shape {ps} expected")


def _sparse_labels(name, y_true, y_pred):
    """Integer labels of shape ``y_pred.shape[:-1]``, checked to lie in ``0..C-1``."""
    ps = y_pred.shape
    if len(ps) == 0:
        raise ValueError(f"{name}: y_pred needs a class axis, got a scalar")
    c = ps[-1]
    want = ps[:-1]
    lab = _raw(y_true, y_pred)
    if lab.shape != want:
        if lab.shape == want + (1,):
            lab = lab.reshape(want)
        elif lab.shape == ps:
            raise ValueError(
                f"{name}: y_true of shape {lab.shape} has the shape of y_pred: it looks "
                "one-hot; use CategoricalCrossentropy for one-hot targets, or pass integer "
                f"class labels of shape {want}")
        else:
            raise ValueError(
                f"{name}: y_true of shape {lab.shape} does not fit y_pred of shape {ps}; "
                f"integer class labels of shape {want} (or {want + (1,)}) expected")
    xp = get_array_module(lab)
    kind = lab.dtype.kind
    if kind == "f":
        if lab.size and not bool(xp.all(lab == xp.floor(lab))):
            bad = lab[lab != xp.floor(lab)].ravel()[0]
            raise ValueError(f"{name}: class labels must be whole numbers, got {float(bad)}")
        lab = lab.astype("int64")
    elif kind == "b":
        lab = lab.astype("int64")
    elif kind not in "iu":
        raise ValueError(f"{name}: integer class labels expected, got dtype {lab.dtype}")
    if lab.size:
        lo, hi = lab.min(), lab.max()
        if lo < 0 or hi >= c:
            bad = int(lo) if lo < 0 else int(hi)
            raise ValueError(f"{name}: label {bad} is out of range for {c} classes "
                             f"(valid labels are 0..{c - 1})")
    return lab


def _recorded_input(y_pred, op_type):
    """The input of the op of type ``op_type`` that made ``y_pred``, or None.

    Only trusted while that input is unchanged since (same ``_version``).
    """
    ctx = y_pred._ctx
    if not isinstance(ctx, op_type):
        return None
    x = ctx.parents[0]
    if not isinstance(x, Tensor) or x._version != ctx.versions[0]:
        return None
    if op_type is _act.Softmax:
        axis = ctx.parents[1]
        if not isinstance(axis, (int, np.integer)) or axis not in (-1, y_pred.ndim - 1):
            return None
    return x


def softmax_logits(y_pred):
    """The logits behind ``y_pred = softmax(logits, axis=-1)``, if recorded; else None.

    Args:
        y_pred: a Tensor.

    Returns:
        The softmax's input Tensor when ``y_pred`` was made by a recorded
        softmax over the last axis, otherwise None.
    """
    return _recorded_input(y_pred, _act.Softmax)


def sigmoid_logits(y_pred):
    """The logits behind ``y_pred = sigmoid(logits)``, if recorded; else None.

    Args:
        y_pred: a Tensor.

    Returns:
        The sigmoid's input Tensor, or None.
    """
    return _recorded_input(y_pred, _act.Sigmoid)


def _mean_last(x):
    """Per-example value of an elementwise loss: the mean over the last axis (2+ axes)."""
    return ops.mean(x, axis=-1) if x.ndim >= 2 else x


# ------------------------------------------------------------ loss functions
def mean_squared_error(y_true, y_pred):
    """Per-example mean squared error ``mean((y_pred - y_true) ** 2, axis=-1)``.

    Args:
        y_true: targets (array or Tensor), shaped like ``y_pred``.
        y_pred: predictions (Tensor).

    Returns:
        A Tensor of shape ``y_pred.shape[:-1]`` (``(N,)`` for a 1-D ``y_pred``).

    Example::

        mean_squared_error(np.zeros((2, 2)), Tensor([[1., 1.], [0., 2.]]))  # [1., 2.]
    """
    p = _as_pred(y_pred)
    t = _float_targets("mean_squared_error", y_true, p)
    return _mean_last(ops.mean_squared_error(p, t, reduction="none"))


def mean_absolute_error(y_true, y_pred):
    """Per-example mean absolute error ``mean(|y_pred - y_true|, axis=-1)``.

    Args:
        y_true: targets, shaped like ``y_pred``.
        y_pred: predictions (Tensor).

    Returns:
        A Tensor of shape ``y_pred.shape[:-1]`` (``(N,)`` for a 1-D ``y_pred``).
    """
    p = _as_pred(y_pred)
    t = _float_targets("mean_absolute_error", y_true, p)
    return _mean_last(ops.abs(p - t))


def huber(y_true, y_pred, delta=1.0):
    """Per-example Huber loss: quadratic for small errors, linear for large ones.

    ``0.5 * e**2`` where ``|e| <= delta``, else ``delta * |e| - 0.5 * delta**2``,
    with ``e = y_pred - y_true``, averaged over the last axis.

    Args:
        y_true: targets, shaped like ``y_pred``.
        y_pred: predictions (Tensor).
        delta: where the loss turns from quadratic to linear (> 0).

    Returns:
        A Tensor of shape ``y_pred.shape[:-1]`` (``(N,)`` for a 1-D ``y_pred``).
    """
    delta = check_number("huber", "delta", delta, 0, min_open=True)
    p = _as_pred(y_pred)
    t = _float_targets("huber", y_true, p)
    e = p - t
    a = ops.abs(e)
    elem = ops.where(a._data <= delta, 0.5 * e * e, a * delta - 0.5 * delta * delta)
    return _mean_last(elem)


def _bce_targets(name, y_true, p, label_smoothing):
    t = _float_targets(name, y_true, p)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return t


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Per-example binary cross-entropy, averaged over the last axis.

    ``-(t log p + (1 - t) log(1 - p))``. With ``from_logits=False``, a
    ``y_pred`` made by ``sigmoid`` is evaluated from its logits (fused and
    stable); other probabilities are clipped to ``[1e-7, 1 - 1e-7]``.

    Args:
        y_true: targets in ``[0, 1]``, shaped like ``y_pred`` (``(N,)`` for
            ``(N, 1)`` predictions is fine).
        y_pred: probabilities, or logits when ``from_logits``.
        from_logits: ``y_pred`` holds logits.
        label_smoothing: in ``[0, 1]``; targets move towards 0.5:
            ``t * (1 - s) + 0.5 * s``.

    Returns:
        A Tensor of shape ``y_pred.shape[:-1]`` (``(N,)`` for a 1-D ``y_pred``).

    Example::

        binary_crossentropy([1., 0.], Tensor([0.9, 0.2]))   # [0.1054, 0.2231]
    """
    p = _as_pred(y_pred)
    t = _bce_targets("binary_crossentropy", y_true, p, label_smoothing)
    logits = p if from_logits else sigmoid_logits(p)
    if logits is not None:
        elem = ops.binary_cross_entropy_with_logits(logits, t, reduction="none")
    else:
        pc = ops.clip(p, EPSILON, 1.0 - EPSILON)
        elem = -(t * ops.log(pc) + (1.0 - t) * ops.log(1.0 - pc))
    return _mean_last(elem)


def _cce_clipped(t, p):
    """Keras's probability path: renormalise, clip to [eps, 1 - eps], -sum(t log p)."""
    p = p / ops.sum(p, axis=-1, keepdims=True)
    return -ops.sum(t * ops.log(ops.clip(p, EPSILON, 1.0 - EPSILON)), axis=-1)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Per-example cross-entropy ``-sum(t * log p, axis=-1)`` against one-hot targets.

    With ``from_logits=False``, a ``y_pred`` made by ``softmax`` over the last
    axis is evaluated from its logits with the fused, stable
    ``softmax_cross_entropy``; other probabilities are renormalised to sum to 1
    and clipped to ``[1e-7, 1 - 1e-7]`` (as Keras does).

    Args:
        y_true: one-hot (or probability) targets of ``y_pred``'s shape ``(..., C)``.
        y_pred: probabilities, or logits when ``from_logits``.
        from_logits: ``y_pred`` holds logits.
        label_smoothing: in ``[0, 1]``: ``t * (1 - s) + s / C``.

    Returns:
        A Tensor of shape ``y_pred.shape[:-1]``.

    Raises:
        ValueError: targets of another width than ``y_pred`` (both are named).
    """
    p = _as_pred(y_pred)
    t = _onehot_targets("categorical_crossentropy", y_true, p)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / p.shape[-1]
    logits = p if from_logits else softmax_logits(p)
    if logits is not None:
        return ops.softmax_cross_entropy(logits, t, reduction="none",
                                         probs=None if from_logits else p)
    return _cce_clipped(t, p)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-example cross-entropy ``-log p[label]`` against integer class labels.

    Probability outputs are handled as in :func:`categorical_crossentropy`
    (softmax outputs through the fused op, others renormalised and clipped).

    Args:
        y_true: integer labels of shape ``y_pred.shape[:-1]`` (or with a
            trailing axis of 1); whole-valued floats are accepted.
        y_pred: probabilities ``(..., C)``, or logits when ``from_logits``.
        from_logits: ``y_pred`` holds logits.

    Returns:
        A Tensor of shape ``y_pred.shape[:-1]``.

    Raises:
        ValueError: a label outside ``0..C-1`` (the label and ``C`` are named).

    Example::

        sparse_categorical_crossentropy([0], Tensor([[0.5, 0.5]]))   # [0.6931]
    """
    p = _as_pred(y_pred)
    lab = _sparse_labels("sparse_categorical_crossentropy", y_true, p)
    logits = p if from_logits else softmax_logits(p)
    if logits is not None:
        return ops.softmax_cross_entropy(logits, lab, reduction="none",
                                         probs=None if from_logits else p)
    xp = get_array_module(lab)
    onehot = xp.zeros(p.shape, dtype=p.dtype)
    xp.put_along_axis(onehot, lab[..., None], 1.0, axis=-1)
    return _cce_clipped(onehot, p)


def kl_divergence(y_true, y_pred):
    """Per-example Kullback-Leibler divergence ``sum(t * log(t / p), axis=-1)``.

    As in Keras, both ``y_true`` and ``y_pred`` are clipped to ``[1e-7, 1]``
    first (so a zero target contributes ``1e-7 * log(1e-7 / p)``, not 0).

    Args:
        y_true: target distributions, shaped like ``y_pred``.
        y_pred: predicted distributions (Tensor), class axis last.

    Returns:
        A Tensor of shape ``y_pred.shape[:-1]``.
    """
    p = _as_pred(y_pred)
    t = _float_targets("kl_divergence", y_true, p)
    xp = get_array_module(t)
    t = xp.clip(t, EPSILON, 1.0)
    return ops.sum(t * (xp.log(t) - ops.log(ops.clip(p, EPSILON, 1.0))), axis=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
kld = KLD = kullback_leibler_divergence = kl_divergence


# ------------------------------------------------------------------ classes
def _weights(name, sample_weight, per):
    """``sample_weight`` as an array that broadcasts against the per-example losses."""
    sw = get_array_module(per._data).asarray(
        sample_weight._data if isinstance(sample_weight, Tensor) else sample_weight,
        dtype=per.dtype)
    while sw.ndim > per.ndim and sw.shape[-1] == 1:
        sw = sw.reshape(sw.shape[:-1])  # (N, 1) weights for (N,) losses
    if sw.ndim < per.ndim:
        sw = sw.reshape(sw.shape + (1,) * (per.ndim - sw.ndim))  # (N,) for (N, T)
    try:
        fits = np.broadcast_shapes(sw.shape, per.shape) == per.shape
    except ValueError:
        fits = False
    if fits and sw.ndim and sw.shape[0] != per.shape[0]:
        fits = False  # a length-1 batch axis would silently weight every example alike
    if not fits:
        raise ValueError(f"{name}: sample_weight of shape {sw.shape} does not "
                         f"fit the per-example losses of shape {per.shape}; pass one weight "
                         f"per example (shape {per.shape[:1]}) or a scalar")
    return sw


def mask_weights(mask, sample_weight=None, reduction="sum_over_batch_size"):
    """Sample weights that leave out masked positions (``mask`` False), Keras's rule.

    For the mean reductions the kept positions are scaled by ``total / kept``, so the
    loss is the mean over the kept positions only (0 when none is kept).

    Args:
        mask: booleans ``(batch, ...)`` (``y_pred._keras_mask``).
        sample_weight: None or weights that broadcast against the mask.
        reduction: the loss's reduction.

    Returns:
        The weights, an array shaped like the mask (or broadcast with ``sample_weight``).
    """
    m = mask._data if isinstance(mask, Tensor) else mask
    dev = device_of(m)
    m = place(m, dev).astype(bool)  # lists become arrays
    w = m.astype(np.float32)
    if reduction in ("sum_over_batch_size", "mean"):
        kept = float(m.sum())
        w = w * (m.size / kept if kept else 0.0)
    if sample_weight is None:
        return w
    sw = place(sample_weight._data if isinstance(sample_weight, Tensor) else sample_weight,
               dev).astype(np.float32)
    while sw.ndim > w.ndim and sw.shape[-1] == 1:
        sw = sw.reshape(sw.shape[:-1])
    return w * sw.reshape(sw.shape + (1,) * (w.ndim - sw.ndim))


def reduce_losses(per, sample_weight=None, reduction="sum_over_batch_size", name="loss"):
    """Weight and reduce per-example losses the way Keras's ``Loss.__call__`` does.

    Args:
        per: per-example losses (Tensor).
        sample_weight: None, a scalar or an array broadcastable to ``per``
            (``(N,)`` weights also fit ``(N, T)`` losses).
        reduction: see the module docstring.
        name: used in error messages.

    Returns:
        A scalar Tensor, or the weighted per-example losses for ``"none"``.
    """
    if not isinstance(per, Tensor):
        per = Tensor(per)  # a custom loss function that returned an array
    sw = None
    if sample_weight is not None:
        sw = _weights(name, sample_weight, per)
        per = per * sw
    if reduction is None or reduction == "none":
        return per
    total = ops.sum(per)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sw is not None:
        denom = float(get_array_module(sw).broadcast_to(sw, per.shape).sum())
    else:
        denom = float(per.size)
    return total * (1.0 / denom) if denom else total * 0.0


class Loss(Configurable):
    """Base class of losses: ``loss(y_true, y_pred, sample_weight=None)`` -> Tensor.

    Subclasses implement :meth:`call` (per-example losses); the base class
    applies sample weights and the reduction.

    Args:
        reduction: ``"sum_over_batch_size"`` (default), ``"sum"``, ``"none"``,
            ``"mean"`` or ``"mean_with_sample_weight"``.
        name: the loss's name (for logs and configs).
    """

    default_name = "loss"

    def __init__(self, reduction="sum_over_batch_size", name=None):
        self.reduction = check_choice(type(self).__name__, "reduction", reduction, REDUCTIONS)
        self.name = name or self.default_name

    def call(self, y_true, y_pred):
        """Per-example losses; overridden by subclasses."""
        raise NotImplementedError

    def _fused_mean(self, y_true, y_pred):
        """The unweighted mean loss as one fused op, or None where there is none."""
        return None

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Compute the reduced loss.

        Args:
            y_true: targets (array or Tensor; no gradient flows into them).
            y_pred: predictions (Tensor).
            sample_weight: optional per-example weights.

        Returns:
            A scalar Tensor (the per-example Tensor for ``reduction="none"``).
        """
        mask = getattr(y_pred, "_keras_mask", None)
        if mask is not None:  # masked positions (padding) take no part, as in Keras
            sample_weight = mask_weights(mask, sample_weight, self.reduction)
        y_pred = _as_pred(y_pred)
        if sample_weight is None and self.reduction in ("sum_over_batch_size", "mean",
                                                        "mean_with_sample_weight"):
            out = self._fused_mean(y_true, y_pred)
            if out is not None:
                return out
        per = self.call(y_true, y_pred)
        return reduce_losses(per, sample_weight, self.reduction, self.name)

    def get_config(self):
        """The constructor arguments, as a JSON-able dict."""
        return {"name": self.name, "reduction": self.reduction}


class LossFunctionWrapper(Loss):
    """A loss class around a per-example function ``fn(y_true, y_pred, **kwargs)``.

    Args:
        fn: the per-example loss function.
        reduction: see :class:`Loss`.
        name: defaults to ``fn.__name__``.
        **kwargs: extra arguments passed to ``fn`` on every call.

    Example::

        def logcosh(y_true, y_pred):
            e = y_pred - y_true
            return gradkit.ops.mean(gradkit.ops.log((e.exp() + (-e).exp()) * 0.5), axis=-1)

        loss = LossFunctionWrapper(logcosh)
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, **kwargs):
        super().__init__(reduction, name or getattr(fn, "__name__", "loss"))
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        cfg = super().get_config()
        if type(self) is LossFunctionWrapper:
            cfg["fn"] = LOSSES.name_of(self.fn)
        cfg.update(self._fn_kwargs)
        return cfg

    @classmethod
    def from_config(cls, config):
        if cls is LossFunctionWrapper:
            config = dict(config)
            name = config.pop("fn", None)
            fn = _FUNCTIONS.get(name) or LOSSES.lookup_function(name, "LossFunctionWrapper")
            return cls(fn, **config)
        return cls(**config)


class MeanSquaredError(LossFunctionWrapper):
    """Mean of squared errors (Keras's ``MeanSquaredError``; ``"mse"``).

    Args:
        reduction: see :class:`Loss`.
        name: defaults to ``"mean_squared_error"``.

    Example::

        MeanSquaredError()(np.zeros(3), Tensor([1., 2., 3.]))   # 4.6667
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error"):
        super().__init__(mean_squared_error, reduction, name)

    def _fused_mean(self, y_true, y_pred):
        t = _float_targets("mean_squared_error", y_true, y_pred)
        return ops.mean_squared_error(y_pred, t, reduction="mean")


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors (``"mae"``).

    Args:
        reduction: see :class:`Loss`.
        name: defaults to ``"mean_absolute_error"``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error"):
        super().__init__(mean_absolute_error, reduction, name)


class Huber(LossFunctionWrapper):
    """Huber loss: squared error below ``delta``, absolute error above (``"huber"``).

    Args:
        delta: the switch point (> 0).
        reduction: see :class:`Loss`.
        name: defaults to ``"huber_loss"``.
    """

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss"):
        super().__init__(huber, reduction, name,
                         delta=check_number("Huber", "delta", delta, 0, min_open=True))


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary cross-entropy (``"binary_crossentropy"``, ``"bce"``).

    A sigmoid output is recognised and the loss computed from its logits.

    Args:
        from_logits: ``y_pred`` holds logits rather than probabilities.
        label_smoothing: in ``[0, 1]``; targets become ``t (1 - s) + s / 2``.
        reduction: see :class:`Loss`.
        name: defaults to ``"binary_crossentropy"``.

    Example::

        loss = BinaryCrossentropy()(y, gradkit.ops.sigmoid(logits))  # fused
    """

    def __init__(self, from_logits=False, label_smoothing=0.0,
                 reduction="sum_over_batch_size", name="binary_crossentropy"):
        label_smoothing = check_number("BinaryCrossentropy", "label_smoothing",
                                       label_smoothing, 0, 1)
        super().__init__(binary_crossentropy, reduction, name, from_logits=bool(from_logits),
                         label_smoothing=label_smoothing)

    def _fused_mean(self, y_true, y_pred):
        kw = self._fn_kwargs
        logits = y_pred if kw["from_logits"] else sigmoid_logits(y_pred)
        if logits is None:
            return None
        t = _bce_targets("binary_crossentropy", y_true, y_pred, kw["label_smoothing"])
        return ops.binary_cross_entropy_with_logits(logits, t, reduction="mean")


class CategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy against one-hot targets (``"categorical_crossentropy"``).

    A softmax output (over the last axis) is recognised and the loss computed
    from its logits with the fused op: as fast and stable as ``from_logits``.

    Args:
        from_logits: ``y_pred`` holds logits rather than probabilities.
        label_smoothing: in ``[0, 1]``; targets become ``t (1 - s) + s / C``.
        reduction: see :class:`Loss`.
        name: defaults to ``"categorical_crossentropy"``.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0,
                 reduction="sum_over_batch_size", name="categorical_crossentropy"):
        label_smoothing = check_number("CategoricalCrossentropy", "label_smoothing",
                                       label_smoothing, 0, 1)
        super().__init__(categorical_crossentropy, reduction, name,
                         from_logits=bool(from_logits), label_smoothing=label_smoothing)

    def _fused_mean(self, y_true, y_pred):
        kw = self._fn_kwargs
        logits = y_pred if kw["from_logits"] else softmax_logits(y_pred)
        if logits is None:
            return None
        t = _onehot_targets("categorical_crossentropy", y_true, y_pred)
        if kw["label_smoothing"]:
            s = kw["label_smoothing"]
            t = t * (1.0 - s) + s / y_pred.shape[-1]
        return ops.softmax_cross_entropy(logits, t, reduction="mean",
                                         probs=None if kw["from_logits"] else y_pred)


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy against integer labels (``"sparse_categorical_crossentropy"``).

    A softmax output (over the last axis) is recognised and the loss computed
    from its logits with the fused op.

    Args:
        from_logits: ``y_pred`` holds logits rather than probabilities.
        reduction: see :class:`Loss`.
        name: defaults to ``"sparse_categorical_crossentropy"``.

    Example::

        loss_fn = SparseCategoricalCrossentropy()
        loss = loss_fn(np.array([2, 0]), gradkit.ops.softmax(logits))
    """

    def __init__(self, from_logits=False, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy"):
        super().__init__(sparse_categorical_crossentropy, reduction, name,
                         from_logits=bool(from_logits))

    def _fused_mean(self, y_true, y_pred):
        logits = y_pred if self._fn_kwargs["from_logits"] else softmax_logits(y_pred)
        if logits is None:
            return None
        lab = _sparse_labels("sparse_categorical_crossentropy", y_true, y_pred)
        return ops.softmax_cross_entropy(logits, lab, reduction="mean",
                                         probs=None if self._fn_kwargs["from_logits"] else y_pred)


class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence ``sum(t log(t / p))`` (``"kl_divergence"``, ``"kld"``).

    Args:
        reduction: see :class:`Loss`.
        name: defaults to ``"kl_divergence"``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence"):
        super().__init__(kl_divergence, reduction, name)


# ------------------------------------------------------------------ lookup
_FUNCTIONS = {
    "mean_squared_error": mean_squared_error, "mean_absolute_error": mean_absolute_error,
    "huber": huber, "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "kl_divergence": kl_divergence,
}


def _from_function(fn):
    """A built-in loss function as its class; any other per-example function wrapped."""
    cls = _FUNCTION_CLASSES.get(fn)
    return cls() if cls is not None else LossFunctionWrapper(fn)


LOSSES = Registry("loss", Loss, module="gradkit.losses", none=None,
                  from_function=_from_function)
"""The loss registry (see :mod:`gradkit.utils.registry`)."""

for _cls, _names in (
        (MeanSquaredError, ("mean_squared_error", "mse")),
        (MeanAbsoluteError, ("mean_absolute_error", "mae")), (Huber, ("huber", "huber_loss")),
        (BinaryCrossentropy, ("binary_crossentropy", "bce")),
        (CategoricalCrossentropy, ("categorical_crossentropy",)),
        (SparseCategoricalCrossentropy, ("sparse_categorical_crossentropy",)),
        (KLDivergence, ("kl_divergence", "kld", "kullback_leibler_divergence"))):
    LOSSES.register(*_names)(_cls)
_FUNCTION_CLASSES = {fn: LOSSES.lookup(name) for name, fn in _FUNCTIONS.items()}
LOSSES.register(listed=False)(LossFunctionWrapper)
register_serializable = LOSSES.register_serializable


def serialize(loss):
    """A loss as ``{"class_name": ..., "config": {...}}`` (a function: its name).

    Args:
        loss: a :class:`Loss` instance, a registered loss function or a name.

    Returns:
        A JSON-able value that :func:`deserialize` / :func:`get` turn back into a loss.
    """
    return LOSSES.serialize(loss)


def deserialize(config, custom_objects=None):
    """Rebuild a loss from :func:`serialize`'s dict.

    Args:
        config: ``{"class_name": "CategoricalCrossentropy", "config": {...}}``.
        custom_objects: optional ``{name: class or function}`` for unregistered ones.

    Returns:
        A :class:`Loss` instance.
    """
    return LOSSES.deserialize(config, custom_objects)


def get(identifier, custom_objects=None):
    """Resolve a loss given by name, config, class, instance or function.

    Args:
        identifier: a name (``"mse"``, ``"categorical_crossentropy"``, ... or a
            class name like ``"MeanSquaredError"``; case-insensitive), a dict
            from :func:`serialize`, a :class:`Loss` subclass or instance, a
            built-in loss function (mapped to its class) or any per-example
            function ``fn(y_true, y_pred)`` (wrapped in
            :class:`LossFunctionWrapper`). ``None`` gives ``None``.
        custom_objects: optional ``{name: class or function}``.

    Returns:
        A :class:`Loss` instance (or None).

    Raises:
        ValueError: for an unknown name; the message lists the valid names.

    Example::

        losses.get("bce")          # BinaryCrossentropy(...)
    """
    return LOSSES.get(identifier, custom_objects)


# ------------------------------------------------------------------ more of Keras's losses
# Per-example functions (the mean over the last axis, as the ones above) and their classes.
def _pair(name, y_true, y_pred):
    p = _as_pred(y_pred)
    return p, _float_targets(name, y_true, p)


def mean_absolute_percentage_error(y_true, y_pred):
    """Per-example ``100 * mean(|t - p| / max(|t|, 1e-7))`` over the last axis."""
    p, t = _pair("mean_absolute_percentage_error", y_true, y_pred)
    xp = get_array_module(t)
    return _mean_last(ops.abs(p - t) * (100.0 / xp.maximum(xp.abs(t), EPSILON)))


def mean_squared_logarithmic_error(y_true, y_pred):
    """Per-example ``mean((log(1 + max(p, eps)) - log(1 + max(t, eps))) ** 2)``."""
    p, t = _pair("mean_squared_logarithmic_error", y_true, y_pred)
    xp = get_array_module(t)
    d = ops.log1p(ops.maximum(p, EPSILON)) - xp.log1p(xp.maximum(t, EPSILON))
    return _mean_last(d * d)


def _hinge_targets(name, y_true, p):
    """Targets in {-1, 1}; 0/1 targets are mapped to -1/1 first (as Keras does)."""
    t = _float_targets(name, y_true, p)
    xp = get_array_module(t)
    return t * 2.0 - 1.0 if bool(xp.all((t == 0) | (t == 1))) else t


def hinge(y_true, y_pred):
    """Per-example ``mean(max(1 - t * p, 0))``, ``t`` in {-1, 1} (0/1 targets converted)."""
    p = _as_pred(y_pred)
    return _mean_last(ops.relu(1.0 - p * _hinge_targets("hinge", y_true, p)))


def squared_hinge(y_true, y_pred):
    """Per-example ``mean(max(1 - t * p, 0) ** 2)``, ``t`` in {-1, 1}."""
    p = _as_pred(y_pred)
    h = ops.relu(1.0 - p * _hinge_targets("squared_hinge", y_true, p))
    return _mean_last(h * h)


def categorical_hinge(y_true, y_pred):
    """Per-example ``max(max((1 - t) * p) - sum(t * p) + 1, 0)`` for one-hot ``t``."""
    p = _as_pred(y_pred)
    t = _onehot_targets("categorical_hinge", y_true, p)
    pos = ops.sum(p * t, axis=-1)
    neg = ops.max(p * (1.0 - t), axis=-1)
    return ops.relu(neg - pos + 1.0)


def log_cosh(y_true, y_pred):
    """Per-example ``mean(log(cosh(p - t)))``, as ``e + softplus(-2 e) - log 2`` (no
    overflow for large errors)."""
    p, t = _pair("log_cosh", y_true, y_pred)
    e = p - t
    return _mean_last(e + ops.softplus(e * -2.0) - math.log(2.0))


def poisson(y_true, y_pred):
    """Per-example ``mean(p - t * log(p + 1e-7))``."""
    p, t = _pair("poisson", y_true, y_pred)
    return _mean_last(p - t * ops.log(p + EPSILON))


def _l2_normalize(x, axis):
    """``x / sqrt(max(sum(x ** 2), 1e-12))`` along ``axis`` (Keras's l2_normalize)."""
    return x * ops.sqrt(ops.maximum(ops.sum(x * x, axis=axis, keepdims=True), 1e-12)) ** -1.0


def cosine_similarity(y_true, y_pred, axis=-1):
    """Per-example ``-sum(l2_normalize(t) * l2_normalize(p), axis)``: -1 for the same
    direction, as Keras's loss (the metric of the same name is its negative)."""
    p, t = _pair("cosine_similarity", y_true, y_pred)
    return -ops.sum(_l2_normalize(Tensor(t), axis) * _l2_normalize(p, axis), axis=axis)


mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
logcosh = log_cosh


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """Mean absolute percentage error ``100 * mean(|t - p| / |t|)`` (``"mape"``).

    Args:
        reduction: see :class:`Loss`.
        name: defaults to ``"mean_absolute_percentage_error"``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error"):
        super().__init__(mean_absolute_percentage_error, reduction, name)


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """Mean squared logarithmic error (``"msle"``).

    Args:
        reduction: see :class:`Loss`.
        name: defaults to ``"mean_squared_logarithmic_error"``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error"):
        super().__init__(mean_squared_logarithmic_error, reduction, name)


class Hinge(LossFunctionWrapper):
    """Hinge loss ``max(1 - t p, 0)`` for -1/1 (or 0/1) targets.

    Args:
        reduction: see :class:`Loss`.
        name: defaults to ``"hinge"``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="hinge"):
        super().__init__(hinge, reduction, name)


class SquaredHinge(LossFunctionWrapper):
    """Squared hinge loss for -1/1 (or 0/1) targets.

    Args:
        reduction: see :class:`Loss`.
        name: defaults to ``"squared_hinge"``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge"):
        super().__init__(squared_hinge, reduction, name)


class CategoricalHinge(LossFunctionWrapper):
    """Categorical hinge loss for one-hot targets.

    Args:
        reduction: see :class:`Loss`.
        name: defaults to ``"categorical_hinge"``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge"):
        super().__init__(categorical_hinge, reduction, name)


class LogCosh(LossFunctionWrapper):
    """Logarithm of the hyperbolic cosine of the error (``"logcosh"``).

    Args:
        reduction: see :class:`Loss`.
        name: defaults to ``"log_cosh"``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh"):
        super().__init__(log_cosh, reduction, name)


class Poisson(LossFunctionWrapper):
    """Poisson loss ``p - t log p``.

    Args:
        reduction: see :class:`Loss`.
        name: defaults to ``"poisson"``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="poisson"):
        super().__init__(poisson, reduction, name)


class CosineSimilarity(LossFunctionWrapper):
    """Negative cosine similarity along ``axis`` (-1 for vectors pointing the same way).

    Args:
        axis: the axis the vectors lie along (default -1).
        reduction: see :class:`Loss`.
        name: defaults to ``"cosine_similarity"``.
    """

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity"):
        super().__init__(cosine_similarity, reduction, name, axis=axis)


_MORE = ((MeanAbsolutePercentageError, mean_absolute_percentage_error, ("mape",)),
         (MeanSquaredLogarithmicError, mean_squared_logarithmic_error, ("msle",)),
         (Hinge, hinge, ()), (SquaredHinge, squared_hinge, ()),
         (CategoricalHinge, categorical_hinge, ()), (LogCosh, log_cosh, ("logcosh",)),
         (Poisson, poisson, ()), (CosineSimilarity, cosine_similarity, ()))
for _cls, _fn, _aliases in _MORE:
    LOSSES.register(_fn.__name__, *_aliases)(_cls)
    _FUNCTIONS[_fn.__name__] = _fn
    _FUNCTION_CLASSES[_fn] = _cls
__all__ += [c.__name__ for c, _, _ in _MORE] + [f.__name__ for _, f, _ in _MORE]
