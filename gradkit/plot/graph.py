"""``graph(tensor)``: the autodiff graph behind a tensor, drawn (the picture tutorials draw).

Every tensor computed by an op is a box naming the op and its output shape;
every leaf (a Variable, an input) is an ellipse with its name and shape. Edges
run forward, from each input to the op that used it. When the graph still holds
what its ops saved for backward (before ``backward()``, or after
``backward(retain_graph=True)``) each edge is labelled with the norm of the
gradient flowing back along it, ``|dL/d input|`` through that op.

The drawing is DOT text (no extra needed); Graphviz's ``dot`` renders it as
PNG/SVG (:func:`gradkit.utils.dot.render`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gradkit.autograd import function as F
from gradkit.autograd.engine import run_backward
from gradkit.backend import get_array_module
from gradkit.tensor import Tensor
from gradkit.utils import dot
from gradkit.utils.validation import check_choice, check_int


@dataclass
class AutodiffGraph:
    """The result of :func:`graph`.

    Attributes:
        source: the DOT text.
        path: the file written (None when no ``to_file`` was given).
        edge_grads: ``{(input_index, output_index, argument_position): norm}`` for every
            edge whose gradient was computed (indices number the tensors in creation
            order, as ``t0, t1, ...`` in the drawing).
        note: why gradients are not shown, or "" when they are.
        tensors: the tensors drawn, in creation order (``t0, t1, ...``).
    """

    source: str
    path: str | None = None
    edge_grads: dict = field(default_factory=dict)
    note: str = ""
    tensors: list = field(default_factory=list, repr=False)

    def grads_from(self, tensor) -> list:
        """The gradient norms on the edges leaving ``tensor`` (one per use of it)."""
        i = next((k for k, t in enumerate(self.tensors) if t is tensor), None)
        if i is None:
            raise ValueError("grads_from: that tensor is not in the drawn graph")
        return [v for (src, _, _), v in sorted(self.edge_grads.items()) if src == i]

    def _repr_svg_(self):  # notebooks show the drawing inline
        if dot.dot_binary() is None:
            return None
        return dot.run_dot(self.source, "svg", "graph").decode()


def _collect(root, max_nodes):
    """Every tensor ``root`` depends on, in creation order."""
    seen, stack = {id(root): root}, [root]
    while stack:
        ctx = stack.pop()._ctx
        if ctx is None:
            continue
        for p in ctx.parents:
            if isinstance(p, Tensor) and id(p) not in seen:
                seen[id(p)] = p
                stack.append(p)
                if len(seen) > max_nodes:
                    raise ValueError(
                        f"graph: the tensor depends on more than max_nodes={max_nodes} tensors; "
                        "draw a smaller piece (e.g. one layer's output) or pass a larger "
                        "max_nodes")
    return sorted(seen.values(), key=lambda t: t._seq)


def _edge_gradients(root, ops):
    """``{(id(input), id(output), position): array}``: the gradient of ``root`` along each
    edge, from one retained backward pass plus each op's own backward once more."""
    grads = run_backward(root, sources=ops, retain_graph=True)
    M = F.array_math(get_array_module(root._data))
    out = {}
    for t, g in zip(ops, grads):
        if g is None:
            continue
        ctx = t._ctx
        parts = ctx.backward(M, g._data.copy(), t._data, *ctx.inputs)
        for k, (p, need, gp) in enumerate(zip(ctx.parents, ctx.needs, parts)):
            if need and gp is not None:
                out[(id(p), id(t), k)] = gp
    return out


def _why_no_grads(root, ops):
    if not ops:
        return "a leaf tensor: no ops, no gradients"
    if root._data.size != 1 or root._data.dtype.kind != "f":
        return f"gradients are drawn for a scalar float tensor; this one has shape {root.shape}"
    if any(t._ctx.released for t in ops):
        return ("gradients not shown: backward() freed the values the ops saved; call "
                "backward(retain_graph=True), or draw before backward()")
    return ""


