"""PyTorch-style custom functions: ``forward(ctx, ...)`` / ``backward(ctx, grad)`` as
static methods, ``ctx.save_for_backward``, ``MyFunction.apply(x)``.

A subclass of :class:`gradkit.autograd.Function` whose ``forward`` is a
``staticmethod`` is one of these (gradkit's own primitives define ``forward`` on the
instance, with raw arrays). Its forward runs on Tensors without recording; the
result is linked into the graph by a :class:`CustomNode` whose backward calls the
user's ``backward`` with Tensors.

Example::

    class Cube(gradkit.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad_output):
            x, = ctx.saved_tensors
            return grad_output * 3 * x ** 2

    y = Cube.apply(gradkit.tensor([2.0], requires_grad=True))
"""

from __future__ import annotations

from gradkit.autograd.function import is_grad_enabled, no_grad
from gradkit.tensor import Tensor


class FunctionCtx:
    """The ``ctx`` a custom function's forward and backward share.

    Attributes:
        needs_input_grad: one bool per forward argument.
        saved_tensors: what ``save_for_backward`` kept.
    """

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()

    def save_for_backward(self, *tensors):
        """Keep ``tensors`` for backward (``ctx.saved_tensors``)."""
        self.saved_tensors = tensors


class CustomNode:
    """The graph node of one call of a custom function: what the engine reads of a
    ``Function`` node (``needs``, ``parents``, ``inputs``, ``versions``, ``backward``,
    ``release``), not a primitive of its own (those live in ``gradkit.ops``)."""

    higher_order = True  # the user's backward runs on Tensors: create_graph records it

    def __init__(self, fn, ctx, args):
        self.fn, self.ctx, self.label = fn, ctx, fn.__name__
        self.needs = list(ctx.needs_input_grad)
        self.parents = args
        self.inputs = [a._data if isinstance(a, Tensor) else a for a in args]
        self.versions = [getattr(a, "_version", 0) for a in args]
        self.released = False

    @property
    def name(self) -> str:
        return self.__dict__.get("label", "custom function")

    def backward(self, M, g, out, *xs):
        graph = getattr(M, "graph", False)  # create_graph: g is a Tensor already
        grads = self.fn.backward(self.ctx, g if graph else Tensor._make(g, False, None))
        grads = grads if isinstance(grads, tuple) else (grads,)
        if len(grads) < len(xs):
            raise RuntimeError(f"{self.label}.backward returned {len(grads)} gradient(s) for "
                               f"{len(xs)} forward argument(s); return one per argument "
                               "(None for those that need none)")
        out_grads = []
        for need, gx in zip(self.needs, grads):
            if not need or gx is None:
                out_grads.append(None)
            elif graph:
                out_grads.append(gx if isinstance(gx, Tensor) else Tensor(gx))
            else:
                out_grads.append(gx._data if isinstance(gx, Tensor) else gx)
        return tuple(out_grads)

    def release(self):
        """Drop the ctx (and what it saved); a later backward through here is an error."""
        self.__dict__ = {"needs": self.needs, "parents": self.parents,
                         "versions": self.versions, "released": True, "label": self.label}


def ctx_apply(cls, *args, **kwargs):
    """``MyFunction.apply(*args)``: run ``forward(ctx, *args)`` and link its output."""
    if kwargs:
        raise TypeError(f"{cls.__name__}.apply takes positional arguments only (as in "
                        f"PyTorch), received keywords {sorted(kwargs)}")
    needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
    ctx = FunctionCtx(needs)
    with no_grad():
        out = cls.forward(ctx, *args)
    if not isinstance(out, Tensor):
        raise NotImplementedError(f"{cls.__name__}.forward returned {type(out).__name__}; "
                                  "custom functions with several outputs (or non-Tensor "
                                  "outputs) are not supported, return one Tensor")
    if not (is_grad_enabled() and any(needs)):
        return out
    return Tensor._make(out._data, True, CustomNode(cls, ctx, args))
