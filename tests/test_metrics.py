"""gradkit.metrics: streamed results vs scikit-learn, AUC histogram vs exact, lookup, configs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradkit import losses, metrics
from gradkit.tensor import Tensor

try:
    import sklearn.metrics as skm
except ImportError:  # pragma: no cover
    skm = None

needs_sklearn = pytest.mark.skipif(skm is None, reason="scikit-learn not installed")


def batches(*arrays, size=37):
    """Slices of the arrays, ``size`` examples at a time (last batch shorter)."""
    n = len(arrays[0])
    for i in range(0, n, size):
        yield tuple(a[i:i + size] if a is not None else None for a in arrays)


def stream(metric, y, p, w=None, size=37):
    metric.reset_state()
    for yb, pb, wb in batches(y, p, w, size=size):
        metric.update_state(yb, pb, sample_weight=wb)
    return metric.result()


def binary_data(n=500, seed=0, noise=1.0):
    r = np.random.default_rng(seed)
    y = r.integers(0, 2, n)
    score = 1 / (1 + np.exp(-(2 * y - 1 + noise * r.normal(size=n))))
    return y, score, r.uniform(0.1, 2.0, n)


# ------------------------------------------------------------- vs sklearn
@needs_sklearn
@pytest.mark.parametrize("weighted", [False, True])
class TestAgainstSklearn:
    def test_accuracy(self, weighted):
        r = np.random.default_rng(1)
        y, p = r.integers(0, 3, 300), r.integers(0, 3, 300)
        w = r.uniform(size=300) if weighted else None
        assert stream(metrics.Accuracy(), y, p, w) == pytest.approx(
            skm.accuracy_score(y, p, sample_weight=w), abs=1e-12)

    def test_binary_accuracy(self, weighted):
        y, s, w = binary_data()
        w = w if weighted else None
        expected = skm.accuracy_score(y, s > 0.5, sample_weight=w)
        assert stream(metrics.BinaryAccuracy(), y, s[:, None], w) == pytest.approx(
            expected, abs=1e-12)
        assert stream(metrics.BinaryAccuracy(), y[:, None].astype(float), s, w) == \
            pytest.approx(expected, abs=1e-12)
        assert stream(metrics.BinaryAccuracy(threshold=0.7), y, s, w) == pytest.approx(
            skm.accuracy_score(y, s > 0.7, sample_weight=w), abs=1e-12)

    def test_categorical_and_sparse_accuracy(self, weighted):
        r = np.random.default_rng(2)
        y = r.integers(0, 5, 400)
        scores = r.normal(size=(400, 5)) + 1.5 * np.eye(5)[y]
        w = r.uniform(size=400) if weighted else None
        expected = skm.accuracy_score(y, scores.argmax(1), sample_weight=w)
        assert stream(metrics.SparseCategoricalAccuracy(), y, scores, w) == pytest.approx(
            expected, abs=1e-12)
        assert stream(metrics.SparseCategoricalAccuracy(), y[:, None], scores, w) == \
            pytest.approx(expected, abs=1e-12)
        assert stream(metrics.CategoricalAccuracy(), np.eye(5)[y], scores, w) == \
            pytest.approx(expected, abs=1e-12)

    def test_precision_recall(self, weighted):
        y, s, w = binary_data(seed=3)
        w = w if weighted else None
        pred = (s > 0.5).astype(int)
        assert stream(metrics.Precision(), y, s, w) == pytest.approx(
            skm.precision_score(y, pred, sample_weight=w), abs=1e-12)
        assert stream(metrics.Recall(), y, s, w) == pytest.approx(
            skm.recall_score(y, pred, sample_weight=w), abs=1e-12)
        pred = (s > 0.3).astype(int)
        assert stream(metrics.Precision(thresholds=0.3), y[:, None], s[:, None], w) == \
            pytest.approx(skm.precision_score(y, pred, sample_weight=w), abs=1e-12)

    @pytest.mark.parametrize("seed", [0, 1, 2])
    @pytest.mark.parametrize("noise", [0.5, 1.0, 3.0])
    def test_auc_histogram_close_to_sklearn(self, weighted, seed, noise):
        y, s, w = binary_data(n=1000, seed=seed, noise=noise)
        w = w if weighted else None
        expected = skm.roc_auc_score(y, s, sample_weight=w)
        got = stream(metrics.AUC(), y, s, w)
        assert abs(got - expected) < 1e-2
        # exact mode: sklearn's value (tied scores count half)
        assert stream(metrics.AUC(exact=True), y, s, w) == pytest.approx(expected, abs=1e-12)

    def test_auc_exact_with_ties(self, weighted):
        r = np.random.default_rng(7)
        y = r.integers(0, 2, 300)
        s = np.round(r.uniform(size=300) * 0.5 + 0.3 * y, 1)  # many ties
        w = r.uniform(size=300) if weighted else None
        assert stream(metrics.AUC(exact=True), y, s, w) == pytest.approx(
            skm.roc_auc_score(y, s, sample_weight=w), abs=1e-12)

    def test_mse_mae(self, weighted):
        r = np.random.default_rng(4)
        y, p = r.normal(size=(200, 3)), r.normal(size=(200, 3))
        w = r.uniform(size=200) if weighted else None
        assert stream(metrics.MeanSquaredError(), y, p, w) == pytest.approx(
            skm.mean_squared_error(y, p, sample_weight=w), rel=1e-12)
        assert stream(metrics.MeanAbsoluteError(), y, p, w) == pytest.approx(
            skm.mean_absolute_error(y, p, sample_weight=w), rel=1e-12)
        assert stream(metrics.MeanSquaredError(), y[:, 0], p[:, :1], w) == pytest.approx(
            skm.mean_squared_error(y[:, 0], p[:, 0], sample_weight=w), rel=1e-12)


# --------------------------------------------------------------------- AUC
@pytest.mark.parametrize("exact", [False, True])
def test_auc_separable_data_is_one(exact):
    r = np.random.default_rng(0)
    y = np.r_[np.zeros(200), np.ones(200)]
    s = np.r_[r.uniform(0.0, 0.45, 200), r.uniform(0.55, 1.0, 200)]
    assert stream(metrics.AUC(exact=exact), y, s) == 1.0
    assert stream(metrics.AUC(exact=exact), 1 - y, s) == 0.0


def test_auc_keras_example_and_methods():
    y, s = [0, 0, 1, 1], [0.0, 0.5, 0.3, 0.9]
    m = metrics.AUC(num_thresholds=3)  # thresholds -eps, 0.5, 1 + eps
    m.update_state(y, s)
    assert m.result() == pytest.approx(0.75)  # Keras's docstring example
    lo = metrics.AUC(num_thresholds=3, summation_method="minoring")
    hi = metrics.AUC(num_thresholds=3, summation_method="majoring")
    lo.update_state(y, s)
    hi.update_state(y, s)
    assert lo.result() <= m.result() <= hi.result()
    assert lo.result() == pytest.approx(0.5) and hi.result() == pytest.approx(1.0)


def test_auc_histogram_equals_exact_auc_of_binned_scores():
    # the histogram result is the exact AUC of the scores rounded up to the thresholds
    r = np.random.default_rng(5)
    y, s = r.integers(0, 2, 2000), r.uniform(size=2000)
    hist = metrics.AUC(num_thresholds=11)
    exact = metrics.AUC(exact=True)
    hist.update_state(y, s)
    exact.update_state(y, np.ceil(s * 10) / 10)
    assert hist.result() == pytest.approx(exact.result(), abs=1e-12)


def test_auc_from_logits_and_fallback():
    y, s, _ = binary_data(n=400, seed=9)
    logits = np.log(s / (1 - s))
    a, b = metrics.AUC(exact=True), metrics.AUC(exact=True, from_logits=True)
    a.update_state(y, s)
    b.update_state(y, logits)
    assert a.result() == pytest.approx(b.result(), abs=1e-12)
    c = metrics.AUC(exact=True, max_exact=250)  # too many scores: back to the histogram
    h = metrics.AUC()
    for yb, sb, _ in batches(y, s, None, size=100):
        c.update_state(yb, sb)
        h.update_state(yb, sb)
    assert c.result() == h.result()


def test_auc_without_both_classes_is_zero():
    m = metrics.AUC()
    assert m.result() == 0.0
    m.update_state([1, 1], [0.2, 0.9])
    assert m.result() == 0.0
    m = metrics.AUC(exact=True)
    m.update_state([0, 0], [0.2, 0.9])
    assert m.result() == 0.0


def test_auc_invalid_arguments():
    with pytest.raises(NotImplementedError, match="curve='PR' is not implemented"):
        metrics.AUC(curve="PR")
    with pytest.raises(ValueError, match="curve must be one of 'ROC'"):
        metrics.AUC(curve="DET")
    with pytest.raises(TypeError, match="num_thresholds must be an integer"):
        metrics.AUC(num_thresholds=2.5)
    with pytest.raises(ValueError, match="num_thresholds"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="summation_method"):
        metrics.AUC(summation_method="careful")


# ------------------------------------------------------------- behaviour
def test_mean_metric():
    m = metrics.Mean()
    assert m.result() == 0.0
    m.update_state([1, 3, 5, 7])
    m.update_state([2], sample_weight=[4])
    assert m.result() == pytest.approx(3.0)
    m.update_state(Tensor(np.float32(10.0)))  # a scalar loss counts once
    assert m.result() == pytest.approx(34 / 9)
    m.reset_state()
    assert m.result() == 0.0 and m.count == 0


def test_mean_of_python_floats_equals_the_array_path():
    # fit's loss tracker adds one Python float a step (a shortcut past the arrays)
    values = [0.1, 0.7, 1e-17, 3.3, float(np.float32(0.2))]
    by_float, by_array = metrics.Mean(), metrics.Mean()
    for v in values:
        by_float.update_state(v)
        by_array.update_state(np.array([v]))
    assert by_float.result() == by_array.result() and by_float.count == len(values)
    by_float.update_state(float("nan"))
    assert np.isnan(by_float.result())


def test_tensors_are_accepted():
    p = Tensor(np.array([[0.1, 0.9], [0.8, 0.2]], dtype=np.float32), requires_grad=True)
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(Tensor(np.array([1, 1])), p)
    assert m.result() == 0.5
    assert isinstance(m.result(), float)


def test_call_updates_and_returns_result():
    m = metrics.BinaryAccuracy()
    assert m([1, 0], [0.9, 0.2]) == 1.0
    assert m([1, 0], [0.1, 0.2]) == 0.75
    m.reset_states()
    assert m.result() == 0.0


def test_precision_recall_edge_cases():
    p, r = metrics.Precision(), metrics.Recall()
    for m in (p, r):
        m.update_state([0, 0], [0.1, 0.2])
    assert p.result() == 0.0 and r.result() == 0.0
    p.reset_state()
    p.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    assert p.result() == pytest.approx(2 / 3)


def test_shape_errors():
    with pytest.raises(ValueError, match=r"\(4, 2\)"):
        metrics.BinaryAccuracy().update_state(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="sparse_categorical_accuracy"):
        metrics.SparseCategoricalAccuracy().update_state(np.zeros(3), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="categorical_accuracy"):
        metrics.CategoricalAccuracy().update_state(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="sample_weight"):
        metrics.Mean().update_state(np.zeros(4), sample_weight=np.ones(3))


def test_sequence_outputs_with_example_weights():
    y = np.array([[0, 1, 2], [1, 1, 1]])
    p = np.eye(3)[[[0, 1, 0], [1, 1, 1]]]
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(y, p, sample_weight=[1.0, 3.0])  # (N,) weights for (N, T) values
    assert m.result() == pytest.approx((2 + 9) / 12)


# ------------------------------------------------------------------ lookup
@pytest.mark.parametrize("loss, expected", [
    ("sparse_categorical_crossentropy", metrics.SparseCategoricalAccuracy),
    (losses.SparseCategoricalCrossentropy(from_logits=True), metrics.SparseCategoricalAccuracy),
    ("categorical_crossentropy", metrics.CategoricalAccuracy),
    (losses.categorical_crossentropy, metrics.CategoricalAccuracy),
    ("binary_crossentropy", metrics.BinaryAccuracy),
    ("bce", metrics.BinaryAccuracy),
    (losses.BinaryCrossentropy(), metrics.BinaryAccuracy),
])
def test_accuracy_follows_the_loss(loss, expected):
    for name in ("accuracy", "acc"):
        m = metrics.get(name, loss=loss)
        assert type(m) is expected and m.name == name


def test_accuracy_threshold_for_logits_loss():
    m = metrics.get("accuracy", loss=losses.BinaryCrossentropy(from_logits=True))
    assert isinstance(m, metrics.BinaryAccuracy)
    m.update_state([1, 0, 1], [2.0, -1.0, -0.5])  # logits: positive means class 1
    assert m.result() == pytest.approx(2 / 3)
    assert metrics.get("accuracy", loss="bce").get_config()["threshold"] == 0.5


def test_accuracy_from_output_shape_and_inferred():
    assert type(metrics.get("accuracy", loss="mse", output_shape=(None, 1))) is \
        metrics.BinaryAccuracy
    m = metrics.get("accuracy", output_shape=(None, 10))
    assert type(m) is metrics.InferredAccuracy and m.resolved is None
    m.update_state(np.array([1, 2]), np.eye(10)[[1, 3]])
    assert m.resolved is metrics.sparse_categorical_accuracy and m.result() == 0.5
    m = metrics.get("accuracy")
    m.update_state(np.eye(4)[[1, 2]], np.eye(4)[[1, 2]])
    assert m.resolved is metrics.categorical_accuracy and m.result() == 1.0
    m = metrics.get("acc")
    m.update_state(np.array([1, 0]), np.array([[0.8], [0.9]]))
    assert m.resolved is metrics.binary_accuracy and m.result() == 0.5


def test_get_names():
    expected = {
        "binary_accuracy": metrics.BinaryAccuracy,
        "categorical_accuracy": metrics.CategoricalAccuracy,
        "sparse_categorical_accuracy": metrics.SparseCategoricalAccuracy,
        "precision": metrics.Precision, "recall": metrics.Recall, "auc": metrics.AUC,
        "mse": metrics.MeanSquaredError, "mae": metrics.MeanAbsoluteError,
        "mean_squared_error": metrics.MeanSquaredError,
        "mean_absolute_error": metrics.MeanAbsoluteError, "mean": metrics.Mean,
        "AUC": metrics.AUC, "SparseCategoricalAccuracy": metrics.SparseCategoricalAccuracy,
    }
    for name, cls in expected.items():
        assert type(metrics.get(name)) is cls
    assert metrics.get("mse").name == "mse"
    m = metrics.Recall()
    assert metrics.get(m) is m
    assert metrics.get(None) is None
    assert type(metrics.get(metrics.AUC)) is metrics.AUC
    assert type(metrics.get(metrics.binary_accuracy)) is metrics.BinaryAccuracy


def test_get_unknown_lists_names():
    with pytest.raises(ValueError) as e:
        metrics.get("f1")
    msg = str(e.value)
    for name in ["accuracy", "acc", "binary_accuracy", "precision", "recall", "auc", "mse",
                 "mae", "sparse_categorical_accuracy"]:
        assert name in msg
    with pytest.raises(TypeError):
        metrics.get(3.5)


def test_custom_function_is_wrapped():
    def first_class_rate(y_true, y_pred):
        return (np.asarray(y_pred).argmax(-1) == 0).astype(float)

    m = metrics.get(first_class_rate)
    assert isinstance(m, metrics.MeanMetricWrapper) and m.name == "first_class_rate"
    m.update_state(None, np.eye(2)[[0, 1, 0, 0]])
    assert m.result() == 0.75


@pytest.mark.parametrize("metric", [
    metrics.Accuracy(), metrics.BinaryAccuracy(threshold=0.3, name="ba"),
    metrics.CategoricalAccuracy(), metrics.SparseCategoricalAccuracy(),
    metrics.Precision(thresholds=0.4), metrics.Recall(name="rec"),
    metrics.AUC(num_thresholds=50, summation_method="minoring", exact=True),
    metrics.MeanSquaredError(), metrics.MeanAbsoluteError(), metrics.Mean(name="loss"),
    metrics.InferredAccuracy()])
def test_config_round_trip(metric):
    cfg = metric.get_config()
    json.dumps(cfg)
    again = type(metric).from_config(cfg)
    assert again.get_config() == cfg
    ser = json.loads(json.dumps(metrics.serialize(metric)))
    back = metrics.get(ser)
    assert type(back) is type(metric) and back.get_config() == cfg
