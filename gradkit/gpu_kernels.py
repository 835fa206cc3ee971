"""Fused GPU kernels behind the array-module seam, used only when the module is CuPy.

NumPy composes an optimizer update from several passes over the weights; on a GPU each
pass is a kernel launch and a trip through memory. An optimizer that states its rule as
one CUDA elementwise body (``Optimizer._fused_source``) gets it compiled here once per
rule, with ``cupy.ElementwiseKernel``, and run as one kernel per parameter. Other array
modules (NumPy, the strict stand-in) get None and keep the composed update.
"""

from __future__ import annotations

_cache: dict = {}


def elementwise(xp, name, in_params, out_params, body):
    """The compiled ``cupy.ElementwiseKernel`` for ``body``, or None when ``xp`` is not CuPy.

    Args:
        xp: the array module of the arrays the kernel would run on.
        name: the kernel's name (the cache key with ``xp`` and ``body``).
        in_params, out_params, body: as ``cupy.ElementwiseKernel`` takes them.
    """
    if getattr(xp, "__name__", None) != "cupy" or not hasattr(xp, "ElementwiseKernel"):
        return None
    key = (id(xp), name, body)
    kernel = _cache.get(key)
    if kernel is None:
        kernel = _cache[key] = xp.ElementwiseKernel(in_params, out_params, body,
                                                   f"gradkit_{name}")
    return kernel
