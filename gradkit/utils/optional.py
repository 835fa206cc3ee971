"""Optional dependencies: imported on first use, with a one-line install hint when absent."""

from __future__ import annotations

import importlib

__all__ = ["require"]


def require(module: str, extra: str, purpose: str):
    """Import ``module`` or raise ``ImportError`` saying which gradkit extra provides it.

    Args:
        module: the module to import (``"onnx"``, ``"h5py"``).
        extra: the gradkit extra that installs it (``"onnx"``, ``"keras"``).
        purpose: what needs it, for the message (``"ONNX export"``).

    Example::

        onnx = require("onnx", "onnx", "ONNX export")
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{purpose} needs the '{module}' package: install gradkit[{extra}] "
                          f"(pip install 'gradkit[{extra}]')") from e
