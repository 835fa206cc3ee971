"""Shared helpers for the op tests: input builders, gradcheck wrappers and PyTorch diffs.

The helpers are exposed as fixtures (conftest modules are not importable by name).
Tables in the test modules describe inputs with *specs*, ``(shape, kind)`` or
``(shape, kind, extra)``, that the ``make`` fixture turns into float64 arrays:

* ``any``: standard normal; ``pos``: uniform in [0.5, 2]; ``nz``: away from 0
  (|x| in [0.3, 1.5]); ``prob``: uniform in [0.05, 0.95];
* ``grid_a`` / ``grid_b``: k/2 + 0.1 and k/2 + 0.35: an ``a`` and a ``b`` never tie
  (maximum/minimum) and stay 0.1 away from 0 and from +-0.5 (clip bounds);
* ``distinct``: all values at least 0.25 apart (max/min reductions without ties);
* ``labels`` (extra = number of classes): int64 class indices;
* ``probs`` (extra = axis): positive rows summing to 1 along the last axis;
* ``mask``: booleans, at least one True.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit.autograd import engine
from gradkit.tensor import Tensor
from gradkit.testing import gradcheck


def make_array(spec, rng):
    """One input array from a spec (see the module docstring) or a callable ``rng -> array``."""
    if callable(spec):
        return spec(rng)
    shape, kind, *extra = spec
    size = int(np.prod(shape, dtype=np.int64))
    if kind == "any":
        return rng.standard_normal(shape)
    if kind == "pos":
        return rng.uniform(0.5, 2.0, shape)
    if kind == "nz":
        return rng.uniform(0.3, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    if kind == "prob":
        return rng.uniform(0.05, 0.95, shape)
    if kind in ("grid_a", "grid_b"):
        return rng.integers(-3, 3, shape) * 0.5 + (0.1 if kind == "grid_a" else 0.35)
    if kind == "distinct":
        vals = rng.permutation(size) * 0.25 - 0.125 * size + rng.uniform(-0.05, 0.05, size)
        return vals.reshape(shape)
    if kind == "labels":
        return rng.integers(0, extra[0], shape).astype(np.int64)
    if kind == "probs":
        e = np.exp(rng.standard_normal(shape))
        return e / e.sum(axis=-1, keepdims=True)
    if kind == "mask":
        m = rng.random(shape) < 0.5
        m.reshape(-1)[0] = True
        return m
    raise ValueError(f"unknown input kind {kind!r}")


def make_inputs(specs, seed=0):
    rng = np.random.default_rng(seed)
    return [np.asarray(make_array(s, rng)) for s in specs]  # 0-d: arrays, not NumPy scalars


def _as_f(a, dtype):
    return a.astype(dtype) if a.dtype.kind == "f" else a


def first_grads(fn, seed=1):
    """``xs -> concat(flat(d <fn(xs), v> / d x))`` for the float inputs, as a graph.

    ``gradcheck`` of the returned function checks second derivatives (including the
    mixed ones). The numerical pass of gradcheck runs under ``no_grad``, so the first
    derivative is computed under ``enable_grad`` with ``create_graph=True`` both times.
    """

    def grads(*xs):
        with gradkit.enable_grad():
            out = fn(*xs)
            v = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
            srcs = [x for x in xs if x.requires_grad]
            gs = engine.run_backward(out, Tensor(v), srcs, retain_graph=True,
                                     create_graph=True)
        gs = [gradkit.ops.zeros_like(s) if g is None else g for s, g in zip(srcs, gs)]
        return gradkit.ops.concatenate([g.reshape(-1) for g in gs])

    return grads


def check_grad(fn, arrays, **kw):
    """``gradcheck`` in float64 over arrays (float arrays are differentiated)."""
    assert gradcheck(fn, *[_as_f(a, np.float64) for a in arrays], **kw)


def check_grad2(fn, arrays, **kw):
    """Second derivatives: ``gradcheck`` of the (create_graph) gradient of ``fn``."""
    assert gradcheck(first_grads(fn), *[_as_f(a, np.float64) for a in arrays], **kw)


def _outputs(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def check_torch(fn, tfn, arrays, dtype=np.float64, rtol=None, atol=None, seed=2,
                check_dtype=True):
    """Run ``fn`` (gradkit) and ``tfn`` (torch) on the same inputs; compare values and the
    gradients of every float input for the same random upstream gradient."""
    torch = pytest.importorskip("torch", reason="PyTorch is a test dependency for diffs")
    if rtol is None:
        rtol = 1e-10 if dtype == np.float64 else 1e-5
    if atol is None:
        atol = 1e-10 if dtype == np.float64 else 1e-5
    arrays = [_as_f(a, dtype) for a in arrays]
    gx = [Tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    tx = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    gouts, touts = _outputs(fn(*gx)), _outputs(tfn(*tx))
    assert len(gouts) == len(touts)
    rng = np.random.default_rng(seed)
    gloss = tloss = 0
    for go, to in zip(gouts, touts):
        tv = to.detach().numpy()
        assert isinstance(go, Tensor)
        assert go.shape == tuple(tv.shape), (go.shape, tv.shape)
        if check_dtype and tv.dtype.kind == "f":
            assert go.dtype == tv.dtype, (go.dtype, tv.dtype)
        np.testing.assert_allclose(go.numpy(), tv, rtol=rtol, atol=atol, err_msg="forward")
        if go.dtype.kind == "f" and to.requires_grad:
            v = rng.standard_normal(go.shape).astype(go.dtype)
            gloss = gloss + (go * Tensor(v)).sum()
            tloss = tloss + (to * torch.tensor(v)).sum()
    if not isinstance(tloss, int):
        gloss.backward()
        tloss.backward()
    for i, (g, t) in enumerate(zip(gx, tx)):
        if not t.requires_grad:
            continue
        want = np.zeros(t.shape, dtype) if t.grad is None else t.grad.numpy()
        got = np.zeros(g.shape, dtype) if g.grad is None else g.grad.numpy()
        if g.grad is not None:
            assert g.grad.dtype == g.dtype, f"input {i}: grad dtype {g.grad.dtype}"
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i}")
    return gouts


@pytest.fixture(scope="session")
def make():
    """``make(specs, seed=0) -> list of arrays``."""
    return make_inputs


@pytest.fixture(scope="session")
def grad_ok():
    """``grad_ok(fn, arrays)``: float64 gradcheck."""
    return check_grad


@pytest.fixture(scope="session")
def grad2_ok():
    """``grad2_ok(fn, arrays)``: gradcheck of the create_graph gradient."""
    return check_grad2


@pytest.fixture(scope="session")
def torch_ok():
    """``torch_ok(fn, tfn, arrays, dtype=float64)``: values and grads equal PyTorch's."""
    pytest.importorskip("torch", reason="PyTorch is a test dependency for diffs")
    return check_torch


@pytest.fixture(scope="session")
def torch():
    """The torch module, or skip the test when PyTorch is not installed."""
    return pytest.importorskip("torch", reason="PyTorch is a test dependency for diffs")
