"""``load``: an ONNX file -> a trainable gradkit model (:class:`OnnxModel`).

The graph is checked first (:func:`gradkit.onnx.checks.read_model`: sizes,
external data paths, cycles), every op is looked up in
:data:`gradkit.onnx.import_ops.OPS` (an unsupported op is named before any
weight is made), nodes that depend only on constants are computed once, and
the float initializers become the model's weights (Variables named after them;
BatchNormalization's running statistics are non-trainable). ``call`` runs the
remaining nodes with gradkit ops, so ``fit``, ``GradientTape`` and PyTorch-style
loops train the weights like those of any other model.
"""

from __future__ import annotations

import numpy as np

from gradkit.models.model import Model
from gradkit.onnx.checks import read_model, tensor_array, topological_order
from gradkit.onnx.import_ops import OPS, NodeContext, OnnxImportError
from gradkit.tensor import Tensor
from gradkit.utils.optional import require

__all__ = ["OnnxImportError", "OnnxModel", "load"]

_STATISTICS = {"BatchNormalization": (3, 4)}  # inputs that are running statistics


def _attrs(onnx, node, folder):
    out = {}
    for a in node.attribute:
        if a.type == onnx.AttributeProto.TENSOR:
            out[a.name] = tensor_array(a.t, folder)
        elif a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            raise OnnxImportError(f"ONNX node '{node.name}' ({node.op_type}): subgraph "
                                  f"attribute '{a.name}' is not supported by gradkit")
        else:
            value = onnx.helper.get_attribute_value(a)
            if isinstance(value, list):
                value = [v.decode() if isinstance(v, bytes) else v for v in value]
            out[a.name] = value.decode() if isinstance(value, bytes) else value
    return out


class _Step:
    __slots__ = ("fn", "ctx", "inputs", "outputs", "attrs")

    def __init__(self, fn, ctx, inputs, outputs, attrs):
        self.fn, self.ctx, self.inputs, self.outputs, self.attrs = fn, ctx, inputs, outputs, attrs


def _run_step(step, args):
    try:
        result = step.fn(step.ctx, args, step.attrs)
    except OnnxImportError:
        raise
    except (ValueError, TypeError, IndexError) as e:
        shapes = [None if a is None else tuple(a.shape) for a in args]
        raise OnnxImportError(f"ONNX node '{step.ctx.name}' ({step.ctx.op_type}) failed on "
                              f"inputs of shapes {shapes}: {e}") from e
    return list(result) if isinstance(result, (list, tuple)) else [result]


class OnnxModel(Model):
    """A gradkit model that runs an ONNX graph with gradkit ops (made by :func:`load`).

    Its weights are the graph's float initializers (``model.weights``, named
    after them); inputs and outputs follow the graph's (NCHW images for models
    from PyTorch). One input and one output are passed as arrays, several as lists.
    """

    def __init__(self, proto, folder=None, name=None):
        onnx = require("onnx", "onnx", "ONNX import")
        graph = proto.graph
        super().__init__(name=name or graph.name or "onnx_model")
        self.doc = proto.doc_string or graph.doc_string
        opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
                     None)
        if opset is None:
            raise OnnxImportError("the ONNX model imports no default-domain opset")
        init_names = {t.name for t in graph.initializer}
        self.input_names = [i.name for i in graph.input if i.name not in init_names]
        self.output_names = [o.name for o in graph.output]
        nodes = topological_order(list(graph.node), {*self.input_names, *init_names})
        bad = sorted({f"{n.domain + '.' if n.domain not in ('', 'ai.onnx') else ''}{n.op_type}"
                      for n in nodes if n.op_type not in OPS or n.domain not in ("", "ai.onnx")})
        if bad:
            raise OnnxImportError(f"the ONNX graph uses ops gradkit does not support: "
                                  f"{', '.join(bad)}; supported: {', '.join(sorted(OPS))}")
        statistics = {n.input[i] for n in nodes for i in _STATISTICS.get(n.op_type, ())
                      if i < len(n.input)}
        constants, self._params = {}, {}
        for t in graph.initializer:
            arr = tensor_array(t, folder)
            if arr.dtype.kind == "f" and arr.size > 1:
                var = self.add_weight(arr.shape, initializer=lambda s, dtype=None, a=arr: a,
                                      dtype=arr.dtype, trainable=t.name not in statistics,
                                      name=t.name)
                self._params[t.name] = var
            else:
                constants[t.name] = arr
        self._steps = []
        for n in nodes:
            ctx = NodeContext(n.name or f"{n.op_type}_{len(self._steps)}", n.op_type, opset,
                              len(n.output))
            step = _Step(OPS[n.op_type], ctx, list(n.input), list(n.output),
                         _attrs(onnx, n, folder))
            args = [constants.get(i) if i else None for i in step.inputs]
            if all(not i or i in constants for i in step.inputs):  # fold: constants only
                outs = _run_step(step, args)
                constants.update({o: (v.numpy() if isinstance(v, Tensor) else np.asarray(v))
                                  for o, v in zip(step.outputs, outs)})
            else:
                self._steps.append(step)
        self._constants = constants
        shapes = []
        for i in graph.input:
            if i.name in init_names:
                continue
            dims = i.type.tensor_type.shape.dim
            shapes.append(tuple(d.dim_value if d.HasField("dim_value") else None for d in dims))
        self.input_shapes = shapes
        self._build_input_shape = shapes[0] if len(shapes) == 1 else shapes
        self.built = True

    def get_config(self):
        raise NotImplementedError(
            f"OnnxModel '{self.name}' runs an ONNX graph, which gradkit's model file does not "
            "describe; keep the .onnx file (and save trained weights with save_weights)")

    def call(self, inputs, training=None):
        given = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(given) != len(self.input_names):
            raise ValueError(f"OnnxModel '{self.name}' expects {len(self.input_names)} inputs "
                             f"({self.input_names}), received {len(given)}")
        env = dict(self._constants)
        env.update(self._params)
        for name, x in zip(self.input_names, given):
            env[name] = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        for step in self._steps:
            outs = _run_step(step, [env[i] if i else None for i in step.inputs])
            env.update(zip(step.outputs, outs))
        outs = [env[o] for o in self.output_names]
        return outs[0] if len(outs) == 1 else outs


def load(source, name=None):
    """Build a trainable gradkit model from an ONNX model.

    Args:
        source: a ``.onnx`` path (external data is read from its folder only), the
            file's bytes, or an ``onnx.ModelProto``.
        name: the model's name (default the graph's).

    Returns:
        An :class:`OnnxModel`: ``predict``, ``fit`` (after ``compile``) and
        ``parameters()`` work as on any gradkit model.

    Raises:
        OnnxFileError: the file is unsafe or malformed (see :mod:`gradkit.onnx.checks`).
        OnnxImportError: an op or attribute gradkit lacks (named).

    Example::

        # torch.onnx.export(net, torch.zeros(1, 1, 28, 28), "net.onnx", dynamo=False,
        #                   dynamic_axes={"input": {0: "batch"}})
        model = gradkit.onnx.load("net.onnx")
        probs = model.predict(x_nchw)
    """
    proto, folder = read_model(source)
    return OnnxModel(proto, folder, name=name)
