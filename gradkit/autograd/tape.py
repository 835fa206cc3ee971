"""``GradientTape``: TensorFlow's way of asking for gradients, on the same engine.

Operations are recorded by the engine whenever an input requires grad;
the tape decides which tensors count as sources (trainable Variables always,
anything else once ``watch``-ed) and asks the engine for their gradients.
"""

from __future__ import annotations

import threading

from gradkit.autograd import engine
from gradkit.tensor import Tensor


class _OpenTapes(threading.local):
    """Tapes whose ``with`` block is open in this thread, innermost last: a tape open in
    another thread does not make this thread's gradients differentiable."""

    def __init__(self):
        self.stack = []


_open = _OpenTapes()


def _flatten(sources):
    """Sources as a flat list plus a function that rebuilds their structure."""
    if isinstance(sources, dict):
        keys = list(sources)
        return [sources[k] for k in keys], lambda vals: dict(zip(keys, vals))
    if isinstance(sources, (list, tuple)):
        kind = type(sources)
        return list(sources), (lambda vals: kind(vals)) if kind in (list, tuple) else list
    return [sources], lambda vals: vals[0]


def _check_float_tensor(t, not_tensor, not_float):
    """Raise ``TypeError`` unless ``t`` is a floating-point Tensor (the only kind with
    gradients); the messages are formatted with ``type`` (the type's name) or ``dtype``."""
    if not isinstance(t, Tensor):
        raise TypeError(not_tensor.format(type=type(t).__name__))
    if t.dtype.kind != "f":
        raise TypeError(not_float.format(dtype=t.dtype))


class GradientTape:
    """Record operations, then compute gradients of a target with respect to sources.

    Args:
        persistent: allow several ``gradient`` calls (the graph is kept).
        watch_accessed_variables: accepted for TensorFlow compatibility; trainable
            Variables always record, so any of them can be a source.

    Example::

        w = gradkit.Variable(np.ones((2, 1)))
        with gradkit.GradientTape() as tape:
            loss = gradkit.reduce_mean((x @ w - y) ** 2)
        dw = tape.gradient(loss, w)          # same structure as the sources: one Tensor
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self._watched = []        # tensors whose requires_grad we switched on
        self._used = False
        self._recording = False

    def __enter__(self):
        self._recording = True
        _open.stack.append(self)
        return self

    def __exit__(self, *exc):
        self._recording = False
        stack = _open.stack
        if self in stack:
            stack.remove(self)
        for t, prev in self._watched:
            t.requires_grad = prev  # the graph already recorded keeps its links
        return False

    def watch(self, tensor):
        """Record operations on ``tensor`` (or each tensor in a list/tuple/dict) from now on."""
        items, _ = _flatten(tensor)
        for t in items:
            _check_float_tensor(
                t, "GradientTape.watch expects gradkit Tensors, got {type}; convert with "
                   "gradkit.Tensor(x)",
                "GradientTape.watch: cannot watch a tensor of dtype {dtype}; only "
                "floating-point tensors carry gradients")
            if not t.requires_grad:
                self._watched.append((t, False))
                t.requires_grad = True

    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients="none"):
        """Gradients of ``target`` with respect to ``sources``.

        Args:
            target: a Tensor (a non-scalar target is summed, as in TensorFlow).
            sources: a Tensor, or a list/tuple/dict of them.
            output_gradients: optional upstream gradient shaped like ``target``.
            unconnected_gradients: ``"none"`` (``None`` for an unconnected
                source) or ``"zero"``.

        Returns:
            Gradients in the structure of ``sources``.
        """
        if self._used and not self.persistent:
            raise RuntimeError("a non-persistent GradientTape can compute gradients only once; "
                               "create it with GradientTape(persistent=True) to call "
                               "gradient() several times")
        self._used = True
        flat, rebuild = _flatten(sources)
        for s in flat:
            _check_float_tensor(
                s, "GradientTape.gradient: sources must be Tensors/Variables, got {type}",
                "GradientTape.gradient: cannot differentiate with respect to a tensor of "
                "dtype {dtype}; only floating-point tensors have gradients")
        if not isinstance(target, Tensor) or not target.requires_grad:
            grads = [None] * len(flat)
        else:
            seed = output_gradients
            if seed is None and target.size != 1:
                seed = engine.get_array_module(target._data).ones_like(target._data)
            # Differentiable gradients when an enclosing tape records this computation.
            outer = any(t is not self and t._recording for t in _open.stack)
            grads = engine.run_backward(target, seed, flat, retain_graph=self.persistent or outer,
                                        create_graph=outer)
        if unconnected_gradients == "zero":
            from gradkit.ops import zeros_like

            grads = [zeros_like(s) if g is None else g for s, g in zip(flat, grads)]
        return rebuild(grads)

    def jacobian(self, target, source):
        """Full Jacobian d target / d source, shape ``target.shape + source.shape``."""
        from gradkit.backend import get_array_module

        xp = get_array_module(target._data)
        rows = []
        n = target.size
        for i in range(n):
            seed = xp.zeros(n, dtype=target.dtype)
            seed[i] = 1
            g = engine.run_backward(target, seed.reshape(target.shape), [source],
                                    retain_graph=True)[0]
            rows.append(xp.zeros(source.shape, source.dtype) if g is None else g._data)
        return Tensor(xp.stack(rows).reshape(target.shape + source.shape))

    @property
    def variables_watched(self):
        return [t for t, _ in self._watched]
