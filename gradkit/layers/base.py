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
import sys
import threading

import numpy as np

from gradkit.autograd.function import no_grad
from gradkit.backend import is_device_array, to_numpy
from gradkit.devices import array_module, as_device, default_device, place, using
from gradkit.layers.module_api import ModuleAPI
from gradkit.mixed_precision import autocast, autocast_dtype
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
_takes_mask_cache: dict = {}


def _takes_mask(cls) -> bool:
    """Whether ``cls.call`` has a ``mask`` parameter (it then receives the input's mask)."""
    v = _takes_mask_cache.get(cls)
    if v is None:
        import inspect

        v = _takes_mask_cache[cls] = "mask" in inspect.signature(cls.call).parameters
    return v


def get_mask(x):
    """The mask riding on ``x`` (a boolean array, ``x._keras_mask``), or None; for a
    list of inputs a list of masks (None when none of them has one)."""
    if isinstance(x, (list, tuple)):
        masks = [getattr(t, "_keras_mask", None) for t in x]
        return None if all(m is None for m in masks) else masks
    return getattr(x, "_keras_mask", None)


def _set_masks(outputs, mask):
    """Attach ``mask`` (one mask, or one per output) to outputs that have none yet."""
    outs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    masks = mask if isinstance(mask, (list, tuple)) and isinstance(outputs, (list, tuple)) \
        else [mask] * len(outs)
    for out, m in zip(outs, masks):
        if m is not None and isinstance(out, Tensor) and getattr(out, "_keras_mask", None) is None:
            out._keras_mask = m._data if isinstance(m, Tensor) else m


class _CallState(threading.local):
    depth = 0  # how many Layer.__call__ are running in this thread


_CALL_STATE = _CallState()
_ADDED = [False]  # set once any layer has called add_loss (else there is nothing to clear)
_REGULARIZED = [False]  # set once any weight has a regularizer (else no penalty to compute)
# set once a Metric is held as a layer attribute: until then Model.metrics need not look
# through every layer's attributes for one (a compiled model's own tracker is not counted)
_METRIC_ATTRS = [False]


def _is_metric(value) -> bool:
    """Whether ``value`` is a gradkit ``Metric`` (none exists before gradkit.metrics loads)."""
    cls = getattr(sys.modules.get("gradkit.metrics"), "Metric", None)
    return cls is not None and isinstance(value, cls)


def _takes_training(cls) -> bool:
    """Whether ``cls.call`` accepts ``training`` (user layers may leave it out)."""
    v = _takes_training_cache.get(cls)
    if v is None:
        import inspect

        params = inspect.signature(cls.call).parameters
        v = "training" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
        _takes_training_cache[cls] = v
    return v


_call_info_cache: dict = {}


def _call_info(cls):
    """``(takes_training, takes_mask, makes_masks)`` of a layer class, looked up once.

    ``makes_masks``: its ``compute_mask`` is its own, so it may make a mask where its
    input has none (the default only passes the input's mask on).
    """
    v = _call_info_cache.get(cls)
    if v is None:
        v = _call_info_cache[cls] = (_takes_training(cls), _takes_mask(cls),
                                     cls.compute_mask is not Layer.compute_mask)
    return v


def to_tensor_input(layer, x, dtype):
    """Convert one input to a Tensor, cast floats to the layer's dtype, refuse non-numbers.

    Host data (NumPy arrays, lists) is moved to the layer's device (Keras code that never
    names a device runs where the model lives); a Tensor is used where it is.
    """
    if isinstance(x, Tensor):
        if x.dtype.kind == "f" and x.dtype != dtype:
            return x.astype(dtype)
        return x
    arr = x if is_device_array(x) else np.asarray(x)  # host: the caller's data
    if arr.dtype.kind not in _VALID_KINDS:
        raise TypeError(
            f"{type(layer).__name__} '{layer.name}' received input of dtype {arr.dtype} "
            f"({_kind_words(arr.dtype)}); it needs real numbers: convert with "
            "np.asarray(x, dtype='float32')")
    if arr.dtype.kind == "f" and arr.dtype != dtype or arr.dtype.kind == "b":
        arr = arr.astype(dtype)
    dev = layer.device
    if dev.type != "cpu" or type(arr) is not np.ndarray:  # (a host array on the CPU stays)
        arr = place(arr, dev)
    return Tensor._make(arr, False, None)


def _kind_words(dt):
    return {"U": "strings", "S": "bytes", "O": "Python objects", "c": "complex numbers"}.get(
        dt.kind, "not numeric")


