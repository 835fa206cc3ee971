"""Plotting helpers for gradkit (optional: needs matplotlib).

Importing this package does not import matplotlib; each function imports it
when called and raises an ImportError with an install hint if it is missing.
Every function builds a standalone ``matplotlib.figure.Figure`` (Agg canvas, no
pyplot state, works headless), returns it, and saves it as a PNG when given
``save=path``.

Example:
    >>> from gradkit.plot import plot_history
    >>> fig = plot_history({"loss": [0.9, 0.5], "val_loss": [1.0, 0.7]}, save=None)
"""

from .activations import ACTIVATIONS, get_activation, numerical_derivative, plot_activation
from .boundary import plot_decision_boundary
from .dashboard import confusion_matrix, training_dashboard
from .graph import AutodiffGraph, graph
from .history import plot_history
from .images import plot_images, plot_probabilities

__all__ = [
    "ACTIVATIONS",
    "AutodiffGraph",
    "graph",
    "confusion_matrix",
    "training_dashboard",
    "get_activation",
    "numerical_derivative",
    "plot_activation",
    "plot_decision_boundary",
    "plot_history",
    "plot_images",
    "plot_probabilities",
]
