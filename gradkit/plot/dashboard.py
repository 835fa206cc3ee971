"""``training_dashboard``: one self-contained HTML page about a training run.

The page needs nothing but a browser, offline: the curves are inline SVG
(drawn by :func:`plot_history`), the confusion matrix an HTML table, the sample
images base64 PNGs and the model graph inline SVG from Graphviz (its DOT text
when Graphviz is missing). No script, stylesheet, font or image is fetched.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
from datetime import datetime

import numpy as np

from gradkit.utils import dot
from gradkit.utils.png import encode_png
from gradkit.utils.validation import check_int

_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{font-size:24px}
h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:28px}
table.cm{border-collapse:collapse;font-size:12px} table.cm td,table.cm th{border:1px solid #ddd;
padding:4px 7px;text-align:center} .note{color:#666;font-style:italic}
.samples{display:flex;flex-wrap:wrap;gap:10px} figure{margin:0;text-align:center;font-size:12px}
figure img{image-rendering:pixelated;width:84px;height:84px;border:1px solid #ccc}
.wrong{color:#b00020;font-weight:bold} .right{color:#0a7a2f} pre{background:#f6f6f6;padding:8px}
.svg svg{max-width:100%;height:auto} table.kv td{padding:2px 10px 2px 0}
"""


def _section(anchor, title, body):
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>\n{body}\n</section>\n'


def _note(text):
    return f'<p class="note">{html.escape(text)}</p>'


def _curves(history):
    from .history import _history_dict, plot_history

    if not _history_dict(history):
        return _note("The history has no per-epoch values.")
    fig = plot_history(history)
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]  # drop the XML prolog and DOCTYPE: inline in HTML
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)  # RDF credits, no data
    return f'<div class="svg">{svg}</div>'


def _labels(y, what):
    a = np.asarray(getattr(y, "_data", y))
    if a.ndim == 2 and a.shape[1] > 1:
        return a.argmax(axis=1)
    a = a.reshape(len(a), -1) if a.ndim else a
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"training_dashboard: {what} must be class labels (N,), one-hot or "
                         f"probabilities (N, classes), received shape {np.shape(y)}")
    if a.dtype.kind == "f" and what == "predictions":
        return (a > 0.5).astype(np.int64)  # one sigmoid unit: probability of class 1
    return a.astype(np.int64)


def confusion_matrix(y_true, y_pred, num_classes):
    """``counts[t, p]``: how many samples of class ``t`` were predicted as ``p``."""
    counts = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def _confusion_html(counts, names):
    peak = max(int(counts.max()), 1)
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for t, row in enumerate(counts):
        cells = []
        for p, c in enumerate(row):
            shade = 255 - int(200 * c / peak)
            color = f"rgb({shade},{shade},255)" if t == p else f"rgb(255,{shade},{shade})"
            cells.append(f'<td style="background:{color}">{int(c)}</td>')
        rows.append(f"<tr><th>{html.escape(names[t])}</th>{''.join(cells)}</tr>")
    acc = np.trace(counts) / max(counts.sum(), 1)
    return (f"<p>Accuracy {acc:.2%} on {int(counts.sum())} samples. Rows: true class; "
            "columns: predicted class.</p>"
            f'<table class="cm"><tr><th>true \\ predicted</th>{head}</tr>{"".join(rows)}</table>')


def _as_image(sample, image_shape):
    a = np.asarray(sample, dtype=np.float64)
    if image_shape is not None:
        a = a.reshape(image_shape)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
        return None
    lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
    a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return encode_png((a * 255 + 0.5).astype(np.uint8))


def _samples_html(x, y_true, y_pred, names, image_shape, count):
    figures, rows = [], []
    for i in range(min(count, len(x))):
        t, p = names[y_true[i]], names[y_pred[i]]
        verdict = "right" if y_true[i] == y_pred[i] else "wrong"
        png = _as_image(x[i], image_shape)
        caption = (f'<span class="{verdict}">predicted {html.escape(p)}</span>'
                   f"<br>true {html.escape(t)}")
        if png is not None:
            src = "data:image/png;base64," + base64.b64encode(png).decode()
            figures.append(f'<figure><img alt="sample {i}" src="{src}">'
                           f"<figcaption>{caption}</figcaption></figure>")
        else:
            values = ", ".join(f"{v:.3g}" for v in np.ravel(x[i])[:8])
            rows.append(f"<tr><td>{i}</td><td>[{values}]</td><td>{caption}</td></tr>")
    if figures:
        return f'<div class="samples">{"".join(figures)}</div>'
    return ("<table class=\"cm\"><tr><th>#</th><th>input (first values)</th><th>prediction"
            f"</th></tr>{''.join(rows)}</table>")


