"""``clone_model``: the same architecture with fresh weights.

A model is cloned through its config, as Keras does: every layer is rebuilt from
``get_config`` (so the clone shares no weights or state with the original) and
the clone is built for the same input shape, with newly initialized weights.

Example::

    twin = clone_model(model)                 # same layers, new weights
    twin.set_weights(model.get_weights())     # ...or copy them over
"""

from __future__ import annotations

from gradkit.models.model import Model


def clone_layer(layer):
    """A new layer of the same class and config (fresh weights): ``clone_model``'s default
    ``clone_function``."""
    return type(layer).from_config(layer.get_config())


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive=False, **kwargs):
    """A new model with ``model``'s architecture and newly initialized weights.

    Args:
        model: a ``Sequential``, functional ``Model``, or a subclassed model whose
            ``get_config``/``from_config`` round-trip.
        clone_function: ``layer -> new layer`` for each layer of a ``Sequential``
            (default :func:`clone_layer`).

    Returns:
        The clone, built when ``model`` is built. It is not compiled.

    Raises:
        NotImplementedError: ``input_tensors``, ``call_function``, ``recursive`` or a
            ``clone_function`` for a non-Sequential model, which gradkit does not support.
    """
    from gradkit.layers import deserialize, serialize
    from gradkit.models.functional import Functional
    from gradkit.models.sequential import Sequential

    unsupported = {"input_tensors": input_tensors, "call_function": call_function,
                   "recursive": recursive or None, **kwargs}
    given = sorted(k for k, v in unsupported.items() if v is not None)
    if given:
        raise NotImplementedError(f"clone_model: {', '.join(given)} not supported; gradkit "
                                  "clones a model from its config")
    if not isinstance(model, Model):
        raise TypeError(f"clone_model expects a Model, received {type(model).__name__}")
    if isinstance(model, Sequential):
        clone = Sequential([(clone_function or clone_layer)(layer) for layer in model.layers],
                           name=model.name)
        if model._build_input_shape is not None:
            clone.build(model._build_input_shape)
        return clone
    if clone_function is not None:
        raise NotImplementedError("clone_model: clone_function is supported for Sequential "
                                  "models only")
    if isinstance(model, Functional):
        return Functional.from_config(model.get_config())
    clone = deserialize(serialize(model))
    if model.built and not clone.built and model._build_input_shape is not None:
        clone.build(model._build_input_shape)
    return clone
