"""Finite-difference gradient checking in float64."""

from __future__ import annotations

import numpy as np

from gradkit import random as _random
from gradkit.autograd import engine
from gradkit.backend import to_numpy
from gradkit.devices import default_device, place
from gradkit.tensor import Tensor


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree."""


def _as_f64_leaf(x, dev):
    data = np.array(to_numpy(x._data if isinstance(x, Tensor) else x), dtype=np.float64,
                    order="C")
    return Tensor._make(place(data, dev), True, None)


def numerical_grad(fn, inputs, index, seed, eps=1e-6):
    """Central differences of ``sum(fn(*inputs) * seed)`` with respect to ``inputs[index]``."""
    x = inputs[index]._data
    g = np.zeros(x.shape)
    for i in np.ndindex(x.shape):  # in place, whatever the memory layout of x
        orig = x[i]
        x[i] = orig + eps
        hi = float((fn(*inputs)._data * seed).sum())
        x[i] = orig - eps
        lo = float((fn(*inputs)._data * seed).sum())
        x[i] = orig
        g[i] = (hi - lo) / (2 * eps)
    return g


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, wrt=None, seed=0, raise_on_fail=True):
    """Compare ``fn``'s analytic gradients with central differences, in float64.

    Args:
        fn: takes Tensors, returns a Tensor (any shape: a random upstream
            gradient is used, so every output element is checked).
        *inputs: arrays or Tensors; float ones are differentiated (all, or
            those indexed by ``wrt``), the others pass through as constants.
        eps, atol, rtol: step and tolerances.
        seed: seed of the random upstream gradient (None: gradkit's global
            generator; see :func:`gradkit.random.rng`).

    Returns:
        True when every gradient matches; otherwise raises GradcheckError
        showing the numerical and analytic values (or returns False).

    Example::

        gradcheck(lambda a, b: a * b, np.random.randn(3, 1), np.random.randn(4))
    """
    rng = _random.rng(seed, owner="gradcheck")
    dev = next((x.device for x in inputs if isinstance(x, Tensor)), default_device())
    leaves = []
    for i, x in enumerate(inputs):
        data = x._data if isinstance(x, Tensor) else np.asarray(x)
        differentiate = data.dtype.kind == "f" and (wrt is None or i in wrt)
        leaves.append(_as_f64_leaf(data, dev) if differentiate else
                      Tensor._make(place(data, dev), False, None))
    wanted = [i for i, t in enumerate(leaves) if t.requires_grad]
    out = fn(*leaves)
    if out.dtype != np.float64:
        raise GradcheckError(f"gradcheck: fn returned dtype {out.dtype}; it must keep float64")
    upstream = place(rng.standard_normal(out.shape), dev)
    if out.requires_grad:
        analytic = engine.run_backward(out, upstream, [leaves[i] for i in wanted])
    else:
        analytic = [None] * len(wanted)
    ok = True
    report = []
    for i, a in zip(wanted, analytic):
        a = np.zeros(leaves[i].shape) if a is None else a.numpy()
        with_no_grad = _no_grad_fn(fn)
        n = numerical_grad(with_no_grad, leaves, i, upstream, eps)
        if a.shape != n.shape or not np.allclose(a, n, atol=atol, rtol=rtol):
            ok = False
            err = np.abs(a - n).max() if a.shape == n.shape else float("nan")
            report.append(f"input {i} (shape {leaves[i].shape}): max abs error {err:.3g}\n"
                          f"  numerical:\n{n}\n  analytic:\n{a}")
    if not ok and raise_on_fail:
        raise GradcheckError("gradcheck: Jacobian mismatch\n" + "\n".join(report))
    return ok


def _no_grad_fn(fn):
    from gradkit.autograd.function import no_grad

    def run(*xs):
        with no_grad():
            return fn(*xs)

    return run
