"""TensorFlow-style names, as thin aliases in one place (``import gradkit as tf``).

gradkit's own API uses NumPy-like names (``gradkit.mean``); these let the
tutorials' TensorFlow code run with only its import changed.
"""

from __future__ import annotations

from types import SimpleNamespace

from gradkit import ops
from gradkit.autograd import engine
from gradkit.creation import convert_to_tensor

__all__ = ["argmax", "constant", "gradients", "pow", "reduce_max", "reduce_mean", "reduce_min",
           "reduce_sum", "square", "train"]


def reduce_sum(x, axis=None, keepdims=False):
    """``tf.reduce_sum``."""
    return ops.sum(convert_to_tensor(x), axis, keepdims)


def reduce_mean(x, axis=None, keepdims=False):
    """``tf.reduce_mean``."""
    return ops.mean(convert_to_tensor(x), axis, keepdims)


def reduce_max(x, axis=None, keepdims=False):
    """``tf.reduce_max``."""
    return ops.max(convert_to_tensor(x), axis, keepdims)


def reduce_min(x, axis=None, keepdims=False):
    """``tf.reduce_min``."""
    return ops.min(convert_to_tensor(x), axis, keepdims)


def pow(x, y):  # noqa: A001 - TensorFlow's name
    """``tf.pow``."""
    return ops.power(x, y)


def square(x):
    """``tf.square``."""
    return ops.multiply(x, x)


def constant(value, dtype=None):
    """``tf.constant``: a tensor that is not trained."""
    return convert_to_tensor(value, dtype)


def argmax(x, axis=-1):
    """``tf.argmax`` (an integer tensor, no gradient)."""
    return convert_to_tensor(x).argmax(axis=axis)


def gradients(ys, xs):
    """TensorFlow 1's ``tf.gradients(ys, xs)``: gradients of ``ys`` (summed) for each of ``xs``.

    Works on gradkit's recorded graph, which is kept so it can be asked again.
    """
    many = isinstance(xs, (list, tuple))
    xs = list(xs) if many else [xs]
    seed = None if ys.size == 1 else engine.get_array_module(ys._data).ones_like(ys._data)
    grads = engine.run_backward(ys, seed, xs, retain_graph=True)
    return grads if many else grads[0]


def _gradient_descent(learning_rate):
    from gradkit.optimizers import SGD

    return SGD(learning_rate)


train = SimpleNamespace(GradientDescentOptimizer=_gradient_descent)


def function(func=None, input_signature=None, autograph=True, jit_compile=None,
             reduce_retracing=False, experimental_implements=None,
             experimental_autograph_options=None, experimental_attributes=None,
             experimental_relax_shapes=None, experimental_compile=None,
             experimental_follow_type_hints=None):
    """``@tf.function``: returns ``func`` itself, a documented no-op.

    TensorFlow traces the function into a graph to run it faster; gradkit has no
    graph mode to trace into: it always runs eagerly, recording the graph for
    backward as ops run, so the function computes exactly what it would
    undecorated. The options are accepted so that TensorFlow code runs; they
    change nothing for the same reason. Usable bare (``@tf.function``) or with
    arguments (``@tf.function(jit_compile=True)``).

    Example::

        @tf.function
        def train_step(x, y):
            ...
    """
    if func is None:
        return lambda f: f
    if not callable(func):
        raise TypeError(f"tf.function decorates a callable, received {func!r}")
    return func
