"""Shared plumbing for gradkit.plot: lazy matplotlib import, style, figures, saving.

Nothing here imports matplotlib at module import time, so ``import gradkit``
works without it. Figures are built with ``matplotlib.figure.Figure`` and an Agg
canvas, never through pyplot's global state: nothing leaks between calls and no
display is needed.
"""

from __future__ import annotations

import functools
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

INSTALL_HINT = "gradkit.plot needs matplotlib: pip install 'gradkit[plot]'"

# Okabe-Ito palette: distinguishable under the common forms of colour blindness.
PALETTE = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY = PALETTE[:6]
GOOD = GREEN  # title colour of a correct prediction
BAD = "#C62828"  # deep red: title colour of a wrong prediction (darker than GOOD)
NEUTRAL = "#B8BEC6"  # light grey for de-emphasised bars
DIVERGING_CMAP = "RdBu_r"  # ColorBrewer diverging map, colour-blind safe
DEFAULT_DPI = 110


def require_matplotlib() -> Any:
    """Import and return the ``matplotlib`` module, or raise a helpful ImportError.

    Returns:
        The ``matplotlib`` module.

    Raises:
        ImportError: with an install hint when matplotlib is not installed.

    Example:
        >>> mpl = require_matplotlib()  # doctest: +SKIP
    """
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(INSTALL_HINT) from exc
    return matplotlib


def style_rc() -> dict[str, Any]:
    """The rcParams applied while gradkit builds a figure."""
    mpl = require_matplotlib()
    return {
        "figure.facecolor": "white",
        "savefig.facecolor": "white",
        "font.size": 10,
        "axes.titlesize": 12,
        "axes.titleweight": "bold",
        "axes.labelsize": 10,
        "axes.edgecolor": "#4A4A4A",
        "axes.labelcolor": "#222222",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "axes.axisbelow": True,
        "axes.prop_cycle": mpl.cycler(color=list(PALETTE)),
        "grid.color": "#D9D9D9",
        "grid.linewidth": 0.8,
        "grid.alpha": 0.8,
        "xtick.labelsize": 9,
        "ytick.labelsize": 9,
        "xtick.color": "#4A4A4A",
        "ytick.color": "#4A4A4A",
        "legend.fontsize": 9,
        "legend.frameon": False,
        "lines.linewidth": 2.0,
        "lines.markersize": 5,
        "figure.titlesize": 13,
        "figure.titleweight": "bold",
    }


def styled(fn):
    """Decorator: run a plotting function under gradkit's style (rc_context).

    The style is restored afterwards, so global matplotlib settings never change.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        mpl = require_matplotlib()
        with mpl.rc_context(style_rc()):
            return fn(*args, **kwargs)

    return wrapper


def new_figure(figsize: tuple[float, float]) -> Any:
    """Create a headless ``Figure`` with an Agg canvas and constrained layout.

    Args:
        figsize: (width, height) in inches.

    Returns:
        A ``matplotlib.figure.Figure`` not registered with pyplot.
    """
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def clean_axes(ax: Any, grid: bool = True) -> None:
    """Apply the spine/grid style explicitly (survives drawing outside rc_context)."""
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.set_axisbelow(True)
    ax.grid(grid)


def save_figure(fig: Any, save: str | os.PathLike | None, dpi: int = DEFAULT_DPI) -> None:
    """Save ``fig`` atomically when ``save`` is a path; do nothing for ``None``.

    The image goes to a temporary file in the destination directory first and is
    then moved into place with ``os.replace``, so readers never see a partial
    file. Parent directories are created. The format follows the file suffix when
    matplotlib supports it, PNG otherwise.

    Args:
        fig: the figure to save.
        save: destination path, or ``None``.
        dpi: resolution in dots per inch.
    """
    if save is None:
        return
    path = Path(os.fspath(save)).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in fig.canvas.get_supported_filetypes():
        fmt = "png"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fig.savefig(tmp, format=fmt, dpi=dpi, facecolor="white")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def to_numpy(value: Any, dtype: Any = np.float64) -> np.ndarray:
    """Convert arrays, lists, gradkit/other tensors (``.numpy()``) to an ndarray."""
    if not isinstance(value, np.ndarray):
        numpy_method = getattr(value, "numpy", None)
        if callable(numpy_method):
            value = numpy_method()
        elif hasattr(value, "data") and isinstance(value.data, np.ndarray):
            value = value.data
    return np.asarray(value, dtype=dtype)
