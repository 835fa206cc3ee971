"""Activation functions by name, as Keras's ``activation="relu"`` arguments expect.

Every function here maps a Tensor to a Tensor and is built from
:mod:`gradkit.ops`, so it is differentiable (to any order) for free.
:func:`get` resolves a name, ``None`` or a callable to such a function, and
:func:`serialize` turns one back into its name for a layer's config.

Example::

    from gradkit import activations

    act = activations.get("relu")
    y = act(x)                          # same as gradkit.ops.relu(x)
    activations.serialize(act)          # "relu"

The softmax and sigmoid functions carry a marker attribute
(``_gradkit_softmax`` / ``_gradkit_sigmoid``). Losses do not need it (they
look at the op that produced ``y_pred``), but layers and models can use it to
know that an output is a probability distribution.
"""

from __future__ import annotations

import inspect

from gradkit import ops
from gradkit.utils.registry import Registry, as_is

__all__ = [
    "ACTIVATIONS", "deserialize", "elu", "exponential", "gelu", "get", "hard_sigmoid",
    "leaky_relu", "linear", "log_softmax", "register_serializable", "relu", "selu", "serialize",
    "sigmoid", "silu", "softmax", "softplus", "swish", "tanh",
]

# SELU's constants (Klambauer et al., 2017): keep activations at mean 0 / variance 1.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _documented(summary, returns="A Tensor shaped like ``x``.", x="input Tensor.", **params):
    """Decorator: give an activation this module's docstring layout.

    Args:
        summary: the docstring's first paragraph(s).
        returns: the text under Returns.
        x: the text for the input ``x``.
        **params: the text for each further argument, in order.

    Returns:
        A decorator that sets ``__doc__`` and returns the function.
    """
    args_doc = "".join(f"\n        {arg}: {text}" for arg, text in {"x": x, **params}.items())

    def decorate(fn):
        fn.__doc__ = (f"{summary}\n\n    Args:{args_doc}\n\n"
                      f"    Returns:\n        {returns}\n    ")
        return fn

    return decorate