def _model_graph_html(model):
    from gradkit.utils.plot_model import model_to_dot

    try:
        source = model_to_dot(model, show_shapes=True)
    except ValueError as e:  # a subclassed model has no graph
        return _note(str(e))
    if dot.dot_binary() is None:
        return (_note("Graphviz is not installed (apt-get install graphviz); the model graph "
                      "as DOT text, render it with: dot -Tsvg model.dot -o model.svg")
                + f"<pre>{html.escape(source)}</pre>")
    svg = dot.run_dot(source, "svg", "training_dashboard").decode()
    return f'<div class="svg">{svg[svg.index("<svg"):]}</div>'


def training_dashboard(history, to_file="report.html", model=None, x=None, y=None,
                       class_names=None, image_shape=None, num_samples=16,
                       title="Training report"):
    """Write one offline HTML page: curves, confusion matrix, sample predictions, model graph.

    Args:
        history: the ``History`` from ``fit`` or a dict ``{"loss": [...], "val_loss": [...]}``.
        to_file: the ``.html`` file to write.
        model: the trained model; with ``x`` and ``y`` its predictions fill the confusion
            matrix and the samples, and (Sequential/functional) its graph is drawn.
        x, y: held-out inputs and their labels (class indices or one-hot) for a classifier.
        class_names: optional names of the classes (default ``0, 1, ...``).
        image_shape: shape to draw each sample as an image (e.g. ``(28, 28)`` for flat
            MNIST rows); samples that are already ``(H, W)``/``(H, W, C)`` need none.
        num_samples: how many sample predictions to show.
        title: the page's heading.

    Returns:
        The path written. Sections missing their inputs say what to pass.

    Example::

        history = model.fit(x_train, y_train, epochs=5, validation_split=0.1)
        training_dashboard(history, "runs/mnist/report.html", model, x_test, y_test,
                           image_shape=(28, 28))
    """
    num_samples = check_int("training_dashboard", "num_samples", num_samples, minimum=0)
    path = os.fspath(to_file)
    if (x is None) != (y is None) or (x is not None and model is None):
        raise ValueError("training_dashboard: pass model, x and y together (predictions need "
                         "all three), or none of x and y")
    body = [_section("curves", "Training curves", _curves(history))]
    if x is not None:
        y_pred = _labels(model.predict(x), "predictions")
        y_true = _labels(y, "y")
        if len(y_true) != len(y_pred):
            raise ValueError(f"training_dashboard: x has {len(y_pred)} samples but y has "
                             f"{len(y_true)}")
        n = int(max(y_true.max(), y_pred.max())) + 1
        names = [str(c) for c in class_names] if class_names is not None else \
            [str(i) for i in range(n)]
        if len(names) < n:
            raise ValueError(f"training_dashboard: class_names has {len(names)} names but the "
                             f"labels go up to {n - 1}")
        cm = _confusion_html(confusion_matrix(y_true, y_pred, len(names)), names)
        xs = np.asarray(getattr(x, "_data", x))
        samples = _samples_html(xs, y_true, y_pred, names, image_shape, num_samples)
    else:
        cm = samples = _note("Pass model=, x= and y= (held-out data) to see predictions.")
    body.append(_section("confusion-matrix", "Confusion matrix", cm))
    body.append(_section("samples", "Sample predictions", samples))
    graph = _model_graph_html(model) if model is not None else _note("Pass model= to draw it.")
    body.append(_section("model-graph", "Model graph", graph))
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
            f"<h1>{html.escape(title)}</h1><p class=\"note\">written by gradkit on {stamp}</p>\n"
            + "".join(body) + "</body></html>\n")
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path


def report_from_run(run_dir, x=None, y=None, class_names=None, image_shape=None,
                    to_file=None, num_samples=16):
    """The dashboard of a ``gradkit train`` run directory (for the CLI's ``report``).

    Args:
        run_dir: holds ``metrics.json`` (its ``"history"``) and ``model.gradkit``.
        x, y: held-out data for the confusion matrix and samples (optional).
        class_names, image_shape, num_samples: as for :func:`training_dashboard`.
        to_file: default ``<run_dir>/report.html``.

    Returns:
        The path written.
    """
    import json

    from gradkit.models import load_model

    metrics_path = os.path.join(run_dir, "metrics.json")
    try:
        with open(metrics_path, encoding="utf-8") as f:
            history = json.load(f)["history"]
    except FileNotFoundError:
        raise FileNotFoundError(f"report: {metrics_path} not found; is {run_dir!r} a directory "
                                "written by gradkit train?") from None
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"report: {metrics_path} has no readable 'history' ({e})") from None
    model_path = os.path.join(run_dir, "model.gradkit")
    model = load_model(model_path) if os.path.exists(model_path) else None
    return training_dashboard(history, to_file or os.path.join(run_dir, "report.html"), model,
                              x, y, class_names=class_names, image_shape=image_shape,
                              num_samples=num_samples, title=f"Training report: {run_dir}")


__all__ = ["confusion_matrix", "report_from_run", "training_dashboard"]
