"""Streaming metrics (Keras's ``keras.metrics``), computed on the predictions' device.

A metric accumulates over batches: ``update_state(y_true, y_pred,
sample_weight=None)`` adds a batch, ``result()`` returns the value so far as a
Python float and ``reset_state()`` starts over (at each epoch). Tensors are
accepted anywhere an array is (their data is read, never differentiated); targets
go to the predictions' device. Updates are a few vectorised calls of that device's
array module and the running sums stay there: only ``result()`` reads them back
(once per logging step in ``fit``). :class:`AUC` keeps its histogram on the host
(its scores are copied there once per batch).

Example::

    from gradkit import metrics

    acc = metrics.SparseCategoricalAccuracy()
    for x, y in batches:
        acc.update_state(y, model(x))
    acc.result()            # 0.93
    acc.reset_state()

    metrics.get("accuracy", loss="binary_crossentropy")   # BinaryAccuracy(name="accuracy")

Shapes follow the losses: a ``y_true`` of shape ``(N,)`` against ``y_pred`` of
shape ``(N, 1)`` (or the reverse) is squeezed to match. Sample weights of shape
``(N,)`` (or ``(N, 1)``) weight each example.
"""

from __future__ import annotations

import math

import numpy as np

from gradkit.backend import get_array_module, is_array, to_numpy
from gradkit.devices import device_of, place
from gradkit.utils.registry import Registry
from gradkit.utils.validation import check_choice, check_int, check_number

__all__ = [
    "METRICS", "AUC", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "InferredAccuracy",
    "Mean", "MeanAbsoluteError", "MeanMetricWrapper", "MeanSquaredError", "Metric",
    "Precision", "Recall", "SparseCategoricalAccuracy", "accuracy", "binary_accuracy",
    "categorical_accuracy", "deserialize", "get", "mean_absolute_error",
    "mean_squared_error", "register_serializable", "serialize", "sparse_categorical_accuracy",
]


def _arr(x):
    """An array from a Tensor, array (host or device) or array-like (no copy when possible)."""
    data = getattr(x, "_data", x)  # a Tensor's data
    return data if is_array(data) else np.asarray(data)  # host: the caller's list/number


def _pair(y_true, y_pred):
    """``(y_true, y_pred)`` as arrays on ``y_pred``'s device (targets are moved there)."""
    p = _arr(y_pred)
    return place(_arr(y_true), device_of(p)), p


def _align(y_true, y_pred):
    """Squeeze a trailing length-1 axis so that (N,) meets (N, 1)."""
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape[:-1])
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        y_pred = y_pred.reshape(y_pred.shape[:-1])
    return y_true, y_pred


def _same_shape(name, y_true, y_pred):
    y_true, y_pred = _align(*_pair(y_true, y_pred))
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{name}: y_true of shape {y_true.shape} does not match y_pred of "
                         f"shape {y_pred.shape}")
    return y_true, y_pred


def _weights(name, sample_weight, values):
    """``sample_weight`` broadcast to ``values``' shape, as float64, on their device."""
    xp = get_array_module(values)
    sw = place(_arr(sample_weight), device_of(values)).astype(np.float64, copy=False)
    while sw.ndim > values.ndim and sw.shape[-1] == 1:
        sw = sw.reshape(sw.shape[:-1])
    if sw.ndim < values.ndim:
        sw = sw.reshape(sw.shape + (1,) * (values.ndim - sw.ndim))
    try:
        # a length-1 batch axis would silently weight every example alike
        if sw.ndim and values.ndim and sw.shape[0] != values.shape[0]:
            raise ValueError
        return xp.broadcast_to(sw, values.shape)
    except ValueError:
        raise ValueError(f"{name}: sample_weight of shape {sw.shape} does not "
                         f"fit values of shape {values.shape}; pass one weight per example "
                         f"(shape {values.shape[:1]}) or a scalar") from None


