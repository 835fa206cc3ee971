"""Tools to verify gradients: :func:`gradcheck` and :func:`numerical_grad`."""

from gradkit.testing.gradcheck import GradcheckError, gradcheck, numerical_grad

__all__ = ["gradcheck", "numerical_grad", "GradcheckError"]
