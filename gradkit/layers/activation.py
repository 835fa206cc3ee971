"""Activation layers: ReLU, LeakyReLU, ELU, GELU, Sigmoid, Tanh, Softmax.

Each wraps one op of :mod:`gradkit.ops` (Keras's arguments and defaults), so
``Softmax()(x)`` *is* an ``ops.softmax`` output and the cross-entropy loss
can fuse it with its logits.

Input/output shape of all: any; the output has the input's shape.
"""

from __future__ import annotations

from gradkit import ops
from gradkit.layers.base import Layer
from gradkit.layers.registry import register_builtin
from gradkit.utils.validation import check_int, check_number, normalize_axis

__all__ = ["ELU", "GELU", "LeakyReLU", "ReLU", "Sigmoid", "Softmax", "Tanh"]


class _ElementwiseLayer(Layer):
    supports_masking = True  # elementwise: the mask passes through

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@register_builtin
class ReLU(_ElementwiseLayer):
    """Rectified linear unit, with Keras's optional cap, leak and threshold.

    ``f(x) = max_value`` for ``x >= max_value``, ``x`` for ``threshold <= x < max_value``,
    ``negative_slope * (x - threshold)`` otherwise. The defaults give ``max(x, 0)``.

    Args:
        max_value: optional upper bound (>= 0); None means unbounded.
        negative_slope: slope below the threshold (>= 0).
        threshold: where the function switches from the slope to the identity.

    Example::

        ReLU()(x)               # max(x, 0)
        ReLU(max_value=6.0)(x)  # ReLU6
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = None if max_value is None else check_number(
            "ReLU", "max_value", max_value, 0.0)
        self.negative_slope = check_number("ReLU", "negative_slope", negative_slope, 0.0)
        self.threshold = check_number("ReLU", "threshold", threshold)

    def call(self, inputs, training=None):
        return ops.relu(inputs, self.max_value, self.negative_slope, self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


@register_builtin
class LeakyReLU(_ElementwiseLayer):
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise.

    Args:
        negative_slope: slope for negative inputs (>= 0; Keras 3's default 0.3).
            ``alpha`` is accepted as the Keras 2 name.

    Example::

        LeakyReLU(0.1)(x)
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        alpha = kwargs.pop("alpha", None)
        super().__init__(**kwargs)
        if alpha is not None:
            negative_slope = alpha
        self.negative_slope = check_number("LeakyReLU", "negative_slope", negative_slope, 0.0)

    def call(self, inputs, training=None):
        return ops.leaky_relu(inputs, self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


@register_builtin
class ELU(_ElementwiseLayer):
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Args:
        alpha: the value negative inputs saturate to (as ``-alpha``).

    Example::

        ELU(alpha=1.0)(x)
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = check_number("ELU", "alpha", alpha)

    def call(self, inputs, training=None):
        return ops.elu(inputs, self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@register_builtin
class GELU(_ElementwiseLayer):
    """Gaussian error linear unit ``x * Phi(x)``.

    Args:
        approximate: use the tanh approximation instead of the exact erf form.

    Example::

        GELU()(x)
    """

    def __init__(self, approximate=False, **kwargs):
        super().__init__(**kwargs)
        self.approximate = bool(approximate)

    def call(self, inputs, training=None):
        return ops.gelu(inputs, self.approximate)

    def get_config(self):
        return {**super().get_config(), "approximate": self.approximate}


@register_builtin
class Sigmoid(_ElementwiseLayer):
    """Logistic sigmoid ``1 / (1 + exp(-x))``.

    Example::

        Sigmoid()(x)      # values in (0, 1)
    """

    def call(self, inputs, training=None):
        return ops.sigmoid(inputs)


@register_builtin
class Tanh(_ElementwiseLayer):
    """Hyperbolic tangent.

    Example::

        Tanh()(x)         # values in (-1, 1)
    """

    def call(self, inputs, training=None):
        return ops.tanh(inputs)


@register_builtin
class Softmax(_ElementwiseLayer):
    """Softmax along ``axis``: the output is ``gradkit.ops.softmax``'s, so a
    following cross-entropy loss computes from the logits (fused, stable).

    Args:
        axis: the axis that sums to 1 (int).

    Example::

        Softmax()(logits)      # rows sum to 1
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = check_int("Softmax", "axis", axis)

    def call(self, inputs, training=None):
        return ops.softmax(inputs, normalize_axis(f"Softmax '{self.name}'", self.axis,
                                                  inputs.ndim))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
