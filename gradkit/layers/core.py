"""Core layers: Dense (and its PyTorch-named twin Linear), Activation, Flatten,
Reshape, Dropout, Embedding and Identity.

Every layer here is registered for :func:`gradkit.layers.deserialize` and
round-trips through ``get_config`` / ``from_config``.
"""

from __future__ import annotations

import math

import numpy as np

from gradkit import activations, ops, random
from gradkit.backend import get_array_module, is_device_array
from gradkit.devices import place
from gradkit.layers.base import InputSpec, Layer, shape_str
from gradkit.layers.registry import register_builtin
from gradkit.utils.validation import check_int, check_number

__all__ = ["Activation", "Dense", "Dropout", "Embedding", "Flatten", "Identity", "Linear",
           "Reshape"]


# ----------------------------------------------------------------- helpers
def serialize_arg(value, kind):
    """A JSON-able form of an initializer/regularizer argument for ``get_config``.

    Names, numbers, dicts and None are kept; objects and functions go through
    ``gradkit.<kind>.serialize`` (``kind`` is ``"initializers"`` or ``"regularizers"``),
    so a registered user function saves under its registered name.
    """
    if value is None or isinstance(value, (str, bool, int, float, dict)):
        return value
    import importlib

    return importlib.import_module(f"gradkit.{kind}").serialize(value)


def _describe(layer):
    return f"{type(layer).__name__} '{layer.name}'"


class _DenseInputSpec(InputSpec):
    """Dense's input check: at least 2 axes, last axis = input_dim, with a hint
    that fits the mistake (a missing Flatten, a missing batch axis)."""

    def __init__(self, input_dim, built_ndim):
        super().__init__(min_ndim=2, axes={-1: input_dim})
        self.input_dim, self.built_ndim = input_dim, built_ndim

    def check(self, layer, shape):
        if len(shape) >= 2 and shape[-1] == self.input_dim:  # the common case, fast
            return
        if len(shape) < 2:
            self.hint = "add the batch axis first (e.g. x.reshape(1, -1) for one sample)"
        elif len(shape) > self.built_ndim:
            self.hint = "add a Flatten layer first"
        else:
            self.hint = ""
        super().check(layer, shape)


# ----------------------------------------------------------------- Dense
@register_builtin
class Dense(Layer):
    """A fully connected layer: ``activation(x @ kernel + bias)``.

    Args:
        units: number of outputs (the size of the last output axis).
        activation: name (``"relu"``, ``"softmax"``...), callable or None (linear).
        use_bias: add a learned bias.
        kernel_initializer, bias_initializer: names or callables for the
            initial ``kernel`` (shape ``(input_dim, units)``) and ``bias`` (``(units,)``).
        kernel_regularizer, bias_regularizer: optional penalties added to ``losses``.
        **kwargs: base-layer arguments (``name``, ``dtype``, ``input_shape``,
            ``input_dim``, ``trainable``). With ``input_dim``/``input_shape``
            the weights are created at once.

    Input shape: ``(batch, ..., input_dim)``. Output shape: ``(batch, ..., units)``;
    the kernel applies to the last axis (matmul broadcasts over the others).

    Example::

        layer = Dense(10, activation="softmax", input_dim=784)
        probs = layer(np.zeros((32, 784), "float32"))     # shape (32, 10)
    """

    supports_masking = True

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.units = check_int(type(self).__name__, "units", units, minimum=1)
        self.activation = activations.get(activation)
        self._linear = self.activation is activations.linear
        # relu and tanh are fused into ops.dense (one graph node per layer)
        self._fused = activations.fused_name(self.activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel = None
        self.bias = None
        if self._build_input_shape is not None:  # sizes known: create the weights now
            self._maybe_build(self._build_input_shape)

    def build(self, input_shape):
        if self._build_input_shape is not None:
            input_shape = self._build_input_shape  # the declared size wins over a bad input
        if len(input_shape) < 2:
            raise ValueError(f"{_describe(self)} expected input with at least 2 axes (batch, "
                             f"features), received shape {shape_str(input_shape)}; add the "
                             "batch axis first")
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"{_describe(self)} needs the size of the last input axis, "
                             f"received shape {shape_str(input_shape)}")
        self.kernel = self.add_weight((input_dim, self.units), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, name="kernel")
        if self.use_bias:
            self.bias = self.add_weight((self.units,), self.bias_initializer,
                                        regularizer=self.bias_regularizer, name="bias")
        self.input_spec = _DenseInputSpec(input_dim, len(input_shape))
        self.built = True

    def call(self, inputs, training=None):
        if inputs.dtype != self.kernel.dtype:  # e.g. integer pixels: compute in the layer dtype
            inputs = ops.cast(inputs, self.kernel.dtype)
        fused = self._fused
        y = ops.dense(inputs, self.kernel, self.bias, fused)
        return y if self._linear or fused else self.activation(y)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": serialize_arg(self.kernel_initializer, "initializers"),
            "bias_initializer": serialize_arg(self.bias_initializer, "initializers"),
            "kernel_regularizer": serialize_arg(self.kernel_regularizer, "regularizers"),
            "bias_regularizer": serialize_arg(self.bias_regularizer, "regularizers"),
        }


