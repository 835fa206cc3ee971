"""PyTorch's ``nn.Module`` view of every layer: names, state dicts, traversal, modes.

:class:`ModuleAPI` is a base of :class:`gradkit.layers.Layer`, so a Keras layer and a
``gradkit.nn.Module`` answer the same questions the same way:

* a weight's *local name* is the attribute it was assigned to (``self.weight =
  Parameter(...)``, ``self.kernel = self.add_weight(...)``), else its ``add_weight``
  name; a child's is its attribute name (``"fc1"``, ``"layers.0"``), else its position
  among the layer's children (``"0"``, ``"1"``: a ``Sequential``);
* ``named_parameters()`` / ``state_dict()`` keys join them with dots (``"0.weight"``),
  as PyTorch's do, so a state dict carries over between equivalent models;
* parameters are the trainable weights; buffers the other weights (moving statistics).
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from gradkit.backend import to_numpy

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])
"""What ``load_state_dict(strict=False)`` returns, as in PyTorch."""


def _array_of(owner, key, value):
    """A NumPy array from a state-dict value (gradkit or PyTorch tensor, array, list)."""
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "cpu") and not hasattr(value, "_data"):
        value = value.cpu()  # a PyTorch tensor
    if hasattr(value, "_data"):  # a gradkit Tensor: its array, on its device
        return value._data
    try:
        return to_numpy(getattr(value, "_data", value))
    except (TypeError, ValueError) as e:
        raise TypeError(f"{owner}.load_state_dict: the value for '{key}' is a "
                        f"{type(value).__name__}, expected a tensor or an array") from e


class ModuleAPI:
    """PyTorch's ``nn.Module`` methods, shared by every Layer (see the module docstring)."""

    # ------------------------------------------------------------ names
    def _local_weights(self):
        """``(local name, weight)`` for this layer's own weights, in creation order."""
        names = {id(w): n for n, w in self._weight_names.items()}  # the latest name wins
        return [(names.get(id(w), f"weight_{i}"), w) for i, w in enumerate(self._weights)]

    def named_children(self):
        """``(name, child)`` for the direct sub-layers, in the order they were added."""
        names = {}
        for key, value in vars(self).items():
            if key in ("_layers", "_parent"):
                continue
            if isinstance(value, ModuleAPI):
                names.setdefault(id(value), key)
            elif isinstance(value, (list, tuple)):
                for i, v in enumerate(value):
                    if isinstance(v, ModuleAPI):
                        names.setdefault(id(v), f"{key}.{i}")
        return [(names.get(id(c), str(i)), c) for i, c in enumerate(self._layers)]

    def children(self):
        """The direct sub-layers."""
        return [c for _, c in self.named_children()]

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """``(dotted name, layer)`` for this layer (name ``""``) and every sub-layer."""
        out, stack = [], [(prefix, self)]
        memo = set() if memo is None else memo
        while stack:
            name, layer = stack.pop()
            if remove_duplicate:
                if id(layer) in memo:
                    continue
                memo.add(id(layer))
            out.append((name, layer))
            kids = layer.named_children()
            stack.extend((f"{name}.{n}" if name else n, c) for n, c in reversed(kids))
        return out

    def modules(self):
        """This layer and every sub-layer (depth first)."""
        return [m for _, m in self.named_modules()]

    def get_submodule(self, target):
        """The sub-layer at dotted path ``target`` (``""`` is this layer)."""
        layer = self
        for part in filter(None, target.split(".")):
            kids = dict(layer.named_children())
            if part not in kids:
                raise AttributeError(f"{type(layer).__name__} has no sub-layer '{part}' (in "
                                     f"'{target}'); it has {sorted(kids)}")
            layer = kids[part]
        return layer

    def _named_weights(self, prefix, keep):
        out, seen = [], set()
        for mname, layer in self.named_modules(prefix=prefix):
            for lname, w in layer._local_weights():
                if id(w) in seen or not keep(layer, w):
                    continue
                seen.add(id(w))
                out.append((f"{mname}.{lname}" if mname else lname, w))
        return out

    def named_parameters(self, prefix="", recurse=True):
        """``(dotted name, parameter)`` for every trainable weight (``"0.weight"``)."""
        if not recurse:
            return [(prefix + n, w) for n, w in self._local_weights()
                    if w.trainable and self._trainable]
        return self._named_weights(prefix, lambda layer, w: w.trainable and layer._trainable)

    def parameters(self, recurse=True):
        """The trainable weights, for PyTorch-style optimizers (``SGD(model.parameters())``)."""
        return [w for _, w in self.named_parameters(recurse=recurse)]

    def named_buffers(self, prefix=""):
        """``(dotted name, buffer)`` for the weights that are not trained (moving statistics,
        frozen layers' weights)."""
        return self._named_weights(
            prefix, lambda layer, w: not (w.trainable and layer._trainable))

    def buffers(self):
        """The weights that are not trained."""
        return [w for _, w in self.named_buffers()]

    # ------------------------------------------------------------ state dicts
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """Every weight and buffer by dotted name (``{"0.weight": tensor, ...}``).

        Args:
            destination: an optional mapping to fill (else a new OrderedDict).
            prefix: put before every key.
            keep_vars: the weights themselves; by default detached tensors sharing
                their memory (copy them, e.g. with ``copy.deepcopy``, to keep a snapshot).

        Returns:
            An OrderedDict of tensors, in the order PyTorch uses for the same model.
        """
        out = OrderedDict() if destination is None else destination
        for name, w in self._named_weights(prefix, lambda layer, w: True):
            out[name] = w if keep_vars else w.detach()
        return out

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values into the weights, by dotted name (from ``state_dict()`` of this or an
        equivalent model, gradkit's or PyTorch's).

        Args:
            state_dict: a mapping of names to tensors or arrays.
            strict: every weight must be given and every key used; otherwise raise.
            assign: PyTorch's swap-in of the given tensors: not supported (False copies).

        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)``.

        Raises:
            RuntimeError: with ``strict``, names the missing and unexpected keys; always,
                for a value whose shape does not match its weight.
        """
        if assign:
            raise NotImplementedError("load_state_dict: assign=True is not supported; values "
                                      "are copied into the existing weights")
        owner = type(self).__name__
        mine = self.state_dict(keep_vars=True)
        missing = [k for k in mine if k not in state_dict]
        unexpected = [k for k in state_dict if k not in mine]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing key(s): {', '.join(repr(k) for k in missing)}")
            if unexpected:
                parts.append(f"unexpected key(s): {', '.join(repr(k) for k in unexpected)}")
            raise RuntimeError(f"Error(s) in loading state_dict for {owner}: "
                               f"{'; '.join(parts)}. The model has keys {list(mine)}; pass "
                               "strict=False to load the matching keys only")
        values = {}
        for key, w in mine.items():
            if key in state_dict:
                arr = _array_of(owner, key, state_dict[key])
                if arr.shape != w.shape:
                    raise RuntimeError(f"Error(s) in loading state_dict for {owner}: size "
                                       f"mismatch for '{key}': the model's weight has shape "
                                       f"{w.shape}, the state dict's value {arr.shape}")
                values[key] = arr
        for key, arr in values.items():  # all checked first: nothing half-loaded
            w = mine[key]
            w._data[...] = arr.astype(w.dtype, copy=False)
            w._version += 1
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ registration
    def register_buffer(self, name, tensor, persistent=True):
        """Keep ``tensor`` as state that is not trained (``self.<name>``); persistent
        buffers are in ``state_dict()`` and saved with the model."""
        from gradkit.tensor import Variable

        if tensor is None:
            object.__setattr__(self, name, None)
            return
        buf = Variable(tensor, trainable=False, name=f"{self.name}/{name}")
        if persistent:
            self._track_weight(name, buf)
        object.__setattr__(self, name, buf)

    def register_parameter(self, name, param):
        """``self.<name> = param`` (None allowed: an absent parameter such as a bias)."""
        setattr(self, name, param)

    def add_module(self, name, module):
        """``self.<name> = module``."""
        setattr(self, name, module)

    register_module = add_module

    def _track_weight(self, name, var):
        """Record ``var`` as this layer's weight ``name`` (replacing one of that name)."""
        names = self._weight_names
        old = names.get(name)
        index = next((i for i, w in enumerate(self._weights) if w is old), None)
        if old is not None and old is not var and index is not None:
            self._weights[index] = var  # a new value for the same name, in the same place
        elif not any(w is var for w in self._weights):
            self._weights.append(var)
        names.pop(name, None)
        names[name] = var  # (re)inserted last: the latest name of a weight wins
        if var.name is None:
            var.name = f"{self.name}/{name}"

    # ------------------------------------------------------------ modes and grads
    def apply(self, fn):
        """Call ``fn`` on every sub-layer (children first), then on this layer."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, requires_grad=True):
        """Switch gradient recording of every parameter on or off (they stay parameters)."""
        for w in self.parameters():
            w.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset ``.grad`` of every weight (to None, or zeros with ``set_to_none=False``)."""
        for w in self.weights:
            if set_to_none:
                w.grad = None
            elif w.grad is not None:
                w.grad._data[...] = 0

    def _cast_weights(self, dtype):
        dtype = np.dtype(dtype)
        for layer in self.modules():
            for w in layer._weights:
                if w.dtype.kind == "f":
                    w._data = w._data.astype(dtype)
                    w._version += 1
            layer.dtype = dtype
        return self

    def float(self):
        """Cast floating-point weights to float32 (inputs are cast to it too)."""
        return self._cast_weights("float32")

    def double(self):
        """Cast floating-point weights to float64 (inputs are cast to it too)."""
        return self._cast_weights("float64")
