"""The layer registry: layers by name, and ``serialize``/``deserialize`` of configs.

A model file stores each layer as ``{"class_name": "Dense", "config": {...}}``.
Turning that back into a layer must never run code named by the file, so
:func:`deserialize` only instantiates classes that are *registered* here
(gradkit's own layers register themselves when defined; user classes with
:func:`register_serializable`) or passed explicitly in ``custom_objects``.
No string is ever imported.

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

import re

__all__ = ["deserialize", "get", "get_registered_name", "get_registered_object",
           "register_serializable", "registered_classes", "serialize"]

# registered name -> class. Built-in layers use their class name ("Dense");
# user classes "package>Name" (Keras's convention), so they never shadow gradkit's.
_REGISTRY: dict = {}
# class -> registered name
_NAMES: dict = {}


def _snake(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def _add(cls, key):
    prev = _REGISTRY.get(key)
    if prev is not None and prev is not cls:
        # Re-defining a class with the same qualified name (a reloaded module, a
        # notebook cell run twice) replaces the old one; anything else is a clash.
        same = (prev.__module__, prev.__qualname__) == (cls.__module__, cls.__qualname__)
        if not same:
            raise ValueError(
                f"cannot register {cls.__module__}.{cls.__qualname__} as {key!r}: that name "
                f"is taken by {prev.__module__}.{prev.__qualname__}; pass another name= or "
                "package=")
        _NAMES.pop(prev, None)
    _REGISTRY[key] = cls
    _NAMES[cls] = key
    return cls


def register_builtin(cls):
    """Class decorator for gradkit's own layers: registered under the class name."""
    return _add(cls, cls.__name__)


def register_serializable(package="Custom", name=None):
    """Class decorator: make a user class known to :func:`deserialize`.

    Args:
        package: a namespace for the name (default ``"Custom"``).
        name: the registered name (default: the class name). The full key is
            ``"package>name"``.

    Example::

        @gradkit.layers.register_serializable(package="demo")
        class Scale(gradkit.layers.Layer):
            def __init__(self, factor=2.0, **kwargs):
                super().__init__(**kwargs)
                self.factor = factor
            def call(self, x, training=None):
                return x * self.factor
            def get_config(self):
                return {**super().get_config(), "factor": self.factor}
    """
    if isinstance(package, type):  # used bare: @register_serializable
        return _add(package, f"Custom>{package.__name__}")

    def decorator(cls):
        if not isinstance(cls, type):
            raise TypeError(f"register_serializable decorates classes, got {cls!r}")
        if not callable(getattr(cls, "from_config", None)):
            raise TypeError(f"{cls.__name__} cannot be registered: it has no from_config "
                            "(subclass gradkit.layers.Layer)")
        return _add(cls, f"{package}>{name or cls.__name__}")

    return decorator


def registered_classes() -> dict:
    """A copy of the registry: registered name -> class."""
    return dict(_REGISTRY)


def get_registered_name(cls) -> str:
    """The name ``cls`` is registered under (its class name when it is not registered)."""
    return _NAMES.get(cls, cls.__name__)


def get_registered_object(name, custom_objects=None):
    """The class for ``name``: from ``custom_objects`` first, then the registry.

    Besides exact keys, a built-in's snake-case name (``"batch_normalization"``)
    and an unambiguous user class's bare name (``"Scale"`` for ``"demo>Scale"``)
    are accepted. Returns None when nothing matches.
    """
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    cls = _REGISTRY.get(name)
    if cls is not None:
        return cls
    for key, c in _REGISTRY.items():
        if ">" not in key and _snake(key) == name:
            return c
    matches = [c for key, c in _REGISTRY.items() if ">" in key and key.split(">", 1)[1] == name]
    return matches[0] if len(matches) == 1 else None


def serialize(layer) -> dict:
    """``{"class_name": ..., "config": layer.get_config()}`` (plus ``"registered_name"``
    for user classes registered under ``"package>Name"``)."""
    if not hasattr(layer, "get_config"):
        raise TypeError(f"serialize expects a layer, got {type(layer).__name__}")
    cls = type(layer)
    out = {"class_name": cls.__name__, "config": layer.get_config()}
    reg = _NAMES.get(cls)
    if reg is not None and reg != cls.__name__:
        out["registered_name"] = reg
    return out


def deserialize(config, custom_objects=None):
    """Rebuild a layer from :func:`serialize`'s output.

    Args:
        config: ``{"class_name": str, "config": dict}``.
        custom_objects: optional ``{name: class}`` for classes that are not
            registered (looked up first).

    Only registered classes or those in ``custom_objects`` are instantiated;
    a name is never imported, so a model file cannot make gradkit run code.

    Raises:
        ValueError: malformed dict, or an unknown class name (the message says
            how to make it known).
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("deserialize expects a dict {'class_name': ..., 'config': {...}}, "
                         f"got {config!r}"[:300])
    class_name = config["class_name"]
    if not isinstance(class_name, str):
        raise ValueError(f"deserialize: class_name must be a string, got {class_name!r}")
    cfg = config.get("config", {})
    if not isinstance(cfg, dict):
        raise ValueError(f"deserialize: the config of {class_name!r} must be a dict, "
                         f"got {type(cfg).__name__}")
    cls = None
    reg = config.get("registered_name")
    if isinstance(reg, str):
        cls = get_registered_object(reg, custom_objects)
    if cls is None:
        cls = get_registered_object(class_name, custom_objects)
    if cls is None:
        raise ValueError(
            f"unknown layer class {class_name!r}: it is neither a gradkit layer nor in "
            "custom_objects. Decorate it with @gradkit.layers.register_serializable() or pass "
            f"custom_objects={{{class_name!r}: {class_name}}}")
    if not isinstance(cls, type) or not callable(getattr(cls, "from_config", None)):
        raise TypeError(f"custom_objects[{class_name!r}] must be a layer class with "
                        f"from_config, got {cls!r}")
    return cls.from_config(dict(cfg))


def get(identifier, custom_objects=None):
    """A layer from a layer, a serialized dict, or a class name.

    Args:
        identifier: a Layer (returned as is), a dict from :func:`serialize`,
            or a registered name (``"Flatten"``, ``"flatten"``), which is
            instantiated with default arguments.

    Raises:
        ValueError: unknown name; TypeError: anything else.

    Example::

        get("Flatten")          # <Flatten 'flatten'>
    """
    from gradkit.layers.base import Layer

    if identifier is None or isinstance(identifier, Layer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier, custom_objects)
    if isinstance(identifier, str):
        cls = get_registered_object(identifier, custom_objects)
        if cls is None:
            raise ValueError(f"unknown layer {identifier!r}; known layers: "
                             f"{', '.join(sorted(k for k in _REGISTRY if '>' not in k))}")
        try:
            return cls()
        except TypeError as e:
            raise TypeError(f"layer {identifier!r} needs arguments ({e}); build it directly "
                            "or pass a config dict") from None
    raise TypeError(f"cannot interpret {identifier!r} as a layer: pass a Layer, a config "
                    "dict or a layer name")
