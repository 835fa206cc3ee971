"""``Sequential``: a plain stack of layers, each feeding the next."""

from __future__ import annotations

from gradkit.layers.base import Layer, SymbolicTensor
from gradkit.layers.registry import register_builtin
from gradkit.models.model import Model


@register_builtin
class Sequential(Model):
    """A stack of layers.

    Args:
        layers: a list of layers (the first may be an ``Input``), or None to
            ``add`` them one by one.

    Example::

        model = Sequential([Dense(512, activation="relu", input_shape=(784,)),
                            Dense(10, activation="softmax")])
        model.add(Dropout(0.2))
    """

    def __init__(self, layers=None, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self._input = None  # an Input placeholder given as the first item
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        """Append a layer (or an ``Input`` to fix the input shape)."""
        if isinstance(layer, SymbolicTensor) and layer.node is None:
            if self._layers:
                raise ValueError("Sequential.add: an Input can only come first")
            self._input = layer
            self._build_input_shape = layer.shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a Layer, got {type(layer).__name__}")
        if layer in self._layers:
            raise ValueError(f"Sequential.add: layer '{layer.name}' is already in the model")
        self._layers.append(layer)
        self.built = False
        self._try_build()

    def pop(self):
        """Remove and return the last layer."""
        if not self._layers:
            raise ValueError("Sequential.pop: the model has no layers")
        layer = self._layers.pop()
        self.built = False
        self._try_build()
        return layer

    @property
    def layers(self):
        return list(self._layers)

    def _declared_shape(self):
        if self._build_input_shape is not None:
            return tuple(self._build_input_shape)
        first = self._layers[0] if self._layers else None
        if first is not None and first._build_input_shape is not None:
            return tuple(first._build_input_shape)
        return None

    def _try_build(self):
        shape = self._declared_shape()
        if shape is not None and self._layers:
            self.build(shape)

    def build(self, input_shape=None):
        """Build every layer by passing shapes through the stack (no data needed)."""
        input_shape = input_shape or self._declared_shape()
        if input_shape is None:
            raise ValueError("Sequential.build: the input shape is unknown; pass "
                             "input_shape=(batch, ...) or give the first layer input_shape=")
        if not self._layers:
            raise ValueError("Sequential.build: the model has no layers")
        input_shape = tuple(input_shape)
        old = set(map(id, getattr(self, "_graph_nodes", ())))  # a rebuild replaces them
        for layer in self._layers:
            layer._inbound_nodes = [n for n in layer._inbound_nodes if id(n) not in old]
        x = SymbolicTensor(input_shape, self.dtype,
                           name=None if self._input is None else self._input.name)
        self._graph_inputs = [x]
        self._graph_nodes = []
        self._output_shapes = []
        for layer in self._layers:
            x = layer(x)
            self._graph_nodes.append(x.node)
            self._output_shapes.append(x.shape)
        self._graph_outputs = [x]
        self._build_input_shape = input_shape
        self.built = True

    def _graph(self, what):
        if not self.built or getattr(self, "_graph_inputs", None) is None:
            raise AttributeError(f"Sequential '{self.name}' has no {what} yet: give its input "
                                 "shape (an Input first, or input_shape= on the first layer) "
                                 "or call build((None, ...)) first")
        return self._graph_inputs if what == "inputs" else self._graph_outputs

    @property
    def inputs(self):
        """``[input placeholder]`` of the built stack, for ``Model(inputs=seq.inputs, ...)``."""
        return self._graph("inputs")

    @property
    def outputs(self):
        """``[output of the last layer]`` (symbolic), the stack's graph end."""
        return self._graph("outputs")

    @property
    def input(self):
        return self.inputs[0]

    @property
    def output(self):
        return self.outputs[0]

    def call(self, inputs, training=None):
        x = inputs
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def __call__(self, inputs, *args, training=None, **kwargs):
        if not self._layers:
            raise RuntimeError(f"Sequential '{self.name}' has no layers; add some before "
                               "calling or predicting with it")
        if not self.built and not isinstance(inputs, SymbolicTensor) and hasattr(inputs, "shape"):
            self.build((None,) + tuple(inputs.shape[1:]))
        return Layer.__call__(self, inputs, *args, training=training, **kwargs)

    def compute_output_shape(self, input_shape):
        x = SymbolicTensor(tuple(input_shape), self.dtype)
        for layer in self._layers:
            x = SymbolicTensor(layer.compute_output_shape(x.shape), self.dtype)
        return x.shape

    def get_config(self):
        from gradkit.layers import serialize

        cfg = {"name": self.name, "trainable": self.trainable,
               "layers": [serialize(layer) for layer in self._layers]}
        if self._build_input_shape is not None:
            cfg["build_input_shape"] = list(self._build_input_shape)
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from gradkit.layers import deserialize

        model = cls(name=config.get("name"))
        for item in config.get("layers", []):
            model._layers.append(deserialize(item, custom_objects=custom_objects))
        shape = config.get("build_input_shape")
        if shape is not None:
            model.build(tuple(shape))
        if not config.get("trainable", True):
            model.trainable = False  # (True would also unfreeze layers frozen one by one)
        return model
