"""Layers (``gradkit.layers.Dense``...), Keras's vocabulary, PyTorch's habits.

Every layer class here is registered, so ``deserialize(serialize(layer))``
rebuilds it; user classes join with ``@register_serializable()``.
"""

from gradkit.layers.activation import ELU, GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from gradkit.layers.base import InputSpec, Layer, SymbolicTensor
from gradkit.layers.core import (
    Activation,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    Linear,
    Reshape,
)
from gradkit.layers.merge import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
)
from gradkit.layers.normalization import BatchNormalization, LayerNormalization
from gradkit.layers.registry import (
    deserialize,
    get,
    get_registered_name,
    get_registered_object,
    register_serializable,
    registered_classes,
    serialize,
)

__all__ = [
    # base
    "InputSpec", "Layer", "SymbolicTensor",
    # registry
    "deserialize", "get", "get_registered_name", "get_registered_object",
    "register_serializable", "registered_classes", "serialize",
    # core
    "Activation", "Dense", "Dropout", "Embedding", "Flatten", "Identity", "Linear", "Reshape",
    # activations
    "ELU", "GELU", "LeakyReLU", "ReLU", "Sigmoid", "Softmax", "Tanh",
    # normalization
    "BatchNormalization", "LayerNormalization",
    # merge
    "Add", "Average", "Concatenate", "Maximum", "Minimum", "Multiply", "Subtract",
]
