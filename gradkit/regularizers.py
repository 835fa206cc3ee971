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
from gradkit.utils.registry import Registry, as_is
from gradkit.utils.validation import check_number

__all__ = ["L1", "L1L2", "L2", "REGULARIZERS", "Regularizer", "deserialize", "get", "l1", "l1_l2",
           "l2", "register_serializable", "serialize"]


def _as_tensor(w):
    return w if isinstance(w, Tensor) else Tensor(w)


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
        self.l1 = check_number(type(self).__name__, "l1", l1, 0)
        self.l2 = check_number(type(self).__name__, "l2", l2, 0)

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


def _make(cls, name):
    # "l1_l2" by name means Keras 2's l1_l2(): 0.01 for both factors
    return l1_l2() if cls is L1L2 else cls()


REGULARIZERS = Registry("regularizer", Regularizer, module="gradkit.regularizers", none=None,
                        from_function=as_is, make=_make)
"""The regularizer registry (see :mod:`gradkit.utils.registry`)."""

REGULARIZERS.register("l1")(L1)
REGULARIZERS.register("l2")(L2)
REGULARIZERS.register("l1_l2", "l1l2")(L1L2)
register_serializable = REGULARIZERS.register_serializable


def serialize(regularizer):
    """A regularizer as ``{"class_name": ..., "config": {...}}`` (a function: its name).

    Args:
        regularizer: a :class:`Regularizer` (or a registered function).

    Returns:
        A JSON-able value for :func:`deserialize` / :func:`get`.
    """
    return REGULARIZERS.serialize(regularizer)


def deserialize(config, custom_objects=None):
    """Rebuild a regularizer from :func:`serialize`'s dict.

    Args:
        config: ``{"class_name": "L2", "config": {"l2": 0.01}}``.
        custom_objects: optional ``{name: class}`` for unregistered classes.

    Returns:
        A :class:`Regularizer`.
    """
    return REGULARIZERS.deserialize(config, custom_objects)


def get(identifier, custom_objects=None):
    """Resolve a regularizer given by name, config, class, instance or callable.

    Args:
        identifier: ``"l1"``, ``"l2"`` (factor 0.01), ``"l1_l2"`` (0.01 each)
            or a class name; a dict from :func:`serialize`; a
            :class:`Regularizer` subclass or instance; any callable
            ``weight -> scalar Tensor`` (returned unchanged); or ``None``.
        custom_objects: optional ``{name: class or function}``.

    Returns:
        A callable regularizer (or None).

    Raises:
        ValueError: for an unknown name; the message lists the valid names.

    Example::

        regularizers.get("l2")     # L2(l2=0.01)
    """
    return REGULARIZERS.get(identifier, custom_objects)
