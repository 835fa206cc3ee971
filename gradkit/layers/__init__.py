"""Layers (``gradkit.layers.Dense``...), Keras's vocabulary."""

from gradkit.layers.base import InputSpec, Layer, SymbolicTensor

__all__ = ["InputSpec", "Layer", "SymbolicTensor"]
