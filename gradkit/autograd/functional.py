"""Function transformations: ``grad`` and ``value_and_grad`` (JAX style)."""

from __future__ import annotations

import functools

from gradkit.autograd import engine
from gradkit.autograd import function as F
from gradkit.autograd.function import is_grad_enabled
from gradkit.tensor import Tensor


def value_and_grad(fn, argnums=0, has_aux=False):
    """Wrap ``fn`` so it returns ``(value, gradient)`` for the chosen arguments.

    Args:
        fn: a function returning a scalar Tensor (or ``(scalar, aux)`` with ``has_aux``).
        argnums: index, or tuple of indices, of the arguments to differentiate.
        has_aux: ``fn`` returns a pair whose second item is passed through.

    Returns:
        A function with ``fn``'s arguments returning ``(value, grads)``; ``grads``
        is one Tensor for an int ``argnums``, else a tuple.

    Example::

        df = gradkit.grad(lambda x: (x ** 3).sum())
        df(gradkit.Tensor([2.0]))           # Tensor([12.])
        gradkit.grad(df)(...)               # nests for higher derivatives
    """
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        args = list(args)
        tracked = False  # an argument already in a graph: the gradient must be differentiable
        for i in nums:
            a = args[i]
            if isinstance(a, Tensor) and a.dtype.kind != "f":
                raise TypeError(f"grad: argument {i} has dtype {a.dtype}; only "
                                "floating-point arguments can be differentiated")
            if isinstance(a, Tensor) and a.requires_grad and is_grad_enabled():
                tracked = True
            elif isinstance(a, Tensor):
                args[i] = Tensor._make(a._data, True, None)  # caller's tensor keeps its .grad
            else:
                args[i] = Tensor(a, requires_grad=True)
        with F.enable_grad():
            result = fn(*args, **kwargs)
        value, aux = result if has_aux else (result, None)
        if not isinstance(value, Tensor) or value.size != 1:
            raise TypeError("grad: the function must return a scalar Tensor, got "
                            f"{getattr(value, 'shape', type(value).__name__)}")
        sources = [args[i] for i in nums]
        if value.requires_grad:
            grads = engine.run_backward(value, None, sources, retain_graph=tracked,
                                        create_graph=tracked)
        else:
            grads = [None] * len(sources)
        grads = [_zeros_like(s) if g is None else g for s, g in zip(sources, grads)]
        if not tracked:
            value = value.detach()
        out = grads[0] if single else tuple(grads)
        return ((value, aux), out) if has_aux else (value, out)

    return wrapper


def grad(fn, argnums=0, has_aux=False):
    """Wrap ``fn`` so it returns only the gradient (see :func:`value_and_grad`);
    with ``has_aux`` it returns ``(grads, aux)``."""
    vg = value_and_grad(fn, argnums, has_aux)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def _zeros_like(s):
    from gradkit.ops import zeros_like

    return zeros_like(s)
