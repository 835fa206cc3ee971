"""``Lambda``: a Python function as a layer."""

from __future__ import annotations

import inspect

from gradkit.layers.base import Layer
from gradkit.layers.registry import LAYERS, register_builtin

__all__ = ["Lambda"]


def _accepts(fn, name):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return name in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def _function_name(fn, layer, what):
    name = getattr(fn, "__name__", None)
    if name is None or name == "<lambda>":
        raise ValueError(f"Lambda '{layer.name}': its {what} is an anonymous lambda, which a "
                         "model file cannot name; define it with def and pass it to "
                         "load_model(..., custom_objects={'name': fn}) when loading")
    return name


@register_builtin
class Lambda(Layer):
    """Wrap ``function(inputs, **arguments)`` (gradkit ops on Tensors) as a layer.

    Args:
        function: the function; it also gets ``mask=`` and ``training=`` when it
            accepts them.
        output_shape: the output shape without the batch axis (a tuple), or a function
            ``input_shape -> output_shape`` (batch axis included); default: found by
            running the function on zeros.
        mask: a mask for the output, or a function ``(inputs, mask) -> mask``; default
            no mask.
        arguments: extra keyword arguments for ``function`` (JSON values).

    Saving stores the function's name only (a file never carries code): load with
    ``load_model(path, custom_objects={"name": function})``. Anonymous lambdas can be
    used but not saved.

    Example::

        def double(x):
            return x * 2.0
        layer = Lambda(double)
        layer(np.ones((2, 3), "float32"))          # all 2.0
    """

    supports_masking = True

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: function must be callable, received {function!r}")
        if output_shape is not None and not callable(output_shape) and \
                not isinstance(output_shape, (tuple, list)):
            raise TypeError(f"Lambda: output_shape must be a tuple or a function, received "
                            f"{output_shape!r}")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda: arguments must be a dict, received {arguments!r}")
        self.function = function
        self.output_shape = tuple(output_shape) if isinstance(output_shape, list) \
            else output_shape
        self.mask = mask
        self.arguments = dict(arguments or {})
        self._takes = {k: _accepts(function, k) for k in ("mask", "training")}

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._takes["mask"]:
            kwargs["mask"] = mask
        if self._takes["training"]:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_shape(self, input_shape):
        if self.output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self.output_shape):
            return tuple(self.output_shape(input_shape))
        batch = input_shape[0][0] if isinstance(input_shape, list) else input_shape[0]
        return (batch,) + self.output_shape

    def get_config(self):
        cfg = {**super().get_config(), "function": _function_name(self.function, self,
                                                                  "function")}
        if callable(self.output_shape):
            cfg["output_shape"] = _function_name(self.output_shape, self, "output_shape")
        elif self.output_shape is not None:
            cfg["output_shape"] = list(self.output_shape)
        if callable(self.mask):
            cfg["mask"] = _function_name(self.mask, self, "mask")
        elif self.mask is not None:
            raise ValueError(f"Lambda '{self.name}': a fixed mask value cannot be saved; "
                             "pass a function (inputs, mask) -> mask instead")
        if self.arguments:
            cfg["arguments"] = self.arguments
        return cfg

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("function", "mask") + (
                ("output_shape",) if isinstance(config.get("output_shape"), str) else ()):
            if isinstance(config.get(key), str):
                config[key] = _lookup(config[key], key)
        return cls(**config)


def _lookup(name, what):
    """The function a saved Lambda names: from ``custom_objects`` (or a registered user
    function), else one of gradkit's activations (``"tanh"``...)."""
    from gradkit import activations

    fn = LAYERS.lookup(name)
    if callable(fn) and not isinstance(fn, type):
        return fn
    fn = activations.ACTIVATIONS.lookup(name)
    if callable(fn) and not isinstance(fn, type):
        return fn
    raise ValueError(f"Lambda: no function {name!r} for its {what}; pass it when loading: "
                     f"load_model(path, custom_objects={{{name!r}: {name}}})")
