"""Gradient clipping, in TensorFlow/Keras's functional style and PyTorch's in-place style.

Functional (never modify their inputs; take arrays or Tensors, return the same kind):

* :func:`clip_by_value` ``(t, clip_value_min, clip_value_max)``
* :func:`clip_by_norm` ``(t, clip_norm)``: ``t * clip_norm / max(||t||, clip_norm)``
* :func:`global_norm` ``(t_list)`` and :func:`clip_by_global_norm`
  ``(t_list, clip_norm) -> (clipped_list, global_norm)``

In place on the parameters' ``.grad`` (PyTorch's ``torch.nn.utils``):

* :func:`clip_grad_norm_` ``(parameters, max_norm, norm_type=2.0) -> total_norm``
* :func:`clip_grad_value_` ``(parameters, clip_value)``

The optimizers' ``clipvalue`` / ``clipnorm`` / ``global_clipnorm`` options call the
functional ones with ``out=`` set to private buffers, so the caller's gradient
arrays are never touched and a step allocates nothing.

Example::

    grads, norm = clip_by_global_norm(grads, 1.0)          # Keras / TensorFlow style
    opt.apply_gradients(zip(grads, model.trainable_variables))

    loss.backward()                                         # PyTorch style
    clip_grad_norm_(model.parameters(), max_norm=1.0)
    opt.step()
"""

from __future__ import annotations

import math

from gradkit.backend import get_array_module, is_array
from gradkit.tensor import Tensor
from gradkit.utils.validation import check_number

__all__ = ["clip_by_global_norm", "clip_by_norm", "clip_by_value", "clip_grad_norm_",
           "clip_grad_value_", "global_norm"]


def _unwrap(t):
    """(array, was_tensor) for an array, a Tensor or array-like."""
    if isinstance(t, Tensor):
        return t._data, True
    if is_array(t):
        return t, False
    import numpy as np

    return np.asarray(t), False  # host: array-like data from the caller


def _wrap(arr, was_tensor):
    return Tensor._make(arr, False, None) if was_tensor else arr


def _sum_squares(a):
    """sum(a**2) as a Python float, without a temporary for contiguous arrays."""
    xp = get_array_module(a)
    if a.size == 0:
        return 0.0
    return float(xp.vdot(a, a).real) if a.dtype.kind == "f" else float((a * a).sum())


def _scaled(arr, scale, was_tensor, out):
    """``arr * scale`` in a new array/Tensor of ``arr``'s kind and dtype, or in ``out``."""
    res = get_array_module(arr).multiply(arr, scale, out=out)
    return res if out is not None else _wrap(res.astype(arr.dtype, copy=False), was_tensor)


def clip_by_value(t, clip_value_min, clip_value_max, *, out=None):
    """Elementwise ``min(max(t, clip_value_min), clip_value_max)`` in a new array/Tensor.

    Args:
        t: an array or Tensor (a Tensor result is not recorded for autograd).
        clip_value_min, clip_value_max: the bounds (``min <= max``).
        out: an array shaped like ``t`` to write the result into and return
            (NumPy's ``out=``); it may be ``t``'s own array.

    Example::

        clip_by_value(np.array([-3.0, 0.5, 2.0]), -1.0, 1.0)   # [-1. , 0.5, 1. ]
    """
    if clip_value_min > clip_value_max:
        raise ValueError(f"clip_by_value: clip_value_min {clip_value_min} > clip_value_max "
                         f"{clip_value_max}")
    arr, was_tensor = _unwrap(t)
    res = get_array_module(arr).clip(arr, clip_value_min, clip_value_max, out=out)
    return res if out is not None else _wrap(res, was_tensor)


def clip_by_norm(t, clip_norm, axes=None, *, use_norm=None, out=None):
    """Rescale ``t`` so its L2 norm is at most ``clip_norm``: ``t * c / max(||t||, c)``.

    Args:
        t: an array or Tensor.
        clip_norm: the maximum norm (> 0).
        axes: axes the norm is taken over (default: all, i.e. one norm per tensor).
        use_norm: the norm of ``t``, when the caller has it already (``axes=None``).
        out: an array shaped like ``t`` to write the result into and return
            (NumPy's ``out=``); it may be ``t``'s own array.

    Returns:
        A new array/Tensor (``t`` itself is not modified), or ``out``. A NaN or
        infinite norm gives NaN entries, as in Keras.

    Example::

        clip_by_norm(np.array([3.0, 4.0]), 1.0)     # [0.6, 0.8]
    """
    clip_norm = check_number("clip_by_norm", "clip_norm", clip_norm, minimum=0, min_open=True)
    arr, was_tensor = _unwrap(t)
    xp = get_array_module(arr)
    if axes is None:
        norm = math.sqrt(_sum_squares(arr)) if use_norm is None else float(use_norm)
        scale = clip_norm / max(norm, clip_norm)          # 1 when ||t|| <= c; NaN stays NaN
    elif use_norm is not None:
        raise ValueError(f"clip_by_norm: use_norm is one norm for the whole tensor, so it "
                         f"cannot be combined with axes={axes!r}; pass one of them")
    else:
        norm = xp.sqrt((arr * arr).sum(axis=axes, keepdims=True))
        scale = clip_norm / xp.maximum(norm, clip_norm)
    return _scaled(arr, scale, was_tensor, out)


