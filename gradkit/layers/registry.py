"""The layer registry: layers by name, and ``serialize``/``deserialize`` of configs.

A model file stores each layer as ``{"class_name": "Dense", "config": {...}}``.
Turning that back into a layer must never run code named by the file, so
:func:`deserialize` only instantiates classes that are *registered* here
(gradkit's own layers register themselves when defined; user classes with
:func:`register_serializable`) or passed explicitly in ``custom_objects``.
No string is ever imported. The rules are those of every gradkit registry
(:mod:`gradkit.utils.registry`).

Example::

    d = serialize(Dense(4, activation="relu"))
    # {"class_name": "Dense", "config": {"units": 4, "activation": "relu", ...}}
    layer = deserialize(d)

    @register_serializable(package="my_project")
    class Scale(Layer):
        ...
    deserialize(serialize(Scale()))          # works: Scale is registered
"""

from __future__ import annotations

from gradkit.layers.base import Layer
from gradkit.utils.registry import Registry

__all__ = ["LAYERS", "deserialize", "get", "get_registered_name", "get_registered_object",
           "register_serializable", "registered_classes", "serialize"]

LAYERS = Registry("layer", Layer, module="gradkit.layers", none=None)
"""The layer registry. Built-in layers are known by their class name (``"Dense"``,
and case-insensitively or in snake case: ``"batch_normalization"``); user classes
by ``"package>Name"`` (Keras's convention), so they never shadow gradkit's."""

register_builtin = LAYERS.register()
"""Class decorator for gradkit's own layers: registered under the class name."""

register_serializable = LAYERS.register_serializable
"""Class decorator: make a user layer known to :func:`deserialize`.

Args:
    package: a namespace for the name (default ``"Custom"``).
    name: the registered name (default: the class name). The full key is
        ``"package>name"``. See the module docstring for an example.
"""


def registered_classes() -> dict:
    """A copy of the registry: registered name -> class."""
    return LAYERS.registered()


def get_registered_name(cls) -> str:
    """The name ``cls`` is registered under (its class name when it is not registered)."""
    return LAYERS.name_of(cls)


def get_registered_object(name, custom_objects=None):
    """The class for ``name`` (``custom_objects`` first, then the registry), or None."""
    return LAYERS.lookup(name, custom_objects)


def serialize(layer) -> dict:
    """``{"class_name": ..., "config": layer.get_config()}`` (plus ``"registered_name"``
    for user classes registered under ``"package>Name"``)."""
    return LAYERS.serialize(layer)


def deserialize(config, custom_objects=None):
    """Rebuild a layer from :func:`serialize`'s output.

    Args:
        config: ``{"class_name": str, "config": dict}``.
        custom_objects: optional ``{name: class}`` for classes that are not
            registered (looked up first).

    Raises:
        TypeError: a config of the wrong type; a custom object without from_config.
        ValueError: no class_name, or an unknown class name (the message says how
            to make it known).
    """
    return LAYERS.deserialize(config, custom_objects)


def get(identifier, custom_objects=None):
    """A layer from a layer (returned as is), a serialized dict, a class or a class name.

    Example::

        get("Flatten")          # <Flatten 'flatten'>
    """
    return LAYERS.get(identifier, custom_objects)