@register_builtin
class Linear(Dense):
    """PyTorch's name for :class:`Dense`: ``Linear(in_features, out_features, bias=True)``.

    The weights exist right after construction (so ``SGD(layer.parameters())``
    works at once). Note the kernel is stored ``(in_features, out_features)``,
    the transpose of ``torch.nn.Linear.weight``.

    Args:
        in_features: size of the last input axis.
        out_features: size of the last output axis.
        bias: add a learned bias.
        **kwargs: any other :class:`Dense` argument (``activation``, initializers...).

    Input shape: ``(batch, ..., in_features)``. Output shape: ``(batch, ..., out_features)``.

    Example::

        fc = Linear(784, 10)
        logits = fc(x)                      # x: (batch, 784)
    """

    def __init__(self, in_features, out_features, bias=True, **kwargs):
        in_features = check_int("Linear", "in_features", in_features, minimum=1)
        super().__init__(out_features, use_bias=bias, input_shape=(in_features,), **kwargs)
        self.in_features = in_features
        self.out_features = self.units

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("input_shape", None)
        cfg.pop("units")
        cfg.pop("use_bias")
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.use_bias, **cfg}


# ----------------------------------------------------------------- Activation
@register_builtin
class Activation(Layer):
    """Apply an activation function.

    Args:
        activation: a name from :mod:`gradkit.activations` (``"relu"``,
            ``"softmax"``...) or a callable Tensor -> Tensor.

    Input/output shape: any; the output has the input's shape.

    Example::

        Activation("tanh")(x)
    """

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs, training=None):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


# ----------------------------------------------------------------- Identity
@register_builtin
class Identity(Layer):
    """Return the input unchanged (a placeholder, e.g. for an optional block).

    Input/output shape: any.

    Example::

        Identity()(x) is x      # for a Tensor x
    """

    supports_masking = True

    def call(self, inputs, training=None):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


# ----------------------------------------------------------------- Flatten
@register_builtin
class Flatten(Layer):
    """Collapse every axis but the batch axis into one.

    Input shape: ``(batch, d1, ..., dk)``. Output shape: ``(batch, d1 * ... * dk)``
    (``(batch, 1)`` for a 1-D input).

    Example::

        Flatten()(np.zeros((128, 28, 28)))     # shape (128, 784)
    """

    def call(self, inputs, training=None):
        shape = inputs.shape
        if len(shape) == 0:
            raise ValueError(f"{_describe(self)} expected input with at least 1 axis (batch), "
                             "received a scalar")
        return ops.reshape(inputs, (shape[0], math.prod(shape[1:])))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else math.prod(rest))


