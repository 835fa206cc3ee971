"""``MultiheadAttention``: PyTorch's module on ``ops.scaled_dot_product_attention``."""

from __future__ import annotations

import numpy as np

from gradkit import ops
from gradkit.nn import init
from gradkit.nn.functional import linear
from gradkit.nn.linear import Linear
from gradkit.nn.module import Module, builtin, factory_dtype
from gradkit.nn.parameter import Parameter
from gradkit.tensor import Tensor
from gradkit.utils.validation import check_int, check_number


def _additive(mask, dtype):
    """A PyTorch attention mask as floats to add to the scores: booleans mean True = may
    NOT attend (-inf there); floats are added as they are."""
    m = np.asarray(mask._data if isinstance(mask, Tensor) else mask)
    if m.dtype == bool:
        return np.where(m, -np.inf, 0.0).astype(dtype)
    return m.astype(dtype, copy=False)


@builtin
class MultiheadAttention(Module):
    """Multi-head attention with PyTorch's parameters (``in_proj_weight`` ``(3E, E)``,
    ``in_proj_bias``, ``out_proj``) and call.

    Args:
        embed_dim: model width ``E``; num_heads: heads (must divide ``E``).
        dropout: on the attention weights while training.
        bias: biases on the projections.
        batch_first: inputs ``(N, L, E)`` instead of ``(L, N, E)``.
        add_bias_kv, add_zero_attn, kdim, vdim: not supported (raise if set).

    A call ``mha(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False)`` returns
    ``(output, weights)``; boolean masks mark positions that may NOT be attended
    (PyTorch's convention for this module), float masks are added to the scores.

    Example::

        mha = nn.MultiheadAttention(64, 8, batch_first=True)
        out, w = mha(x, x, x)            # self-attention, x (batch, seq, 64)
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        dt = factory_dtype("MultiheadAttention", device, dtype)
        super().__init__(dtype=dt)
        for name, value, default in (("add_bias_kv", add_bias_kv, False),
                                     ("add_zero_attn", add_zero_attn, False)):
            if value != default:
                raise NotImplementedError(f"MultiheadAttention: {name}={value!r} is not "
                                          "supported")
        for name, value in (("kdim", kdim), ("vdim", vdim)):
            if value not in (None, embed_dim):
                raise NotImplementedError(f"MultiheadAttention: {name}={value} different "
                                          f"from embed_dim={embed_dim} is not supported")
        self.embed_dim = check_int("MultiheadAttention", "embed_dim", embed_dim, minimum=1)
        self.num_heads = check_int("MultiheadAttention", "num_heads", num_heads, minimum=1)
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by "
                             f"num_heads {num_heads}")
        self.dropout = check_number("MultiheadAttention", "dropout", dropout, 0.0, 1.0,
                                    max_open=True)
        self.batch_first = bool(batch_first)
        self.in_proj_weight = Parameter(np.zeros((3 * embed_dim, embed_dim), dt))
        init.xavier_uniform_(self.in_proj_weight)
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dt)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dt)
        if bias:
            init.zeros_(self.out_proj.bias)

    def _heads(self, x, n, length):
        h = self.num_heads
        return ops.swapaxes(ops.reshape(x, (n, length, h, self.embed_dim // h)), 1, 2)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        q, k, v = (t if isinstance(t, Tensor) else Tensor(t) for t in (query, key, value))
        unbatched = q.ndim == 2
        if unbatched:
            q, k, v = (ops.expand_dims(t, 0) for t in (q, k, v))
        elif not self.batch_first:
            q, k, v = (ops.swapaxes(t, 0, 1) for t in (q, k, v))
        n, length, e = q.shape
        if e != self.embed_dim or k.shape[-1] != e or v.shape[-1] != e:
            raise ValueError(f"MultiheadAttention: expected query, key and value with last "
                             f"axis {self.embed_dim}, received {q.shape}, {k.shape}, {v.shape}")
        source = k.shape[1]
        w, b = self.in_proj_weight, self.in_proj_bias
        parts = [linear(t, w[i * e:(i + 1) * e], None if b is None else b[i * e:(i + 1) * e])
                 for i, t in enumerate((q, k, v))]
        qh, kh, vh = (self._heads(t, n, size) for t, size in zip(parts, (length, source,
                                                                         source)))
        mask = None
        if is_causal and attn_mask is None:
            raise ValueError("MultiheadAttention: is_causal=True is a hint that attn_mask is "
                             "the causal mask; pass attn_mask too (as PyTorch requires)")
        if attn_mask is not None:
            m = _additive(attn_mask, q.dtype)
            if m.ndim == 3:  # (N * heads, L, S)
                m = m.reshape(n, self.num_heads, length, source)
            mask = m
        if key_padding_mask is not None:
            pad = _additive(key_padding_mask, q.dtype)
            pad = pad.reshape(pad.shape[0] if not unbatched else 1, 1, 1, source)
            mask = pad if mask is None else mask + pad
        rate = self.dropout if self.training else 0.0
        out, weights = ops.scaled_dot_product_attention(qh, kh, vh, mask, dropout_rate=rate,
                                                        return_weights=True)
        out = ops.reshape(ops.swapaxes(out, 1, 2), (n, length, e))
        out = self.out_proj(out)
        if unbatched:
            out, weights = ops.squeeze(out, 0), ops.squeeze(weights, 0)
        elif not self.batch_first:
            out = ops.swapaxes(out, 0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = ops.mean(weights, -3)
        return out, weights

    def get_config(self):
        return {"embed_dim": self.embed_dim, "num_heads": self.num_heads,
                "dropout": self.dropout, "bias": self.in_proj_bias is not None,
                "batch_first": self.batch_first}
