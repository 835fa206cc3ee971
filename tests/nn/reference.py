"""Running a gradkit.nn module and its PyTorch twin on the same weights and inputs.

``compare(torch_module, gk_module, inputs)`` copies the PyTorch module's state dict
into the gradkit one (so the names and layouts must match), runs both in float64,
backpropagates the same random upstream gradient through every output, and checks
the outputs, the input gradients and every parameter's gradient (by name), and the
state dicts afterwards (buffers such as running statistics).
"""

from __future__ import annotations

import numpy as np

import gradkit

RTOL, ATOL = 1e-6, 1e-8


def _leaves(out):
    if isinstance(out, (tuple, list)):
        return [x for o in out for x in _leaves(o)]
    return [] if out is None else [out]


def to_torch(torch, a, grad):
    t = torch.tensor(a)
    return t.requires_grad_(grad) if t.dtype.is_floating_point else t


def compare(torch, tmod, gmod, inputs, kwargs=None, train=True):
    """Check ``gmod`` against ``tmod`` (see the module docstring); returns gradkit's output."""
    kwargs = kwargs or {}
    tmod = tmod.double()
    gmod = gmod.double()
    result = gmod.load_state_dict(tmod.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    tmod.train(train)
    gmod.train(train)
    t_in = [to_torch(torch, a, np.asarray(a).dtype.kind == "f") for a in inputs]
    g_in = [gradkit.tensor(a, requires_grad=np.asarray(a).dtype.kind == "f") for a in inputs]
    t_out = _leaves(tmod(*t_in, **kwargs))
    g_out = _leaves(gmod(*g_in, **kwargs))
    assert len(t_out) == len(g_out)
    rng = np.random.default_rng(1)
    seeds = [rng.standard_normal(tuple(t.shape)) for t in t_out]
    for t, g in zip(t_out, g_out):
        assert tuple(g.shape) == tuple(t.shape)
        np.testing.assert_allclose(g.numpy(), t.detach().numpy(), RTOL, ATOL)
    sum(((t * torch.tensor(s)).sum() for t, s in zip(t_out, seeds)), torch.zeros(())).backward()
    total = None
    for g, s in zip(g_out, seeds):
        if g.requires_grad:
            term = (g * gradkit.tensor(s)).sum()
            total = term if total is None else total + term
    total.backward()
    for t, g in zip(t_in, g_in):
        if t.dtype.is_floating_point:
            np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), RTOL, ATOL)
    t_params = dict(tmod.named_parameters())
    g_params = dict(gmod.named_parameters())
    assert sorted(g_params) == sorted(t_params)
    for name, p in t_params.items():
        if p.grad is None:
            assert g_params[name].grad is None, name
        else:
            np.testing.assert_allclose(g_params[name].grad.numpy(), p.grad.numpy(), RTOL, ATOL,
                                       err_msg=name)
    t_state, g_state = tmod.state_dict(), gmod.state_dict()
    assert list(g_state) == list(t_state)
    for name, v in t_state.items():
        np.testing.assert_allclose(g_state[name].numpy(), v.numpy(), RTOL, ATOL, err_msg=name)
    return g_out


def check_output_and_grad(torch, t_out, g_out, t_in, g_in, rtol=1e-7, atol=1e-10):
    """Outputs equal, then the same random upstream gradient gives equal input gradients."""
    np.testing.assert_allclose(g_out.numpy(), t_out.detach().numpy(), rtol, atol)
    seed = np.random.default_rng(1).standard_normal(tuple(t_out.shape))
    (t_out * torch.tensor(seed)).sum().backward()
    (g_out * gradkit.tensor(seed)).sum().backward()
    np.testing.assert_allclose(g_in.grad.numpy(), t_in.grad.numpy(), rtol, atol)
