"""``Masking``: mark time steps whose features all equal a padding value as missing."""

from __future__ import annotations

from gradkit import ops
from gradkit.layers.base import Layer
from gradkit.layers.registry import register_builtin
from gradkit.utils.validation import check_number

__all__ = ["Masking"]


@register_builtin
class Masking(Layer):
    """Mask the steps of a sequence whose every feature equals ``mask_value``.

    The output is the input with those steps zeroed, carrying the mask
    ``any(x != mask_value, axis=-1)`` (``output._keras_mask``): recurrent layers
    downstream skip the masked steps, losses and metrics ignore them.

    Args:
        mask_value: the padding value (default 0.0).

    Shapes:
        ``(batch, time, features)`` in and out; mask ``(batch, time)``.

    Example::

        x = np.array([[[1., 2.], [0., 0.]]], "float32")
        Masking()(x)._keras_mask        # [[True, False]]
    """

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = check_number("Masking", "mask_value", mask_value)

    def compute_mask(self, inputs, mask=None):
        """``any(inputs != mask_value, axis=-1)`` (a boolean array)."""
        data = inputs._data if hasattr(inputs, "_data") else inputs
        return (data != self.mask_value).any(axis=-1)

    def call(self, inputs, training=None):
        keep = self.compute_mask(inputs)[..., None]
        return ops.multiply(inputs, keep.astype(inputs.dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
