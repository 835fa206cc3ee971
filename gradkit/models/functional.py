"""The functional API: ``Input`` placeholders, layers called on them, ``Model(inputs, outputs)``.

Calling layers on :class:`SymbolicTensor` placeholders records ``Node``s; a
``Functional`` model orders those nodes once and replays them on real data.
Several inputs and outputs, shared layers and residual connections all work.
"""

from __future__ import annotations

from gradkit.layers.base import Layer, Node, SymbolicTensor, shape_str
from gradkit.layers.registry import register_builtin
from gradkit.models.model import Model
from gradkit.utils.validation import check_int


def Input(shape=None, batch_size=None, dtype="float32", name=None, batch_shape=None):  # noqa: N802
    """A placeholder for a model input.

    Args:
        shape: shape of one sample, e.g. ``(784,)`` or ``(28, 28, 1)``.
        batch_size: optional fixed batch size (usually left None).
        dtype: the input dtype (``"int64"`` for Embedding indices).
        name: optional name.

    Example::

        inputs = Input(shape=(784,))
        outputs = Dense(10, activation="softmax")(Dense(64, activation="relu")(inputs))
        model = Model(inputs, outputs)
    """
    if batch_shape is None:
        if shape is None:
            raise ValueError("Input: pass shape=(...) (one sample's shape, without the batch)")
        if isinstance(shape, int):
            shape = (shape,)
        batch_shape = (batch_size,) + tuple(shape)
    for d in batch_shape[1:]:
        if d is not None:
            check_int(f"Input of shape {tuple(batch_shape)[1:]}", "every axis length", d,
                      minimum=1)
    return SymbolicTensor(tuple(batch_shape), dtype, node=None, name=name or "input")


def _flat(x):
    if isinstance(x, dict):
        return list(x.values())
    return list(x) if isinstance(x, (list, tuple)) else [x]