def global_norm(t_list):
    """``sqrt(sum_i ||t_i||^2)`` over a list of arrays/Tensors (``None`` entries skipped)."""
    total = 0.0
    for t in t_list:
        if t is not None:
            total += _sum_squares(_unwrap(t)[0])
    return math.sqrt(total)


def clip_by_global_norm(t_list, clip_norm, use_norm=None, *, out=None):
    """Scale every tensor by ``clip_norm / max(global_norm, clip_norm)``.

    Args:
        t_list: arrays/Tensors (``None`` entries are passed through).
        clip_norm: the maximum global norm (> 0).
        use_norm: a precomputed global norm (default: computed here).
        out: a list of arrays, one per tensor (``None`` for a ``None`` entry), to
            write the results into (NumPy's ``out=``); they may be the inputs' arrays.

    Returns:
        ``(clipped_list, global_norm)``: new arrays/Tensors (inputs untouched, or the
        ``out`` arrays) and the
        norm before clipping, a float. A non-finite norm gives NaN tensors, as in
        TensorFlow.

    Example::

        (a, b), norm = clip_by_global_norm([np.array([3.0]), np.array([4.0])], 1.0)
        # a = [0.6], b = [0.8], norm = 5.0
    """
    clip_norm = check_number("clip_by_global_norm", "clip_norm", clip_norm, minimum=0,
                             min_open=True)
    t_list = list(t_list)
    if out is not None and len(out) != len(t_list):
        raise ValueError(f"clip_by_global_norm: out has {len(out)} arrays for {len(t_list)} "
                         "tensors; pass one per tensor")
    norm = global_norm(t_list) if use_norm is None else float(use_norm)
    scale = clip_norm / max(norm, clip_norm) if math.isfinite(norm) else math.nan
    outs = out if out is not None else [None] * len(t_list)
    clipped = []
    for t, o in zip(t_list, outs):
        if t is None:
            clipped.append(None)
            continue
        arr, was_tensor = _unwrap(t)
        clipped.append(_scaled(arr, scale, was_tensor, o))
    return clipped, norm


def _grads_of(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale the ``.grad`` of ``parameters`` in place so their total norm is <= ``max_norm``.

    PyTorch's ``torch.nn.utils.clip_grad_norm_``: the total norm is the ``norm_type``
    norm of all gradients together; when it exceeds ``max_norm`` every gradient is
    multiplied by ``max_norm / (total_norm + 1e-6)``.

    Args:
        parameters: a Tensor or an iterable of Tensors (those without ``.grad`` skipped).
        max_norm: the maximum norm (> 0).
        norm_type: ``p`` of the p-norm (``2.0``, ``1.0``, ``float("inf")``...).
        error_if_nonfinite: raise when the total norm is NaN or infinite.

    Returns:
        The total norm before clipping, as a 0-d Tensor (use ``float()`` or ``.item()``).

    Example::

        loss.backward()
        clip_grad_norm_(model.parameters(), max_norm=1.0)
        opt.step()
    """

    max_norm = check_number("clip_grad_norm_", "max_norm", max_norm, minimum=0, min_open=True)
    norm_type = check_number("clip_grad_norm_", "norm_type", norm_type, minimum=0,
                             min_open=True, finite=False)
    grads = _grads_of(parameters)
    if not grads:
        return Tensor(0.0)
    dtype = grads[0]._data.dtype
    if math.isinf(norm_type):
        total = max(float(abs(g._data).max()) if g._data.size else 0.0 for g in grads)
    elif norm_type == 2.0:
        total = math.sqrt(sum(_sum_squares(g._data) for g in grads))
    else:
        total = sum(float((abs(g._data) ** norm_type).sum()) for g in grads) ** (1 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is {total}; set error_if_nonfinite=False to clip anyway")
    coef = max_norm / (total + 1e-6)
    if not coef < 1.0 and not math.isnan(coef):
        return Tensor(total, dtype=dtype)
    for g in grads:
        arr = g._data
        get_array_module(arr).multiply(arr, coef, out=arr)
        g._version += 1
    return Tensor(total, dtype=dtype)


def clip_grad_value_(parameters, clip_value):
    """Clamp the ``.grad`` of ``parameters`` in place to ``[-clip_value, clip_value]``.

    PyTorch's ``torch.nn.utils.clip_grad_value_``.

    Example::

        loss.backward()
        clip_grad_value_(model.parameters(), 0.5)
    """
    clip_value = check_number("clip_grad_value_", "clip_value", clip_value, minimum=0)
    for g in _grads_of(parameters):
        arr = g._data
        get_array_module(arr).clip(arr, -clip_value, clip_value, out=arr)
        g._version += 1
