"""Training-history curves (loss and metrics per epoch)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._mpl import BLUE, VERMILLION, clean_axes, new_figure, save_figure, styled, to_numpy

_LOWER_IS_BETTER = ("loss", "error", "mse", "mae", "rmse", "mape", "msle", "entropy", "perplexity")


def _lower_is_better(metric: str) -> bool:
    name = metric.lower()
    return any(token in name for token in _LOWER_IS_BETTER)


def _history_dict(history: Any) -> dict[str, np.ndarray]:
    """Accept a dict of lists or an object with a ``.history`` dict (Keras History)."""
    raw = history.history if hasattr(history, "history") else history
    if not isinstance(raw, Mapping):
        raise TypeError(
            "plot_history: history must be a dict of per-epoch lists or an object with a "
            f".history dict, got {type(history).__name__}"
        )
    out = {}
    for key, values in raw.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
            continue  # skip scalars / params stored next to the curves
        arr = to_numpy(list(values) if not isinstance(values, np.ndarray) else values)
        if arr.ndim != 1:
            raise ValueError(
                f"plot_history: history[{key!r}] must be 1-D (one value per epoch), "
                f"got shape {arr.shape}"
            )
        if arr.size:
            out[str(key)] = arr
    return out


def _pretty(metric: str) -> str:
    return metric.replace("_", " ").capitalize()


@styled
def plot_history(
    history: Any,
    metrics: Sequence[str] | str | None = None,
    save: str | os.PathLike | None = None,
) -> Any:
    """Plot training (solid) and validation (dashed) curves, one subplot per metric.

    Args:
        history: ``{"loss": [...], "val_loss": [...], "accuracy": [...], ...}`` or an
            object with such a ``.history`` dict (e.g. the History returned by ``fit``).
        metrics: metric names to plot (without the ``val_`` prefix); defaults to every
            training metric in the history, loss first.
        save: optional path; the figure is written there as a PNG (dpi 110).

    Returns:
        The ``matplotlib.figure.Figure``. The best validation epoch (lowest for
        loss-like metrics, highest otherwise) is marked on each subplot.

    Example:
        >>> fig = plot_history({"loss": [0.9, 0.5, 0.4], "val_loss": [1.0, 0.6, 0.65]})
        >>> len(fig.axes)
        1
    """
    data = _history_dict(history)
    if not data:
        raise ValueError("plot_history: history is empty (no per-epoch values)")
    if metrics is None:
        names = [k for k in data if not k.startswith("val_")]
        # Metrics only present as val_* still get a subplot.
        names += [k[4:] for k in data if k.startswith("val_") and k[4:] not in data]
        names.sort(key=lambda k: (k != "loss",))  # stable: loss first, others in order
    else:
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        names = [m[4:] if m.startswith("val_") and m[4:] in data else m for m in names]
        missing = [m for m in names if m not in data and f"val_{m}" not in data]
        if missing:
            raise KeyError(
                f"plot_history: metric(s) {missing} not in history; available: {sorted(data)}"
            )
    if not names:
        raise ValueError("plot_history: no metrics to plot")

    n = len(names)
    ncols = n if n <= 3 else (2 if n == 4 else 3)
    nrows = math.ceil(n / ncols)
    fig = new_figure((4.6 * ncols + 0.4, 3.5 * nrows + 0.5))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.remove()

    for ax, name in zip(axes, names):
        clean_axes(ax)
        train = data.get(name)
        val = data.get(f"val_{name}")
        n_epochs = max(len(train) if train is not None else 0, len(val) if val is not None else 0)
        marker_size = 5 if n_epochs <= 40 else 0
        for series, style, color, label in ((train, "-o", BLUE, "train"),
                                            (val, "--s", VERMILLION, "validation")):
            if series is not None:
                ax.plot(np.arange(1, len(series) + 1), series, style, color=color,
                        markersize=marker_size, label=label)
        if val is not None:
            finite = np.isfinite(val)
            if finite.any():
                masked = np.where(finite, val, np.inf if _lower_is_better(name) else -np.inf)
                best = int(np.argmin(masked) if _lower_is_better(name) else np.argmax(masked))
                ax.axvline(
                    best + 1,
                    color="#777777",
                    linestyle=":",
                    linewidth=1.2,
                    label=f"best: {val[best]:.4g} (epoch {best + 1})",
                )
                ax.scatter(
                    [best + 1],
                    [val[best]],
                    s=260,
                    marker="*",
                    color=VERMILLION,
                    edgecolors="#1A1A1A",
                    linewidths=0.8,
                    zorder=5,
                )
        ax.set_title(_pretty(name))
        ax.set_xlabel("Epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlim(0.5, n_epochs + 0.5)
        ax.legend(loc="best")
    fig.suptitle("Training history")
    save_figure(fig, save)
    return fig
