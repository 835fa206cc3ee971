"""Weight penalties (Keras's ``keras.regularizers``): ``reg(weight) -> scalar Tensor``.

A layer adds ``regularizer(kernel)`` to the loss; the penalty is built from
:mod:`gradkit.ops`, so its gradient flows into the weight.

Example::

    from gradkit import regularizers

    reg = regularizers.get("l2")            # L2(l2=0.01)
    loss = data_loss + reg(layer.kernel)    # + 0.01 * sum(kernel ** 2)
"""

from __future__ import annotations

from gradkit import ops
from gradkit.tensor import Tensor
from gradkit.utils.config import Configurable

__all__ = ["L1", "L1L2", "L2", "Regularizer", "deserialize", "get", "l1", "l1_l2", "l2",
           "serialize"]


def _as_tensor(w):
    return w if isinstance(w, Tensor) else Tensor(w)


def _factor(name, value):
    value = float(value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


class Regularizer(Configurable):
    """Base class: ``reg(weight)`` returns a scalar penalty Tensor.

    Subclasses implement ``__call__`` and ``get_config``.
    """

    def __call__(self, weight):  # pragma: no cover - abstract
        raise NotImplementedError


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w ** 2)``.

    Args:
        l1: the L1 factor (>= 0; default 0).
        l2: the L2 factor (>= 0; default 0).

    Returns (when called):
        A scalar Tensor of the weight's dtype (0 when both factors are 0).

    Example::

        L1L2(l1=0.01, l2=0.01)(gradkit.Variable([[1.0, -2.0]]))   # 0.03 + 0.05 = 0.08
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor("l1", l1)
        self.l2 = _factor("l2", l2)

    def __call__(self, weight):
        """The penalty of ``weight`` (Tensor or array) as a scalar Tensor."""
        w = _as_tensor(weight)
        out = None
        if self.l1:
            out = ops.sum(ops.abs(w)) * self.l1
        if self.l2:
            sq = ops.sum(w * w) * self.l2
            out = sq if out is None else out + sq
        if out is None:
            out = ops.sum(w * 0.0)
        return out

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|w|)`` (the gradient at 0 is 0).

    Args:
        l1: the factor (default 0.01, as in Keras).

    Example::

        L1(0.1)(gradkit.Variable([1.0, -3.0]))   # 0.4
    """

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(w ** 2)`` (Keras's definition: no factor 1/2).

    Args:
        l2: the factor (default 0.01, as in Keras).

    Example::

        L2(0.1)(gradkit.Variable([1.0, -3.0]))   # 1.0
    """

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def l1(l1=0.01):
    """An :class:`L1` regularizer."""
    return L1(l1)


def l2(l2=0.01):
    """An :class:`L2` regularizer."""
    return L2(l2)


def l1_l2(l1=0.01, l2=0.01):
    """An :class:`L1L2` regularizer (note: 0.01 defaults here, as in Keras)."""
    return L1L2(l1, l2)


_CLASSES = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}
_BY_CLASS_NAME = {c.__name__.lower(): c for c in (L1, L2, L1L2)}


def serialize(regularizer):
    """A regularizer as ``{"class_name": ..., "config": {...}}``.

    Args:
        regularizer: a :class:`Regularizer`.

    Returns:
        A JSON-able dict for :func:`deserialize`.
    """
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}


def deserialize(config):
    """Rebuild a regularizer from :func:`serialize`'s dict.

    Args:
        config: ``{"class_name": "L2", "config": {"l2": 0.01}}``.

    Returns:
        A :class:`Regularizer`.
    """
    name = config.get("class_name", "")
    cls = _BY_CLASS_NAME.get(name.lower())
    if cls is None:
        raise ValueError(f"unknown regularizer class {name!r}; known classes are: L1, L2, L1L2")
    return cls.from_config(config.get("config", {}))


def get(identifier):
    """Resolve a regularizer given by name, config, class, instance or callable.

    Args:
        identifier: ``"l1"``, ``"l2"`` (factor 0.01), ``"l1_l2"`` (0.01 each)
            or a class name; a dict from :func:`serialize`; a
            :class:`Regularizer` subclass or instance; any callable
            ``weight -> scalar Tensor`` (returned unchanged); or ``None``.

    Returns:
        A callable regularizer (or None).

    Raises:
        ValueError: for an unknown name; the message lists the valid names.

    Example::

        regularizers.get("l2")     # L2(l2=0.01)
    """
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        key = identifier.strip().lower()
        if key in ("l1_l2", "l1l2"):
            return l1_l2()
        cls = _CLASSES.get(key) or _BY_CLASS_NAME.get(key)
        if cls is None:
            raise ValueError(f"unknown regularizer {identifier!r}; valid names are: "
                             "l1, l2, l1_l2 (or L1, L2, L1L2)")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(f"a regularizer must be a name, a config dict, a Regularizer or a "
                    f"callable, got {type(identifier).__name__}: {identifier!r}")
