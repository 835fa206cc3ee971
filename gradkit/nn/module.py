"""``Module``: PyTorch's base class, which is gradkit's :class:`~gradkit.layers.Layer`.

A Module subclass defines ``__init__`` (assigning Parameters and sub-Modules, which
are registered under their attribute names) and ``forward(*args)``. Calling it runs
``Layer.__call__``, whose ``call`` runs ``forward``: so a Module goes into a Keras
``Sequential``, is trained by ``fit`` and saved by ``model.save``, and every Keras
layer has ``parameters()``, ``state_dict()`` and the rest of the Module API
(:mod:`gradkit.layers.module_api`).
"""

from __future__ import annotations

from gradkit.layers.base import Layer
from gradkit.layers.registry import LAYERS

builtin = LAYERS.register_serializable(package="nn")
"""Class decorator for gradkit.nn's own modules: known to ``model.save``/``load_model`` as
``"nn>Linear"``... (never shadowing the Keras layers of the same class name)."""


class Module(Layer):
    """Base class of PyTorch-style modules (a :class:`~gradkit.layers.Layer`).

    Differences from a Keras layer: it starts in training mode (``training=True``;
    ``eval()`` switches), it is built at construction (weights are made in
    ``__init__``), and ``forward`` holds the math. A ``training=`` argument passed
    by Keras (``fit``, ``predict``) sets the mode of the whole module for that call.

    Example::

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(784, 128)
                self.fc2 = nn.Linear(128, 10)

            def forward(self, x):
                return self.fc2(F.relu(self.fc1(x)))
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.training = True
        self.built = True

    def call(self, *args, training=None, **kwargs):
        if type(self).forward is Layer.forward:
            raise NotImplementedError(f"{type(self).__name__} must define forward(self, ...)")
        if training is None or bool(training) == self.training:
            return self.forward(*args, **kwargs)
        saved = [(m, m.training) for m in self.modules()]
        self.train(bool(training))
        try:
            return self.forward(*args, **kwargs)
        finally:
            for m, mode in saved:
                m.training = mode

    def get_config(self):
        """Constructor arguments (none by default: override in a subclass that takes some,
        and register it with ``gradkit.layers.register_serializable`` to save it)."""
        return {}

    def extra_repr(self):
        """The text inside the parentheses of this module's ``repr`` (override)."""
        return ""

    def __repr__(self):
        kids = self.named_children()
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not kids:
            return head + ")"
        lines = [head]
        for name, child in kids:
            text = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {text}")
        return "\n".join(lines) + "\n)"


def factory_dtype(owner, device=None, dtype=None):
    """The weights' dtype from PyTorch's factory arguments ``device=``/``dtype=``.

    Weights are made on the CPU; another device raises (move the module afterwards).
    """
    import numpy as np

    if device is not None:
        from gradkit.devices import as_device

        if as_device(device).type != "cpu":
            raise NotImplementedError(f"{owner}: device={str(device)!r} at construction is not "
                                      "supported; build on the CPU, then move the module")
    return np.dtype(dtype) if dtype is not None else np.dtype("float32")


def new_parameter(shape, dtype, bound=None):
    """A Parameter of ``shape``: ``U(-bound, bound)`` from gradkit.random, zeros when None."""
    import numpy as np

    from gradkit import random
    from gradkit.nn.parameter import Parameter

    if bound is None:
        return Parameter(np.zeros(shape, dtype))
    return Parameter(random.rng(None).uniform(-bound, bound, size=shape).astype(dtype))