def _shape(a) -> str:
    return "(" + ", ".join(str(d) for d in a.shape) + ("," if a.ndim == 1 else "") + ")"


def graph(tensor, to_file=None, grads="auto", rankdir="TB", max_nodes=1000) -> AutodiffGraph:
    """Draw the autodiff graph that ``backward()`` would walk from ``tensor``.

    Args:
        tensor: a gradkit Tensor computed with grad recording on (e.g. a loss).
        to_file: optional ``.svg``/``.png``/``.pdf`` (drawn by Graphviz) or ``.dot``. Without
            Graphviz a ``.dot`` file is written instead, with a warning on how to render it.
        grads: ``"auto"`` labels edges with gradient norms when ``tensor`` is a scalar whose
            graph still holds its saved values; ``False`` never does; ``True`` requires it.
        rankdir: ``"TB"``, ``"LR"``, ``"BT"`` or ``"RL"``.
        max_nodes: refuse graphs with more tensors than this (the drawing would be unreadable).

    Returns:
        An :class:`AutodiffGraph` (``.source`` is the DOT text, ``.path`` the file written).

    Example::

        loss = ((x @ w + b).sigmoid() - y).pow(2).sum()
        loss.backward(retain_graph=True)
        gradkit.plot.graph(loss, "graph.svg")
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"graph: expected a gradkit Tensor, received {type(tensor).__name__}")
    check_choice("graph", "grads", grads, ("auto", True, False))
    rankdir = check_choice("graph", "rankdir", rankdir, ("TB", "LR", "BT", "RL"))
    max_nodes = check_int("graph", "max_nodes", max_nodes, minimum=1)
    tensors = _collect(tensor, max_nodes)
    ops = [t for t in tensors if t._ctx is not None]
    note = "" if grads is not False else "gradients not requested (grads=False)"
    if grads is not False:
        note = _why_no_grads(tensor, ops)
        if note and grads is True:
            raise ValueError(f"graph(grads=True): {note}")
    edge_arrays = {} if note else _edge_gradients(tensor, ops)

    index = {id(t): i for i, t in enumerate(tensors)}
    g = dot.Digraph("autodiff", rankdir=rankdir, label=note or None, labelloc="b",
                    fontname="Helvetica", fontsize="10")
    g.node_defaults = {"fontname": "Helvetica", "fontsize": "11"}
    g.edge_defaults = {"fontname": "Helvetica", "fontsize": "9", "color": "#555555"}
    for i, t in enumerate(tensors):
        lines = [t.name] if t.name else []
        if t._ctx is None:
            lines = lines or ["parameter" if t.requires_grad else "constant"]
            lines.append(_shape(t._data))
            if t.grad is not None:
                lines.append(f".grad norm {float(np.linalg.norm(t.grad._data)):.3g}")
            g.node(f"t{i}", "\n".join(lines), shape="ellipse", style="filled",
                   fillcolor="#fdf1dc" if t.requires_grad else "#eeeeee")
        else:
            lines.append(f"{t._ctx.name} {_shape(t._data)}")
            g.node(f"t{i}", "\n".join(lines), shape="box", style="rounded,filled",
                   fillcolor="#dde8f7", penwidth="2" if t is tensor else None)
    edge_grads = {}
    for t in ops:
        for k, p in enumerate(t._ctx.parents):
            if not isinstance(p, Tensor):
                continue
            key = (index[id(p)], index[id(t)], k)
            ga = edge_arrays.get((id(p), id(t), k))
            label = None
            if ga is not None:
                edge_grads[key] = float(np.linalg.norm(ga))
                label = f"|g| {edge_grads[key]:.3g}"
            g.edge(f"t{key[0]}", f"t{key[1]}", label)
    result = AutodiffGraph(g.source(), None, edge_grads, note, tensors)
    if to_file is not None:
        result.path = dot.render(result.source, to_file, "graph")
    return result


__all__ = ["AutodiffGraph", "graph"]
