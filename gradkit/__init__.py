"""gradkit: a deep-learning framework on NumPy.

An autodiff engine (``Tensor.backward`` and ``GradientTape`` on one engine),
layers, optimizers and a Keras-style model API. See README.md.
"""
# ruff: noqa: I001  (order matters: Tensor first, the ops are built on it)

from gradkit.tensor import (
    Tensor,
    Variable,
    bool_,
    float16,
    float32,
    float64,
    int32,
    int64,
    tensor,
    uint8,
)
from gradkit import ops, random, nn
from gradkit.autograd import (
    GradientTape,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    value_and_grad,
)
from gradkit.backend import get_array_module
from gradkit.devices import Device, device
from gradkit.creation import arange, as_tensor, convert_to_tensor, eye, full, ones, zeros
from gradkit.ops import (
    abs,
    add,
    binary_cross_entropy_with_logits,
    broadcast_to,
    cast,
    clip,
    concat,
    concatenate,
    divide,
    dot,
    einsum,
    elu,
    erf,
    exp,
    expand_dims,
    flatten,
    gelu,
    leaky_relu,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    mean_squared_error,
    min,
    minimum,
    multiply,
    negative,
    ones_like,
    pad,
    permute,
    power,
    relu,
    reshape,
    sigmoid,
    sign,
    softmax,
    softmax_cross_entropy,
    softplus,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    subtract,
    sum,
    swapaxes,
    tanh,
    transpose,
    var,
    where,
    zeros_like,
)
from gradkit import (
    activations,
    callbacks,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    regularizers,
    testing,
    utils,
)
from gradkit.models import Input, Model, Sequential, load_model

# TensorFlow-style aliases live in one place, gradkit.compat; ``import gradkit as tf`` works.
from gradkit.compat import (
    argmax,
    constant,
    gradients,
    pow,  # noqa: A004
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_sum,
    square,
    train,
)
from gradkit import keras
from gradkit import amp, mixed_precision
from gradkit.mixed_precision import autocast

__version__ = "0.1.0"