# ----------------------------------------------------------------- Reshape
@register_builtin
class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (the batch axis is kept).

    Args:
        target_shape: the per-sample shape (tuple of ints); one entry may be -1,
            meaning "whatever size makes the total fit".

    Input shape: ``(batch, ...)``. Output shape: ``(batch,) + target_shape``.

    Example::

        Reshape((28, 28, 1))(np.zeros((32, 784)))     # shape (32, 28, 28, 1)
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if isinstance(target_shape, (int, np.integer)):
            target_shape = (target_shape,)
        if not isinstance(target_shape, (tuple, list)):
            raise TypeError(f"Reshape: target_shape must be a tuple of integers, received "
                            f"{target_shape!r}")
        target = tuple(check_int("Reshape", "each target_shape entry", d, minimum=-1)
                       for d in target_shape)
        if 0 in target or target.count(-1) > 1:
            raise ValueError(f"Reshape: target_shape must be a tuple of positive integers "
                             f"with at most one -1, received {target_shape!r}")
        self.target_shape = target

    def _resolve(self, per_sample):
        """The target shape for samples of ``per_sample`` values (None if unknown)."""
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if per_sample is None:
                return tuple(None if d == -1 else d for d in self.target_shape)
            if per_sample % known == 0:
                return tuple(per_sample // known if d == -1 else d for d in self.target_shape)
        elif per_sample is None or per_sample == known:
            return self.target_shape
        want = f"a multiple of {known}" if -1 in self.target_shape else str(known)
        raise ValueError(
            f"{_describe(self)} cannot reshape samples of {per_sample} values into "
            f"target_shape {shape_str(self.target_shape)}, which needs {want} values per "
            f"sample")

    def call(self, inputs, training=None):
        shape = inputs.shape
        if len(shape) == 0:
            raise ValueError(f"{_describe(self)} expected input with at least 1 axis (batch), "
                             "received a scalar")
        try:
            target = self._resolve(math.prod(shape[1:]))
        except ValueError as e:
            raise ValueError(f"{e} (received shape {shape_str(shape)})") from None
        return ops.reshape(inputs, (shape[0],) + target)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        per = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0],) + self._resolve(per)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


# ----------------------------------------------------------------- Dropout
@register_builtin
class Dropout(Layer):
    """Inverted dropout: in training, zero each input with probability ``rate``
    and scale the rest by ``1 / (1 - rate)``; at inference return the input.

    Args:
        rate: drop probability, ``0 <= rate < 1``.
        noise_shape: optional shape of the mask, broadcast against the input
            (``None`` entries take the input's size), e.g. ``(None, 1, 1, C)``
            to drop whole channels.
        seed: seed of a generator of this layer's own; by default masks come
            from ``gradkit.random.generator()`` (so ``gradkit.random.seed`` repeats them).

    Input/output shape: any; the output has the input's shape.

    Example::

        drop = Dropout(0.5)
        y = drop(x, training=True)     # about half zeroed, the rest doubled
        drop(x) is x                   # inference (the default): unchanged
    """

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_number("Dropout", "rate", rate, 0, 1, max_open=True)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._rng = None if seed is None else random.rng(seed, owner="Dropout")

    def _mask_shape(self, shape):
        if self.noise_shape is None:
            return shape
        if len(self.noise_shape) != len(shape):
            raise ValueError(f"{_describe(self)}: noise_shape {self.noise_shape} has "
                             f"{len(self.noise_shape)} axes, the input {len(shape)} "
                             f"(shape {shape_str(shape)})")
        return tuple(s if n is None else n for n, s in zip(self.noise_shape, shape))

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        if inputs.dtype.kind != "f":
            raise TypeError(f"{_describe(self)} needs floating-point input, received "
                            f"{inputs.dtype}")
        return ops.dropout(inputs, self.rate, self._mask_shape(inputs.shape), self._rng)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
                "seed": self.seed}


