"""training_dashboard: one offline HTML page with curves, confusion matrix, samples, graph."""

import re

import numpy as np
import pytest

import gradkit
from gradkit import layers
from gradkit.plot import confusion_matrix, training_dashboard
from gradkit.utils import dot

pytest.importorskip("matplotlib", reason="the curves are drawn by matplotlib (gradkit[plot])")


def trained_classifier():
    """A small 3-class classifier on 6x6 'images' (which third of the image is bright)."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, size=90)
    x = rng.uniform(0, 0.3, size=(90, 6, 6)).astype("float32")
    for i, c in enumerate(y):
        x[i, :, 2 * c:2 * c + 2] += 0.7
    gradkit.random.seed(3)
    model = gradkit.Sequential([gradkit.Input(shape=(6, 6)), layers.Flatten(name="db_flat"),
                                layers.Dense(3, activation="softmax", name="db_out")],
                               name="db_model")
    model.compile(optimizer=gradkit.optimizers.Adam(learning_rate=0.05),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x[:60], y[:60], epochs=12, batch_size=20, verbose=0,
                        validation_data=(x[60:], y[60:]))
    return model, history, x[60:], y[60:]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    model, history, x, y = trained_classifier()
    path = training_dashboard(history, tmp_path_factory.mktemp("r") / "report.html", model, x, y,
                              class_names=["left", "middle", "right"], num_samples=5,
                              title="Demo run")
    with open(path, encoding="utf-8") as f:
        return f.read(), model, x, y


def test_page_has_every_section(report):
    page, *_ = report
    assert re.findall(r'<section id="([a-z-]+)">', page) == \
        ["curves", "confusion-matrix", "samples", "model-graph"]
    assert "<title>Demo run</title>" in page and page.count("<svg") >= 2


def test_page_needs_no_network(report):
    page, *_ = report
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page)
    srcs = re.findall(r'<img[^>]* src="([^"]*)"', page)
    assert len(srcs) == 5 and all(s.startswith("data:image/png;base64,") for s in srcs)


def test_confusion_matrix_counts_the_model_predictions(report):
    page, model, x, y = report
    pred = model.predict(x).argmax(axis=1)
    want = confusion_matrix(y, pred, 3)
    assert want.sum() == len(y) and np.trace(want) == (pred == y).sum()
    table = page[page.index('<section id="confusion-matrix">'):page.index('id="samples"')]
    cells = [int(c) for c in re.findall(r"<td[^>]*>(\d+)</td>", table)]
    assert cells == want.ravel().tolist()
    assert f"Accuracy {np.mean(pred == y):.2%} on {len(y)} samples" in table


def test_confusion_matrix_helper():
    np.testing.assert_array_equal(confusion_matrix(np.array([0, 1, 1, 2]),
                                                   np.array([0, 2, 1, 2]), 3),
                                  [[1, 0, 0], [0, 1, 1], [0, 0, 1]])


def test_history_only_and_missing_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(dot, "dot_binary", lambda: None)
    model, history, _, _ = trained_classifier()
    page = open(training_dashboard(history.history, tmp_path / "r.html", model)).read()
    assert page.count("Pass model=, x= and y=") == 2
    assert "Graphviz is not installed" in page and "digraph &quot;db_model&quot;" in page


def test_bad_arguments(tmp_path):
    model, history, x, y = trained_classifier()
    with pytest.raises(ValueError, match="pass model, x and y together"):
        training_dashboard(history, tmp_path / "r.html", model, x)
    with pytest.raises(ValueError, match="x has 30 samples but y has 29"):
        training_dashboard(history, tmp_path / "r.html", model, x, y[:-1])
    with pytest.raises(ValueError, match="class_names has 2 names"):
        training_dashboard(history, tmp_path / "r.html", model, x, y, class_names=["a", "b"])


def test_report_from_a_run_directory(tmp_path):
    import json

    from gradkit.plot.dashboard import report_from_run

    model, history, x, y = trained_classifier()
    model.save(tmp_path / "model.gradkit")
    with open(tmp_path / "metrics.json", "w") as f:
        json.dump({"history": history.history}, f)
    page = open(report_from_run(str(tmp_path), x, y, num_samples=3)).read()
    assert (tmp_path / "report.html").exists() and "db_out (Dense)" in page
    assert len(re.findall(r"<img ", page)) == 3
    with pytest.raises(FileNotFoundError, match="written by gradkit train"):
        report_from_run(str(tmp_path / "nothing"))
