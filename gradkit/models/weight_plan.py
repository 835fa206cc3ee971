"""Checking foreign weights against a layer before any is assigned (all or nothing)."""

from __future__ import annotations

from gradkit.models.saving import ModelFileError

__all__ = ["assign_planned", "plan_layer_weights"]


def plan_layer_weights(layer, values, source):
    """``[(weight, value)]`` for ``layer._weights`` (creation order), every shape checked.

    Args:
        layer: the gradkit layer receiving the values.
        values: arrays in the order of ``layer._weights``.
        source: how messages name where the values come from (``"module 'fc'"``).

    Raises:
        ModelFileError: a count or shape that differs, naming the layer and weight.
    """
    ws = layer._weights
    who = f"{type(layer).__name__} '{layer.name}'"
    if len(values) != len(ws):
        raise ModelFileError(f"{source} gives {len(values)} arrays, {who} has {len(ws)} "
                             "weights")
    for w, v in zip(ws, values):
        if v.shape != w.shape:
            raise ModelFileError(f"{source} does not fit {who}: '{w.name}' has shape "
                                 f"{w.shape}, {source} gives {v.shape}")
    return list(zip(ws, values))


def assign_planned(planned):
    """Assign the checked ``(weight, value)`` pairs (values cast to the weights' dtypes)."""
    for w, v in planned:
        w.assign(v.astype(w.dtype, copy=False))
