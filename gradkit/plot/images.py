"""Image grids with predictions, and per-prediction probability bars."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._mpl import BAD, BLUE, GOOD, NEUTRAL, ORANGE, clean_axes, new_figure, save_figure, styled
from ._mpl import to_numpy as _to_numpy


def _name(index: int, class_names: Sequence[str] | None) -> str:
    if class_names is not None and 0 <= index < len(class_names):
        return str(class_names[index])
    return str(index)


def _as_images(images: Any) -> tuple[np.ndarray, bool]:
    """Return (n, h, w) or (n, h, w, 3|4) float images in [0, 1] and whether grayscale."""
    arr = _to_numpy(images, dtype=None)
    shape = arr.shape
    if arr.ndim == 2:  # (n, h*w) flattened square images
        side = math.isqrt(shape[1])
        if side * side != shape[1]:
            raise ValueError(
                "plot_images: images must have shape (n, h, w), (n, h, w, 1|3|4) or "
                f"(n, h*w) with a square h*w, got {shape}"
            )
        arr = arr.reshape(shape[0], side, side)
    elif arr.ndim == 4 and shape[-1] not in (1, 3, 4) and shape[1] in (1, 3, 4):
        arr = np.moveaxis(arr, 1, -1)  # channels-first -> channels-last
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 3 or (arr.ndim == 4 and arr.shape[-1] in (3, 4))) or arr.shape[0] == 0:
        raise ValueError(
            "plot_images: images must have shape (n, h, w), (n, h, w, 1|3|4) or "
            f"(n, h*w) with n >= 1, got {shape}"
        )
    arr = arr.astype(np.float64)
    finite = arr[np.isfinite(arr)]
    hi = finite.max() if finite.size else 1.0
    lo = finite.min() if finite.size else 0.0
    if hi > 1.0:  # 0..255 pixels, or arbitrary range: rescale
        arr = arr / 255.0 if hi <= 255 and lo >= 0 else (arr - lo) / max(hi - lo, 1e-12)
    elif lo < 0.0:  # e.g. standardised or [-1, 1] inputs
        arr = (arr - lo) / max(hi - lo, 1e-12)
    return np.clip(np.nan_to_num(arr), 0.0, 1.0), arr.ndim == 3


def _vector(name: str, value: Any, n: int) -> np.ndarray:
    arr = _to_numpy(value)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.shape[0] != n:
        raise ValueError(
            f"plot_images: {name} must have length {n} (one per image), got {arr.shape}"
        )
    return arr


@styled
def plot_images(
    images: Any,
    labels: Any = None,
    predictions: Any = None,
    probabilities: Any = None,
    class_names: Sequence[str] | None = None,
    ncols: int = 8,
    save: str | os.PathLike | None = None,
    max_images: int | None = 64,
) -> Any:
    """Show images in a grid, titled with the predicted label and its probability.

    Args:
        images: ``(n, h, w)``, ``(n, h, w, 1)`` grayscale or ``(n, h, w, 3)`` RGB;
            ``(n, h*w)`` square images and channels-first ``(n, c, h, w)`` also work.
            Values in [0, 1] or 0..255 (anything else is rescaled per batch).
        labels: ``(n,)`` true class indices, or one-hot ``(n, k)``.
        predictions: ``(n,)`` predicted class indices; ``(n, k)`` is read as
            probabilities.
        probabilities: ``(n, k)`` class probabilities (predictions default to the
            argmax), or ``(n,)`` probability of each predicted class.
        class_names: names for the class indices.
        ncols: number of grid columns.
        save: optional path; the figure is written there as a PNG (dpi 110).
        max_images: only the first ``max_images`` images are drawn (``None``: all).

    Returns:
        The ``matplotlib.figure.Figure``. Titles are green for correct predictions
        and red (with the true label on a second line) for wrong ones.

    Example:
        >>> imgs = np.random.default_rng(0).random((4, 28, 28))
        >>> fig = plot_images(imgs, labels=[1, 2, 3, 4], predictions=[1, 2, 0, 4])
        >>> [ax.title.get_text() for ax in fig.axes][2]
        '0\\ntrue: 3'
    """
    imgs, gray = _as_images(images)
    n_all = imgs.shape[0]
    if max_images is not None:
        imgs = imgs[: max(int(max_images), 1)]
    n = imgs.shape[0]

    def first_n(name: str, value: Any) -> np.ndarray | None:
        if value is None:
            return None
        arr = _to_numpy(value)
        if arr.shape[0] != n_all:
            raise ValueError(
                f"plot_images: {name} must have one entry per image ({n_all}), "
                f"got shape {arr.shape}"
            )
        return arr[:n]

    lab = first_n("labels", labels)
    if lab is not None and lab.ndim == 2 and lab.shape[1] > 1:
        lab = lab.argmax(axis=1)
    if lab is not None:
        lab = _vector("labels", lab, n).astype(np.int64)
    pred = first_n("predictions", predictions)
    prob = first_n("probabilities", probabilities)
    if pred is not None and pred.ndim == 2 and pred.shape[1] > 1:
        prob, pred = (pred if prob is None else prob), pred.argmax(axis=1)
    if prob is not None and prob.ndim == 2 and prob.shape[1] > 1:
        if pred is None:
            pred = prob.argmax(axis=1)
        pred = _vector("predictions", pred, n).astype(np.int64)
        prob = prob[np.arange(n), np.clip(pred, 0, prob.shape[1] - 1)]
    if pred is not None:
        pred = _vector("predictions", pred, n).astype(np.int64)
    if prob is not None:
        prob = _vector("probabilities", prob, n)

    ncols = max(1, min(int(ncols), n))
    nrows = math.ceil(n / ncols)
    h, w = imgs.shape[1:3]
    cell = 1.35 * max(1.0, min(w / h, 2.0)), 1.35
    has_two_lines = lab is not None and pred is not None and np.any(lab != pred)
    title_h = 0.22 if pred is None and lab is None else (0.42 if has_two_lines else 0.28)
    fig = new_figure((cell[0] * ncols + 0.2, (cell[1] + title_h) * nrows + 0.15))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.remove()
    for i, ax in enumerate(axes[:n]):
        ax.imshow(
            imgs[i],
            cmap="binary" if gray else None,
            vmin=0.0,
            vmax=1.0,
            interpolation="nearest",
        )
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():  # thin frame: white digits edges stay visible
            spine.set_visible(True)
            spine.set_color("#C8C8C8")
            spine.set_linewidth(0.8)
        ax.grid(False)
        if pred is not None:
            text = _name(int(pred[i]), class_names)
            if prob is not None:
                text += f" ({prob[i]:.0%})"
            color = "#222222"
            if lab is not None:
                correct = pred[i] == lab[i]
                color = GOOD if correct else BAD
                if not correct:
                    text += f"\ntrue: {_name(int(lab[i]), class_names)}"
            ax.set_title(text, color=color, fontsize=9, fontweight="bold", pad=3)
        elif lab is not None:
            ax.set_title(_name(int(lab[i]), class_names), fontsize=9, pad=3)
    save_figure(fig, save)
    return fig


@styled
def plot_probabilities(
    probs: Any,
    class_names: Sequence[str] | None = None,
    true_label: int | None = None,
    save: str | os.PathLike | None = None,
) -> Any:
    """Bar chart of one prediction's class probabilities.

    Args:
        probs: ``(k,)`` or ``(1, k)`` probabilities (e.g. a softmax output).
        class_names: names for the ``k`` classes.
        true_label: index of the true class, if known.
        save: optional path; the figure is written there as a PNG (dpi 110).

    Returns:
        The ``matplotlib.figure.Figure``: the predicted bar in blue (green when it
        is the true class), the true class in orange when the prediction is wrong,
        the rest in grey.

    Example:
        >>> fig = plot_probabilities([0.1, 0.7, 0.2], class_names=["cat", "dog", "owl"])
        >>> len(fig.axes[0].patches)
        3
    """
    p = _to_numpy(probs)
    if p.ndim == 2 and p.shape[0] == 1:
        p = p[0]
    if p.ndim != 1 or p.shape[0] == 0:
        raise ValueError(
            "plot_probabilities: probs must have shape (k,) or (1, k), "
            f"got {_to_numpy(probs).shape}"
        )
    k = p.shape[0]
    if class_names is not None and len(class_names) != k:
        raise ValueError(
            f"plot_probabilities: class_names has {len(class_names)} names for {k} classes"
        )
    if true_label is not None and not 0 <= int(true_label) < k:
        raise ValueError(f"plot_probabilities: true_label must be in [0, {k}), got {true_label}")
    pred = int(np.nanargmax(p))
    names = [_name(i, class_names) for i in range(k)]
    colors = [NEUTRAL] * k
    if true_label is not None and int(true_label) != pred:
        colors[int(true_label)] = ORANGE
    correct = true_label is not None and int(true_label) == pred
    colors[pred] = GOOD if correct else BLUE

    is_prob = bool(np.all((p >= 0) & (p <= 1)))
    fig = new_figure((max(4.8, 0.5 * k + 1.6), 3.6))
    ax = fig.add_subplot()
    clean_axes(ax)
    ax.grid(False, axis="x")
    bars = ax.bar(np.arange(k), p, color=colors, width=0.72, edgecolor="none")
    if k > 12 or max(map(len, names)) > 6:
        ax.set_xticks(np.arange(k), names, rotation=40, ha="right", rotation_mode="anchor")
    else:
        ax.set_xticks(np.arange(k), names)
    if is_prob:
        ax.set_ylim(0, 1.12)
        ax.set_ylabel("Probability")
    else:
        ax.set_ylabel("Score")
    for i, bar in enumerate(bars):
        if i == pred or (true_label is not None and i == int(true_label)) or p[i] >= 0.05:
            label = f"{p[i]:.0%}" if is_prob else f"{p[i]:.2f}"
            ax.annotate(
                label,
                (bar.get_x() + bar.get_width() / 2, max(bar.get_height(), 0)),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8,
                color="#333333",
            )
    title = f"Predicted: {names[pred]}" + (f" ({p[pred]:.1%})" if is_prob else "")
    if true_label is not None:
        title += f"  ·  true: {names[int(true_label)]}"
    ax.set_title(title, color=GOOD if correct else (BAD if true_label is not None else "#222222"))

    from matplotlib.patches import Patch

    handles = [Patch(color=colors[pred], label="predicted = true" if correct else "predicted")]
    if true_label is not None and not correct:
        handles.append(Patch(color=ORANGE, label="true"))
    ax.legend(handles=handles, loc="upper right")
    save_figure(fig, save)
    return fig
