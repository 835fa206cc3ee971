"""The one backward pass behind ``Tensor.backward``, ``GradientTape`` and ``grad``.

Iterative throughout (no recursion: a chain of 100,000 ops is fine):
gradients flow from the root back through each node's ``Function.backward``
in reverse creation order, which is a topological order of the graph.
"""

from __future__ import annotations

from heapq import heappop, heappush

from gradkit.autograd import function as F
from gradkit.backend import get_array_module
from gradkit.tensor import Tensor


def _check_node(t, ctx):
    """Raise if ``ctx``'s saved values are gone or an input changed in place since forward."""
    if ctx.released:
        raise RuntimeError(
            f"backward through the graph a second time: the saved values of "
            f"'{ctx.name}' were freed after the first backward pass. Pass "
            "retain_graph=True to the first backward (or use a persistent GradientTape) "
            "to differentiate the same graph again.")
    for p, v in zip(ctx.parents, ctx.versions):
        if v != getattr(p, "_version", v):
            who = f"'{p.name}'" if p.name else f"of shape {p.shape}"
            raise RuntimeError(
                f"a tensor {who} that '{ctx.name}' needs for its gradient was changed in "
                f"place (version {v} -> {p._version}) after the forward pass; the gradient "
                "would be wrong. Change it after backward(), or compute on a copy.")


def _seed(root, gradient, create_graph):
    if gradient is None:
        if root._data.size != 1:
            raise RuntimeError(
                f"backward() on a tensor of shape {root.shape} needs an upstream gradient "
                "of the same shape: pass gradient=..., or reduce to a scalar first "
                "(e.g. loss.sum() or loss.mean()).")
        xp = get_array_module(root._data)
        g = xp.ones_like(root._data)
    else:
        g = gradient._data if isinstance(gradient, Tensor) else gradient
        xp = get_array_module(root._data)
        g = xp.array(g, dtype=root.dtype)  # a copy: the caller keeps theirs
        if g.shape != root.shape:
            raise ValueError(
                f"backward(): gradient of shape {g.shape} does not match the tensor's "
                f"shape {root.shape}")
    return Tensor._make(g, False, None) if create_graph else g


def run_backward(root, gradient=None, sources=None, retain_graph=False, create_graph=False):
    """Differentiate ``root``.

    With ``sources=None`` gradients are accumulated into ``.grad`` of the
    leaves that require grad (PyTorch style); otherwise a list with the
    gradient of each source (``None`` where unconnected) is returned and no
    ``.grad`` is touched (tape style).
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"backward() needs a gradkit Tensor, got {type(root).__name__}")
    if root._data.dtype.kind != "f":
        raise TypeError(f"cannot differentiate a tensor of dtype {root.dtype}: "
                        "only floating-point tensors carry gradients")
    if not root.requires_grad:
        raise RuntimeError(
            "backward() on a tensor that does not require grad: nothing it was computed from "
            "requires grad (set requires_grad=True on the inputs, use a Variable, or watch "
            "them on a GradientTape), or it was computed under no_grad().")
    grads = {id(root): _seed(root, gradient, create_graph)}
    wanted = None if sources is None else {id(s): i for i, s in enumerate(sources)}
    found = [None] * (0 if sources is None else len(sources))
    given = set()
    # Reverse creation order is a topological order (outputs are numbered after their
    # inputs): a heap on -number visits each tensor after every consumer has passed
    # its gradient back. One iterative sweep, no recursion, no separate sort.
    heap = [(-root._seq, root)]
    if not create_graph:
        M = F.array_math(get_array_module(root._data))
    with F._GradMode(create_graph):
        while heap:
            t = heappop(heap)[1]
            key = id(t)
            g = grads.pop(key)
            if wanted is not None and key in wanted:
                found[wanted[key]] = g
            ctx = t._ctx
            if ctx is None:
                if sources is None:
                    _accumulate_leaf(t, g, create_graph, given)
                continue
            parents = ctx.parents
            if ctx.released:
                _check_node(t, ctx)  # raises, saying what went wrong
            for p, v in zip(parents, ctx.versions):  # an input changed in place since?
                if v != getattr(p, "_version", v):
                    _check_node(t, ctx)  # raises, saying which and how to fix it
            if create_graph:
                if not ctx.higher_order:
                    raise NotImplementedError(
                        f"'{ctx.name}' has no differentiable gradient yet: "
                        "create_graph=True (higher-order gradients) is not supported through it")
                import gradkit.ops as M
                in_grads = ctx.backward(M, g, t, *parents)
            else:
                in_grads = ctx.backward(M, g, t._data, *ctx.inputs)
            for p, need, gp in zip(parents, ctx.needs, in_grads):
                if not need or gp is None:
                    continue
                pa = p._data
                if gp.shape != pa.shape:
                    raise RuntimeError(
                        f"internal error in '{ctx.name}' backward: gradient of shape "
                        f"{gp.shape} for an input of shape {pa.shape}")
                if gp.dtype != pa.dtype:
                    gp = gp.astype(pa.dtype)
                key = id(p)
                prev = grads.get(key)  # pending gradients: each tensor is queued once
                if prev is None:
                    grads[key] = gp
                    heappush(heap, (-p._seq, p))
                else:
                    grads[key] = prev + gp
            if not retain_graph:
                ctx.release()
    if wanted is not None:
        if not create_graph:
            found = [None if g is None else Tensor._make(g, False, None) for g in found]
        return found
    return None


#: id(tensor) -> hooks run after backward has accumulated that leaf's gradient
#: (Tensor.register_post_accumulate_grad_hook; DistributedDataParallel uses it)
post_accumulate_hooks = {}


def _accumulate_leaf(t, g, create_graph, given):
    if create_graph:
        g = g if isinstance(g, Tensor) else Tensor._make(g, False, None)
        t.grad = g if t.grad is None else t.grad + g
    elif t.grad is None:
        # Own the buffer: a pass-through gradient may be a view, or shared by two leaves.
        if g.base is not None or id(g) in given:
            g = g.copy()
        given.add(id(g))
        t.grad = Tensor._make(g, False, None)
    else:
        t.grad._data = t.grad._data + g
    if post_accumulate_hooks:
        for hook in post_accumulate_hooks.get(id(t), ()):
            hook(t)


def backward(root, gradient=None, retain_graph=False, create_graph=False):
    """``Tensor.backward``: accumulate gradients into the leaves' ``.grad``."""
    run_backward(root, gradient, None, retain_graph, create_graph)
