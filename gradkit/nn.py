"""Neural-network functions under one roof (``gradkit.nn.relu``, like ``tf.nn``)."""

from gradkit.ops import (  # noqa: F401
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
