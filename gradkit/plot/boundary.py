"""Decision boundaries of 2-D classifiers."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ._mpl import DIVERGING_CMAP, PALETTE, clean_axes, new_figure, save_figure, styled, to_numpy

_FN = "plot_decision_boundary"


def _labels_1d(y: Any, n: int) -> np.ndarray:
    arr = to_numpy(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim == 2:
        arr = arr.argmax(axis=1)  # one-hot
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"{_FN}: y must have shape (n,), (n, 1) or one-hot (n, k) with n={n}, "
            f"got {to_numpy(y).shape}"
        )
    if not np.all(arr == np.round(arr)):
        raise ValueError(f"{_FN}: y must hold integer class labels")
    return arr.astype(np.int64)


def _predict(predict_fn: Callable, points: np.ndarray, fn: str = _FN) -> np.ndarray:
    out = to_numpy(predict_fn(points))
    m = points.shape[0]
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.shape[0] != m or out.ndim not in (1, 2):
        raise ValueError(
            f"{fn}: predict_fn must map an ({m}, 2) array to ({m},), ({m}, 1) or "
            f"({m}, k) probabilities, got shape {out.shape}"
        )
    return out


def _scores(out: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (predicted class, probability of class 1 for binary problems or None)."""
    if out.ndim == 1:
        return (out >= 0.5).astype(np.int64), out
    if out.shape[1] == 2:
        return out.argmax(axis=1), out[:, 1]
    return out.argmax(axis=1), None


@styled
def plot_decision_boundary(
    predict_fn: Callable[[np.ndarray], Any],
    x: Any,
    y: Any,
    resolution: int = 200,
    save: str | os.PathLike | None = None,
    title: str | None = None,
) -> Any:
    """Plot a classifier's decision regions over 2-D data, with the data on top.

    Args:
        predict_fn: maps an ``(m, 2)`` float32 array to probabilities: ``(m,)`` or
            ``(m, 1)`` (probability of class 1) for binary problems, ``(m, k)`` for
            ``k`` classes.
        x: ``(n, 2)`` inputs.
        y: ``(n,)`` integer labels (``(n, 1)`` or one-hot ``(n, k)`` also accepted).
        resolution: grid points per axis.
        save: optional path; the figure is written there as a PNG (dpi 110).
        title: axes title; defaults to ``"Decision boundary"``.

    Returns:
        The ``matplotlib.figure.Figure``. Binary problems show P(class 1) with a
        diverging colormap, a colorbar and the 0.5 contour; multi-class problems
        show the predicted class regions. The accuracy on ``(x, y)`` is printed in
        a corner.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(100, 2))
        >>> y = (x[:, 0] + x[:, 1] > 0).astype(int)
        >>> fig = plot_decision_boundary(lambda p: 1 / (1 + np.exp(-4 * p.sum(1))), x, y)
    """
    xa = to_numpy(x)
    if xa.ndim != 2 or xa.shape[1] != 2 or xa.shape[0] == 0:
        raise ValueError(f"{_FN}: x must have shape (n, 2) with n >= 1, got {xa.shape}")
    if not callable(predict_fn):
        raise TypeError(f"{_FN}: predict_fn must be callable, got {type(predict_fn).__name__}")
    labels = _labels_1d(y, xa.shape[0])
    resolution = int(resolution)
    if resolution < 2:
        raise ValueError(f"{_FN}: resolution must be >= 2, got {resolution}")

    lo, hi = xa.min(axis=0), xa.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    lo, hi = lo - 0.1 * span, hi + 0.1 * span
    gx, gy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    grid = np.column_stack([gx.ravel(), gy.ravel()]).astype(np.float32)
    grid_out = _predict(predict_fn, grid)
    grid_class, grid_p1 = _scores(grid_out)
    data_class, _ = _scores(_predict(predict_fn, xa.astype(np.float32)))
    accuracy = float(np.mean(data_class == labels))

    classes = np.unique(np.concatenate([labels, np.unique(grid_class)]))
    n_classes = int(max(classes.max() + 1, 2 if grid_p1 is not None else grid_out.shape[1]))

    fig = new_figure((6.4, 5.2) if grid_p1 is not None else (6.2, 5.2))
    ax = fig.add_subplot()
    clean_axes(ax, grid=False)
    from matplotlib import colormaps

    if grid_p1 is not None:
        cmap = colormaps[DIVERGING_CMAP]
        # A lightened copy of the colormap (mixed with white) keeps the points
        # readable without the seams that alpha blending leaves between levels.
        from matplotlib.colors import ListedColormap

        light = ListedColormap(0.6 * cmap(np.linspace(0.12, 0.88, 256))[:, :3] + 0.4)
        filled = ax.contourf(
            gx,
            gy,
            np.clip(grid_p1, 0, 1).reshape(gx.shape),
            levels=np.linspace(0.0, 1.0, 41),
            cmap=light,
        )
        ax.contour(
            gx, gy, grid_p1.reshape(gx.shape), levels=[0.5], colors="#1A1A1A", linewidths=1.8
        )
        cbar = fig.colorbar(filled, ax=ax, ticks=[0, 0.25, 0.5, 0.75, 1.0], shrink=0.9)
        cbar.set_label("P(class 1)")
        cbar.outline.set_visible(False)
        point_colors = {0: cmap(0.04), 1: cmap(0.96)}
    else:
        colors = _class_colors(n_classes)
        probs = grid_out
        for c in range(probs.shape[1]):
            # margin > 0 exactly where class c wins; contouring the continuous margin
            # gives smooth region edges (contouring class indices would not).
            margin = probs[:, c] - np.delete(probs, c, axis=1).max(axis=1)
            margin = margin.reshape(gx.shape)
            if not (margin > 0).any():
                continue
            top = max(float(margin.max()), 1e-9) * 1.01
            ax.contourf(gx, gy, margin, levels=[0.0, top], colors=[colors[c]], alpha=0.3)
            ax.contour(gx, gy, margin, levels=[0.0], colors="#333333", linewidths=1.0)
        point_colors = dict(enumerate(colors))

    for c in np.unique(labels):
        mask = labels == c
        ax.scatter(
            xa[mask, 0],
            xa[mask, 1],
            s=26 if xa.shape[0] <= 2000 else 8,
            color=point_colors.get(int(c), "#777777"),
            edgecolors="white",
            linewidths=0.7,
            label=f"class {int(c)}",
            zorder=3,
        )
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title if title is not None else "Decision boundary")
    ax.legend(loc="upper left", frameon=True, framealpha=0.85, edgecolor="none")
    ax.text(
        0.98,
        0.02,
        f"accuracy {accuracy:.1%}",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=9,
        bbox={
            "boxstyle": "round,pad=0.3",
            "facecolor": "white",
            "alpha": 0.85,
            "edgecolor": "none",
        },
    )
    save_figure(fig, save)
    return fig


def _class_colors(k: int) -> list[str]:
    if k <= len(PALETTE) - 1:  # leave out black: it hides the boundary lines
        return list(PALETTE[:k])
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    tab = colormaps["tab20"]
    return [to_hex(tab(i % 20)) for i in range(k)]
