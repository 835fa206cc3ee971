"""``MultiHeadAttention``: Keras 3's layer (Vaswani et al., 2017) on
:func:`gradkit.ops.scaled_dot_product_attention`.

Weights are laid out as Keras's four EinsumDense projections, in Keras's order,
so ``set_weights(keras_layer.get_weights())`` loads a Keras layer:
query/key ``kernel (dim, heads, key_dim)`` + ``bias (heads, key_dim)``, value
``kernel (dim, heads, value_dim)`` + ``bias``, output ``kernel (heads, value_dim,
out)`` + ``bias (out,)``.
"""

from __future__ import annotations

from gradkit import ops
from gradkit.backend import get_array_module
from gradkit.devices import device_of, place
from gradkit.layers.base import Layer, SymbolicTensor, get_mask, shape_str
from gradkit.layers.core import serialize_arg
from gradkit.layers.registry import register_builtin
from gradkit.tensor import Tensor
from gradkit.utils.validation import check_int, check_number

__all__ = ["MultiHeadAttention"]


def _as_bool(mask, dev):
    """``mask`` (a Tensor, an array or a list) as booleans on ``dev``, or None."""
    if mask is None:
        return None
    return place(mask._data if isinstance(mask, Tensor) else mask, dev).astype(bool)


@register_builtin
class MultiHeadAttention(Layer):
    """Multi-head attention: ``num_heads`` scaled dot-product attentions over learned
    projections of query, key and value, joined by an output projection.

    Args:
        num_heads: number of heads.
        key_dim: size of each head's query and key projections.
        value_dim: size of each head's value projection (default ``key_dim``).
        dropout: dropout rate on the attention weights (training only).
        use_bias: biases in the projections.
        output_shape: size of the last output axis (default the query's).
        attention_axes: only the default (None: attend over the sequence axis) is
            supported; anything else raises NotImplementedError.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer:
            for the four projections.
        seed: the dropout's generator (read by :func:`gradkit.random.rng`).

    Call arguments:
        query ``(B, T, dim)``, value ``(B, S, dim_v)``, key ``(B, S, dim_k)`` (default
        ``value``); attention_mask ``(B, T, S)`` booleans (True = may attend);
        return_attention_scores: also return the ``(B, heads, T, S)`` weights;
        training: dropout on/off; use_causal_mask: query ``i`` sees keys ``j <= i``.
        The masks riding on query/value/key (``Embedding(mask_zero=True)``,
        ``Masking``) are combined with these. A query row with nothing to attend gets
        zero weights (Keras gives uniform ones).

    Example::

        mha = MultiHeadAttention(num_heads=4, key_dim=16)
        y = mha(x, x, use_causal_mask=True)          # self-attention, (B, T, dim)
    """

    supports_masking = True

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        who = f"MultiHeadAttention '{self.name}'"
        self.num_heads = check_int(who, "num_heads", num_heads, minimum=1)
        self.key_dim = check_int(who, "key_dim", key_dim, minimum=1)
        self.value_dim = self.key_dim if value_dim is None else check_int(
            who, "value_dim", value_dim, minimum=1)
        self.dropout = check_number(who, "dropout", dropout, 0, 1, max_open=True)
        self.use_bias = bool(use_bias)
        if isinstance(output_shape, (tuple, list)):
            if len(output_shape) != 1:
                raise NotImplementedError(f"{who}: output_shape with several axes "
                                          f"({tuple(output_shape)}) is not supported; give "
                                          "one size")
            output_shape = output_shape[0]
        self.output_shape = None if output_shape is None else check_int(
            who, "output_shape", output_shape, minimum=1)
        if attention_axes is not None:
            raise NotImplementedError(f"{who}: attention_axes={attention_axes!r} is not "
                                      "supported; gradkit attends over the sequence axis of "
                                      "(batch, time, features) inputs (attention_axes=None)")
        self.attention_axes = None
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.seed = seed
        if seed is not None:
            from gradkit import random

            self._rng = random.rng(seed, owner="MultiHeadAttention")
        else:
            self._rng = None

    # ------------------------------------------------------------ weights
    def _projection(self, name, shape, bias_shape):
        kernel = self.add_weight(shape, self.kernel_initializer,
                                 regularizer=self.kernel_regularizer, name=f"{name}/kernel")
        bias = self.add_weight(bias_shape, self.bias_initializer,
                               regularizer=self.bias_regularizer, name=f"{name}/bias") \
            if self.use_bias else None
        return kernel, bias

    def build(self, input_shape):
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        for s in shapes:
            if len(s) != 3:
                raise ValueError(f"MultiHeadAttention '{self.name}' takes (batch, time, "
                                 f"features) inputs, received shape {shape_str(s)}")
        q, v = shapes[0], shapes[1] if len(shapes) > 1 else shapes[0]
        k = shapes[2] if len(shapes) > 2 else v
        h = self.num_heads
        self.query_kernel, self.query_bias = self._projection(
            "query", (q[-1], h, self.key_dim), (h, self.key_dim))
        self.key_kernel, self.key_bias = self._projection(
            "key", (k[-1], h, self.key_dim), (h, self.key_dim))
        self.value_kernel, self.value_bias = self._projection(
            "value", (v[-1], h, self.value_dim), (h, self.value_dim))
        out = self.output_shape or q[-1]
        self.output_kernel, self.output_bias = self._projection(
            "attention_output", (h, self.value_dim, out), (out,))
        self.built = True

    # ------------------------------------------------------------ calling
    def __call__(self, query, value=None, key=None, attention_mask=None,
                 return_attention_scores=False, training=None, use_causal_mask=False):
        if value is None:  # the packed form [query, value(, key)] (a functional replay)
            if not isinstance(query, (list, tuple)) or len(query) not in (2, 3) or \
                    key is not None:
                raise TypeError(f"MultiHeadAttention '{self.name}' needs query and value: "
                                "call it as mha(query, value) or mha(query, value, key)")
            query, value, key = (list(query) + [None])[:3]
        inputs = [query, value] if key is None else [query, value, key]
        if return_attention_scores and any(isinstance(t, SymbolicTensor) for t in inputs):
            raise NotImplementedError(
                f"MultiHeadAttention '{self.name}': return_attention_scores=True is supported "
                "on tensors, not yet in functional models (symbolic inputs)")
        kwargs = {}
        if attention_mask is not None:
            if isinstance(attention_mask, SymbolicTensor):
                raise NotImplementedError(
                    f"MultiHeadAttention '{self.name}': a symbolic attention_mask is not "
                    "supported in functional models yet; pass a mask array, masked inputs "
                    "(Embedding(mask_zero=True)) or use_causal_mask=True")
            kwargs["attention_mask"] = attention_mask
        if return_attention_scores:
            kwargs["return_attention_scores"] = True
        if use_causal_mask:
            kwargs["use_causal_mask"] = True
        return super().__call__(inputs, training=training, **kwargs)

    def _attention_mask(self, inputs, attention_mask, use_causal_mask):
        """Combine the inputs' masks, ``attention_mask`` and causality: ``(B, T, S)`` bools."""
        masks = get_mask(inputs) or [None] * len(inputs)
        dev = device_of(inputs[0]._data)
        q_mask, v_mask = _as_bool(masks[0], dev), _as_bool(masks[1], dev)
        k_mask = _as_bool(masks[2], dev) if len(masks) > 2 else None
        t, s = inputs[0].shape[1], inputs[1].shape[1]
        allowed = None

        def both(a, b):
            return b if a is None else a & b

        if q_mask is not None:
            allowed = both(allowed, q_mask[:, :, None])
        for m in (v_mask, k_mask):
            if m is not None:
                allowed = both(allowed, m[:, None, :])
        if attention_mask is not None:
            allowed = both(allowed, _as_bool(attention_mask, dev))
        if use_causal_mask:
            xp = get_array_module(inputs[0]._data)
            allowed = both(allowed, xp.tril(xp.ones((t, s), dtype=bool)))
        if allowed is None:
            return None
        return get_array_module(allowed).broadcast_to(allowed, (inputs[0].shape[0], t, s))

    def call(self, inputs, attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        allowed = self._attention_mask(inputs, attention_mask, use_causal_mask)
        # projections: (B, T, dim) x (dim, H, d) -> (B, H, T, d)
        q = ops.einsum("btd,dhk->bhtk", query, self.query_kernel)
        k = ops.einsum("bsd,dhk->bhsk", key, self.key_kernel)
        v = ops.einsum("bsd,dhk->bhsk", value, self.value_kernel)
        if self.use_bias:
            q = q + ops.expand_dims(self.query_bias, 1)
            k = k + ops.expand_dims(self.key_bias, 1)
            v = v + ops.expand_dims(self.value_bias, 1)
        rate = self.dropout if training else 0.0
        out, weights = ops.scaled_dot_product_attention(
            q, k, v, mask=None if allowed is None else allowed[:, None],
            dropout_rate=rate, seed=self._rng, return_weights=True)
        y = ops.einsum("bhtk,hko->bto", out, self.output_kernel)
        if self.use_bias:
            y = y + self.output_bias
        return (y, weights) if return_attention_scores else y

    def compute_mask(self, inputs, mask=None):
        """The query's mask (the output has the query's steps)."""
        if isinstance(mask, list):
            return mask[0]
        return mask

    def compute_output_shape(self, input_shape):
        q = input_shape[0]
        return tuple(q[:-1]) + (self.output_shape or q[-1],)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout,
                "use_bias": self.use_bias, "output_shape": self.output_shape,
                "attention_axes": None,
                "kernel_initializer": serialize_arg(self.kernel_initializer, "initializers"),
                "bias_initializer": serialize_arg(self.bias_initializer, "initializers"),
                "kernel_regularizer": serialize_arg(self.kernel_regularizer, "regularizers"),
                "bias_regularizer": serialize_arg(self.bias_regularizer, "regularizers"),
                "seed": self.seed}
