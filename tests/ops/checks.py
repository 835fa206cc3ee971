"""The checks the op table drives (and op-specific tests call): float64 gradcheck, second
order through ``create_graph``, values and gradients against PyTorch, forward against NumPy.

PyTorch is optional at import time: the checks that need it skip, saying how to install it.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit.autograd import engine
from gradkit.tensor import Tensor
from gradkit.testing import gradcheck

TORCH_MISSING = ("PyTorch is not installed: the reference comparisons need it; "
                 "install the test extra: pip install gradkit[test]  (or: pip install -e .[test])")


def import_torch():
    """The torch module, or skip the calling test with the install command.

    torch runs on one intra-op thread: on these small tensors a second thread only adds
    its hand-off, which costs tens of milliseconds an op when the CPUs are busy."""
    torch = pytest.importorskip("torch", reason=TORCH_MISSING)
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    return torch


def as_float(a, dtype):
    """Float arrays to ``dtype``; integer and bool inputs (labels, masks) unchanged."""
    return a.astype(dtype) if a.dtype.kind == "f" else a


def join(out):
    """Ops returning a list (split): all pieces as one flat tensor."""
    if isinstance(out, (list, tuple)):
        return gradkit.ops.concatenate([o.reshape(-1) for o in out])
    return out


def first_grads(fn, seed=1):
    """``xs -> concat(flat(d <fn(xs), v> / d x))`` for the float inputs, as a graph.

    ``gradcheck`` of the returned function checks second derivatives (including the
    mixed ones). The numerical pass of gradcheck runs under ``no_grad``, so the first
    derivative is computed under ``enable_grad`` with ``create_graph=True`` both times.
    """

    def grads(*xs):
        with gradkit.enable_grad():
            out = join(fn(*xs))
            v = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
            srcs = [x for x in xs if x.requires_grad]
            gs = engine.run_backward(out, Tensor(v), srcs, retain_graph=True,
                                     create_graph=True)
        gs = [gradkit.ops.zeros_like(s) if g is None else g for s, g in zip(srcs, gs)]
        return gradkit.ops.concatenate([g.reshape(-1) for g in gs])

    return grads


def check_grad(fn, arrays, **kw):
    """``gradcheck`` in float64 over arrays (float arrays are differentiated)."""
    assert gradcheck(lambda *xs: join(fn(*xs)), *[as_float(a, np.float64) for a in arrays],
                     **kw)


def check_grad2(fn, arrays, **kw):
    """Second derivatives: ``gradcheck`` of the (create_graph) gradient of ``fn``."""
    assert gradcheck(first_grads(fn), *[as_float(a, np.float64) for a in arrays], **kw)


def check_numpy(fn, ref, arrays, rtol=1e-12, atol=1e-12):
    """``fn`` on Tensors equals the NumPy reference ``ref`` on the arrays: values, shapes
    and (for float results) dtypes; list results piece by piece."""
    got, want = fn(*[Tensor(a) for a in arrays]), ref(*arrays)
    gots = list(got) if isinstance(got, (list, tuple)) else [got]
    wants = list(want) if isinstance(want, (list, tuple)) else [want]
    assert len(gots) == len(wants), (len(gots), len(wants))
    for g, w in zip(gots, wants):
        w = np.asarray(w)
        assert g.shape == w.shape, f"shape {g.shape}, NumPy gives {w.shape}"
        if w.dtype.kind == "f":
            assert g.dtype == w.dtype, f"dtype {g.dtype}, NumPy gives {w.dtype}"
        np.testing.assert_allclose(g.numpy(), w, rtol=rtol, atol=atol, err_msg="forward")


def _outputs(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def check_torch(fn, tfn, arrays, dtype=np.float64, rtol=None, atol=None, seed=2,
                check_dtype=True):
    """Run ``fn`` (gradkit) and ``tfn`` (torch) on the same inputs; compare values and the
    gradients of every float input for the same random upstream gradient."""
    torch = import_torch()
    if rtol is None:
        rtol = 1e-10 if dtype == np.float64 else 1e-5
    if atol is None:
        atol = 1e-10 if dtype == np.float64 else 1e-5
    arrays = [as_float(a, dtype) for a in arrays]
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


def check_torch_grad2(fn, tfn, arrays, rtol=1e-9, atol=1e-10, seed=3):
    """The Hessian-vector product through ``create_graph`` equals PyTorch's, in float64:
    ``d <d <fn(x), v> / dx, u> / dx`` for random ``v``, ``u``, for every float input."""
    torch = import_torch()
    arrays = [as_float(a, np.float64) for a in arrays]
    wrt = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    rng = np.random.default_rng(seed)
    gx = [Tensor(a, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    tx = [torch.tensor(a, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    gout, tout = join(fn(*gx)), tfn(*tx)
    if isinstance(tout, (list, tuple)):
        tout = torch.cat([t.reshape(-1) for t in tout])
    v = rng.standard_normal(gout.shape)
    gg = engine.run_backward(gout, Tensor(v), [gx[i] for i in wrt], retain_graph=True,
                             create_graph=True)
    tg = torch.autograd.grad(tout, [tx[i] for i in wrt], torch.tensor(v), create_graph=True,
                             allow_unused=True)
    us = [rng.standard_normal(arrays[i].shape) for i in wrt]
    for i, g, t in zip(wrt, gg, tg):
        want = np.zeros(arrays[i].shape) if t is None else t.detach().numpy(force=True)
        got = np.zeros(arrays[i].shape) if g is None else g.numpy()
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i}")
    # second pass: <grads, u> differentiated once more
    live = [(g, u) for g, u in zip(gg, us) if g is not None and g.requires_grad]
    got2 = [np.zeros(arrays[i].shape) for i in wrt]
    if live:
        total = sum((g * Tensor(u)).sum() for g, u in live)
        hs = engine.run_backward(total, Tensor(np.array(1.0)), [gx[i] for i in wrt])
        got2 = [z if h is None else h.numpy() for z, h in zip(got2, hs)]
    tlive = [(t * torch.tensor(u)).sum() for t, u in zip(tg, us)
             if t is not None and t.requires_grad]
    want2 = [np.zeros(arrays[i].shape) for i in wrt]
    if tlive:
        ths = torch.autograd.grad(sum(tlive), [tx[i] for i in wrt], allow_unused=True)
        want2 = [z if h is None else h.numpy(force=True) for z, h in zip(want2, ths)]
    for i, got, want in zip(wrt, got2, want2):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol,
                                   err_msg=f"second derivative of input {i}")
