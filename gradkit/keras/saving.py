"""``keras.saving`` over gradkit's one registry: ``from gradkit.keras import saving``.

``register_keras_serializable``, ``get_custom_objects``, ``serialize_keras_object``,
``deserialize_keras_object`` and ``custom_object_scope`` are spellings of
:mod:`gradkit.utils.registry`: a class joins the registry of the kind it subclasses
(``Layer``, ``Loss``, ``Metric``...), a function the registries that take
functions (activations, losses, metrics). There is no second table, so a model
saved with ``model.save`` finds the same objects, and a file can still only name
registered objects (nothing is imported by name).

Example::

    @saving.register_keras_serializable(package="demo")
    class Scale(layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor
        def call(self, x):
            return x * self.factor
        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    cfg = saving.serialize_keras_object(Scale(3.0))   # {"class_name": "Scale", ...}
    saving.deserialize_keras_object(cfg).factor        # 3.0
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

from gradkit.keras.missing import module_getattr
from gradkit.models.saving import load_model as _load_model
from gradkit.models.saving import load_weights as _load_weights
from gradkit.models.saving import save_model as _save_model
from gradkit.models.saving import save_weights as _save_weights
from gradkit.utils import registry as _registry

__all__ = ["CustomObjectScope", "custom_object_scope", "deserialize_keras_object",
           "get_custom_objects", "get_registered_name", "get_registered_object", "load_model",
           "load_weights", "register_keras_serializable", "save_model", "save_weights",
           "serialize_keras_object"]


def _owners(obj):
    """The registries ``obj`` (a class or a function) belongs in."""
    regs = _registry.registries().values()
    if isinstance(obj, type):
        owners = [r for r in regs if r.base is not None and issubclass(obj, r.base)]
        if not owners:
            bases = ", ".join(sorted(r.base.__name__ for r in regs if r.base is not None))
            raise TypeError(f"cannot register {obj.__name__}: it subclasses none of {bases}")
        return owners
    if not callable(obj):
        raise TypeError(f"only classes and functions can be registered, received {obj!r}")
    return [r for r in regs if r.takes_functions]


def register_keras_serializable(package="Custom", name=None):
    """Decorator: register a class or function as ``"package>name"`` in gradkit's registry.

    Args:
        package: a namespace (default ``"Custom"``).
        name: the name within it (default: the object's ``__name__``).

    Returns:
        The decorator; it returns the object unchanged.
    """
    def decorator(obj):
        key = f"{package}>{name or obj.__name__}"
        for r in _owners(obj):
            r.register_custom(obj, key)
        return obj

    return decorator


class _CustomObjects(MutableMapping):
    """The user objects of every registry as one mapping; setting a key registers there."""

    def _all(self):
        out = {}
        for r in _registry.registries().values():
            out.update(r.custom_objects())
        return out

    def __getitem__(self, key):
        return self._all()[key]

    def __setitem__(self, key, obj):
        for r in _owners(obj):
            r.register_custom(obj, key)

    def __delitem__(self, key):
        raise TypeError("gradkit cannot unregister a custom object; register another object "
                        "under the same name to replace it")

    def __iter__(self):
        return iter(self._all())

    def __len__(self):
        return len(self._all())

    def __repr__(self):
        return f"custom objects {self._all()!r}"


_CUSTOM = _CustomObjects()


def get_custom_objects():
    """The registered user objects, ``{"package>name": object}``; setting an entry
    (``get_custom_objects()["Scale"] = Scale``) registers the object under that key."""
    return _CUSTOM


class CustomObjectScope:
    """``with CustomObjectScope({"Scale": Scale}):``: names known to every lookup within
    (nested scopes stack; the innermost wins)."""

    def __init__(self, *custom_objects):
        self.custom_objects = {}
        for objects in custom_objects:
            if objects is not None:
                self.custom_objects.update(objects)
        self._cm = None

    def __enter__(self):
        self._cm = _registry.custom_object_scope(self.custom_objects)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


custom_object_scope = CustomObjectScope


def get_registered_name(obj):
    """The name ``obj`` serializes as (``"package>name"`` for a registered user object,
    else its ``__name__``)."""
    try:
        owners = _owners(obj)
    except TypeError:
        owners = []
    return owners[0].name_of(obj) if owners else getattr(obj, "__name__", type(obj).__name__)


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The class or function registered as ``name`` (also looked up in ``custom_objects``,
    ``module_objects`` and enclosing scopes), or None."""
    for table in (custom_objects, module_objects):
        if table and name in table:
            return table[name]
    for r in _registry.registries().values():
        obj = r.lookup(name)
        if obj is not None:
            return obj
    return None


def serialize_keras_object(obj):
    """A JSON-able config: ``{"class_name", "config"}`` (plus ``"registered_name"``) for an
    object with ``get_config``, ``{"class_name": "function", "config": name}`` for a
    function; numbers, strings, None, lists and dicts as they are."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(o) for o in obj]
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, type) or not hasattr(obj, "get_config"):
        if callable(obj) and not isinstance(obj, type):
            name = get_registered_name(obj)
            return {"class_name": "function", "config": name, "registered_name": name}
        raise TypeError(f"serialize_keras_object: cannot serialize {obj!r}; expected an "
                        "object with get_config, a function, or JSON data")
    return _owners(type(obj))[0].serialize(obj)


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """Rebuild what :func:`serialize_keras_object` made. Only registered objects (or those
    in ``custom_objects`` / an enclosing scope) are built; nothing is imported by name.

    Args:
        config: a config dict, a registered name, or JSON data (returned as is).
        custom_objects: ``{name: class or function}`` for unregistered ones.
        safe_mode: must be True: gradkit never runs code from a config (Keras's
            ``safe_mode=False`` permits lambdas).
    """
    if not safe_mode:
        raise NotImplementedError("deserialize_keras_object: safe_mode=False; gradkit never "
                                  "deserializes code (lambdas), register the function instead")
    if kwargs:
        raise NotImplementedError(f"deserialize_keras_object: arguments {sorted(kwargs)} are "
                                  "not supported")
    if isinstance(config, list):
        return [deserialize_keras_object(c, custom_objects) for c in config]
    if isinstance(config, str):
        obj = get_registered_object(config, custom_objects)
        if obj is None:
            raise ValueError(f"deserialize_keras_object: no registered object {config!r}; "
                             "register it with @keras.saving.register_keras_serializable() "
                             "or pass custom_objects")
        return obj
    if not isinstance(config, dict) or "class_name" not in config:
        return config
    name = config.get("registered_name") or config["class_name"]
    for r in _registry.registries().values():
        found = r.lookup(name, custom_objects) if isinstance(name, str) else None
        if found is None and config["class_name"] != "function":
            found = r.lookup(config["class_name"], custom_objects)
        if found is not None and (isinstance(found, type) or r.takes_functions):
            if config["class_name"] == "function":
                return found
            return r.deserialize(config, custom_objects)
    raise ValueError(f"deserialize_keras_object: unknown object {name!r}; register it with "
                     "@keras.saving.register_keras_serializable() or pass custom_objects")


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """``model.save(filepath)``: one zip file (see :mod:`gradkit.models.saving`).

    ``overwrite=False`` refuses to replace an existing file (FileExistsError).
    """
    if kwargs:
        raise NotImplementedError(f"save_model: arguments {sorted(kwargs)} are not supported")
    if zipped is False:
        raise NotImplementedError("save_model: zipped=False; gradkit writes one zip file")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"save_model: '{filepath}' exists and overwrite=False")
    _save_model(model, filepath)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002
    """Rebuild a model saved with ``model.save`` (gradkit's format); see
    :func:`gradkit.models.load_model`. ``safe_mode`` must be True (gradkit is always safe)."""
    if not safe_mode:
        raise NotImplementedError("load_model: safe_mode=False; gradkit never loads code from "
                                  "a file")
    return _load_model(filepath, custom_objects=custom_objects, compile=compile)


def save_weights(model, filepath, overwrite=True):
    """``model.save_weights(filepath)``; ``overwrite=False`` refuses an existing file."""
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"save_weights: '{filepath}' exists and overwrite=False")
    _save_weights(model, filepath)


def load_weights(model, filepath, skip_mismatch=False, **kwargs):
    """``model.load_weights(filepath)``; every weight must match (``skip_mismatch``
    is not supported)."""
    if skip_mismatch or kwargs:
        raise NotImplementedError("load_weights: skip_mismatch and extra arguments are not "
                                  "supported; every weight must match")
    _load_weights(model, filepath)


__getattr__ = module_getattr("saving")
