"""``Embedding``: a lookup table of vectors, rows picked by integer ids."""

from __future__ import annotations

import numpy as np

from gradkit import random
from gradkit.nn import functional as F
from gradkit.nn.module import Module, builtin, factory_dtype
from gradkit.nn.parameter import Parameter
from gradkit.utils.validation import check_int


@builtin
class Embedding(Module):
    """``weight[ids]`` with ``weight`` ``(num_embeddings, embedding_dim)`` drawn from N(0, 1).

    Args:
        num_embeddings, embedding_dim: table size.
        padding_idx: a row that starts at zeros and gets no gradient.
        max_norm, scale_grad_by_freq, sparse: not supported (raise if set).

    Example::

        emb = nn.Embedding(10000, 64, padding_idx=0)
        vectors = emb(token_ids)         # (batch, seq) ints -> (batch, seq, 64)
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None):
        dt = factory_dtype("Embedding", device, dtype)
        super().__init__(dtype=dt)
        for name, value, default in (("max_norm", max_norm, None),
                                     ("scale_grad_by_freq", scale_grad_by_freq, False),
                                     ("sparse", sparse, False)):
            if value != default:
                raise NotImplementedError(f"Embedding: {name}={value!r} is not supported")
        self.num_embeddings = check_int("Embedding", "num_embeddings", num_embeddings,
                                        minimum=1)
        self.embedding_dim = check_int("Embedding", "embedding_dim", embedding_dim, minimum=1)
        if padding_idx is not None:
            padding_idx = check_int("Embedding", "padding_idx", padding_idx,
                                    -num_embeddings, num_embeddings - 1) % num_embeddings
        self.padding_idx = padding_idx
        if _weight is None:
            value = random.rng(None).standard_normal((num_embeddings, embedding_dim))
            if padding_idx is not None:
                value[padding_idx] = 0
        else:
            value = np.asarray(_weight)
        self.weight = Parameter(np.asarray(value, dt), requires_grad=not _freeze)

    def forward(self, input):  # noqa: A002
        return F.embedding(input, self.weight, self.padding_idx)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None):
        """An Embedding holding ``embeddings`` (2-D), frozen unless ``freeze=False``."""
        e = np.asarray(embeddings)
        if e.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: expected a 2-D table, received "
                             f"shape {e.shape}")
        return cls(e.shape[0], e.shape[1], padding_idx, _weight=e, _freeze=freeze,
                   dtype=e.dtype if e.dtype.kind == "f" else None)

    def get_config(self):
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
                "padding_idx": self.padding_idx}

    def extra_repr(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
