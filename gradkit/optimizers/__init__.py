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
from gradkit.optimizers import fused, schedules  # noqa: F401 - public submodules
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
from gradkit.utils.registry import Registry

__all__ = ["OPTIMIZERS", "SGD", "Adagrad", "Adam", "AdamW", "CosineDecay", "ExponentialDecay",
           "LearningRateSchedule", "Nadam", "Optimizer", "PiecewiseConstantDecay", "RMSprop",
           "StepDecay", "clip_by_global_norm", "clip_by_norm", "clip_by_value",
           "clip_grad_norm_", "clip_grad_value_", "deserialize", "get", "get_num_threads",
           "global_norm", "register_serializable", "schedules", "serialize",
           "set_num_threads"]

OPTIMIZERS = Registry("optimizer", Optimizer, module="gradkit.optimizers")
"""The optimizer registry (see :mod:`gradkit.utils.registry`)."""

for _cls in (SGD, Adagrad, RMSprop, Adam, AdamW, Nadam):
    OPTIMIZERS.register(_cls.__name__.lower())(_cls)
register_serializable = OPTIMIZERS.register_serializable


def serialize(optimizer):
    """``{"class_name": ..., "config": ...}`` for an optimizer (Keras's format)."""
    return OPTIMIZERS.serialize(optimizer)


def deserialize(config, custom_objects=None):
    """A new optimizer (without state) from :func:`serialize`'s dict."""
    return OPTIMIZERS.deserialize(config, custom_objects)


def get(identifier, custom_objects=None):
    """An optimizer from a name (``"adam"``, case-insensitive), a config dict, a class or an
    instance (returned as is).

    A name gives the optimizer with Keras's default hyper-parameters. Unknown names
    raise ``ValueError`` suggesting the closest valid one; anything else is a ``TypeError``.
    """
    return OPTIMIZERS.get(identifier, custom_objects)
