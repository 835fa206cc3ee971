"""Programs written the way PyTorch's "Learning PyTorch with Examples" writes its parts
(tensors with hand-written gradients, autograd, a custom autograd Function, ``nn``, a
custom ``nn.Module``), in our own words, run with ``import gradkit as torch``.

Each program is a function of the ``torch`` module it is given; the deterministic ones
are also run with PyTorch and must reach the same numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradkit


def fit_cubic_by_hand(torch, steps=2000):
    """Tensors only: forward pass, hand-derived gradients, in-place updates."""
    dtype, device = torch.float, torch.device("cpu")
    x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
    y = torch.sin(x)
    a, b, c, d = (torch.randn((), device=device, dtype=dtype) for _ in range(4))
    lr = 1e-6
    losses = []
    for _ in range(steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum().item()
        losses.append(loss)
        grad_y_pred = 2.0 * (y_pred - y)
        grad_a = grad_y_pred.sum()
        grad_b = (grad_y_pred * x).sum()
        grad_c = (grad_y_pred * x ** 2).sum()
        grad_d = (grad_y_pred * x ** 3).sum()
        a -= lr * grad_a
        b -= lr * grad_b
        c -= lr * grad_c
        d -= lr * grad_d
    return losses


def fit_cubic_with_autograd(torch, steps=2000):
    """Autograd: requires_grad, backward, updates under no_grad, grads reset to None."""
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=torch.float)
    y = torch.sin(x)
    a, b, c, d = (torch.randn((), dtype=torch.float, requires_grad=True) for _ in range(4))
    lr = 1e-6
    losses = []
    for _ in range(steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= lr * p.grad
                p.grad = None
    return losses


def fit_legendre(torch, steps=2000):
    """A custom autograd Function (P3, the third Legendre polynomial) inside the model."""

    class P3(torch.autograd.Function):
        @staticmethod
        def forward(ctx, inp):
            ctx.save_for_backward(inp)
            return 0.5 * (5 * inp ** 3 - 3 * inp)

        @staticmethod
        def backward(ctx, grad_output):
            (inp,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * inp ** 2 - 1)

    x = torch.linspace(-math.pi, math.pi, 2000, dtype=torch.float)
    y = torch.sin(x)
    a = torch.full((), 0.0, dtype=torch.float, requires_grad=True)
    b = torch.full((), -1.0, dtype=torch.float, requires_grad=True)
    c = torch.full((), 0.0, dtype=torch.float, requires_grad=True)
    d = torch.full((), 0.3, dtype=torch.float, requires_grad=True)
    lr = 5e-6
    for _ in range(steps):
        y_pred = a + b * P3.apply(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= lr * p.grad
                p.grad.zero_()
    return loss.item(), [p.item() for p in (a, b, c, d)]


def fit_with_nn(torch, steps=2000):
    """``nn.Sequential(Linear, Flatten(0, 1))`` on powers of x, ``MSELoss(reduction="sum")``,
    ``zero_grad``, updates over ``parameters()``; the layer is read back by index."""
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    powers = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(powers)
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    loss_fn = torch.nn.MSELoss(reduction="sum")
    lr = 1e-6
    losses = []
    for _ in range(steps):
        loss = loss_fn(model(xx), y)
        losses.append(loss.item())
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for param in model.parameters():
                param -= lr * param.grad
    layer = model[0]
    coeffs = [layer.bias.item()] + [layer.weight[:, i].item() for i in range(3)]
    return losses, coeffs


def fit_custom_module(torch, steps=2000):
    """A custom ``nn.Module`` with four scalar Parameters and a ``forward``."""

    class Cubic(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Parameter(torch.randn(()))
            self.b = torch.nn.Parameter(torch.randn(()))
            self.c = torch.nn.Parameter(torch.randn(()))
            self.d = torch.nn.Parameter(torch.randn(()))

        def forward(self, x):
            return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

        def describe(self):
            return (f"y = {self.a.item():.3f} + {self.b.item():.3f} x + {self.c.item():.3f} "
                    f"x^2 + {self.d.item():.3f} x^3")

    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    model = Cubic()
    criterion = torch.nn.MSELoss(reduction="sum")
    losses = []
    for _ in range(steps):
        loss = criterion(model(x), y)
        losses.append(loss.item())
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 1e-6 * p.grad
    return losses, model.describe(), len(list(model.parameters()))


@pytest.mark.parametrize("program", [fit_cubic_by_hand, fit_cubic_with_autograd])
def test_cubic_programs_converge(program):
    gradkit.manual_seed(0)
    losses = program(gradkit)
    assert losses[-1] < 100 and losses[-1] < losses[0] / 10


def test_legendre_program_matches_pytorch(torch):
    loss, coeffs = fit_legendre(gradkit)
    t_loss, t_coeffs = fit_legendre(torch)
    assert loss < 20
    np.testing.assert_allclose(coeffs, t_coeffs, rtol=2e-3, atol=2e-4)
    assert loss == pytest.approx(t_loss, rel=1e-2)


def test_nn_program_converges_like_pytorch(torch):
    gradkit.manual_seed(0)
    losses, coeffs = fit_with_nn(gradkit)
    assert losses[-1] < 50 and losses[-1] < losses[0]
    # the least-squares cubic for sin on [-pi, pi] is about x - 0.09 x^2... c ~ 0, d ~ -0.09
    assert abs(coeffs[2]) < 0.05 and -0.12 < coeffs[3] < -0.07


def test_custom_module_program_converges():
    gradkit.manual_seed(1)
    losses, text, n_params = fit_custom_module(gradkit)
    assert n_params == 4 and text.startswith("y = ")
    assert losses[-1] < losses[0] / 10 and losses[-1] < 100