# ----------------------------------------------------------------- Embedding
@register_builtin
class Embedding(Layer):
    """A lookup table: integer ids -> learned vectors.

    Args:
        input_dim: vocabulary size (ids run from 0 to ``input_dim - 1``).
        output_dim: length of each vector.
        embeddings_initializer: initial values (default ``"uniform"``, i.e.
            uniform in [-0.05, 0.05] as in Keras).
        embeddings_regularizer: optional penalty added to ``losses``.
        mask_zero: id 0 is padding: the output carries the mask ``ids != 0``
            (``output._keras_mask``), which mask-aware layers downstream use
            (recurrent layers skip those steps, losses and metrics ignore them).
            Id 0 then cannot be a real token, so ``input_dim`` is vocabulary + 1.

    Input shape: integer ids of any shape ``(batch, ...)`` (floats are accepted
    when they are whole numbers). Output shape: ``(batch, ..., output_dim)``.
    The gradient adds up the rows of repeated ids.

    Example::

        emb = Embedding(1000, 64)
        emb(np.array([[4, 20, 7]]))      # shape (1, 3, 64)
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.mask_zero = bool(mask_zero)
        self.input_dim = check_int("Embedding", "input_dim", input_dim, minimum=1)
        self.output_dim = check_int("Embedding", "output_dim", output_dim, minimum=1)
        self.embeddings_initializer = embeddings_initializer
        self.embeddings_regularizer = embeddings_regularizer
        self.embeddings = self.add_weight(
            (self.input_dim, self.output_dim), embeddings_initializer,
            regularizer=embeddings_regularizer, name="embeddings")
        self.built = True

    def build(self, input_shape):
        self.built = True

    def _indices(self, inputs):
        idx = inputs._data
        xp = get_array_module(idx)
        if idx.dtype.kind == "f":
            if idx.size and not bool(xp.all(idx == xp.floor(idx))):
                bad = idx[idx != xp.floor(idx)].reshape(-1)[0].item()
                raise TypeError(f"{_describe(self)} needs integer indices, received "
                                f"{idx.dtype} values that are not whole numbers (e.g. {bad})")
            idx = idx.astype(np.int64)
        elif idx.dtype.kind == "b":
            idx = idx.astype(np.int64)
        if idx.size:
            lo, hi = idx.min().item(), idx.max().item()
            if lo < 0 or hi >= self.input_dim:
                bad = lo if lo < 0 else hi
                raise ValueError(
                    f"{_describe(self)} received index {bad}, out of range for "
                    f"input_dim={self.input_dim} (valid indices are 0 to {self.input_dim - 1})")
        return idx

    def __call__(self, inputs, *args, **kwargs):
        from gradkit.layers.base import _is_symbolic
        from gradkit.tensor import Tensor

        # keep ids exact: the base class would cast float ids to the layer dtype
        if not _is_symbolic(inputs) and not isinstance(inputs, Tensor):
            arr = inputs if is_device_array(inputs) else np.asarray(inputs)  # host: ids
            if arr.dtype.kind in "fiub":
                inputs = Tensor._make(place(arr, self.device), False, None)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, training=None):
        return ops.getitem(self.embeddings, self._indices(inputs))

    @property
    def supports_masking(self):
        return self.mask_zero

    def compute_mask(self, inputs, mask=None):
        """``inputs != 0`` with ``mask_zero=True``, else None."""
        if not self.mask_zero:
            return None
        ids = inputs._data if hasattr(inputs, "_data") else get_array_module(inputs).asarray(inputs)
        return ids != 0

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": serialize_arg(self.embeddings_initializer,
                                                        "initializers"),
                "embeddings_regularizer": serialize_arg(self.embeddings_regularizer,
                                                        "regularizers"),
                "mask_zero": self.mask_zero}
