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
# PyTorch spellings (gradkit/compat/torch.py): ``import gradkit as torch`` works; the NumPy
# forms of max/min/sum/mean/stack/transpose keep working beside PyTorch's dim=/keepdim=.
from gradkit.creation import empty, linspace
from gradkit.compat.torch import (
    ValuesIndices,
    argmax,
    argmin,
    bmm,
    bool,  # noqa: A004
    cat,
    clamp,
    cos,
    double,
    empty_like,
    flatten,
    float,  # noqa: A004
    from_numpy,
    full_like,
    half,
    int,  # noqa: A004
    is_tensor,
    log_softmax,
    long,
    manual_seed,
    max,  # noqa: A004
    mean,
    min,  # noqa: A004
    mm,
    numel,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    sin,
    softmax,
    squeeze,
    stack,
    sum,  # noqa: A004
    transpose,
    unsqueeze,
    zeros_like,
)
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
    gelu,
    leaky_relu,
    log,
    logsumexp,
    matmul,
    maximum,
    mean_squared_error,
    minimum,
    multiply,
    negative,
    pad,
    permute,
    power,
    relu,
    reshape,
    sigmoid,
    sign,
    softmax_cross_entropy,
    softplus,
    split,
    sqrt,
    std,
    subtract,
    swapaxes,
    tanh,
    var,
    where,
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
from gradkit import optim
from gradkit.serialization import load, save

# TensorFlow-style aliases live in one place, gradkit.compat; ``import gradkit as tf`` works.
from gradkit.compat.tf import (
    constant,
    function,
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
from gradkit import data  # tf.data-style pipelines: tf.data.Dataset under `import gradkit as tf`
from gradkit import amp, mixed_precision
from gradkit.mixed_precision import autocast

__version__ = "0.1.0"


def __getattr__(name):
    """``gradkit.onnx`` loads on first use (it needs the optional ``onnx`` package only
    when called, and importing gradkit stays light)."""
    if name == "onnx":
        import importlib

        return importlib.import_module("gradkit.onnx")
    raise AttributeError(f"module 'gradkit' has no attribute {name!r}")