class Layer(ModuleAPI):
    """Base class of all layers (and of ``gradkit.nn.Module``: one hierarchy).

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
                 input_dim=None, batch_input_shape=None, activity_regularizer=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) "
                            f"{', '.join(sorted(kwargs))}")
        object.__setattr__(self, "_layers", [])
        object.__setattr__(self, "_weights", [])
        object.__setattr__(self, "_weight_names", {})  # local name -> weight
        self.name = name or unique_name(_snake(type(self).__name__))
        from gradkit import mixed_precision

        policy = mixed_precision.Policy(dtype) if isinstance(dtype, (str, mixed_precision.Policy)) \
            and str(getattr(dtype, "name", dtype)).startswith("mixed_") \
            else mixed_precision.global_policy() if dtype is None else None
        self.dtype_policy = policy if policy is not None else mixed_precision.Policy("float32")
        # a mixed policy: float32 weights, call() under autocast in the compute dtype
        self._autocast = policy.compute_dtype if policy is not None and policy.is_mixed \
            else None
        self.dtype = np.dtype(self.dtype_policy.variable_dtype if policy is not None
                              else dtype)
        self._trainable = bool(trainable)
        self.built = False
        self.training = False  # PyTorch-style mode, set by train()/eval()
        self.input_spec = None
        self._regularizers = []  # (weight, regularizer) pairs
        self._added_losses = []  # add_loss() values of the latest call
        self._inbound_nodes = []  # symbolic calls (Node), for .input/.output
        self.activity_regularizer = None
        if activity_regularizer is not None:
            from gradkit import regularizers

            self.activity_regularizer = regularizers.get(activity_regularizer)
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        self._build_input_shape = None if input_shape is None else (None,) + tuple(input_shape)
        self._declared_input_shape = None if input_shape is None else tuple(input_shape)
        self._device = None  # set by .to() or the first add_weight; None: the default device

    # ------------------------------------------------------------ tracking
    def __setattr__(self, key, value):
        if isinstance(value, Variable):  # a Parameter / weight: tracked by its attribute name
            self._track_weight(key, value)
        elif isinstance(value, Layer) and key != "_parent":
            if value not in self._layers:
                self._layers.append(value)
        elif isinstance(value, (list, tuple)) and value and all(
                isinstance(v, Layer) for v in value):
            for v in value:
                if v not in self._layers:
                    self._layers.append(v)
        elif not _METRIC_ATTRS[0] and _is_metric(value):
            _METRIC_ATTRS[0] = True
        object.__setattr__(self, key, value)

    def __setstate__(self, state):
        # unpickling and copy.deepcopy restore attributes without __setattr__
        if not isinstance(state, dict) or any(_is_metric(v) for v in state.values()):
            _METRIC_ATTRS[0] = True
        if isinstance(state, tuple):  # (dict, slots) of a subclass with __slots__
            state, slots = state
            for key, value in (slots or {}).items():
                object.__setattr__(self, key, value)
        self.__dict__.update(state or {})

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
        dev = self.device
        self._device = dev
        with dev, using(dev):  # the initializer draws on the layer's device
            value = init(tuple(shape), dtype=dtype)
            value = place(value._data if isinstance(value, Tensor) else value, dev)
        value = value.astype(dtype, copy=False)
        var = Variable(value, trainable=trainable and self._trainable, name=f"{self.name}/{name}")
        var.trainable = trainable  # the weight's own flag; the layer's flag gates it too
        if not self._trainable:
            var.requires_grad = False
        self._weights.append(var)
        self._weight_names[name or f"weight_{len(self._weights) - 1}"] = var
        if regularizer is not None:
            self._regularizers.append((var, regularizers.get(regularizer)))
            _REGULARIZED[0] = True
        if constraint is not None:
            raise NotImplementedError(
                f"{type(self).__name__}: weight constraints are not supported")
        return var

    @property
    def device(self):
        """Where the weights live: set by :meth:`to`, else the default device when the
        first weight was made (``with gradkit.device("cuda"): model.build(...)``); a
        container without weights of its own answers for its sub-layers."""
        if self._device is not None:
            return self._device
        first = self._layers[0] if self._layers else None
        if first is not None and first._device is not None:
            return first._device  # what the walk below finds first, without walking
        for layer in self._flatten_layers():
            if layer._device is not None:
                return layer._device
        return default_device()

    def to(self, device):
        """Move every weight (and a compiled model's optimizer state) to ``device``.

        Weights made later (a layer built on its first call) are made there too, and
        NumPy inputs are moved there when the layer is called. Returns the layer.

        Example::

            model = Sequential([Dense(10)]).to("cuda")
        """
        dev = as_device(device)
        layers = self._flatten_layers()
        for layer in layers:
            layer._device = dev
            for w in layer._weights:
                w._data = place(w._data, dev)
                if w.grad is not None:
                    w.grad = Tensor._make(place(w.grad._data, dev), False, None)
        for layer in layers:  # after the weights: the state follows them
            opt = getattr(layer, "optimizer", None)
            if opt is not None and hasattr(opt, "to"):
                opt.to(dev)
        return self

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
            v = to_numpy(v)  # host: the caller's values
            if v.shape != w.shape:
                raise ValueError(f"{type(self).__name__} '{self.name}': weight '{w.name}' has "
                                 f"shape {w.shape}, received an array of shape {v.shape}")
        for w, v in zip(ws, values):
            w.assign(to_numpy(v).astype(w.dtype, copy=False))  # host: moved by assign

    @property
    def losses(self):
        """Weight penalties and :meth:`add_loss` values of this layer and its sub-layers
        (scalar Tensors); ``Model.fit`` adds them to the compiled loss."""
        if not (_ADDED[0] or _REGULARIZED[0]):
            return []  # no layer anywhere has a penalty or an added loss: nothing to walk
        out = []
        for layer in self._flatten_layers():
            out.extend(reg(w) for w, reg in layer._regularizers)
            out.extend(getattr(layer, "_added_losses", ()))
        return out

    def add_loss(self, loss):
        """Add a term to the training objective from inside ``call`` (an activity
        penalty, a VAE's KL divergence...).

        The terms of a forward pass are in :attr:`losses` until the next outermost
        call starts (Keras 3's rule), so ``fit`` and custom loops that add
        ``sum(model.losses)`` see the values of the pass they just ran.

        Args:
            loss: a scalar Tensor (or number); a non-scalar is summed.

        Example::

            class KL(Layer):
                def call(self, inputs):
                    mean, log_var = inputs
                    self.add_loss(-0.5 * ops.mean(1 + log_var - mean ** 2 - ops.exp(log_var)))
                    return mean
        """
        from gradkit import ops

        if not isinstance(loss, Tensor):
            loss = Tensor(loss, dtype=self.dtype)
        if loss.ndim:
            loss = ops.sum(loss)
        self._added_losses.append(loss)
        _ADDED[0] = True

    def _clear_losses(self):
        for layer in self._flatten_layers():
            if getattr(layer, "_added_losses", None):
                layer._added_losses = []

    # ------------------------------------------------------------ masking
    #: whether the layer passes masks on (``compute_mask``); layers that keep the time
    #: axis (Dense, Dropout, normalization, recurrent with return_sequences...) set it.
    supports_masking = False

    def compute_mask(self, inputs, mask=None):
        """The mask of the output, given the input's (``None`` = no mask).

        The default passes ``mask`` on when ``supports_masking`` is set, else drops it.
        """
        return mask if self.supports_masking else None

    # ------------------------------------------------------------ graph
    def _single_node(self, what):
        if len(self._inbound_nodes) != 1:
            how = "has not been called on a symbolic input (Input) yet" \
                if not self._inbound_nodes else \
                f"was called {len(self._inbound_nodes)} times on symbolic inputs"
            raise AttributeError(f"{type(self).__name__} '{self.name}' {how}, so its {what} "
                                 "is not defined; call it once in a functional model or "
                                 "Sequential with a known input shape")
        return self._inbound_nodes[0]

    @property
    def input(self):
        """The symbolic input of the layer's (single) call in a model graph."""
        return self._single_node("input").inputs

    @property
    def output(self):
        """The symbolic output of the layer's (single) call in a model graph, e.g. for
        ``Model(inputs=seq.inputs, outputs=[l.output for l in seq.layers])``."""
        return self._single_node("output").outputs

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

    def forward(self, *args, **kwargs):
        """PyTorch's name for the math: a Keras layer's ``forward`` is its ``call``
        (``gradkit.nn.Module`` runs it the other way round: ``call`` runs ``forward``)."""
        return self.call(*args, **kwargs)

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
        if self._autocast is not None and autocast_dtype() != self._autocast:
            with autocast(dtype=self._autocast):  # a mixed policy: compute in its dtype
                return self.__call__(inputs, *args, training=training, **kwargs)
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
        takes, takes_mask, makes_masks = _call_info(type(self))
        mask = get_mask(inputs)
        if takes_mask and "mask" not in kwargs:
            kwargs["mask"] = mask
        state = _CALL_STATE
        if not state.depth and _ADDED[0]:  # the outermost call: fresh add_loss values
            self._clear_losses()
        state.depth += 1
        try:
            if takes:
                out = self.call(inputs, *args, training=self.training if training is None
                                else training, **kwargs)
            else:
                out = self.call(inputs, *args, **kwargs)
        finally:
            state.depth -= 1
        # (no input mask and the default compute_mask: there is no mask to attach)
        if self.supports_masking and (mask is not None or makes_masks):
            _set_masks(out, self.compute_mask(inputs, mask))
        if self.activity_regularizer is not None:
            for o in out if isinstance(out, (list, tuple)) else [out]:
                penalty = self.activity_regularizer(o)  # per sample, as Keras 3
                self.add_loss(penalty * (1.0 / o.shape[0]) if o.ndim else penalty)
        return out

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
        self._inbound_nodes.append(node)
        if _ADDED[0]:
            self._clear_losses()  # values from inferring the shape on zeros are not a pass
        return out

    def compute_output_shape(self, input_shape):
        """Output shape for ``input_shape``; by default found by running the layer on zeros."""

        xp = array_module(self.device)

        def dummy(s):
            with using(self.device):
                return xp.zeros(tuple(1 if d is None else d for d in s), dtype=self.dtype)

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
        if self.activity_regularizer is not None:
            from gradkit import regularizers

            cfg["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if self._autocast is not None:
            cfg["dtype"] = self.dtype_policy.name
        elif self.dtype != np.float32:
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
