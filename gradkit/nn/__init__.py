"""``gradkit.nn``: PyTorch's ``torch.nn`` on gradkit's engine and layer hierarchy.

``nn.Module`` *is* a gradkit :class:`~gradkit.layers.Layer`: modules go into Keras
models, train with ``fit`` and save with ``model.save``; Keras layers have the
Module API (``parameters``, ``state_dict``...). Submodules: ``functional`` (``F``),
``init``, ``utils``. The activation and loss functions that ``gradkit.nn`` offered
before it was a package (``gradkit.nn.relu``, ``gradkit.nn.softmax_cross_entropy``...,
like ``tf.nn``) are still here.

Example::

    from gradkit import nn
    import gradkit.nn.functional as F

    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    loss = nn.CrossEntropyLoss()(model(x), y)
"""

# ruff: noqa: I001  (the functions first, the modules are built on them)
from gradkit.ops import (  # noqa: F401  the tf.nn-style functions gradkit.nn always had
    binary_cross_entropy_with_logits,
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    softmax_cross_entropy,
    softplus,
    tanh,
)
from gradkit.nn import functional, init, utils  # noqa: F401
from gradkit.nn.module import Module
from gradkit.nn.parameter import Parameter
from gradkit.nn.container import ModuleDict, ModuleList, Sequential
from gradkit.nn.linear import Flatten, Identity, Linear, Unflatten
from gradkit.nn.conv import Conv2d
from gradkit.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from gradkit.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from gradkit.nn.dropout import Dropout
from gradkit.nn.embedding import Embedding
from gradkit.nn.recurrent import GRU, LSTM, RNN
from gradkit.nn.activation import (
    ELU,
    GELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    SiLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from gradkit.nn.attention import MultiheadAttention
from gradkit.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)

__all__ = [
    "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict",
    "Linear", "Identity", "Flatten", "Unflatten", "Conv2d", "MaxPool2d", "AvgPool2d",
    "AdaptiveAvgPool2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Dropout", "Embedding",
    "RNN", "LSTM", "GRU", "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Sigmoid", "Tanh",
    "Softplus", "Softmax", "LogSoftmax", "MultiheadAttention",
    "MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "BCELoss", "BCEWithLogitsLoss",
    "NLLLoss", "CrossEntropyLoss", "KLDivLoss",
    "functional", "init", "utils",
]
