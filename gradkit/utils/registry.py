"""One registry class behind every ``get`` / ``serialize`` / ``deserialize`` in gradkit.

Activations, initializers, regularizers, losses, metrics, optimizers,
learning-rate schedules and layers each have one :class:`Registry` (its
``kind`` is ``"activation"``, ``"loss"``...), and their modules' functions
(``gradkit.losses.get`` ...) are one-liners onto it. So every kind follows the
same rules, as Keras's do:

* ``get(identifier, custom_objects=None)`` takes a registered name
  (case-insensitive for gradkit's own), a config dict
  ``{"class_name": ..., "config": {...}}``, an instance (returned as is), a
  class (instantiated with its defaults), a plain function (for the kinds that
  take functions) or ``None``.
* ``serialize(obj)`` gives that dict for an object with ``get_config`` and a
  name for a function; ``deserialize(config, custom_objects=None)`` undoes it.
* A user's class or function joins with ``@<module>.register_serializable()``
  (or :func:`register_serializable` below for classes) under
  ``"package>Name"``, and then round-trips through ``model.save`` /
  ``load_model`` with no ``custom_objects``.

Security: a config dict (from a model file, say) can only name objects that
are registered or given in ``custom_objects`` (or an enclosing
:func:`custom_object_scope`). No name is ever imported, so a file cannot make
gradkit run code.

Example::

    LOSSES = Registry("loss", Loss, module="gradkit.losses")

    @LOSSES.register("mean_squared_error", "mse")
    class MeanSquaredError(Loss): ...

    LOSSES.get("mse")                    # MeanSquaredError()
    LOSSES.get("msee")                   # ValueError: unknown loss 'msee'; did you mean 'mse'? ...
"""

from __future__ import annotations

import contextlib
import difflib
import re
import threading

__all__ = ["Registry", "as_is", "custom_object_scope", "register_serializable", "registries"]

_REGISTRIES: list = []
_scope = threading.local()


class _Refuse:
    """Marker: ``get(None)`` is a TypeError for this kind."""


REFUSE = _Refuse()


def as_is(fn):
    """``from_function`` for kinds that use a plain function as it is (activations...)."""
    return fn


