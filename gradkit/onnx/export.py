"""``export``: a gradkit model -> an ONNX ``ModelProto`` (and file).

How: the model runs once on a zero batch with every exportable layer's
``call`` wrapped, which records, for each layer call, the ONNX names of its
input tensors and hands the layer to its converter (the table in
:mod:`gradkit.onnx.export_layers`). So Sequential, functional and subclassed
models export alike, as long as every tensor flowing between layers was made
by a layer gradkit can convert; a tensor computed by raw ops in a ``call``
raises an error naming the layer that received it.

The graph has a dynamic batch axis (``"batch"``); every other size is the one
the model was built for. Names are carried: graph inputs take the ``Input``
names, each layer's last node and output take the layer's name, initializers
take the weights' names (``dense/kernel``; ``conv2d/kernel:oihw`` where the
layout changes), each node's doc string is the layer's ``repr``, and the graph's
doc string is the model's.
"""

from __future__ import annotations

import numpy as np

from gradkit.autograd.function import no_grad
from gradkit.onnx.export_layers import CONVERTERS, ExportError, converter_for
from gradkit.onnx.graph_builder import GraphBuilder
from gradkit.tensor import Tensor
from gradkit.utils.optional import require
from gradkit.utils.validation import check_int

__all__ = ["DEFAULT_OPSET", "ExportError", "export"]

DEFAULT_OPSET = 17
_TRACE_BATCH = 2  # the batch the model is traced with (any size; 2 keeps axes honest)


def _who(layer):
    return f"{type(layer).__name__} '{layer.name}'"


# ------------------------------------------------------------------ inputs
def _first_leaf(model):
    layers = getattr(model, "layers", None)
    while layers:
        model = layers[0]
        layers = getattr(model, "layers", None) if model._layers else None
    return model


def _input_specs(model, input_shape, input_dtype):
    """``[(name, per-sample shape, dtype)]`` of the model's inputs."""
    from gradkit.layers.core import Embedding

    if input_shape is not None:
        many = isinstance(input_shape, list) and input_shape and \
            isinstance(input_shape[0], (list, tuple))
        shapes = [tuple(s) for s in input_shape] if many else [tuple(input_shape)]
        names = [None] * len(shapes)
        dtypes = [None] * len(shapes)
    elif hasattr(model, "inputs") and isinstance(model.inputs, list) \
            and model.inputs:
        shapes = [t.shape[1:] for t in model.inputs]
        names = [t.name for t in model.inputs]
        dtypes = [t.dtype for t in model.inputs]
    elif getattr(model, "_build_input_shape", None) is not None:
        built = model._build_input_shape
        many = isinstance(built, list) and built and isinstance(built[0], (list, tuple))
        shapes = [tuple(s)[1:] for s in built] if many else [tuple(built)[1:]]
        names, dtypes = [None] * len(shapes), [None] * len(shapes)
        given = getattr(model, "_input", None)
        if given is not None:
            names, dtypes = [given.name], [given.dtype]
    else:
        raise ExportError(f"{_who(model)}: the input shape is unknown; pass "
                          "input_shape=(...) (one sample's shape, without the batch axis)")
    if input_dtype is not None:
        dtypes = [np.dtype(input_dtype)] * len(shapes)
    elif isinstance(_first_leaf(model), Embedding) and \
            (dtypes[0] is None or np.dtype(dtypes[0]).kind == "f"):
        dtypes[0] = np.dtype("int64")  # token ids (a Sequential's implied Input is float32)
    specs = []
    for i, (name, shape, dtype) in enumerate(zip(names, shapes, dtypes)):
        if any(d is None for d in shape):
            raise ExportError(f"{_who(model)}: input {i} has shape {(None,) + tuple(shape)}; "
                              "ONNX export needs every axis but the batch axis known: pass "
                              "input_shape=(...)")
        specs.append((name or ("input" if len(shapes) == 1 else f"input_{i}"),
                      tuple(int(d) for d in shape), np.dtype(dtype or model.dtype)))
    return specs


# ------------------------------------------------------------------ tracing
class _Tracer:
    """Wraps the ``call`` of convertible layers, converting each call as it runs."""

    def __init__(self, g):
        self.g = g
        self.names = {}  # id(Tensor) -> ONNX name
        self.keep = []   # the traced tensors, alive so their ids stay unique
        self.depth = 0   # > 0 inside a converted layer: its sub-calls are not recorded

    def bind(self, tensor, name):
        self.names[id(tensor)] = name
        self.keep.append(tensor)

    def name_of(self, tensor, consumer):
        name = self.names.get(id(tensor)) if isinstance(tensor, Tensor) else None
        if name is None:
            raise ExportError(
                f"{_who(consumer)} receives a tensor that no exportable layer produced (an "
                "op called directly in a model's call(), e.g. x + y or ops.relu(x)); use the "
                "layer form (Add(), ReLU()...) so the model can be exported")
        return name

    def wrapped(self, layer, convert):
        original = layer.call

        def call(inputs, *args, **kwargs):
            if self.depth:
                return original(inputs, *args, **kwargs)
            if kwargs.get("mask") is not None:
                raise ExportError(f"{_who(layer)} receives a mask (Embedding(mask_zero=True) "
                                  "or Masking upstream); masked models are not exportable to "
                                  "ONNX yet: export the model without the mask")
            extra = sorted(k for k in kwargs if k not in ("training", "mask"))
            if args or extra:
                raise ExportError(f"{_who(layer)} is called with extra arguments "
                                  f"{extra or list(args)}; only a layer's inputs are exportable")
            flat = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
            names = [self.name_of(t, layer) for t in flat]
            self.depth += 1
            try:
                out = original(inputs, *args, **kwargs)
            finally:
                self.depth -= 1
            if not isinstance(out, Tensor):
                raise ExportError(f"{_who(layer)} returns {type(out).__name__}; only layers "
                                  "with one output tensor are exportable")
            self.g.doc = repr(layer)
            try:
                self.bind(out, convert(self.g, layer, names, [tuple(t.shape) for t in flat]))
            finally:
                self.g.doc = None
            return out

        return call


