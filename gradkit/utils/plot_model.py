"""``plot_model``: a model's layers and how they connect, drawn through Graphviz.

:func:`layer_graph` walks a ``Sequential`` or functional model (branches, shared
layers, several inputs and outputs, models nested inside models) into plain
nodes and edges; :func:`model_to_dot` turns those into DOT text and
:func:`plot_model` saves the picture (or, without Graphviz, the DOT text).
TensorBoard's graph tab is fed from the same walk
(:meth:`gradkit.utils.tensorboard.SummaryWriter.add_graph`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gradkit.utils import dot
from gradkit.utils.validation import check_choice


@dataclass
class LayerNode:
    """One box of the drawing: an input placeholder or a layer (one box per layer,
    however many times it is called)."""

    id: str
    name: str
    kind: str  # the class name, "InputLayer" for inputs
    dtype: str
    scope: tuple = ()  # names of the nested models it sits in, outermost first
    input_shapes: list = field(default_factory=list)
    output_shapes: list = field(default_factory=list)


@dataclass
class LayerGraph:
    """Boxes in drawing order and ``(tail_id, head_id)`` edges."""

    nodes: dict = field(default_factory=dict)
    edges: list = field(default_factory=list)


def _shape(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def _add_unique(items, value):
    if value not in items:
        items.append(value)


class _Walker:
    def __init__(self, expand_nested):
        self.expand = expand_nested
        self.graph = LayerGraph()

    def box(self, node_id, name, kind, dtype, scope):
        nodes = self.graph.nodes
        if node_id not in nodes:
            nodes[node_id] = LayerNode(node_id, name, kind, str(dtype), scope)
        return nodes[node_id]

    def model(self, model, scope):
        """Walk ``model``; return (entry ids, one per model input; exit ids, one per output)."""
        from gradkit.models.functional import Functional
        from gradkit.models.sequential import Sequential

        if isinstance(model, Sequential):
            return self.sequential(model, scope)
        if isinstance(model, Functional):
            return self.functional(model, scope)
        raise ValueError(
            f"plot_model: model '{model.name}' is a subclassed {type(model).__name__}; its "
            "connections live in Python code (call()), which cannot be drawn. Build it with "
            "Sequential([...]) or the functional API (Model(inputs, outputs)) to plot it.")

    def layer(self, layer, scope, n_inputs):
        """A layer box, or the expanded inside of a nested model: (entries, exits)."""
        from gradkit.models.model import Model

        if self.expand and isinstance(layer, Model):
            return self.model(layer, scope + (layer.name,))
        node_id = "/".join(scope + (layer.name,))
        self.box(node_id, layer.name, type(layer).__name__, layer.dtype, scope)
        return [node_id] * n_inputs, [node_id]

    def sequential(self, model, scope):
        if not model.layers:
            raise ValueError(f"plot_model: Sequential '{model.name}' has no layers")
        shape = model._declared_shape()
        shapes = getattr(model, "_output_shapes", None) if model.built else None
        prev = None
        if shape is not None:
            prev = "/".join(scope + ("input",))
            inp = self.box(prev, "input", "InputLayer", model.dtype, scope)
            _add_unique(inp.output_shapes, _shape(shape))
        entry = prev
        for i, layer in enumerate(model.layers):
            entries, exits = self.layer(layer, scope, 1)
            entry = entry or entries[0]
            if prev is not None:
                self.graph.edges.append((prev, entries[0]))
            if entries[0] == exits[0]:  # one box (not the inside of an expanded model)
                node = self.graph.nodes[exits[0]]
                if shape is not None:
                    _add_unique(node.input_shapes, _shape(shape))
                if shapes:
                    _add_unique(node.output_shapes, _shape(shapes[i]))
            shape = shapes[i] if shapes else None
            prev = exits[0]
        return [entry], [prev]

    def functional(self, model, scope):
        source = {}  # id(symbolic tensor) -> the box it comes out of
        entries = []
        for i, t in enumerate(model.inputs):
            node_id = "/".join(scope + (f"input_{i}" if len(model.inputs) > 1 else "input",))
            name = t.name if t.name and t.name != "input" else node_id.rsplit("/", 1)[-1]
            box = self.box(node_id, name, "InputLayer", t.dtype, scope)
            _add_unique(box.output_shapes, _shape(t.shape))
            source[id(t)] = node_id
            entries.append(node_id)
        done = {}
        for node in model._nodes:
            ins = node.flat_inputs
            key = id(node.layer)
            if key not in done:
                done[key] = self.layer(node.layer, scope, len(ins))
            layer_entries, layer_exits = done[key]
            for k, t in enumerate(ins):
                self.graph.edges.append((source[id(t)], layer_entries[k]))
            outs = node.outputs if isinstance(node.outputs, (list, tuple)) else [node.outputs]
            for j, o in enumerate(outs):
                source[id(o)] = layer_exits[j] if j < len(layer_exits) else layer_exits[0]
            box = self.graph.nodes.get(layer_exits[0])
            if box is not None and box.kind != "InputLayer" and layer_entries[0] == box.id:
                in_shapes = ", ".join(_shape(t.shape) for t in ins)
                _add_unique(box.input_shapes, f"[{in_shapes}]" if len(ins) > 1 else in_shapes)
                _add_unique(box.output_shapes, ", ".join(_shape(o.shape) for o in outs))
        return entries, [source[id(t)] for t in model.outputs]


def layer_graph(model, expand_nested=False) -> LayerGraph:
    """The boxes and edges of ``model`` (Sequential or functional).

    Args:
        model: a ``Sequential`` or a functional ``Model``; nested models are one box
            each unless ``expand_nested``.
        expand_nested: draw the layers inside nested models (in a named cluster).

    Returns:
        A :class:`LayerGraph`; each edge appears once per layer call that uses it.
    """
    from gradkit.models.model import Model

    if not isinstance(model, Model):
        raise TypeError(f"plot_model: expected a gradkit Model (Sequential or functional), "
                        f"received {type(model).__name__}")
    walker = _Walker(expand_nested)
    walker.model(model, ())
    return walker.graph


def _label(node, show_shapes, show_layer_names, show_dtype):
    lines = [f"{node.name} ({node.kind})" if show_layer_names else node.kind]
    if show_dtype:
        lines.append(f"dtype: {node.dtype}")
    if show_shapes:
        if node.kind != "InputLayer":
            lines.append("input: " + (" | ".join(node.input_shapes) or "?"))
        lines.append("output: " + (" | ".join(node.output_shapes) or "?"))
    return "\n".join(lines)


def model_to_dot(model, show_shapes=False, show_layer_names=True, show_dtype=False,
                 expand_nested=False, rankdir="TB"):
    """The DOT text of :func:`plot_model`'s drawing (same arguments, no file)."""
    rankdir = check_choice("plot_model", "rankdir", rankdir, ("TB", "LR", "BT", "RL"))
    graph = layer_graph(model, expand_nested)
    g = dot.Digraph(model.name, rankdir=rankdir)
    g.node_defaults = {"shape": "box", "style": "rounded,filled", "fillcolor": "#eef3fb",
                       "fontname": "Helvetica", "fontsize": "11"}
    g.edge_defaults = {"color": "#555555"}
    clusters = {(): g}
    for node in graph.nodes.values():
        for depth in range(1, len(node.scope) + 1):
            key = node.scope[:depth]
            if key not in clusters:
                clusters[key] = clusters[key[:-1]].subgraph(
                    "/".join(key), label=key[-1], style="dashed", fontname="Helvetica")
        extra = {"fillcolor": "#fdf1dc"} if node.kind == "InputLayer" else {}
        clusters[node.scope].node(node.id, _label(node, show_shapes, show_layer_names,
                                                  show_dtype), **extra)
    for tail, head in graph.edges:
        g.edge(tail, head)
    return g.source()


