"""Answering for Keras 3 names gradkit does not have: ``NotInGradkitError``.

``gradkit.keras`` and its submodules (``keras.layers``, ``keras.ops``...) know
Keras 3's public names (the list in :mod:`gradkit.keras._keras3_names`, made once
from the real Keras by ``scripts/keras_api_coverage.py --write-names``; Keras is
never imported at run time). Asking one of them for a Keras name gradkit lacks
raises :class:`NotInGradkitError`, which says so; any other unknown name is the
usual ``AttributeError``.

Why not an ``AttributeError``: ``from keras.layers import MultiHeadAttention``
turns an ``AttributeError`` into ``ImportError: cannot import name ...`` and drops
its message. A ``NotImplementedError`` reaches the user as it is, the way an
argument gradkit does not implement does. (So ``hasattr(keras.layers, name)``
raises for such a name instead of returning False.)

Example::

    from gradkit.keras import layers
    layers.ConvLSTM2D      # NotInGradkitError: keras.layers.ConvLSTM2D is a Keras 3 name
                           # that gradkit does not have yet ...
"""

from __future__ import annotations

from gradkit.keras._keras3_names import KERAS3_NAMES

_SETS: dict = {}


class NotInGradkitError(NotImplementedError):
    """A Keras 3 public name that gradkit does not have yet."""


def keras_names(module: str) -> frozenset:
    """Keras 3's public names in ``keras.<module>`` (``""``: the top level)."""
    names = _SETS.get(module)
    if names is None:
        names = _SETS[module] = frozenset(KERAS3_NAMES.get(module, "").split())
    return names


def error(module: str, name: str) -> NotInGradkitError:
    """The error for Keras 3's ``keras.<module>.<name>``, which gradkit lacks."""
    where = f"keras.{module}.{name}" if module else f"keras.{name}"
    return NotInGradkitError(
        f"{where} is part of Keras 3, but gradkit does not have it yet "
        f"(scripts/keras_api_coverage.py lists what gradkit.keras has); meanwhile, write it "
        f"with gradkit's ops or a custom Layer")


def module_getattr(module: str, target=None):
    """A PEP 562 module ``__getattr__`` for ``gradkit.keras.<module>``.

    Names not found in the module itself are looked up on ``target`` (the gradkit
    module it stands for, if any); a Keras 3 name found nowhere raises
    :class:`NotInGradkitError`, anything else ``AttributeError``.
    """
    label = f"gradkit.keras.{module}" if module else "gradkit.keras"

    def __getattr__(name):  # noqa: N807 - the PEP 562 hook
        if target is not None and not name.startswith("__"):
            try:
                return getattr(target, name)
            except AttributeError:
                pass
        if name in keras_names(module):
            raise error(module, name)
        raise AttributeError(f"module {label!r} has no attribute {name!r}")

    return __getattr__
