"""Activation functions and their derivatives, plotted together.

The formulas are implemented here in NumPy (self-contained, independent of the
autodiff engine) so the plots double as a reference for the derivatives.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ._mpl import BLUE, VERMILLION, clean_axes, new_figure, save_figure, styled

ArrayFn = Callable[[np.ndarray], np.ndarray]

LEAKY_RELU_SLOPE = 0.01
ELU_ALPHA = 1.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free form


def _d_sigmoid(x: np.ndarray) -> np.ndarray:
    s = _sigmoid(x)
    return s * (1.0 - s)


def _d_tanh(x: np.ndarray) -> np.ndarray:
    return 1.0 - np.tanh(x) ** 2


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _d_relu(x: np.ndarray) -> np.ndarray:
    return (x > 0).astype(np.float64)


def _leaky_relu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, LEAKY_RELU_SLOPE * x)


def _d_leaky_relu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, 1.0, LEAKY_RELU_SLOPE)


def _elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, ELU_ALPHA * np.expm1(np.minimum(x, 0.0)))


def _d_elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, 1.0, ELU_ALPHA * np.exp(np.minimum(x, 0.0)))


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))


def _gelu(x: np.ndarray) -> np.ndarray:
    return x * _normal_cdf(x)  # exact (erf) form


def _d_gelu(x: np.ndarray) -> np.ndarray:
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return _normal_cdf(x) + x * pdf


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _swish(x: np.ndarray) -> np.ndarray:
    return x * _sigmoid(x)


def _d_swish(x: np.ndarray) -> np.ndarray:
    s = _sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


# name -> (display name, f, f')
ACTIVATIONS: dict[str, tuple[str, ArrayFn, ArrayFn]] = {
    "sigmoid": ("Sigmoid", _sigmoid, _d_sigmoid),
    "tanh": ("Tanh", np.tanh, _d_tanh),
    "relu": ("ReLU", _relu, _d_relu),
    "leaky_relu": (f"Leaky ReLU (slope {LEAKY_RELU_SLOPE:g})", _leaky_relu, _d_leaky_relu),
    "elu": (f"ELU (α = {ELU_ALPHA:g})", _elu, _d_elu),
    "gelu": ("GELU", _gelu, _d_gelu),
    "softplus": ("Softplus", _softplus, _sigmoid),
    "swish": ("Swish / SiLU", _swish, _d_swish),
    "silu": ("Swish / SiLU", _swish, _d_swish),
}


def get_activation(name: str) -> tuple[ArrayFn, ArrayFn]:
    """Return NumPy ``(f, f')`` for a named activation.

    Args:
        name: one of ``sigmoid, tanh, relu, leaky_relu, elu, gelu, softplus,
            swish, silu`` (case-insensitive, ``-`` or ``_``).

    Returns:
        Two vectorised functions mapping a float array to a float array.

    Example:
        >>> f, df = get_activation("sigmoid")
        >>> float(f(np.array(0.0))), float(df(np.array(0.0)))
        (0.5, 0.25)
    """
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key == "leakyrelu":
        key = "leaky_relu"
    if key not in ACTIVATIONS:
        raise ValueError(
            f"plot_activation: unknown activation {name!r}; choose one of "
            f"{sorted(ACTIVATIONS)} or pass a callable"
        )
    _, f, df = ACTIVATIONS[key]
    return f, df


def _as_array_fn(fn: Callable) -> ArrayFn:
    """Make ``fn`` work on float arrays, falling back to element-wise calls."""

    def array_fn(x: np.ndarray) -> np.ndarray:
        try:
            out = np.asarray(fn(x), dtype=np.float64)
            if out.shape == x.shape:
                return out
        except Exception:  # any failure: try element by element
            pass
        return np.array([float(fn(float(v))) for v in x.ravel()]).reshape(x.shape)

    return array_fn


def numerical_derivative(fn: ArrayFn, x: np.ndarray) -> np.ndarray:
    """Central-difference derivative of an element-wise function.

    Args:
        fn: element-wise function on float arrays.
        x: points at which to differentiate.

    Returns:
        ``(fn(x + h) - fn(x - h)) / (2 h)`` with ``h = 1e-3 * max(1, |x|)``,
        a step that stays accurate when ``fn`` computes in float32.

    Example:
        >>> numerical_derivative(np.square, np.array([3.0]))
        array([6.])
    """
    x = np.asarray(x, dtype=np.float64)
    h = 1e-3 * np.maximum(1.0, np.abs(x))
    return (fn(x + h) - fn(x - h)) / (2.0 * h)


def _break_jumps(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Insert NaNs where y jumps, so step discontinuities are not drawn as lines."""
    dy = np.abs(np.diff(y))
    finite = np.isfinite(y)
    if dy.size == 0 or not finite.any():
        return x, y
    span = float(np.nanmax(y) - np.nanmin(y))
    threshold = max(0.1 * span, 20.0 * float(np.nanmedian(dy)), 1e-12)
    jumps = np.flatnonzero(dy > threshold) + 1
    if jumps.size == 0:
        return x, y
    return np.insert(x, jumps, np.nan), np.insert(y, jumps, np.nan)


@styled
def plot_activation(
    name_or_fn: str | Callable,
    x_range: tuple[float, float] = (-5, 5),
    save: str | os.PathLike | None = None,
) -> Any:
    """Plot an activation function and its derivative on the same axes.

    Args:
        name_or_fn: an activation name (``"sigmoid"``, ``"tanh"``, ``"relu"``,
            ``"leaky_relu"``, ``"elu"``, ``"gelu"``, ``"softplus"``, ``"swish"`` /
            ``"silu"``) with analytic derivative, or any callable ``f`` (its
            derivative is then estimated by central differences).
        x_range: ``(low, high)`` interval of the x axis.
        save: optional path; the figure is written there as a PNG (dpi 110).

    Returns:
        The ``matplotlib.figure.Figure`` with two labelled lines, ``f(x)`` (solid)
        and ``f'(x)`` (dashed).

    Example:
        >>> fig = plot_activation("gelu")
        >>> [ln.get_label() for ln in fig.axes[0].get_lines() if ln.get_label()[0] != "_"]
        ['gelu(x)', "gelu'(x)"]
    """
    if isinstance(name_or_fn, str):
        f, df = get_activation(name_or_fn)
        key = name_or_fn.strip().lower().replace("-", "_")
        label = "leaky_relu" if key == "leakyrelu" else key
        title = ACTIVATIONS[label][0]
    elif callable(name_or_fn):
        f = _as_array_fn(name_or_fn)
        df = None
        label = getattr(name_or_fn, "__name__", "f")
        if not label.isidentifier():  # e.g. "<lambda>"
            label = "f"
        title = f"{label} (derivative by central differences)"
    else:
        raise TypeError(
            "plot_activation: name_or_fn must be an activation name or a callable, "
            f"got {type(name_or_fn).__name__}"
        )
    try:
        lo, hi = (float(v) for v in x_range)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"plot_activation: x_range must be (low, high), got {x_range!r}") from exc
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"plot_activation: x_range must satisfy low < high, got {x_range!r}")

    x = np.linspace(lo, hi, 1001)
    y = f(x)
    dy = df(x) if df is not None else numerical_derivative(f, x)

    fig = new_figure((6.4, 4.2))
    ax = fig.add_subplot()
    clean_axes(ax)
    ax.axhline(0.0, color="#9A9A9A", linewidth=0.9, zorder=1)
    if lo < 0.0 < hi:
        ax.axvline(0.0, color="#9A9A9A", linewidth=0.9, zorder=1)
    ax.plot(*_break_jumps(x, y), color=BLUE, linewidth=2.4, label=f"{label}(x)", zorder=3)
    ax.plot(
        *_break_jumps(x, dy),
        color=VERMILLION,
        linewidth=2.0,
        linestyle="--",
        label=f"{label}'(x)",
        zorder=3,
    )
    ax.set_xlim(lo, hi)
    ax.set_xlabel("x")
    ax.set_title(title)
    ax.legend(loc="upper left")
    save_figure(fig, save)
    return fig