def _snake(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


@contextlib.contextmanager
def custom_object_scope(custom_objects):
    """Make ``custom_objects`` (``{name: class or function}``) known to every registry within.

    Loading nests lookups (a model's layer's initializer...), so
    ``deserialize(config, custom_objects)`` opens this scope around the
    ``from_config`` call; user code may open it too.

    Example::

        with custom_object_scope({"Scale": Scale}):
            layer = gradkit.layers.deserialize({"class_name": "Scale", "config": {}})
    """
    stack = _scope.__dict__.setdefault("stack", [])
    stack.append(dict(custom_objects or {}))
    try:
        yield
    finally:
        stack.pop()


def _scoped(name):
    for objects in reversed(getattr(_scope, "stack", ())):
        if name in objects:
            return objects[name]
    return None


def registries() -> dict:
    """Every registry, by kind (``{"loss": <Registry loss>, ...}``), once gradkit is imported."""
    import gradkit  # noqa: F401  (importing gradkit creates all of them)

    return {r.kind: r for r in _REGISTRIES}


def register_serializable(package="Custom", name=None):
    """Class decorator: register a user class in the registry of the kind it subclasses.

    A subclass of ``Loss`` joins the loss registry, of ``Layer`` the layer
    registry, and so on. A plain function could be an activation, a loss or a
    metric, so functions use their kind's decorator
    (``@gradkit.losses.register_serializable()``).

    Example::

        @gradkit.utils.registry.register_serializable(package="demo")
        class Scaled(gradkit.losses.Loss): ...
    """
    if isinstance(package, type):  # used bare: @register_serializable
        return register_serializable()(package)

    def decorator(cls):
        if not isinstance(cls, type):
            raise TypeError(
                f"register_serializable decorates classes, received {cls!r}; register a "
                "function with its kind's decorator, e.g. "
                "@gradkit.losses.register_serializable()")
        owners = [r for r in registries().values() if r.base and issubclass(cls, r.base)]
        if not owners:
            bases = ", ".join(r.base.__name__ for r in _REGISTRIES if r.base)
            raise TypeError(f"cannot register {cls.__name__}: it subclasses none of {bases}")
        for r in owners:
            r.register_serializable(package, name)(cls)
        return cls

    return decorator


class Registry:
    """Objects of one kind by name, and their ``get``/``serialize``/``deserialize``.

    Args:
        kind: the word errors use (``"loss"``, ``"layer"``).
        base: the kind's base class: its instances are returned by ``get`` as
            they are, its subclasses instantiated. ``None`` for a kind made of
            functions (activations).
        module: the public module, named in error messages (``"gradkit.losses"``).
        none: what ``get(None)`` returns (default: ``None`` is refused with a
            TypeError).
        from_function: how ``get`` turns a plain function into the kind (a
            loss function is wrapped in a ``Loss``); ``None`` when the kind
            takes no functions.
        make: ``make(cls, name)`` builds the object a name stands for
            (default ``cls()``).
    """

    def __init__(self, kind, base=None, *, module, none=REFUSE, from_function=None, make=None):
        self.kind, self.base, self.module = kind, base, module
        self._a = ("an " if kind[0] in "aeiou" else "a ") + kind  # "an optimizer"
        self._none, self._from_function, self._make = none, from_function, make
        self._by_key: dict = {}     # exact name -> object
        self._folded: dict = {}     # lower-case / snake-case name of a built-in -> object
        self._names: dict = {}      # object -> the name serialize writes
        self._shown: list = []      # the names an error lists
        self._custom: list = []     # the keys of users' objects (register_custom)
        _REGISTRIES.append(self)

    def __repr__(self):
        return f"<Registry {self.kind}: {len(self._by_key)} names>"

    @property
    def takes_functions(self) -> bool:
        """True for kinds a plain function can be (activations, losses, metrics)."""
        return self._from_function is not None

    # ------------------------------------------------------------ registering
    def _add(self, obj, key):
        prev = self._by_key.get(key)
        if prev is not None and prev is not obj:
            # the same qualified name again (a reloaded module, a notebook cell run twice)
            # replaces the old object; anything else is a clash
            if (prev.__module__, prev.__qualname__) != (obj.__module__, obj.__qualname__):
                raise ValueError(
                    f"cannot register {obj.__module__}.{obj.__qualname__} as {self.kind} "
                    f"{key!r}: that name is taken by {prev.__module__}.{prev.__qualname__}; "
                    "pass another name= or package=")
            self._names.pop(prev, None)
        self._by_key[key] = obj

    def register(self, *names, listed=True):
        """Decorator for gradkit's own objects: known by ``names`` (default: its ``__name__``).

        A class is also known by its class name, which is what :meth:`serialize`
        writes; a function serializes as its first name. Built-in names match
        case-insensitively, and CamelCase ones in snake case too. ``listed=False``
        keeps the names out of error messages (a class only configs name).
        """
        def decorator(obj):
            keys = list(names) or [obj.__name__]
            hidden = [obj.__name__] if isinstance(obj, type) and obj.__name__ not in keys else []
            for key in keys + hidden:
                self._add(obj, key)
                for folded in (key.lower(), _snake(key)):
                    self._folded.setdefault(folded, obj)
            self._shown.extend(k for k in keys if listed and k not in self._shown)
            self._names.setdefault(obj, obj.__name__ if isinstance(obj, type) else keys[0])
            return obj

        return decorator

    def serialize_as(self, obj, name):
        """Make :meth:`serialize` write ``name`` for ``obj`` (an op that a name also means)."""
        self._names.setdefault(obj, name)

    def register_serializable(self, package="Custom", name=None):
        """Decorator for a user's class (or function, for kinds that take functions).

        It is registered as ``"package>name"`` (``name`` defaults to its
        ``__name__``), so it never shadows gradkit's own; a config naming it
        then deserializes without ``custom_objects``.

        Args:
            package: a namespace (default ``"Custom"``).
            name: the name within it (default: the object's ``__name__``).

        Example::

            @gradkit.losses.register_serializable(package="demo")
            def scaled_mse(y_true, y_pred):
                return gradkit.losses.mean_squared_error(y_true, y_pred) * 2.0

            model.compile(loss=scaled_mse)   # saves as "demo>scaled_mse"
        """
        if isinstance(package, type) or (callable(package) and not isinstance(package, str)):
            return self.register_serializable()(package)  # used bare

        def decorator(obj):
            return self.register_custom(obj, f"{package}>{name or obj.__name__}")

        return decorator

    def register_custom(self, obj, key):
        """Register a user's ``obj`` (a class with ``from_config``, or a function for the
        kinds that take functions) under exactly ``key``, the name it serializes as.

        :meth:`register_serializable` calls this with ``"package>name"``;
        ``keras.saving.get_custom_objects()[key] = obj`` with the key given.
        """
        if isinstance(obj, type):
            if not callable(getattr(obj, "from_config", None)):
                base = self.base.__name__ if self.base else "a class with from_config"
                raise TypeError(f"{obj.__name__} cannot be registered as {self._a}: it "
                                f"has no from_config (subclass {base})")
        elif self._from_function is None or not callable(obj):
            raise TypeError(f"{self.module}.register_serializable decorates classes, "
                            f"received {obj!r}")
        self._add(obj, key)
        self._names[obj] = key
        for keys in (self._custom, self._shown):
            if key not in keys:
                keys.append(key)
        return obj

    def custom_objects(self) -> dict:
        """The user objects registered here (not gradkit's own): key -> object."""
        return {k: self._by_key[k] for k in self._custom if k in self._by_key}

    # ------------------------------------------------------------ looking up
    def lookup(self, name, custom_objects=None):
        """The object ``name`` stands for, or None.

        Looked up in ``custom_objects`` first, then an enclosing
        :func:`custom_object_scope`, then the registry: the exact name, or a
        built-in's name in any case (or snake case). A user object is found by
        its full ``"package>name"`` only, so an unregistered class that shares
        its bare name is never taken for it.
        """
        if custom_objects and name in custom_objects:
            return custom_objects[name]
        obj = _scoped(name)
        if obj is not None:
            return obj
        obj = self._by_key.get(name)
        if obj is not None:
            return obj
        return self._folded.get(name.strip().lower())

    def lookup_function(self, name, owner):
        """The plain function ``name`` stands for (a wrapper's ``fn`` in a config), else a
        ValueError from ``owner`` saying how to make it known."""
        fn = self.lookup(name) if isinstance(name, str) else None
        if fn is None or isinstance(fn, type) or not callable(fn):
            raise ValueError(f"{owner}: no {self.kind} function {name!r}; decorate it with "
                             f"@{self.module}.register_serializable() or pass it in "
                             "custom_objects")
        return fn

    def name_of(self, obj) -> str:
        """The name ``obj`` (a class or function) is registered under, else its ``__name__``."""
        try:
            name = self._names.get(obj)
        except TypeError:  # unhashable
            name = None
        return name if name is not None else getattr(obj, "__name__", type(obj).__name__)

    def registered(self) -> dict:
        """A copy of the registry: name -> class or function."""
        return dict(self._by_key)

    def _unknown(self, what, name, known):
        folded = {k.lower(): k for k in known}
        close = difflib.get_close_matches(str(name).lower(), list(folded), n=1)
        hint = f"; did you mean {folded[close[0]]!r}?" if close else ";"
        return ValueError(
            f"unknown {what} {name!r}{hint} known: {', '.join(sorted(known, key=str.lower))}. "
            f"For your own, decorate it with @{self.module}.register_serializable() or pass "
            f"custom_objects={{{name!r}: ...}}")

    def _accepted(self, none=True):
        parts = ["a name", "a config dict"]
        if self.base is not None:
            parts.append(("an " if self.base.__name__[0] in "AEIOU" else "a ")
                         + self.base.__name__)
        if self._from_function is not None:
            parts.append("a callable")
        if none and self._none is not REFUSE:
            parts.append("None")
        return ", ".join(parts[:-1]) + " or " + parts[-1]

    # ------------------------------------------------------------ get
    def _instantiate(self, cls, name, by_name=True):
        try:
            return self._make(cls, name) if self._make and by_name else cls()
        except TypeError as e:
            raise TypeError(f"{self.kind} {name!r} needs arguments ({e}); build it directly "
                            "or pass a config dict") from None

    def _from_callable(self, fn, identifier):
        if self._from_function is None:
            raise TypeError(f"cannot interpret {identifier!r} as {self._a}: pass "
                            f"{self._accepted()}")
        return self._from_function(fn)

    def get(self, identifier, custom_objects=None):
        """The object ``identifier`` stands for (see the module docstring for the rules).

        Args:
            identifier: a name, a config dict, an instance of the kind, a class,
                a function (kinds that take functions) or None.
            custom_objects: optional ``{name: class or function}`` for names
                that are not registered (looked up first).

        Raises:
            ValueError: an unknown name (the message suggests the closest known one).
            TypeError: anything that is none of the above.
        """
        if identifier is None:
            if self._none is REFUSE:
                raise TypeError(f"{self._a} is required: pass {self._accepted(False)}, "
                                "not None")
            return self._none
        if self.base is not None and isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, str):
            obj = self.lookup(identifier, custom_objects)
            if obj is None:
                raise self._unknown(self.kind, identifier, self._shown)
            if isinstance(obj, type):
                return self._instantiate(obj, identifier)
            if self.base is not None and isinstance(obj, self.base):
                return obj
            return self._from_callable(obj, identifier)
        if isinstance(identifier, dict):
            return self.deserialize(identifier, custom_objects)
        if isinstance(identifier, type) and self.base is not None \
                and issubclass(identifier, self.base):
            return self._instantiate(identifier, identifier.__name__, by_name=False)
        if callable(identifier):
            return self._from_callable(identifier, identifier)
        raise TypeError(f"{self._a} must be {self._accepted()}; received "
                        f"{type(identifier).__name__}: {identifier!r}"[:300])

    # ------------------------------------------------------------ serialize
    def serialize(self, obj):
        """``{"class_name", "config"}`` (plus ``"registered_name"`` for a user class) for
        an object with ``get_config``; a name for a function; a name or dict as it is."""
        if obj is None and self._none is None:
            return None
        if obj is None or isinstance(obj, str):
            return self.serialize(self.get(obj))  # a name: its canonical form
        if isinstance(obj, dict):
            return obj
        if hasattr(obj, "get_config") and not isinstance(obj, type):
            cls = type(obj)
            out = {"class_name": cls.__name__, "config": obj.get_config()}
            name = self._names.get(cls)
            if name is not None and name != cls.__name__:
                out["registered_name"] = name
            return out
        if callable(obj) and self._from_function is not None:
            return self.name_of(obj)
        raise TypeError(f"cannot serialize {obj!r} as {self._a}: expected "
                        f"{'a ' + self.base.__name__ if self.base else 'a callable'}"[:300])

    def deserialize(self, config, custom_objects=None):
        """Rebuild an object from :meth:`serialize`'s dict.

        Only registered classes or those in ``custom_objects`` are
        instantiated; a name is never imported. ``custom_objects`` stay in
        scope while the object is built, so nested configs (a layer's
        initializer) see them too.

        Raises:
            TypeError: ``config`` is not a dict, or its parts have the wrong
                types, or what the name resolves to has no ``from_config``.
            ValueError: no ``"class_name"``, or an unknown class.

        Example::

            LOSSES.deserialize({"class_name": "Huber", "config": {"delta": 2.0}})
            ACTIVATIONS.deserialize({"class_name": "function", "config": "relu"})
        """
        if not isinstance(config, dict):
            raise TypeError(f"deserialize expects a dict {{'class_name': ..., 'config': "
                            f"{{...}}}} for {self._a}, received {type(config).__name__}: "
                            f"{config!r}"[:300])
        if "class_name" not in config:
            raise ValueError(f"deserialize expects a dict {{'class_name': ..., 'config': "
                             f"{{...}}}} for {self._a}; class_name is missing in "
                             f"{config!r}"[:300])
        class_name = config["class_name"]
        if not isinstance(class_name, str):
            raise TypeError(f"deserialize: class_name must be a string, received "
                            f"{class_name!r}"[:300])
        if class_name == "function" and self._from_function is not None:
            # Keras's form of a function: {"class_name": "function", "config": "relu"}
            name = config.get("registered_name") or config.get("config")
            if not isinstance(name, str):
                raise TypeError(f"deserialize: a function config must hold its name, received "
                                f"{name!r}"[:300])
            return self.get(name, custom_objects)
        cfg = config.get("config") or {}
        if not isinstance(cfg, dict):
            raise TypeError(f"deserialize: the config of {class_name!r} must be a dict, "
                            f"received {type(cfg).__name__}")
        cls = None
        registered = config.get("registered_name")
        if isinstance(registered, str):
            cls = self.lookup(registered, custom_objects)
        if cls is None:
            cls = self.lookup(class_name, custom_objects)
        if cls is None:
            known = [k for k, o in self._by_key.items() if isinstance(o, type)
                     and (k == o.__name__ or ">" in k)]
            raise self._unknown(f"{self.kind} class", class_name, known)
        if not isinstance(cls, type) or not callable(getattr(cls, "from_config", None)):
            raise TypeError(f"{class_name!r} must name {self._a} class with from_config, "
                            f"received {cls!r}")
        with custom_object_scope(custom_objects):
            return cls.from_config(dict(cfg))
