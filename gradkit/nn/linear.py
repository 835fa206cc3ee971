"""``Linear``, ``Identity``, ``Flatten``, ``Unflatten``."""

from __future__ import annotations

import math

from gradkit import ops
from gradkit.compat.torch import flatten
from gradkit.nn import init
from gradkit.nn.functional import linear
from gradkit.nn.module import Module, builtin, factory_dtype, new_parameter
from gradkit.utils.validation import check_int


@builtin
class Linear(Module):
    """``y = x @ weight.T + bias``, PyTorch's layout and initialization.

    Args:
        in_features, out_features: sizes of the last input and output axes.
        bias: learn an additive bias.
        device, dtype: PyTorch's factory arguments (CPU only at construction).

    ``weight`` is ``(out_features, in_features)``, drawn with
    ``kaiming_uniform_(a=sqrt(5))``; ``bias`` from ``U(-1/sqrt(in), 1/sqrt(in))``,
    so state dicts carry over from ``torch.nn.Linear``. The math is the fused
    ``ops.dense`` on a transposed view of the weight.

    Example::

        fc = nn.Linear(784, 10)
        logits = fc(x)                      # x (batch, 784) -> (batch, 10)
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        dt = factory_dtype("Linear", device, dtype)
        super().__init__(dtype=dt)
        self.in_features = check_int("Linear", "in_features", in_features, minimum=0)
        self.out_features = check_int("Linear", "out_features", out_features, minimum=0)
        self.weight = new_parameter((out_features, in_features), dt)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        bound = 1 / math.sqrt(in_features) if in_features > 0 else 0
        self.bias = new_parameter((out_features,), dt, bound) if bias else None

    def forward(self, input):  # noqa: A002
        return linear(input, self.weight, self.bias)

    def get_config(self):
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.bias is not None}

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


@builtin
class Identity(Module):
    """Returns its input. Like PyTorch's, it takes (and ignores) any constructor arguments,
    so it can stand in for another module."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):  # noqa: A002
        return input


@builtin
class Flatten(Module):
    """Collapse axes ``start_dim .. end_dim`` (default: all but the batch axis)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = check_int("Flatten", "start_dim", start_dim)
        self.end_dim = check_int("Flatten", "end_dim", end_dim)

    def forward(self, input):  # noqa: A002
        return flatten(input, self.start_dim, self.end_dim)

    def get_config(self):
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


@builtin
class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size``."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim = check_int("Unflatten", "dim", dim)
        self.unflattened_size = tuple(int(n) for n in unflattened_size)

    def forward(self, input):  # noqa: A002
        shape = list(input.shape)
        d = self.dim % len(shape)
        return ops.reshape(input, shape[:d] + list(self.unflattened_size) + shape[d + 1:])

    def get_config(self):
        return {"dim": self.dim, "unflattened_size": list(self.unflattened_size)}