# ------------------------------------------------------------ per-example values
def accuracy(y_true, y_pred):
    """1.0 where ``y_pred == y_true`` exactly, else 0.0 (elementwise).

    Args:
        y_true: labels.
        y_pred: predicted labels, same shape.

    Returns:
        A float array of the (aligned) common shape.
    """
    y_true, y_pred = _same_shape("accuracy", y_true, y_pred)
    return (y_true == y_pred).astype(np.float64)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where ``(y_pred > threshold)`` equals the 0/1 target, elementwise.

    Args:
        y_true: 0/1 targets.
        y_pred: probabilities (or scores), same shape (``(N, 1)`` vs ``(N,)`` is fine).
        threshold: predictions above it count as 1.

    Returns:
        A float array.

    Example::

        binary_accuracy([1, 0, 1], [0.9, 0.6, 0.2])   # [1., 0., 0.]
    """
    y_true, y_pred = _same_shape("binary_accuracy", y_true, y_pred)
    return (y_true == (y_pred > threshold)).astype(np.float64)


def categorical_accuracy(y_true, y_pred):
    """1.0 where ``argmax(y_pred)`` equals ``argmax(y_true)`` (one-hot targets).

    Args:
        y_true: one-hot targets ``(..., C)``.
        y_pred: scores ``(..., C)``.

    Returns:
        A float array of shape ``y_pred.shape[:-1]``.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"categorical_accuracy: one-hot y_true of shape {y_true.shape} does "
                         f"not match y_pred of shape {y_pred.shape}")
    return (y_true.argmax(-1) == y_pred.argmax(-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where ``argmax(y_pred)`` equals the integer label.

    Args:
        y_true: integer labels ``(...)`` or ``(..., 1)``.
        y_pred: scores ``(..., C)``.

    Returns:
        A float array of shape ``y_pred.shape[:-1]``.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    want = y_pred.shape[:-1]
    if y_true.shape != want:
        if y_true.shape == want + (1,):
            y_true = y_true.reshape(want)
        else:
            raise ValueError(f"sparse_categorical_accuracy: labels of shape {y_true.shape} do "
                             f"not fit y_pred of shape {y_pred.shape}; labels of shape {want} "
                             "expected")
    return (y_true == y_pred.argmax(-1)).astype(np.float64)


def mean_squared_error(y_true, y_pred):
    """Per-example ``mean((y_pred - y_true) ** 2)`` over the last axis (2+ axes).

    Args:
        y_true: targets.
        y_pred: predictions, same shape.

    Returns:
        A float array (one value per example).
    """
    y_true, y_pred = _same_shape("mean_squared_error", y_true, y_pred)
    d = y_pred.astype(np.float64) - y_true
    return (d * d).mean(-1) if d.ndim >= 2 else d * d


def mean_absolute_error(y_true, y_pred):
    """Per-example ``mean(|y_pred - y_true|)`` over the last axis (2+ axes).

    Args:
        y_true: targets.
        y_pred: predictions, same shape.

    Returns:
        A float array (one value per example).
    """
    y_true, y_pred = _same_shape("mean_absolute_error", y_true, y_pred)
    d = abs(y_pred.astype(np.float64) - y_true)
    return d.mean(-1) if d.ndim >= 2 else d


# ------------------------------------------------------------------ classes
class Metric:
    """Base class: a value accumulated over batches.

    Subclasses implement ``update_state``, ``result`` and ``reset_state``.
    Calling a metric, ``metric(y_true, y_pred)``, updates it and returns the
    result.

    Args:
        name: the metric's name (the key in training logs).
        dtype: None or ``"float64"``: gradkit metrics accumulate in float64 and return
            Python floats; other dtypes are not implemented.
    """

    default_name = "metric"

    def __init__(self, name=None, dtype=None):
        self.name = name or self.default_name
        if dtype is not None and np.dtype(dtype) != np.float64:
            raise NotImplementedError(
                f"{type(self).__name__}: argument 'dtype'={dtype!r} is not implemented in "
                "gradkit; metrics accumulate in float64 and return Python floats (pass "
                "dtype=None)")
        self.dtype = dtype
        self.reset_state()

    def update_state(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def result(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def reset_state(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def reset_states(self):
        """Keras 2's name for :meth:`reset_state`."""
        self.reset_state()

    def __call__(self, *args, **kwargs):
        """Update with a batch and return the result so far."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        """The constructor arguments, as a JSON-able dict."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        """Rebuild a metric from :meth:`get_config`'s dict."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} result={self.result():.4g}>"


class Mean(Metric):
    """The running (weighted) mean of values; what a training loop uses for its loss.

    Args:
        name: defaults to ``"mean"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).

    Example::

        m = Mean()
        m.update_state([1, 3, 5, 7])
        m.update_state([2], sample_weight=[4])
        m.result()      # (16 + 8) / 8 = 3.0
    """

    default_name = "mean"

    def reset_state(self):
        """Forget everything seen so far."""
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        """Add values (any shape; a scalar loss counts once).

        Args:
            values: an array, Tensor or number.
            sample_weight: optional weights broadcastable to ``values``.
        """
        if sample_weight is None and type(values) is float:  # a step's loss (fit's tracker)
            self.total = self.total + values  # float64 arithmetic, as the array path's
            self.count += 1
            return
        v = _arr(values)
        if sample_weight is None:
            self.total = v.sum().astype(np.float64) + self.total   # stays on v's device
            self.count += v.size
        else:
            w = _weights(self.name, sample_weight, v)
            self.total = (v * w).sum() + self.total
            self.count = w.sum() + self.count

    def result(self):
        """The weighted mean so far (0.0 before any update): read back from the device."""
        count = float(self.count)
        return float(self.total) / count if count else 0.0


class MeanMetricWrapper(Mean):
    """The mean of a per-example function ``fn(y_true, y_pred, **kwargs)`` over all batches.

    Args:
        fn: returns per-example (or per-element) values as an array.
        name: defaults to ``fn.__name__``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
        **kwargs: extra arguments for ``fn``.

    Example::

        top_is_class_0 = MeanMetricWrapper(lambda t, p: (p.argmax(-1) == 0) * 1.0, "c0")
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        self._fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name or getattr(fn, "__name__", "metric"), dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch.

        Args:
            y_true: targets (array or Tensor).
            y_pred: predictions (array or Tensor).
            sample_weight: optional per-example weights.
        """
        Mean.update_state(self, self._fn(*_pair(y_true, y_pred), **self._fn_kwargs),
                          sample_weight)

    def get_config(self):
        cfg = super().get_config()
        if type(self) is MeanMetricWrapper:
            cfg["fn"] = METRICS.name_of(self._fn)
        cfg.update(self._fn_kwargs)
        return cfg

    @classmethod
    def from_config(cls, config):
        if cls is MeanMetricWrapper:
            config = dict(config)
            name = config.pop("fn", None)
            fn = _FUNCTIONS.get(name) or METRICS.lookup_function(name, "MeanMetricWrapper")
            return cls(fn, **config)
        return cls(**config)


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly (Keras's ``Accuracy``).

    Args:
        name: defaults to ``"accuracy"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name, dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches 0/1 targets.

    Args:
        name: defaults to ``"binary_accuracy"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
        threshold: the decision threshold (0.5 for probabilities, 0.0 for logits).

    Example::

        m = BinaryAccuracy()
        m.update_state([[1], [0]], [[0.8], [0.7]])
        m.result()   # 0.5
    """

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name, dtype,
                         threshold=check_number("BinaryAccuracy", "threshold", threshold))


class CategoricalAccuracy(MeanMetricWrapper):
    """How often ``argmax(y_pred)`` matches ``argmax`` of one-hot targets.

    Args:
        name: defaults to ``"categorical_accuracy"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
    """

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name, dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often ``argmax(y_pred)`` matches integer labels.

    Args:
        name: defaults to ``"sparse_categorical_accuracy"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
    """

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name, dtype)


class MeanSquaredError(MeanMetricWrapper):
    """The mean of per-example squared errors over all batches.

    Args:
        name: defaults to ``"mean_squared_error"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
    """

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name, dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """The mean of per-example absolute errors over all batches.

    Args:
        name: defaults to ``"mean_absolute_error"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
    """

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name, dtype)


def _infer_accuracy_fn(y_true, y_pred):
    """Keras 3's rule for a bare ``"accuracy"``, from the first batch's shapes."""
    if y_pred.ndim <= 1 or y_pred.shape[-1] == 1:
        return binary_accuracy
    if y_true.ndim < y_pred.ndim or y_true.shape[-1] == 1:
        return sparse_categorical_accuracy
    return categorical_accuracy


class InferredAccuracy(MeanMetricWrapper):
    """``"accuracy"`` when neither the loss nor the output shape says which kind.

    The first ``update_state`` picks binary, sparse categorical or categorical
    accuracy from the shapes, as Keras 3 does: one output column (or a 1-D
    ``y_pred``) -> binary; labels with fewer axes than ``y_pred`` or a last
    axis of 1 -> sparse categorical; otherwise categorical.

    Args:
        name: defaults to ``"accuracy"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(None, name, dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _pair(y_true, y_pred)
        if self._fn is None:
            self._fn = _infer_accuracy_fn(y_true, y_pred)
        super().update_state(y_true, y_pred, sample_weight)

    @property
    def resolved(self):
        """The accuracy function chosen (None before the first update)."""
        return self._fn


class _Confusion(Metric):
    """Weighted true/false positive and false negative counts at one threshold."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        self.thresholds = 0.5 if thresholds is None else check_number(
            type(self).__name__, "thresholds", thresholds)
        super().__init__(name, dtype)

    def reset_state(self):
        """Forget everything seen so far."""
        self.true_positives = 0.0
        self.false_positives = 0.0
        self.false_negatives = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch of 0/1 targets and scores (positive where ``y_pred > threshold``).

        Args:
            y_true: targets (nonzero means positive).
            y_pred: probabilities or scores, same shape.
            sample_weight: optional per-example weights.
        """
        t, p = _same_shape(self.name, y_true, y_pred)
        t = t.astype(bool)
        pred = p > self.thresholds
        if sample_weight is None:  # counts stay on the device until result()
            tp = (t & pred).sum()
            self.true_positives = tp + self.true_positives
            self.false_positives = pred.sum() - tp + self.false_positives
            self.false_negatives = t.sum() - tp + self.false_negatives
        else:
            w = _weights(self.name, sample_weight, p)
            tp = w[t & pred].sum()
            self.true_positives = tp + self.true_positives
            self.false_positives = w[pred].sum() - tp + self.false_positives
            self.false_negatives = w[t].sum() - tp + self.false_negatives

    def get_config(self):
        cfg = super().get_config()
        cfg["thresholds"] = self.thresholds
        return cfg


class Precision(_Confusion):
    """Binary precision ``TP / (TP + FP)`` at a threshold (0.0 when nothing is predicted).

    Args:
        thresholds: the decision threshold (default 0.5; Keras's argument name).
        name: defaults to ``"precision"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).

    Example::

        m = Precision()
        m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
        m.result()    # 2 / 3
    """

    default_name = "precision"

    def result(self):
        """The precision so far."""
        tp = float(self.true_positives)
        d = tp + float(self.false_positives)
        return tp / d if d else 0.0


class Recall(_Confusion):
    """Binary recall ``TP / (TP + FN)`` at a threshold (0.0 when there are no positives).

    Args:
        thresholds: the decision threshold (default 0.5).
        name: defaults to ``"recall"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
    """

    default_name = "recall"

    def result(self):
        """The recall so far."""
        tp = float(self.true_positives)
        d = tp + float(self.false_negatives)
        return tp / d if d else 0.0


class AUC(Metric):  # host: the histogram and kept scores live in host memory
    """Area under the ROC curve, streamed through a histogram of scores (like Keras).

    Scores are counted into ``num_thresholds`` fixed thresholds evenly spaced
    on ``[0, 1]`` (the ends nudged by 1e-7 to include 0 and 1), positives and
    negatives separately; :meth:`result` turns the counts into the ROC curve
    and integrates it (``"interpolation"``: the trapezoidal rule;
    ``"minoring"`` / ``"majoring"``: lower / upper Riemann sums). The
    histogram AUC is the exact AUC of scores rounded to the thresholds, so it
    is within about ``1 / num_thresholds`` of the exact value.

    With ``exact=True`` the scores themselves are also kept (up to
    ``max_exact`` of them) and :meth:`result` is the exact ROC AUC (ties count
    half, as in scikit-learn's ``roc_auc_score``); past ``max_exact`` the
    metric falls back to the histogram. An exact result sorts every score
    kept (about 2 ms per 10,000 scores; cached until the next update), so it
    suits evaluation more than a per-batch progress bar.

    Args:
        num_thresholds: number of thresholds (> 1).
        curve: ``"ROC"`` (the only curve implemented).
        summation_method: ``"interpolation"``, ``"minoring"`` or ``"majoring"``.
        name: defaults to ``"auc"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
        from_logits: scores are logits (a sigmoid is applied first).
        exact: also keep the scores for an exact result (see above).
        max_exact: how many scores ``exact`` may keep.

    Example::

        m = AUC()
        m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        m.result()    # 0.75
    """

    default_name = "auc"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, from_logits=False, exact=False, max_exact=1_000_000):
        self.num_thresholds = check_int("AUC", "num_thresholds", num_thresholds, minimum=2)
        if str(curve).upper() == "PR":
            raise NotImplementedError("AUC: curve='PR' is not implemented; use curve='ROC'")
        self.curve = check_choice("AUC", "curve", str(curve).upper(), ("ROC",))
        self.summation_method = check_choice("AUC", "summation_method", summation_method,
                                             ("interpolation", "minoring", "majoring"))
        self.from_logits = bool(from_logits)
        self.exact = bool(exact)
        self.max_exact = check_int("AUC", "max_exact", max_exact, minimum=0)
        eps = 1e-7
        n = self.num_thresholds
        self.thresholds = np.concatenate(
            [[0.0 - eps], np.arange(1, n - 1, dtype=np.float64) / (n - 1), [1.0 + eps]])
        super().__init__(name, dtype)

    def reset_state(self):
        """Forget everything seen so far."""
        n = self.num_thresholds
        self._pos = np.zeros(n + 1)  # weight of positives in each gap between thresholds
        self._neg = np.zeros(n + 1)
        self._kept = []  # (labels, scores, weights) batches while exact
        self._n_kept = 0
        self._exact_ok = self.exact
        self._cache = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch of 0/1 targets and scores (all entries are pooled).

        Args:
            y_true: targets (nonzero means positive).
            y_pred: scores in ``[0, 1]`` (logits with ``from_logits``).
            sample_weight: optional per-example weights.
        """
        t, p = _same_shape(self.name, y_true, y_pred)
        t, p = to_numpy(t), to_numpy(p).astype(np.float64)  # host: the histogram lives there
        if self.from_logits:
            p = 0.5 * (1.0 + np.tanh(0.5 * p))  # sigmoid without overflow
        w = None if sample_weight is None else _weights(self.name, sample_weight, p).ravel()
        t = t.astype(bool).ravel()
        p = p.ravel()
        # gap index = how many thresholds lie strictly below the score
        gap = np.searchsorted(self.thresholds, p, side="left")
        wp = t.astype(np.float64) if w is None else w * t
        wn = (~t).astype(np.float64) if w is None else w * ~t
        size = self.num_thresholds + 1
        self._pos += np.bincount(gap, weights=wp, minlength=size)
        self._neg += np.bincount(gap, weights=wn, minlength=size)
        if self._exact_ok:
            self._n_kept += p.size
            if self._n_kept > self.max_exact:
                self._exact_ok = False
                self._kept = []
            else:
                self._kept.append((t, p, np.ones(p.size) if w is None else w))
        self._cache = None

    def _histogram_auc(self):
        pos_total, neg_total = self._pos.sum(), self._neg.sum()
        if pos_total <= 0 or neg_total <= 0:
            return 0.0
        n = self.num_thresholds
        # scores above threshold i: everything in gaps i+1..n
        tp = pos_total - np.cumsum(self._pos)[:n]
        fp = neg_total - np.cumsum(self._neg)[:n]
        tpr, fpr = tp / pos_total, fp / neg_total
        if self.summation_method == "interpolation":
            heights = (tpr[:-1] + tpr[1:]) / 2
        elif self.summation_method == "minoring":
            heights = np.minimum(tpr[:-1], tpr[1:])
        else:
            heights = np.maximum(tpr[:-1], tpr[1:])
        return float(((fpr[:-1] - fpr[1:]) * heights).sum())

    def _exact_auc(self):
        if len(self._kept) > 1:  # merge once, so later results don't concatenate again
            self._kept = [tuple(np.concatenate([k[i] for k in self._kept]) for i in range(3))]
        t, p, w = self._kept[0]
        _, group = np.unique(p, return_inverse=True)  # tied scores share a group
        pos = np.bincount(group, weights=w * t)
        neg = np.bincount(group, weights=w * ~t)
        pt, nt = pos.sum(), neg.sum()
        if pt <= 0 or nt <= 0:
            return 0.0
        neg_below = np.cumsum(neg) - neg
        return float((pos * (neg_below + 0.5 * neg)).sum() / (pt * nt))

    def result(self):
        """The AUC so far (0.0 while there are no positives or no negatives)."""
        if self._cache is None:
            if self._exact_ok and self._kept:
                self._cache = self._exact_auc()
            else:
                self._cache = self._histogram_auc()
        return self._cache

    def get_config(self):
        cfg = super().get_config()
        cfg.update(num_thresholds=self.num_thresholds, curve=self.curve,
                   summation_method=self.summation_method, from_logits=self.from_logits,
                   exact=self.exact, max_exact=self.max_exact)
        return cfg


# ------------------------------------------------------------------ lookup
_FUNCTION_CLASSES = {
    accuracy: Accuracy, binary_accuracy: BinaryAccuracy,
    categorical_accuracy: CategoricalAccuracy,
    sparse_categorical_accuracy: SparseCategoricalAccuracy,
    mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
}
_FUNCTIONS = {fn.__name__: fn for fn in _FUNCTION_CLASSES}
_NAMES = {"accuracy": Accuracy, "acc": Accuracy, "binary_accuracy": BinaryAccuracy,
          "categorical_accuracy": CategoricalAccuracy,
          "sparse_categorical_accuracy": SparseCategoricalAccuracy, "precision": Precision,
          "recall": Recall, "auc": AUC, "mse": MeanSquaredError,
          "mean_squared_error": MeanSquaredError, "mae": MeanAbsoluteError,
          "mean_absolute_error": MeanAbsoluteError, "mean": Mean}


def _from_function(fn):
    """A built-in metric function as its class; any other per-example function wrapped."""
    cls = _FUNCTION_CLASSES.get(fn)
    return cls() if cls is not None else MeanMetricWrapper(fn)


def _make(cls, name):
    # a metric asked for by a gradkit name keeps that name, so logs show the key asked for
    return cls(name=name) if name.strip().lower() in _NAMES else cls()


METRICS = Registry("metric", Metric, module="gradkit.metrics", none=None,
                   from_function=_from_function, make=_make)
"""The metric registry (see :mod:`gradkit.utils.registry`)."""

for _name, _cls in _NAMES.items():
    METRICS.register(_name)(_cls)
for _cls in (MeanMetricWrapper, InferredAccuracy):
    METRICS.register(listed=False)(_cls)
register_serializable = METRICS.register_serializable


def _loss_kind(loss):
    """("sparse" | "categorical" | "binary" | None, from_logits) for a loss given any way."""
    if loss is None:
        return None, False
    from gradkit import losses as L

    try:
        loss = L.get(loss)
    except (ValueError, TypeError):
        return None, False
    kw = getattr(loss, "_fn_kwargs", {})
    fn = getattr(loss, "fn", None)
    kinds = {L.sparse_categorical_crossentropy: "sparse",
             L.categorical_crossentropy: "categorical", L.binary_crossentropy: "binary"}
    return kinds.get(fn), bool(kw.get("from_logits", False))


def _accuracy_for(name, loss, output_shape):
    kind, from_logits = _loss_kind(loss)
    if kind == "binary":
        # on logits the decision boundary is 0, not 0.5
        return BinaryAccuracy(name=name, threshold=0.0 if from_logits else 0.5)
    if kind == "sparse":
        return SparseCategoricalAccuracy(name=name)
    if kind == "categorical":
        return CategoricalAccuracy(name=name)
    if output_shape is not None:
        shape = tuple(output_shape)
        if len(shape) == 0 or shape[-1] == 1:
            return BinaryAccuracy(name=name)
    return InferredAccuracy(name=name)


def serialize(metric):
    """A metric as ``{"class_name": ..., "config": {...}}`` (a function: its name).

    Args:
        metric: a :class:`Metric` instance or a registered metric function.

    Returns:
        A JSON-able value for :func:`deserialize` / :func:`get`.
    """
    return METRICS.serialize(metric)


def deserialize(config, custom_objects=None):
    """Rebuild a metric from :func:`serialize`'s dict.

    Args:
        config: ``{"class_name": "AUC", "config": {...}}``.
        custom_objects: optional ``{name: class or function}`` for unregistered ones.

    Returns:
        A :class:`Metric`.
    """
    return METRICS.deserialize(config, custom_objects)


def get(identifier, loss=None, output_shape=None, custom_objects=None):
    """Resolve a metric given by name, config, class, instance or function.

    ``"accuracy"`` / ``"acc"`` depend on the loss, as in Keras: sparse
    categorical cross-entropy -> :class:`SparseCategoricalAccuracy`,
    categorical cross-entropy -> :class:`CategoricalAccuracy`, binary
    cross-entropy -> :class:`BinaryAccuracy` (threshold 0 when the loss takes
    logits). Without such a loss, an ``output_shape`` ending in 1 gives
    :class:`BinaryAccuracy`; otherwise the choice is made from the shapes of
    the first batch (:class:`InferredAccuracy`). The metric keeps the name it
    was asked for (``"accuracy"`` or ``"acc"``), so logs show that key.

    Args:
        identifier: a name (``"accuracy"``, ``"acc"``, ``"binary_accuracy"``,
            ``"categorical_accuracy"``, ``"sparse_categorical_accuracy"``,
            ``"precision"``, ``"recall"``, ``"auc"``, ``"mse"``, ``"mae"``,
            ``"mean_squared_error"``, ``"mean_absolute_error"``, ``"mean"``,
            or a class name; case-insensitive), a dict from :func:`serialize`,
            a :class:`Metric` subclass or instance, or a per-example function
            ``fn(y_true, y_pred)`` (wrapped in :class:`MeanMetricWrapper`).
        loss: the model's loss (name, Loss or function), for ``"accuracy"``.
        output_shape: the model's output shape, for ``"accuracy"``.
        custom_objects: optional ``{name: class or function}``.

    Returns:
        A :class:`Metric` (or None for None).

    Raises:
        ValueError: for an unknown name; the message lists the valid names.

    Example::

        metrics.get("acc", loss="sparse_categorical_crossentropy")
        # SparseCategoricalAccuracy named "acc"
    """
    if isinstance(identifier, str) and identifier.strip().lower() in ("accuracy", "acc") \
            and not (custom_objects and identifier in custom_objects):
        return _accuracy_for(identifier, loss, output_shape)
    return METRICS.get(identifier, custom_objects)


# ------------------------------------------------------------------ more of Keras's metrics
# The loss-shaped ones average the per-example values of the loss function of the same
# name (gradkit.losses): one formula, in one place.
from gradkit import losses as _losses  # noqa: E402  (losses does not import metrics)


def _loss_values(loss_fn, sign=1.0):
    """``loss_fn``'s per-example values as a float64 array (``sign`` flips them)."""
    def values(y_true, y_pred, **kwargs):
        out = loss_fn(y_true, _arr(y_pred), **kwargs)
        return sign * out._data.astype(np.float64)

    values.__name__ = loss_fn.__name__
    values.__doc__ = f"Per-example values of :func:`gradkit.losses.{loss_fn.__name__}`."
    return values


mean_absolute_percentage_error = _loss_values(_losses.mean_absolute_percentage_error)
mean_squared_logarithmic_error = _loss_values(_losses.mean_squared_logarithmic_error)
hinge = _loss_values(_losses.hinge)
squared_hinge = _loss_values(_losses.squared_hinge)
categorical_hinge = _loss_values(_losses.categorical_hinge)
log_cosh = _loss_values(_losses.log_cosh)
poisson = _loss_values(_losses.poisson)
kl_divergence = _loss_values(_losses.kl_divergence)
huber = _loss_values(_losses.huber)
binary_crossentropy = _loss_values(_losses.binary_crossentropy)
categorical_crossentropy = _loss_values(_losses.categorical_crossentropy)
sparse_categorical_crossentropy = _loss_values(_losses.sparse_categorical_crossentropy)
_cosine = _loss_values(_losses.cosine_similarity, sign=-1.0)  # the metric is +cos


def _check_axis(owner, axis):
    if axis != -1:
        raise NotImplementedError(f"{owner}: axis={axis!r}; gradkit's cross-entropies take "
                                  "the class axis last (axis=-1)")


def _top_k_hits(name, labels, y_pred, k):
    """1.0 where fewer than ``k`` scores beat the true class's score."""
    labels, y_pred = _pair(labels, y_pred)
    k = check_int(name, "k", k, minimum=1)
    labels = labels.astype(np.int64).reshape(y_pred.shape[:-1])
    true_score = get_array_module(y_pred).take_along_axis(y_pred, labels[..., None], axis=-1)
    return ((y_pred > true_score).sum(-1) < k).astype(np.float64)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the one-hot target's class is among the ``k`` highest scores."""
    return _top_k_hits("top_k_categorical_accuracy", _arr(y_true).argmax(-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the integer label is among the ``k`` highest scores."""
    return _top_k_hits("sparse_top_k_categorical_accuracy", y_true, y_pred, k)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Mean absolute percentage error.

    Args:
        name: defaults to ``"mean_absolute_percentage_error"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
    """

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, name, dtype)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """Mean squared logarithmic error.

    Args:
        name: defaults to ``"mean_squared_logarithmic_error"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
    """

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, name, dtype)


class Hinge(MeanMetricWrapper):
    """Mean hinge loss (-1/1 or 0/1 targets).

    Args:
        name: defaults to ``"hinge"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
    """

    def __init__(self, name="hinge", dtype=None):
        super().__init__(hinge, name, dtype)


class SquaredHinge(MeanMetricWrapper):
    """Mean squared hinge loss.

    Args:
        name: defaults to ``"squared_hinge"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
    """

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, name, dtype)


class CategoricalHinge(MeanMetricWrapper):
    """Mean categorical hinge loss (one-hot targets).

    Args:
        name: defaults to ``"categorical_hinge"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
    """

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name, dtype)


class LogCoshError(MeanMetricWrapper):
    """Mean logarithm of the hyperbolic cosine of the error.

    Args:
        name: defaults to ``"logcosh"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
    """

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(log_cosh, name, dtype)


class Poisson(MeanMetricWrapper):
    """Mean Poisson loss.

    Args:
        name: defaults to ``"poisson"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
    """

    def __init__(self, name="poisson", dtype=None):
        super().__init__(poisson, name, dtype)


class KLDivergence(MeanMetricWrapper):
    """Mean Kullback-Leibler divergence.

    Args:
        name: defaults to ``"kl_divergence"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
    """

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name, dtype)


class CosineSimilarity(MeanMetricWrapper):
    """Mean cosine similarity of ``y_true`` and ``y_pred`` along ``axis`` (1 = same way).

    Args:
        name: defaults to ``"cosine_similarity"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
        axis: the axis the vectors lie along.
    """

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(_cosine, name, dtype, axis=axis)


class BinaryCrossentropy(MeanMetricWrapper):
    """Mean binary cross-entropy (the loss's arguments: ``from_logits``,
    ``label_smoothing``)."""

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0.0):
        super().__init__(binary_crossentropy, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    """Mean categorical cross-entropy of one-hot targets (class axis last)."""

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0.0, axis=-1):
        _check_axis("CategoricalCrossentropy", axis)
        super().__init__(categorical_crossentropy, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Mean cross-entropy of integer labels (class axis last)."""

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 axis=-1):
        _check_axis("SparseCategoricalCrossentropy", axis)
        super().__init__(sparse_categorical_crossentropy, name, dtype, from_logits=from_logits)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target's class is among the ``k`` highest scores."""

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name, dtype, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the ``k`` highest scores."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name, dtype, k=k)


class RootMeanSquaredError(Mean):
    """``sqrt`` of the (weighted) mean squared error over every element seen.

    Args:
        name: defaults to ``"root_mean_squared_error"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
    """

    default_name = "root_mean_squared_error"

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch of targets and predictions (same shape)."""
        t, p = _same_shape(self.name, y_true, y_pred)
        d = p.astype(np.float64) - t
        super().update_state(d * d, sample_weight)

    def result(self):
        """The root of the mean squared error so far."""
        return math.sqrt(float(super().result()))


class Sum(Metric):
    """The running (weighted) sum of values.

    Args:
        name: defaults to ``"sum"``.
        dtype: None or ``"float64"`` (see :class:`Metric`).
    """

    default_name = "sum"

    def reset_state(self):
        """Start again from 0."""
        self.total = 0.0

    def update_state(self, values, sample_weight=None):
        """Add ``values`` (times ``sample_weight`` when given)."""
        v = _arr(values)
        w = 1.0 if sample_weight is None else _weights(self.name, sample_weight, v)
        self.total += float((v * w).sum())

    def result(self):
        """The sum so far."""
        return self.total


class _ConfusionCount(_Confusion):
    """One (weighted) cell of the binary confusion matrix at a threshold."""

    cell = ""

    def reset_state(self):
        super().reset_state()
        self.total_weight = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch of 0/1 targets and scores (positive where ``y_pred > thresholds``)."""
        super().update_state(y_true, y_pred, sample_weight)
        p = _same_shape(self.name, y_true, y_pred)[1]
        self.total_weight += float(p.size if sample_weight is None
                                   else _weights(self.name, sample_weight, p).sum())

    @property
    def true_negatives(self):
        return self.total_weight - self.true_positives - self.false_positives \
            - self.false_negatives

    def result(self):
        """The count so far."""
        return float(getattr(self, self.cell))


class TruePositives(_ConfusionCount):
    """Weighted count of positives predicted positive (``y_pred > thresholds``)."""

    default_name, cell = "true_positives", "true_positives"


class FalsePositives(_ConfusionCount):
    """Weighted count of negatives predicted positive."""

    default_name, cell = "false_positives", "false_positives"


class TrueNegatives(_ConfusionCount):
    """Weighted count of negatives predicted negative."""

    default_name, cell = "true_negatives", "true_negatives"


class FalseNegatives(_ConfusionCount):
    """Weighted count of positives predicted negative."""

    default_name, cell = "false_negatives", "false_negatives"


_MORE = {
    "mean_absolute_percentage_error": (MeanAbsolutePercentageError,
                                       mean_absolute_percentage_error, ("mape",)),
    "mean_squared_logarithmic_error": (MeanSquaredLogarithmicError,
                                       mean_squared_logarithmic_error, ("msle",)),
    "hinge": (Hinge, hinge, ()), "squared_hinge": (SquaredHinge, squared_hinge, ()),
    "categorical_hinge": (CategoricalHinge, categorical_hinge, ()),
    "logcosh": (LogCoshError, log_cosh, ("log_cosh",)), "poisson": (Poisson, poisson, ()),
    "kl_divergence": (KLDivergence, kl_divergence, ("kld",)),
    "cosine_similarity": (CosineSimilarity, _cosine, ()),
    "binary_crossentropy": (BinaryCrossentropy, binary_crossentropy, ()),
    "categorical_crossentropy": (CategoricalCrossentropy, categorical_crossentropy, ()),
    "sparse_categorical_crossentropy": (SparseCategoricalCrossentropy,
                                        sparse_categorical_crossentropy, ()),
    "top_k_categorical_accuracy": (TopKCategoricalAccuracy, top_k_categorical_accuracy, ()),
    "sparse_top_k_categorical_accuracy": (SparseTopKCategoricalAccuracy,
                                          sparse_top_k_categorical_accuracy, ()),
    "root_mean_squared_error": (RootMeanSquaredError, None, ("rmse",)),
    "sum": (Sum, None, ()), "true_positives": (TruePositives, None, ()),
    "false_positives": (FalsePositives, None, ()), "true_negatives": (TrueNegatives, None, ()),
    "false_negatives": (FalseNegatives, None, ()),
}
for _name, (_cls, _fn, _aliases) in _MORE.items():
    for _key in (_name,) + _aliases:
        _NAMES[_key] = _cls
        METRICS.register(_key)(_cls)
    if _fn is not None:
        _FUNCTION_CLASSES[_fn] = _cls
        _FUNCTIONS[_fn.__name__] = _fn
__all__ += [c.__name__ for c, _, _ in _MORE.values()] + [
    f.__name__ for _, f, _ in _MORE.values() if f is not None and f is not _cosine]
