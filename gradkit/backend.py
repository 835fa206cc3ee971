"""The array-module seam: the one place gradkit decides between NumPy and CuPy.

Every op takes its array module from its inputs (``xp = get_array_module(x)``)
and calls ``xp.exp``, ``xp.matmul``, ... on it, never ``numpy`` directly, so the
same op code runs on a GPU once CuPy arrays flow in. CuPy is imported here and
nowhere else, lazily, and only if it is installed.
"""

from __future__ import annotations

import numpy

_cupy = None          # the cupy module once imported, else None
_cupy_tried = False


def cupy_module():
    """Return the ``cupy`` module, or None when CuPy is not installed."""
    global _cupy, _cupy_tried
    if not _cupy_tried:
        _cupy_tried = True
        try:  # pragma: no cover - exercised only where CuPy exists
            import cupy  # noqa: PLC0415

            _cupy = cupy
        except Exception:  # ImportError, or a CUDA runtime failing to load
            _cupy = None
    return _cupy


def set_gpu_module(module):
    """Install ``module`` as the GPU array module in CuPy's place; returns the previous one.

    For tests: :func:`gradkit.testing.strict_device.activate` installs its strict
    stand-in this way, so ``gradkit.device("cuda")`` runs on it. ``None`` means no GPU
    module (``cupy_module()`` is not retried).
    """
    global _cupy, _cupy_tried
    previous = cupy_module()
    _cupy, _cupy_tried = module, True
    return previous


def is_device_array(a) -> bool:
    """True for an array of the GPU module (CuPy, or its stand-in)."""
    return _cupy is not None and isinstance(a, _cupy.ndarray)


def gpu_active() -> bool:
    """True once a GPU array module is loaded: only then can arrays of two devices meet."""
    return _cupy is not None


def get_array_module(*xs):
    """Return ``numpy`` or ``cupy``: the module that owns the given arrays.

    Cheap on the hot path: while CuPy has not been imported, it is NumPy.
    """
    if _cupy is not None:  # pragma: no cover
        for x in xs:
            if isinstance(x, _cupy.ndarray):
                return _cupy
    return numpy


def to_numpy(a):
    """Copy ``a`` to host memory as a NumPy array (a no-op for NumPy arrays)."""
    if _cupy is not None and isinstance(a, _cupy.ndarray):  # pragma: no cover
        return _cupy.asnumpy(a)
    return numpy.asarray(a)


def is_array(a) -> bool:
    """True for an array of a supported backend."""
    return isinstance(a, numpy.ndarray) or (_cupy is not None and isinstance(a, _cupy.ndarray))
