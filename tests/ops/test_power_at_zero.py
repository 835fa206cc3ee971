"""x ** 0 has gradient 0 everywhere, also at x = 0 (PyTorch's value), not 0 * 0^-1 = NaN."""

import numpy as np
import pytest

import gradkit as gk


@pytest.mark.parametrize("exponent", [0, 0.0, "array"])
def test_gradient_of_x_to_the_zero_at_zero(exponent):
    x = gk.Tensor(np.array([0.0, 0.0, 2.0]), requires_grad=True)
    b = np.array([0.0, 1.0, 0.0]) if exponent == "array" else exponent
    gk.ops.power(x, b).sum().backward()
    want = [0.0, 1.0, 0.0] if exponent == "array" else [0.0, 0.0, 0.0]
    np.testing.assert_array_equal(x.grad.numpy(), want)


def test_matches_torch_with_a_tensor_exponent():
    torch = pytest.importorskip("torch")
    a, b = np.array([0.0, 0.0, 3.0]), np.array([0.0, 2.0, 0.0])
    x, e = gk.Tensor(a, requires_grad=True), gk.Tensor(b, requires_grad=True)
    gk.ops.power(x, e).sum().backward()
    tx = torch.tensor(a, requires_grad=True)
    te = torch.tensor(b, requires_grad=True)
    (tx ** te).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
