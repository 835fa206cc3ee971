"""``Layer``: the unit models are built from, Keras's contract with PyTorch's habits.

A layer stores its configuration in ``__init__``, creates its weights in
``build(input_shape)`` with :meth:`Layer.add_weight` (lazily, on the first
call, unless sizes were given up front), and does its math in
``call(inputs, training=None)`` with gradkit ops. ``get_config`` returns the
constructor arguments, so ``type(layer).from_config(layer.get_config())``
rebuilds it; every layer is thereby serializable.
"""

from __future__ import annotations

import re

import numpy as np

from gradkit.autograd.function import no_grad
from gradkit.tensor import Tensor, Variable

_name_counts: dict = {}


def unique_name(base: str) -> str:
    """``dense``, then ``dense_1``, ``dense_2``... (per process)."""
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def reset_names():
    """Start layer names afresh (``clear_session``)."""
    _name_counts.clear()


def _snake(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def shape_str(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


class InputSpec:
    """What a layer accepts: a rank (``ndim``/``min_ndim``) and fixed axis sizes.

    ``hint`` is appended to the error, e.g. "add a Flatten layer first".
    """

    def __init__(self, ndim=None, min_ndim=None, axes=None, hint=""):
        self.ndim, self.min_ndim, self.axes, self.hint = ndim, min_ndim, dict(axes or {}), hint

    def check(self, layer, shape):
        what = None
        if self.ndim is not None and len(shape) != self.ndim:
            what = f"expected input with {self.ndim} axes"
        elif self.min_ndim is not None and len(shape) < self.min_ndim:
            what = f"expected input with at least {self.min_ndim} axes"
        else:
            for axis, size in self.axes.items():
                if size is not None and shape[axis] is not None and shape[axis] != size:
                    what = f"expected input with axis {axis} of size {size}"
                    if axis == -1 or axis == len(shape) - 1:
                        what = f"expected input with last axis {size}"
                    break
        if what:
            msg = f"{type(layer).__name__} '{layer.name}' {what}, received shape {shape_str(shape)}"
            raise ValueError(msg + (f"; {self.hint}" if self.hint else ""))


class SymbolicTensor:
    """A placeholder flowing through layers to define a functional model.

    Carries a shape (batch axis ``None``) and dtype, and the layer call that
    produced it (``node``), so ``Model(inputs, outputs)`` can replay the graph.
    """

    def __init__(self, shape, dtype="float32", node=None, name=None):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.node = node
        self.name = name

    ndim = property(lambda self: len(self.shape))

    def __repr__(self):
        return f"<SymbolicTensor shape={shape_str(self.shape)} dtype={self.dtype} name={self.name}>"


class Node:
    """One call of a layer on symbolic inputs (a functional model's edge)."""

    def __init__(self, layer, inputs, kwargs, outputs=None):
        self.layer, self.inputs, self.kwargs, self.outputs = layer, inputs, kwargs, outputs

    @property
    def flat_inputs(self):
        return list(self.inputs) if isinstance(self.inputs, (list, tuple)) else [self.inputs]


def _is_symbolic(x):
    if isinstance(x, (list, tuple)):
        return any(isinstance(i, SymbolicTensor) for i in x)
    return isinstance(x, SymbolicTensor)


_VALID_KINDS = "fiub"
_takes_training_cache: dict = {}


def _takes_training(cls) -> bool:
    """Whether ``cls.call`` accepts ``training`` (user layers may leave it out)."""
    v = _takes_training_cache.get(cls)
    if v is None:
        import inspect

        params = inspect.signature(cls.call).parameters
        v = "training" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
        _takes_training_cache[cls] = v
    return v


def to_tensor_input(layer, x, dtype):
    """Convert one input to a Tensor, cast floats to the layer's dtype, refuse non-numbers."""
    if isinstance(x, Tensor):
        if x.dtype.kind == "f" and x.dtype != dtype:
            return x.astype(dtype)
        return x
    arr = np.asarray(x)
    if arr.dtype.kind not in _VALID_KINDS:
        raise TypeError(
            f"{type(layer).__name__} '{layer.name}' received input of dtype {arr.dtype} "
            f"({_kind_words(arr.dtype)}); it needs real numbers: convert with "
            "np.asarray(x, dtype='float32')")
    if arr.dtype.kind == "f" and arr.dtype != dtype or arr.dtype.kind == "b":
        arr = arr.astype(dtype)
    return Tensor._make(arr, False, None)


def _kind_words(dt):
    return {"U": "strings", "S": "bytes", "O": "Python objects", "c": "complex numbers"}.get(
        dt.kind, "not numeric")


class Layer:
    """Base class of all layers.

    Args:
        trainable: whether the layer's weights are updated by training.
        name: a unique name (default: the class name in snake case, numbered).
        dtype: the dtype of weights and computation (default float32).
        input_shape / input_dim: optional sizes (without the batch axis), to
            build the layer at once instead of on its first call.

    Subclasses implement ``build(input_shape)`` (weights via ``add_weight``),
    ``call(inputs, training=None)`` and ``get_config()``; the rest comes from here.
    Both training styles work: Keras (inside a ``Model``, ``fit``) and PyTorch
    (``layer.parameters()``, ``loss.backward()``, ``opt.step()``).

    Example::

        class Scale(Layer):
            def build(self, input_shape):
                self.s = self.add_weight((input_shape[-1],), initializer="ones", name="s")
            def call(self, x, training=None):
                return x * self.s
    """

    def __init__(self, trainable=True, name=None, dtype=None, input_shape=None,
                 input_dim=None, batch_input_shape=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) "
                            f"{', '.join(sorted(kwargs))}")
        object.__setattr__(self, "_layers", [])
        object.__setattr__(self, "_weights", [])
        self.name = name or unique_name(_snake(type(self).__name__))
        self.dtype = np.dtype(dtype or "float32")
        self._trainable = bool(trainable)
        self.built = False
        self.training = False  # PyTorch-style mode, set by train()/eval()
        self.input_spec = None
        self._regularizers = []  # (weight, regularizer) pairs
        self.activity_regularizer = None
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        self._build_input_shape = None if input_shape is None else (None,) + tuple(input_shape)
        self._declared_input_shape = None if input_shape is None else tuple(input_shape)

    # ------------------------------------------------------------ tracking
    def __setattr__(self, key, value):
        if isinstance(value, Layer) and key != "_parent":
            if value not in self._layers:
                self._layers.append(value)
        elif isinstance(value, (list, tuple)) and value and all(
                isinstance(v, Layer) for v in value):
            for v in value:
                if v not in self._layers:
                    self._layers.append(v)
        object.__setattr__(self, key, value)

    @property
    def layers(self):
        """Direct sub-layers (in the order they were assigned)."""
        return list(self._layers)

    def _flatten_layers(self):
        seen, stack, out = set(), [self], []
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            out.append(layer)
            stack.extend(reversed(layer._layers))
        return out

    # ------------------------------------------------------------ weights
    def add_weight(self, shape=(), initializer="glorot_uniform", dtype=None, trainable=True,
                   regularizer=None, name=None, constraint=None):
        """Create a weight (a :class:`Variable`) owned by this layer.

        Args:
            shape: its shape.
            initializer: a name (``"zeros"``, ``"he_normal"``...) or callable
                ``(shape, dtype) -> array``.
            trainable: trained by optimizers when True (else e.g. moving statistics).
            regularizer: a name or callable ``Variable -> scalar`` added to the loss.
        """
        from gradkit import initializers, regularizers
        from gradkit.models import weight_budget

        weight_budget.take(shape, f"layer '{self.name}' ({type(self).__name__})")  # model files
        dtype = np.dtype(dtype or self.dtype)
        init = initializers.get(initializer)
        value = np.asarray(init(tuple(shape), dtype=dtype), dtype=dtype)
        var = Variable(value, trainable=trainable and self._trainable, name=f"{self.name}/{name}")
        var.trainable = trainable  # the weight's own flag; the layer's flag gates it too
        if not self._trainable:
            var.requires_grad = False
        self._weights.append(var)
        if regularizer is not None:
            self._regularizers.append((var, regularizers.get(regularizer)))
        if constraint is not None:
            raise NotImplementedError(
                f"{type(self).__name__}: weight constraints are not supported")
        return var

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        for layer in self._flatten_layers():
            layer._trainable = bool(value)
            for w in layer._weights:
                w.requires_grad = bool(value) and w.trainable and w.dtype.kind == "f"

    @property
    def weights(self):
        """All weights, trainable first (recursively through sub-layers)."""
        return self.trainable_weights + self.non_trainable_weights

    @property
    def trainable_weights(self):
        out, seen = [], set()
        for layer in self._flatten_layers():
            if layer._trainable:
                for w in layer._weights:
                    if w.trainable and id(w) not in seen:
                        seen.add(id(w))
                        out.append(w)
        return out

    @property
    def non_trainable_weights(self):
        seen = {id(w) for w in self.trainable_weights}
        out = []
        for layer in self._flatten_layers():
            for w in layer._weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    trainable_variables = trainable_weights
    variables = weights

    def parameters(self):
        """The trainable weights, for PyTorch-style optimizers (``SGD(model.parameters())``)."""
        return self.trainable_weights

    def named_parameters(self):
        return [(w.name, w) for w in self.trainable_weights]

    def zero_grad(self):
        """Reset ``.grad`` of every parameter (PyTorch style)."""
        for w in self.weights:
            w.grad = None

    def count_params(self):
        """Number of scalars in all weights."""
        return int(sum(w.size for w in self.weights))

    def get_weights(self):
        """The weights' values as a list of NumPy arrays (copies)."""
        return [w.numpy().copy() for w in self.weights]

    def set_weights(self, values):
        """Load values (NumPy arrays, same order and shapes as ``get_weights``)."""
        ws = self.weights
        if len(values) != len(ws):
            raise ValueError(f"{type(self).__name__} '{self.name}'.set_weights: expected "
                             f"{len(ws)} arrays, received {len(values)}")
        for w, v in zip(ws, values):
            v = np.asarray(v)
            if v.shape != w.shape:
                raise ValueError(f"{type(self).__name__} '{self.name}': weight '{w.name}' has "
                                 f"shape {w.shape}, received an array of shape {v.shape}")
        for w, v in zip(ws, values):
            w.assign(np.asarray(v, dtype=w.dtype))

    @property
    def losses(self):
        """Regularization penalties of this layer and its sub-layers (scalar Tensors)."""
        out = []
        for layer in self._flatten_layers():
            out.extend(reg(w) for w, reg in layer._regularizers)
        return out

    # ------------------------------------------------------------ modes
    def train(self, mode=True):
        """PyTorch habit: make ``training=None`` mean training (Dropout active...)."""
        for layer in self._flatten_layers():
            layer.training = bool(mode)
        return self

    def eval(self):
        """PyTorch habit: inference mode for calls without ``training=``."""
        return self.train(False)

    # ------------------------------------------------------------ calling
    def build(self, input_shape):
        """Create weights for inputs of ``input_shape`` (batch axis included, may be None)."""
        self.built = True

    def call(self, inputs, training=None):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement call()")

    def _maybe_build(self, input_shape):
        if not self.built:
            if self._declared_input_shape is not None and isinstance(input_shape, tuple) \
                    and len(input_shape) == len(self._declared_input_shape) + 1:
                declared = (None,) + self._declared_input_shape
                if any(d is not None and s is not None and d != s
                       for d, s in zip(declared[1:], input_shape[1:])):
                    raise ValueError(
                        f"{type(self).__name__} '{self.name}' was declared with input shape "
                        f"{shape_str(declared)}, received shape {shape_str(input_shape)}")
            self.build(input_shape)
            self.built = True

    def __call__(self, inputs, *args, training=None, **kwargs):
        if isinstance(inputs, Tensor) and inputs._data.dtype is self.dtype:
            shape = inputs._data.shape  # the hot path: a Tensor of the layer's dtype
        elif _is_symbolic(inputs):
            return self._symbolic_call(inputs, args, training, kwargs)
        elif isinstance(inputs, (list, tuple)):
            inputs = type(inputs)(to_tensor_input(self, x, self.dtype) for x in inputs)
            shape = [x.shape for x in inputs]
        else:
            inputs = to_tensor_input(self, inputs, self.dtype)
            shape = inputs._data.shape
        if not self.built:
            self._maybe_build(shape)
        spec = self.input_spec
        if spec is not None and not isinstance(shape, list):
            spec.check(self, shape)
        takes = _takes_training_cache.get(type(self))
        if takes is None:
            takes = _takes_training(type(self))
        if takes:
            return self.call(inputs, *args, training=self.training if training is None
                             else training, **kwargs)
        return self.call(inputs, *args, **kwargs)

    def _symbolic_call(self, inputs, args, training, kwargs):
        flat = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        shape = [t.shape for t in flat] if isinstance(inputs, (list, tuple)) else inputs.shape
        if not self.built:
            self._maybe_build(shape)
        if self.input_spec is not None and not isinstance(shape, list):
            self.input_spec.check(self, shape)
        out_shape = self.compute_output_shape(shape)
        node = Node(self, inputs, dict(kwargs, training=training) if training is not None
                    else dict(kwargs))
        out = SymbolicTensor(out_shape, self.dtype, node, name=self.name)
        node.outputs = out
        return out

    def compute_output_shape(self, input_shape):
        """Output shape for ``input_shape``; by default found by running the layer on zeros."""

        def dummy(s):
            return np.zeros(tuple(1 if d is None else d for d in s), dtype=self.dtype)

        if isinstance(input_shape, list):
            x = [dummy(s) for s in input_shape]
        else:
            x = dummy(input_shape)
        with no_grad():
            y = self(x, training=False)
        return (None,) + tuple(y.shape[1:])

    # ------------------------------------------------------------ config
    def get_config(self):
        """Constructor arguments as a JSON-serializable dict."""
        cfg = {"name": self.name, "trainable": self._trainable}
        if self.dtype != np.float32:
            cfg["dtype"] = self.dtype.name
        if self._declared_input_shape is not None:
            cfg["input_shape"] = list(self._declared_input_shape)
        return cfg

    @classmethod
    def from_config(cls, config):
        """Rebuild a layer from :meth:`get_config`'s output."""
        return cls(**config)

    def __repr__(self):
        cfg = self.get_config()
        cfg.pop("name", None)
        if cfg.get("trainable", True):
            cfg.pop("trainable", None)
        args = ", ".join(f"{k}={v!r}" for k, v in cfg.items())
        return f"<{type(self).__name__} '{self.name}'{': ' + args if args else ''}>"