@register_builtin
class Functional(Model):
    """A model defined by placeholders: ``Model(inputs, outputs)``."""

    def __init__(self, inputs, outputs, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        self._inputs_struct, self._outputs_struct = inputs, outputs
        self.inputs = _flat(inputs)
        self.outputs = _flat(outputs)
        for t in self.inputs + self.outputs:
            if not isinstance(t, SymbolicTensor):
                raise TypeError(f"Model(inputs, outputs) needs symbolic tensors from Input() "
                                f"and layer calls, got {type(t).__name__}")
        for t in self.inputs:
            if t.node is not None:
                raise ValueError("Model inputs must be Input() placeholders, not layer outputs")
        self._nodes = self._order_nodes()
        for node in self._nodes:
            if node.layer not in self._layers:
                self._layers.append(node.layer)
        self._build_input_shape = [t.shape for t in self.inputs] if len(self.inputs) > 1 \
            else self.inputs[0].shape
        self.built = True

    def _order_nodes(self):
        """Nodes from inputs to outputs, each after the nodes it depends on."""
        order, visited = [], set()
        stack = [(t, False) for t in reversed(self.outputs)]
        input_ids = {id(t) for t in self.inputs}
        while stack:
            t, done = stack.pop()
            node = t.node
            if done:
                order.append(node)
                continue
            if node is None:
                if id(t) not in input_ids:
                    raise ValueError(
                        f"Model(inputs, outputs): the outputs depend on an Input "
                        f"{shape_str(t.shape)} named '{t.name}' that is not among the model's "
                        "inputs; add it to inputs")
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((t, True))
            stack.extend((p, False) for p in reversed(node.flat_inputs))
        return order

    @property
    def layers(self):
        return list(self._layers)

    def _output_names(self):
        return [t.node.layer.name if t.node else t.name for t in self.outputs]

    def call(self, inputs, training=None):
        given = _flat(inputs)
        if len(given) != len(self.inputs):
            raise ValueError(f"Model '{self.name}' expects {len(self.inputs)} inputs, received "
                             f"{len(given)}")
        values = {id(t): v for t, v in zip(self.inputs, given)}
        for node in self._nodes:
            if isinstance(node.inputs, (list, tuple)):
                args = type(node.inputs)(values[id(t)] for t in node.inputs)
            else:
                args = values[id(node.inputs)]
            kwargs = dict(node.kwargs)
            kwargs["training"] = kwargs.get("training", training)
            values[id(node.outputs)] = node.layer(args, **kwargs)
        outs = [values[id(t)] for t in self.outputs]
        if isinstance(self._outputs_struct, (list, tuple)):
            return type(self._outputs_struct)(outs)
        return outs[0]

    def __call__(self, inputs, *args, training=None, **kwargs):
        if isinstance(inputs, (list, tuple)) and len(self.inputs) > 1 and \
                not any(isinstance(i, SymbolicTensor) for i in inputs):
            for i, (t, x) in enumerate(zip(self.inputs, inputs)):
                _check_input(self, i, t, x)
        elif len(self.inputs) == 1 and hasattr(inputs, "shape") and \
                not isinstance(inputs, SymbolicTensor):
            _check_input(self, 0, self.inputs[0], inputs)
        return Layer.__call__(self, inputs, *args, training=training, **kwargs)

    def compute_output_shape(self, input_shape):
        """The output shape(s) for ``input_shape`` (a list of shapes for several inputs).

        The shapes are checked against the declared inputs (``None`` matches any size);
        the outputs get the batch size of the inputs.
        """
        given = list(input_shape) if len(self.inputs) > 1 else [input_shape]
        if len(given) != len(self.inputs):
            raise ValueError(f"{type(self).__name__} '{self.name}': compute_output_shape got "
                             f"{len(given)} input shapes for {len(self.inputs)} inputs")
        batch = None
        for i, (t, s) in enumerate(zip(self.inputs, given)):
            s = tuple(s)
            if len(s) != len(t.shape) or any(
                    a is not None and b is not None and a != b for a, b in zip(s, t.shape)):
                raise ValueError(f"{type(self).__name__} '{self.name}': input {i} is declared "
                                 f"with shape {t.shape}, compute_output_shape got {s}")
            batch = s[0] if s[0] is not None else batch
        shapes = [(batch,) + tuple(t.shape[1:]) for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def get_config(self):
        from gradkit.layers import serialize

        tensor_ids = {}

        def ref(t):
            return tensor_ids[id(t)]

        for i, t in enumerate(self.inputs):
            tensor_ids[id(t)] = i
        layers = []
        layer_index = {}
        nodes = []
        for node in self._nodes:
            if id(node.layer) not in layer_index:
                layer_index[id(node.layer)] = len(layers)
                layers.append(serialize(node.layer))
            tensor_ids[id(node.outputs)] = len(tensor_ids)
            ins = [ref(t) for t in node.inputs] if isinstance(node.inputs, (list, tuple)) \
                else ref(node.inputs)
            kwargs = {k: v for k, v in node.kwargs.items() if k != "training"}
            nodes.append({"layer": layer_index[id(node.layer)], "inputs": ins,
                          "list_input": isinstance(node.inputs, (list, tuple)),
                          "kwargs": kwargs})
        return {
            "name": self.name,
            "trainable": self.trainable,
            "inputs": [{"shape": list(t.shape), "dtype": t.dtype.name, "name": t.name}
                       for t in self.inputs],
            "layers": layers,
            "nodes": nodes,
            "outputs": [ref(t) for t in self.outputs],
            "outputs_list": isinstance(self._outputs_struct, (list, tuple)),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from gradkit.layers import deserialize

        tensors = [Input(batch_shape=tuple(spec["shape"]), dtype=spec["dtype"],
                         name=spec.get("name")) for spec in config["inputs"]]
        inputs = list(tensors)
        layers = [deserialize(item, custom_objects=custom_objects) for item in config["layers"]]
        for node in config["nodes"]:
            idx = node["layer"]
            if not isinstance(idx, int) or not 0 <= idx < len(layers):
                raise ValueError(f"model config: node refers to layer {idx!r}, which does not "
                                 "exist")
            refs = node["inputs"] if node.get("list_input") else [node["inputs"]]
            for r in refs:
                if not isinstance(r, int) or not 0 <= r < len(tensors):
                    raise ValueError(f"model config: node refers to tensor {r!r} before it "
                                     "exists")
            args = [tensors[r] for r in refs] if node.get("list_input") else tensors[refs[0]]
            tensors.append(layers[idx](args, **node.get("kwargs", {})))
        outputs = [tensors[r] for r in config["outputs"]]
        outs = outputs if config.get("outputs_list") else outputs[0]
        ins = inputs if len(inputs) > 1 else inputs[0]
        model = cls(ins, outs, name=config.get("name"))
        if not config.get("trainable", True):
            model.trainable = False  # (True would also unfreeze layers frozen one by one)
        return model


def _check_input(model, i, spec, x):
    shape = tuple(x.shape)
    want = spec.shape
    if len(shape) != len(want) or any(w is not None and w != s for w, s in zip(want[1:],
                                                                             shape[1:])):
        raise ValueError(f"Model '{model.name}' input {i} expects shape {shape_str(want)}, "
                         f"received {shape_str(shape)}")


__all__ = ["Functional", "Input", "Node"]