def _check_convertible(model):
    """Every layer is either convertible or a container of layers; else name it."""
    for layer in model._flatten_layers():
        if converter_for(layer) is None and not layer._layers and layer is not model:
            known = sorted({cls.__name__ for cls in CONVERTERS})
            raise ExportError(f"cannot export {_who(layer)}: gradkit has no ONNX converter "
                              f"for {type(layer).__name__}. Exportable layers: "
                              f"{', '.join(known)}")


def _trace(model, specs, g):
    tracer = _Tracer(g)
    patched = []
    for layer in model._flatten_layers():
        convert = converter_for(layer)
        if convert is not None:
            layer.call = tracer.wrapped(layer, convert)  # an instance attribute, removed below
            patched.append(layer)
    try:
        samples = []
        for i, (name, shape, dtype) in enumerate(specs):
            t = Tensor(np.zeros((_TRACE_BATCH,) + shape, dtype=dtype))
            name = g.fresh(name)  # two Inputs may share a name; graph inputs may not
            specs[i] = (name, shape, dtype)
            g.input_dtypes[name] = dtype
            tracer.bind(t, name)
            samples.append(t)
        was_training = model.training
        model.eval()
        try:
            with no_grad():
                out = model(samples if len(samples) > 1 else samples[0], training=False)
        finally:
            model.train(was_training)
    finally:
        for layer in patched:
            del layer.call
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    if any(not isinstance(t, Tensor) or id(t) not in tracer.names for t in outs):
        raise ExportError(f"{_who(model)}: an output was not produced by an exportable layer "
                          "(computed by ops in call()?); use layers for the whole model")
    return [(tracer.names[id(t)], tuple(t.shape), t.dtype) for t in outs]


# ------------------------------------------------------------------ the model
def _value_info(onnx, name, shape, dtype):
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    return onnx.helper.make_tensor_value_info(name, elem, ["batch", *shape[1:]])


def _doc(model):
    text = (type(model).__doc__ or "").strip().split("\n\n")[0]
    return f"{type(model).__name__} '{model.name}'" + (f": {text}" if text else "")


def export(model, filepath=None, input_shape=None, input_dtype=None, opset=DEFAULT_OPSET):
    """Write ``model`` as ONNX.

    Args:
        model: a built gradkit model (Sequential, functional, subclassed) or layer,
            made of layers gradkit can export (see ``gradkit.onnx.exportable_layers()``).
        filepath: where to write the ``.onnx`` file (atomically); None: only return it.
        input_shape: one sample's shape (a list of them for several inputs), when
            the model does not know it.
        input_dtype: the input dtype (default the ``Input``'s, int64 before an
            Embedding, else the model's dtype).
        opset: the ONNX opset, 17 or later.

    Returns:
        The ``onnx.ModelProto`` (checked with ``onnx.checker``).

    Raises:
        ExportError: a layer without converter (named), an unknown input shape, a
            tensor computed outside layers.
        ImportError: the onnx package is missing (``pip install 'gradkit[onnx]'``).

    Example::

        model = Sequential([Dense(64, activation="relu", input_shape=(784,)), Dense(10)])
        gradkit.onnx.export(model, "mlp.onnx")       # or model.export("mlp.onnx")
    """
    from gradkit import __version__

    onnx = require("onnx", "onnx", "ONNX export")
    opset = check_int("gradkit.onnx.export", "opset", opset, minimum=DEFAULT_OPSET)
    if not model.built and input_shape is None:
        raise ExportError(f"{_who(model)} is not built: build it (or call it on data) first, "
                          "or pass input_shape=(...)")
    _check_convertible(model)
    specs = _input_specs(model, input_shape, input_dtype)
    g = GraphBuilder(opset, model.dtype)
    outputs = _trace(model, specs, g)
    graph = onnx.helper.make_graph(
        g.nodes, model.name,
        [_value_info(onnx, n, (None,) + s, d) for n, s, d in specs],
        [_value_info(onnx, n, s, d) for n, s, d in outputs],
        initializer=g.initializers, doc_string=_doc(model))
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="gradkit",
                                   producer_version=__version__, doc_string=_doc(model))
    proto.ir_version = onnx.helper.find_min_ir_version_for(opsets)  # readable by older runtimes
    onnx.helper.set_model_props(proto, {"gradkit.class": type(model).__name__})
    onnx.checker.check_model(proto, full_check=True)
    if filepath is not None:
        from gradkit.models.saving import atomic_write

        atomic_write(filepath, proto.SerializeToString())
    return proto
