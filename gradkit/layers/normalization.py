"""Normalization layers: BatchNormalization and LayerNormalization (Keras semantics).

Both compute ``(x - mean) / sqrt(var + epsilon) * gamma + beta`` with one fused
primitive (:func:`gradkit.ops.batch_norm`, :func:`gradkit.ops.layer_norm`), whose
backward is the closed-form gradient instead of a chain of a dozen small ops.
"""

from __future__ import annotations

from gradkit import ops
from gradkit.layers.base import InputSpec, Layer, shape_str
from gradkit.layers.core import serialize_arg
from gradkit.layers.registry import register_builtin
from gradkit.utils.validation import check_int, check_number, normalize_axes

__all__ = ["BatchNormalization", "LayerNormalization"]


class _NormBase(Layer):
    """Shared pieces: feature axes, gamma/beta, the fused op."""

    supports_masking = True

    def __init__(self, axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                 beta_regularizer, gamma_regularizer, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        if isinstance(axis, (list, tuple)):
            if not axis:
                raise ValueError(f"{owner}: axis must be an int or a list of ints, received []")
            self.axis = [check_int(owner, "axis", a) for a in axis]
        else:
            self.axis = check_int(owner, "axis", axis)
        self.epsilon = check_number(owner, "epsilon", epsilon, 0, min_open=True)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer
        self.gamma = self.beta = None

    def _build_params(self, input_shape):
        ndim = len(input_shape)
        self._axes = normalize_axes(f"{type(self).__name__} '{self.name}' (input shape "
                                    f"{shape_str(input_shape)})", self.axis, ndim)
        sizes = [input_shape[a] for a in self._axes]
        if any(s is None for s in sizes):
            raise ValueError(f"{type(self).__name__} '{self.name}' needs the size of axis "
                             f"{self.axis} to be known, received shape {shape_str(input_shape)}")
        self._param_shape = tuple(sizes)
        if self.scale:
            self.gamma = self.add_weight(self._param_shape, self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, name="gamma")
        if self.center:
            self.beta = self.add_weight(self._param_shape, self.beta_initializer,
                                        regularizer=self.beta_regularizer, name="beta")
        self.input_spec = InputSpec(ndim=ndim, axes={a: input_shape[a] for a in self._axes})

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": serialize_arg(self.beta_initializer, "initializers"),
                "gamma_initializer": serialize_arg(self.gamma_initializer, "initializers"),
                "beta_regularizer": serialize_arg(self.beta_regularizer, "regularizers"),
                "gamma_regularizer": serialize_arg(self.gamma_regularizer, "regularizers")}


@register_builtin
class BatchNormalization(_NormBase):
    """Batch normalization (Keras semantics).

    In training (``training=True``, or after ``layer.train()``) each feature is
    normalized with the batch's mean and (biased) variance, and the moving
    statistics are updated in place:
    ``moving = moving * momentum + batch_stat * (1 - momentum)``.
    At inference the moving statistics are used. A layer with
    ``trainable=False`` always runs in inference mode (as in Keras 3).

    Note PyTorch's ``momentum=0.1`` means Keras's ``momentum=0.9``, and
    PyTorch's ``running_var`` is updated with the *unbiased* batch variance;
    gradkit follows Keras (biased).

    Args:
        axis: the feature axis (``-1`` for channels-last, ``1`` for channels-first).
        momentum: weight of the old value in the moving averages.
        epsilon: added to the variance before the square root.
        center, scale: learn ``beta`` (offset) / ``gamma`` (scale).
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: initial values (zeros, ones, zeros, ones).
        beta_regularizer, gamma_regularizer: optional penalties.

    Input/output shape: any with the feature axis known, e.g. ``(N, C)``,
    ``(N, H, W, C)`` (axis -1) or ``(N, C, H, W)`` (axis 1).

    Example::

        bn = BatchNormalization()
        y = bn(x, training=True)       # x: (32, 64); updates moving_mean/variance
        y = bn(x)                      # inference: uses the moving statistics
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, **kwargs)
        try:
            self.momentum = check_number("BatchNormalization", "momentum", momentum, 0, 1)
        except ValueError as e:
            raise ValueError(f"{e} (Keras convention: 0.99 keeps 99% of the old value; "
                             "PyTorch's momentum=0.1 is momentum=0.9 here)") from None
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer
        self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        self._build_params(input_shape)
        self.moving_mean = self.add_weight(self._param_shape, self.moving_mean_initializer,
                                           trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(self._param_shape,
                                               self.moving_variance_initializer,
                                               trainable=False, name="moving_variance")
        self.built = True

    def call(self, inputs, training=None):
        return ops.batch_norm(inputs, self.moving_mean, self.moving_variance, self.gamma,
                              self.beta, training=bool(training) and self._trainable,
                              momentum=self.momentum, epsilon=self.epsilon, axis=self._axes)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum,
                "moving_mean_initializer": serialize_arg(self.moving_mean_initializer,
                                                         "initializers"),
                "moving_variance_initializer": serialize_arg(self.moving_variance_initializer,
                                                             "initializers")}


@register_builtin
class LayerNormalization(_NormBase):
    """Layer normalization: normalize each sample over ``axis`` (the features).

    ``y = (x - mean) / sqrt(var + epsilon) * gamma + beta`` with the mean and
    (biased) variance taken over ``axis`` per sample; the same at training and
    inference.

    Args:
        axis: int or list of ints, the normalized axes (default the last);
            ``gamma``/``beta`` have their sizes.
        epsilon: added to the variance (Keras's default 1e-3; PyTorch's is 1e-5).
        center, scale: learn ``beta`` / ``gamma``.
        beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer:
            as for BatchNormalization.

    Input/output shape: any; the output has the input's shape.

    Example::

        ln = LayerNormalization()
        y = ln(x)            # x: (batch, seq, 512): each vector normalized
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, **kwargs)

    def build(self, input_shape):
        self._build_params(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        return ops.layer_norm(inputs, self.gamma, self.beta, self._axes, self.epsilon)
