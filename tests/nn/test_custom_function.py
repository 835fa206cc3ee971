"""PyTorch-style ``autograd.Function`` subclasses (static ``forward(ctx, ...)`` and
``backward(ctx, grad)``, ``ctx.save_for_backward``) on gradkit's engine."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit as gk
from gradkit.testing import gradcheck


class Legendre3(gk.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * (5 * x ** 3 - 3 * x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * x ** 2 - 1)


class ClampedRelu(gk.autograd.Function):
    @staticmethod
    def forward(ctx, x, cap):
        ctx.save_for_backward(x)
        ctx.cap = cap
        return x.clamp(min=0, max=cap)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        g = grad_output.clone()
        g[x < 0] = 0
        g[x > ctx.cap] = 0
        return g, None


class Mix(gk.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b.sin()

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g * b.sin(), g * a * b.cos()


def test_custom_functions_pass_float64_gradcheck():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    gradcheck(Legendre3.apply, x)
    gradcheck(lambda a, b: Mix.apply(a, b), x, rng.standard_normal((3, 4)))
    away = np.where(np.abs(x) < 0.1, 0.5, x)  # no kink within eps
    away = np.where(np.abs(away - 1.0) < 0.1, 1.5, away)
    gradcheck(lambda a: ClampedRelu.apply(a, 1.0), away)


def test_needs_input_grad_and_second_order():
    seen = []

    class Probe(gk.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen.append(ctx.needs_input_grad)
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g, g

    Probe.apply(gk.tensor([1.0], requires_grad=True), gk.tensor([2.0]))
    assert seen == [(True, False)]
    x = gk.tensor([0.3, -0.7], dtype=gk.float64, requires_grad=True)
    Legendre3.apply(x).sum().backward(create_graph=True)
    first = x.grad
    np.testing.assert_allclose(first.numpy(), 1.5 * (5 * x.numpy() ** 2 - 1))
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 15 * x.numpy())


def test_without_grad_no_node_and_errors():
    out = Legendre3.apply(gk.tensor([1.0]))
    assert not out.requires_grad

    class Bad(gk.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(NotImplementedError, match="one Tensor"):
        Bad.apply(gk.tensor([1.0], requires_grad=True))
    with pytest.raises(TypeError, match="positional"):
        Legendre3.apply(x=gk.tensor([1.0]))
