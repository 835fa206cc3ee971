"""Moving data between devices as a differentiable op (``Tensor.to``'s device half)."""

from __future__ import annotations

from gradkit.autograd.function import Function
from gradkit.devices import device_of, place


class ToDevice(Function):
    """A copy of ``a`` on ``device``; the gradient goes back to where ``a`` lives."""

    higher_order = False  # backward moves arrays, it is not written with M

    def forward(self, a, device):
        return place(a, device)

    def backward(self, M, g, out, a, device):
        return place(g, device_of(a)), None   # d(copy)/da = 1, on a's device
