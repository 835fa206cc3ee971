"""``torch.nn.utils``: gradient clipping (gradkit's one implementation, in
:mod:`gradkit.optimizers.clipping`) and parameters as one flat vector."""

from __future__ import annotations

from gradkit import ops
from gradkit.optimizers.clipping import clip_grad_norm_, clip_grad_value_  # noqa: F401
from gradkit.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]


def parameters_to_vector(parameters):
    """All ``parameters`` flattened and joined into one 1-D tensor (differentiable)."""
    return ops.concatenate([ops.reshape(p, (-1,)) for p in parameters], 0)


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D ``vec`` into ``parameters`` (in place)."""
    data = vec._data if isinstance(vec, Tensor) else vec
    params = list(parameters)
    total = sum(p.size for p in params)
    if data.ndim != 1 or data.shape[0] != total:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector of {total} values, "
                         f"received shape {data.shape}")
    start = 0
    for p in params:
        p._data[...] = data[start:start + p.size].reshape(p.shape)
        p._version += 1
        start += p.size
