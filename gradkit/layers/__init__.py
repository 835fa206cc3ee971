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

# isort: split
# keras-layers: upsampling, wrappers, preprocessing, masking, attention, merge helpers
from gradkit.layers.attention import MultiHeadAttention
from gradkit.layers.conv_transpose import Conv2DTranspose
from gradkit.layers.lambda_layer import Lambda
from gradkit.layers.masking import Masking
from gradkit.layers.merge import (
    Dot,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from gradkit.layers.pooling import (
    GlobalAveragePooling1D,
    GlobalAvgPool1D,
    GlobalMaxPool1D,
    GlobalMaxPooling1D,
)
from gradkit.layers.preprocessing import Normalization, Rescaling
from gradkit.layers.reshaping import UpSampling2D

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
    # keras-layers
    "Conv2DTranspose", "Dot", "GlobalAveragePooling1D", "GlobalAvgPool1D", "GlobalMaxPool1D",
    "GlobalMaxPooling1D", "Input", "Lambda", "Masking", "MultiHeadAttention", "Normalization",
    "Rescaling", "UpSampling2D",
    "add", "average", "concatenate", "dot", "maximum", "minimum", "multiply", "subtract",
]


def __getattr__(name):
    # ``keras.layers.Input``: the functional placeholder lives in gradkit.models, which
    # imports this package; fetched on first use
    if name == "Input":
        from gradkit.models.functional import Input

        return Input
    raise AttributeError(f"module 'gradkit.layers' has no attribute {name!r}")
