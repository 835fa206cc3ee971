"""Automatic differentiation: primitives, the engine and its two front ends."""

from gradkit.autograd.function import Function, enable_grad, is_grad_enabled, no_grad
from gradkit.autograd.functional import grad, value_and_grad
from gradkit.autograd.tape import GradientTape

__all__ = ["Function", "GradientTape", "enable_grad", "grad", "is_grad_enabled", "no_grad",
           "value_and_grad"]