def _from_op(op, name, summary, **doc):
    """The activation ``name``: a call of ``op`` with the same arguments, documented here.

    Args:
        op: the :mod:`gradkit.ops` function that computes it (its first argument is ``x``).
        name: the activation's name (its ``__name__``, and so its registry name).
        summary: the docstring's first paragraph(s).
        **doc: the rest of the docstring, as for :func:`_documented`.

    Returns:
        A function with ``op``'s signature.
    """
    def activation(x, *args, **kwargs):
        return op(x, *args, **kwargs)

    activation.__name__ = activation.__qualname__ = name
    activation.__module__ = __name__
    activation.__signature__ = inspect.signature(op)
    return _documented(summary, **doc)(activation)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit ``max(x, 0)``, with Keras's optional variations.

    Args:
        x: input Tensor.
        negative_slope: slope below ``threshold`` (``0.0``: plain ReLU).
        max_value: saturation value (``6.0`` gives ReLU6); None for none.
        threshold: inputs below it are zeroed (or scaled by ``negative_slope``).

    Returns:
        A Tensor shaped like ``x``.
    """
    return ops.relu(x, max_value, negative_slope, threshold)


sigmoid = _from_op(ops.sigmoid, "sigmoid",
                   "Logistic sigmoid ``1 / (1 + exp(-x))`` (stable for large ``|x|``).",
                   returns="A Tensor of values in ``(0, 1)`` shaped like ``x``.")


softmax = _from_op(
    ops.softmax, "softmax",
    """Softmax ``exp(x) / sum(exp(x))`` along ``axis`` (the class axis).

    Cross-entropy losses recognise a ``y_pred`` made by this function and
    compute the loss from its logits (fused and stable).""",
    x="input Tensor (logits).", axis="the axis that sums to 1 (default: the last).",
    returns="A Tensor of probabilities shaped like ``x``.")


log_softmax = _from_op(
    ops.log_softmax, "log_softmax",
    "``x - logsumexp(x)`` along ``axis``: the log of :func:`softmax`, computed stably.",
    x="input Tensor (logits).", axis="the class axis (default: the last).",
    returns="A Tensor of log-probabilities shaped like ``x``.")


tanh = _from_op(ops.tanh, "tanh", "Hyperbolic tangent.",
                returns="A Tensor of values in ``(-1, 1)`` shaped like ``x``.")


elu = _from_op(ops.elu, "elu",
               "Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``.",
               alpha="the negative saturation value.")


def selu(x):
    """Scaled ELU: ``scale * elu(x, alpha)`` with Klambauer et al.'s constants.

    Args:
        x: input Tensor.

    Returns:
        A Tensor shaped like ``x``.

    Example::

        selu(Tensor([-1.0, 1.0]))   # Tensor([-1.1113, 1.0507])
    """
    return ops.elu(x, SELU_ALPHA) * SELU_SCALE


gelu = _from_op(ops.gelu, "gelu", "Gaussian error linear unit ``x * Phi(x)``.",
                approximate="use the tanh approximation instead of the exact erf form.")


leaky_relu = _from_op(
    ops.leaky_relu, "leaky_relu",
    "``x`` if ``x > 0`` else ``negative_slope * x`` (Keras's default slope is 0.2).",
    negative_slope="the slope for negative inputs.")


softplus = _from_op(ops.softplus, "softplus", "``log(1 + exp(x))``, stable for large ``|x|``.",
                    returns="A Tensor of positive values shaped like ``x``.")


@_documented("Swish / SiLU: ``x * sigmoid(x)``.")
def swish(x):
    return x * ops.sigmoid(x)


silu = swish


@_documented("""Piecewise-linear sigmoid ``clip(x / 6 + 0.5, 0, 1)`` (Keras 3's definition).

    It is 0 for ``x <= -3``, 1 for ``x >= 3`` and linear in between.""",
             returns="A Tensor of values in ``[0, 1]`` shaped like ``x``.")
def hard_sigmoid(x):
    return ops.clip(x * (1.0 / 6.0) + 0.5, 0.0, 1.0)


@_documented("``exp(x)``.")
def exponential(x):
    return ops.exp(x)


@_documented("The identity (Keras's ``\"linear\"``, also what ``None`` means).",
             returns="``x`` itself.")
def linear(x):
    return x


softmax._gradkit_softmax = True
sigmoid._gradkit_sigmoid = True


ACTIVATIONS = Registry("activation", module="gradkit.activations", none=linear,
                       from_function=as_is)
"""The activation registry: names -> functions (see :mod:`gradkit.utils.registry`)."""

for _fn in (relu, sigmoid, softmax, log_softmax, tanh, elu, selu, gelu, leaky_relu, softplus,
            hard_sigmoid, exponential):
    ACTIVATIONS.register()(_fn)
ACTIVATIONS.register("swish", "silu")(swish)
ACTIVATIONS.register("linear", "identity")(linear)
# the raw ops a user may pass directly serialize as the same names
for _op, _name in ((ops.relu, "relu"), (ops.sigmoid, "sigmoid"), (ops.softmax, "softmax"),
                   (ops.log_softmax, "log_softmax"), (ops.tanh, "tanh"), (ops.elu, "elu"),
                   (ops.gelu, "gelu"), (ops.leaky_relu, "leaky_relu"),
                   (ops.softplus, "softplus"), (ops.exp, "exponential")):
    ACTIVATIONS.serialize_as(_op, _name)
register_serializable = ACTIVATIONS.register_serializable


def get(identifier, custom_objects=None):
    """Resolve an activation given by name, ``None`` or callable.

    Args:
        identifier: a name such as ``"relu"`` (case-insensitive), a registered
            user name, ``None`` (the identity) or any callable Tensor -> Tensor
            (returned unchanged).
        custom_objects: optional ``{name: function}`` for unregistered names.

    Returns:
        A callable Tensor -> Tensor.

    Raises:
        ValueError: for an unknown name (the message lists the valid ones).
        TypeError: for anything else that is not callable.

    Example::

        activations.get("silu") is activations.swish   # True
        activations.get(None)(x) is x                   # True
    """
    return ACTIVATIONS.get(identifier, custom_objects)


def fused_name(activation):
    """The name under which a layer primitive (``ops.dense``, ``ops.conv2d``) applies
    ``activation`` itself, in place on its output: ``"relu"``, ``"tanh"``, or None when
    the activation is applied as an op of its own (or is the identity).

    Example::

        activations.fused_name(activations.get("relu"))   # "relu"
    """
    return _FUSED_NAMES.get(activation) if activation.__hash__ is not None else None


_FUSED_NAMES = {relu: "relu", ops.relu: "relu", tanh: "tanh", ops.tanh: "tanh"}


def serialize(activation):
    """The name of an activation, for a layer's ``get_config``.

    Args:
        activation: a function from this module, the matching ``gradkit.ops``
            function, ``None`` (``"linear"``) or a custom callable.

    Returns:
        The canonical name (``"relu"``...); ``"package>name"`` for a function
        registered with :func:`register_serializable`. An unregistered callable
        gives its ``__name__``, which :func:`get` resolves only when it is
        passed in ``custom_objects`` again.

    Example::

        activations.serialize(activations.get("silu"))   # "swish"
    """
    return ACTIVATIONS.serialize(activation)


def deserialize(config, custom_objects=None):
    """An activation from :func:`serialize`'s name (or a config dict)."""
    return ACTIVATIONS.get(config, custom_objects)
