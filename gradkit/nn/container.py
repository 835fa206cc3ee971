"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``.

Children are attributes named ``"0"``, ``"1"``... (or the dict's keys), so
``state_dict()`` keys read ``"0.weight"`` as in PyTorch.
"""

from __future__ import annotations

from collections import OrderedDict

from gradkit.layers.base import Layer
from gradkit.nn.module import Module, builtin


def _check(owner, module):
    if not isinstance(module, Layer):
        raise TypeError(f"{owner}: expected a Module (or any gradkit layer), received "
                        f"{type(module).__name__}")
    return module


class _Indexed(Module):
    """Children kept in order under the names ``"0"``, ``"1"``..."""

    def _items(self):
        return [c for _, c in self.named_children()]

    def __len__(self):
        return len(self._layers)

    def __iter__(self):
        return iter(self._items())

    def __getitem__(self, idx):
        items = self._items()
        if isinstance(idx, slice):
            return type(self)(*items[idx]) if isinstance(self, Sequential) \
                else ModuleList(items[idx])
        return items[idx]

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        setattr(self, str(len(self._layers)), _check(type(self).__name__, module))
        return self

    def get_config(self):
        from gradkit.layers.registry import serialize

        return {"modules": [serialize(m) for m in self._items()]}


@builtin
class Sequential(_Indexed):
    """Modules applied one after another: ``Sequential(a, b, c)`` or
    ``Sequential(OrderedDict([("fc", a), ("act", b)]))``.

    Example::

        model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
        logits = model(x)
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, m in modules[0].items():
                setattr(self, str(name), _check("Sequential", m))
        else:
            for m in modules:
                self.append(m)

    def forward(self, input):  # noqa: A002
        for m in self._items():
            input = m(input)
        return input

    @classmethod
    def from_config(cls, config):
        from gradkit.layers.registry import deserialize

        return cls(*[deserialize(m) for m in config.get("modules", [])])


@builtin
class ModuleList(_Indexed):
    """A list of modules whose parameters are registered (``self.blocks = ModuleList(...)``).

    Example::

        self.layers = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
    """

    def __init__(self, modules=None):
        super().__init__()
        for m in modules or ():
            self.append(m)

    def extend(self, modules):
        """Append each of ``modules``; returns self."""
        for m in modules:
            self.append(m)
        return self

    @classmethod
    def from_config(cls, config):
        from gradkit.layers.registry import deserialize

        return cls([deserialize(m) for m in config.get("modules", [])])


@builtin
class ModuleDict(Module):
    """A dict of modules by name, registered as children under those names.

    Example::

        self.heads = nn.ModuleDict({"cls": nn.Linear(8, 3), "reg": nn.Linear(8, 1)})
    """

    def __init__(self, modules=None):
        super().__init__()
        for name, m in (modules or {}).items():
            self[name] = m

    def __setitem__(self, name, module):
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"ModuleDict: a key must be a non-empty string without '.', "
                           f"received {name!r}")
        setattr(self, name, _check("ModuleDict", module))

    def __getitem__(self, name):
        return dict(self.named_children())[name]

    def __contains__(self, name):
        return name in dict(self.named_children())

    def __len__(self):
        return len(self._layers)

    def __iter__(self):
        return iter(self.keys())

    def keys(self):
        return [n for n, _ in self.named_children()]

    def values(self):
        return [m for _, m in self.named_children()]

    def items(self):
        return self.named_children()

    def get_config(self):
        from gradkit.layers.registry import serialize

        return {"modules": {n: serialize(m) for n, m in self.named_children()}}

    @classmethod
    def from_config(cls, config):
        from gradkit.layers.registry import deserialize

        return cls({n: deserialize(m) for n, m in config.get("modules", {}).items()})
