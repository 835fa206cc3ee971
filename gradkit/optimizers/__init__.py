"""Optimizers with Keras 3's API and defaults that also work the PyTorch way.

Optimizers: :class:`SGD`, :class:`Adagrad`, :class:`RMSprop`, :class:`Adam`,
:class:`AdamW`, :class:`Nadam`. Learning-rate schedules live in
:mod:`gradkit.optimizers.schedules`, clipping helpers in :mod:`gradkit.optimizers.clipping`.

Example::

    from gradkit import optimizers

    opt = optimizers.Adam(model.parameters(), lr=1e-3)   # PyTorch: step() / zero_grad()
    opt = optimizers.get("adam")                          # Keras: apply_gradients(...)
    opt = optimizers.get({"class_name": "SGD", "config": {"learning_rate": 0.1}})
"""

from gradkit._parallel import get_num_threads, set_num_threads
from gradkit.optimizers import schedules
from gradkit.optimizers.adagrad import Adagrad
from gradkit.optimizers.adam import Adam, AdamW
from gradkit.optimizers.base import Optimizer
from gradkit.optimizers.clipping import (
    clip_by_global_norm,
    clip_by_norm,
    clip_by_value,
    clip_grad_norm_,
    clip_grad_value_,
    global_norm,
)
from gradkit.optimizers.nadam import Nadam
from gradkit.optimizers.rmsprop import RMSprop
from gradkit.optimizers.schedules import (
    CosineDecay,
    ExponentialDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
    StepDecay,
)
from gradkit.optimizers.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "CosineDecay", "ExponentialDecay",
           "LearningRateSchedule", "Nadam", "Optimizer", "PiecewiseConstantDecay", "RMSprop",
           "StepDecay", "clip_by_global_norm", "clip_by_norm", "clip_by_value",
           "clip_grad_norm_", "clip_grad_value_", "deserialize", "get", "get_num_threads",
           "global_norm", "schedules", "serialize", "set_num_threads"]

_BY_NAME = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW,
            "nadam": Nadam}


def _lookup(name, custom_objects=None):
    for key, cls in (custom_objects or {}).items():
        if key == name or key.lower() == str(name).lower():
            return cls
    cls = _BY_NAME.get(str(name).lower())
    if cls is None:
        raise ValueError(f"unknown optimizer {name!r}; valid names: "
                         f"{', '.join(sorted(_BY_NAME))} (case-insensitive)")
    return cls


def serialize(optimizer):
    """``{"class_name": ..., "config": ...}`` for an optimizer (Keras's format)."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"serialize expects a gradkit optimizer, got {type(optimizer).__name__}")
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config, custom_objects=None):
    """A new optimizer from :func:`serialize`'s dict."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"cannot deserialize an optimizer from {config!r}: expected "
                         "{'class_name': ..., 'config': {...}}")
    cls = _lookup(config["class_name"], custom_objects)
    return cls.from_config(dict(config.get("config") or {}), custom_objects)


def get(identifier, custom_objects=None):
    """An optimizer from a name (``"adam"``, case-insensitive), a config dict or an instance.

    A name gives the optimizer with Keras's default hyper-parameters. Unknown names
    raise ``ValueError`` listing the valid ones.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return _lookup(identifier, custom_objects)()
    if isinstance(identifier, dict):
        return deserialize(identifier, custom_objects)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise ValueError(f"cannot interpret {identifier!r} as an optimizer: pass a name "
                     f"({', '.join(sorted(_BY_NAME))}), a config dict or an Optimizer")
