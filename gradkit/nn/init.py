"""Weight initialization in place, PyTorch's ``torch.nn.init`` (``kaiming_uniform_``...).

Each function overwrites a tensor's values (no gradient is recorded; the tensor's
``_version`` is bumped) and returns it. Every draw comes from
:func:`gradkit.random.rng` (``generator=``: None for the global generator that
``gradkit.manual_seed`` seeds, an int, or a NumPy Generator).

Example::

    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5))
    nn.init.zeros_(layer.bias)
"""

from __future__ import annotations

import math

import numpy as np

from gradkit import random as _random
from gradkit.utils.validation import check_choice, check_number

__all__ = ["calculate_gain", "constant_", "eye_", "kaiming_normal_", "kaiming_uniform_",
           "normal_", "ones_", "orthogonal_", "trunc_normal_", "uniform_", "xavier_normal_",
           "xavier_uniform_", "zeros_"]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid")


def _fill(tensor, values):
    tensor._data[...] = np.asarray(values).astype(tensor._data.dtype, copy=False)
    tensor._version += 1
    return tensor


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for an activation (``"relu"``: sqrt(2), ``"tanh"``: 5/3...)."""
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else check_number("calculate_gain", "param", param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; known: "
                     f"{', '.join(_LINEAR)}, tanh, relu, leaky_relu, selu")


def fan_in_and_fan_out(tensor):
    """``(fan_in, fan_out)`` of a weight shaped ``(out, in, *kernel)`` (PyTorch's layout)."""
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 axes, received "
                         f"shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor, mode):
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return fan_in if check_choice("kaiming init", "mode", mode, ("fan_in", "fan_out")) \
        == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Values drawn from ``U(a, b)``."""
    g = _random.rng(generator, owner="uniform_")
    return _fill(tensor, g.uniform(a, b, size=tensor.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Values drawn from ``N(mean, std^2)``."""
    g = _random.rng(generator, owner="normal_")
    return _fill(tensor, g.normal(mean, std, size=tensor.shape))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """``N(mean, std^2)`` restricted to ``[a, b]`` (values outside are drawn again)."""
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, received a={a}, b={b}")
    g = _random.rng(generator, owner="trunc_normal_")
    out = g.normal(mean, std, size=tensor.shape)
    bad = (out < a) | (out > b)
    while bad.any():
        out[bad] = g.normal(mean, std, size=int(bad.sum()))
        bad = (out < a) | (out > b)
    return _fill(tensor, out)


def constant_(tensor, val):
    """Every value ``val``."""
    return _fill(tensor, val)


def ones_(tensor):
    """Every value 1."""
    return _fill(tensor, 1)


def zeros_(tensor):
    """Every value 0."""
    return _fill(tensor, 0)


def eye_(tensor):
    """The identity matrix (a 2-D tensor)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: expected a 2-D tensor, received shape {tensor.shape}")
    return _fill(tensor, np.eye(*tensor.shape))


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot uniform: ``U(-b, b)``, ``b = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot normal: ``N(0, std^2)``, ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: ``U(-b, b)``, ``b = gain * sqrt(3 / fan)`` (``a``: the leaky slope).

    ``kaiming_uniform_(w, a=math.sqrt(5))`` is PyTorch's default for Linear and Conv.
    """
    gain = calculate_gain(nonlinearity, a)
    bound = gain * math.sqrt(3.0 / _fan(tensor, mode))
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: ``N(0, std^2)``, ``std = gain / sqrt(fan)``."""
    gain = calculate_gain(nonlinearity, a)
    return normal_(tensor, 0.0, gain / math.sqrt(_fan(tensor, mode)), generator)


def orthogonal_(tensor, gain=1.0, generator=None):
    """A (semi-)orthogonal matrix (rows or columns orthonormal), scaled by ``gain``."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: expected at least 2 axes, received shape {tensor.shape}")
    rows = tensor.shape[0]
    cols = tensor.size // rows
    flat = _random.rng(generator, owner="orthogonal_").normal(size=(rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))
