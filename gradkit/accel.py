"""The one switch for gradkit's optional accelerated loops (``pip install 'gradkit[fast]'``).

With numba installed, a few hot spots run as compiled single-pass loops instead of
several NumPy passes: the optimizers' updates (:mod:`gradkit.optimizers.fused`) and
max pooling's gradient (:mod:`gradkit.ops.pool`). The NumPy code stays the
reference and runs whenever numba is missing, the switch is off, or the arrays are
ones a loop does not handle. Nothing is imported or compiled before first use.

``GRADKIT_FUSED=0`` in the environment, or :func:`set_enabled`, turns the loops off.

Example::

    gradkit.accel.available()          # True when numba is installed
    gradkit.accel.set_enabled(False)   # NumPy only
"""

from __future__ import annotations

import importlib
import importlib.util
import os

import numpy as _np

__all__ = ["available", "enabled", "loops", "loops_for", "set_enabled"]

_FLOATS = (_np.dtype(_np.float32), _np.dtype(_np.float64))  # what the loops are built for
_enabled = None              # None: read GRADKIT_FUSED on first use
_modules = {}                # module name -> the imported module, or None (numba missing)


def enabled():
    """Whether the accelerated loops are used when numba is installed (default on)."""
    global _enabled
    if _enabled is None:
        _enabled = os.environ.get("GRADKIT_FUSED", "1").strip().lower() not in (
            "0", "false", "no", "off")
    return _enabled


def set_enabled(flag):
    """Turn the accelerated loops on or off everywhere; returns the previous setting.

    Args:
        flag: ``True`` to use them when numba is installed, ``False`` for NumPy only.
    """
    global _enabled
    if not isinstance(flag, bool):
        raise TypeError(f"set_enabled: flag must be a bool, received {flag!r}")
    previous = enabled()
    _enabled = flag
    return previous


def available():
    """Whether numba can be imported here (``gradkit[fast]`` installed)."""
    return importlib.util.find_spec("numba") is not None


def loops(name):
    """The numba module ``name`` (imported on first call), or None without numba.

    Args:
        name: a gradkit module of ``numba.njit`` loops, e.g.
            ``"gradkit.optimizers._fused_numba"``.
    """
    if name not in _modules:
        try:
            _modules[name] = importlib.import_module(name)
        except ImportError as e:
            if e.name != "numba" and not str(e).startswith("No module named 'numba"):
                raise
            _modules[name] = None
    return _modules[name]


def loops_for(name, *arrays):
    """:func:`loops` ``name`` when they are on and apply to ``arrays``, else None.

    The loops take NumPy arrays of float32 or float64, all of one dtype; anything
    else (CuPy arrays, integers, mixed dtypes) keeps the NumPy reference path.

    Args:
        name: the loops' module, as for :func:`loops`.
        arrays: the arrays the caller would hand them.
    """
    if not enabled():
        return None
    dtype = arrays[0].dtype if arrays else None
    for a in arrays:
        if type(a) is not _np.ndarray or a.dtype != dtype or a.dtype not in _FLOATS:
            return None
    return loops(name)
