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

# isort: split
# convolution, pooling and recurrent layers (gradkit/layers/conv.py, pooling.py, recurrent.py)
from gradkit.layers.conv import Conv1D, Conv2D
from gradkit.layers.pooling import (
    AveragePooling2D,
    AvgPool2D,
    GlobalAveragePooling2D,
    GlobalAvgPool2D,
    GlobalMaxPool2D,
    GlobalMaxPooling2D,
    MaxPool2D,
    MaxPooling2D,
)
from gradkit.layers.recurrent import GRU, LSTM, SimpleRNN

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
    # convolution, pooling, recurrent
    "Conv1D", "Conv2D",
    "AveragePooling2D", "AvgPool2D", "GlobalAveragePooling2D", "GlobalAvgPool2D",
    "GlobalMaxPool2D", "GlobalMaxPooling2D", "MaxPool2D", "MaxPooling2D",
    "GRU", "LSTM", "SimpleRNN",
]