def plot_model(model, to_file="model.png", show_shapes=False, show_layer_names=True,
               show_dtype=False, expand_nested=False, rankdir="TB"):
    """Draw ``model``'s layers and connections (Keras's ``plot_model``).

    Args:
        model: a ``Sequential`` or functional ``Model`` (subclassed models have no
            graph to draw and raise ``ValueError``).
        to_file: ``.png``/``.svg``/``.pdf`` (drawn with Graphviz's ``dot``) or ``.dot``
            (the DOT text). Without Graphviz a ``.dot`` file is written beside
            ``to_file`` and a warning gives the command that renders it.
        show_shapes: add each layer's input and output shapes.
        show_layer_names: label boxes ``name (Class)`` rather than ``Class``.
        show_dtype: add each layer's dtype.
        expand_nested: draw the layers of nested models inside a dashed cluster.
        rankdir: ``"TB"`` (top to bottom), ``"LR"``, ``"BT"`` or ``"RL"``.

    Returns:
        The path of the file written.

    Example::

        inputs = gradkit.Input(shape=(4,))
        outputs = layers.Dense(1)(layers.Dense(3, activation="relu")(inputs))
        plot_model(gradkit.Model(inputs, outputs), "model.png", show_shapes=True)
    """
    source = model_to_dot(model, show_shapes, show_layer_names, show_dtype, expand_nested,
                          rankdir)
    return dot.render(source, to_file, "plot_model")


__all__ = ["LayerGraph", "LayerNode", "layer_graph", "model_to_dot", "plot_model"]
