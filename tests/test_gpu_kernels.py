"""The fused GPU kernels' selection, on the CPU: chosen only for CuPy, one kernel per rule,
called with the gradient, the step's coefficients, the parameter and its slots."""

import types

import numpy as np

import gradkit as gk
from gradkit import gpu_kernels
from gradkit.optimizers import SGD, Adam


class _FakeKernel:
    def __init__(self, in_params, out_params, body, name):
        self.signature, self.calls = (in_params, out_params, body, name), []

    def __call__(self, *args):
        self.calls.append(args)


def _fake_cupy():
    return types.SimpleNamespace(__name__="cupy", ElementwiseKernel=_FakeKernel)


def test_only_cupy_gets_kernels(strict_gpu):
    src = ("T x", "T y", "y = x;")
    assert gpu_kernels.elementwise(np, "copy", *src) is None
    assert gpu_kernels.elementwise(strict_gpu, "copy", *src) is None
    cp = _fake_cupy()
    k = gpu_kernels.elementwise(cp, "copy", *src)
    assert isinstance(k, _FakeKernel) and k.signature[3] == "gradkit_copy"
    assert gpu_kernels.elementwise(cp, "copy", *src) is k  # compiled once


def test_which_optimizer_configurations_fuse():
    assert Adam()._fused_source()[1] == "T p, T m, T v"
    assert Adam(amsgrad=True)._fused_source() is None
    assert SGD()._fused_source()[1] == "T p"
    assert "mu * m" in SGD(momentum=0.9, nesterov=True)._fused_source()[2]


def test_a_cupy_step_runs_one_fused_kernel_per_parameter(strict_gpu, monkeypatch):
    kernels = []

    def fake_elementwise(xp, name, *src):
        kernels.append(_FakeKernel(*src, name))
        return kernels[-1]

    monkeypatch.setattr("gradkit.optimizers.base.elementwise", fake_elementwise)
    w = gk.Variable(np.ones(3, np.float32), device="cuda")
    opt = Adam([w], lr=0.1)
    w.grad = gk.ones(3, device="cuda")
    opt.step()
    (call,) = kernels[0].calls
    # the gradient, Adam's 7 coefficients (6 numbers and the amsgrad switch), p, m, v
    assert call[0] is w.grad.data and len(call) == 1 + 7 + 3 and call[8] is w.data
    np.testing.assert_array_equal(w.numpy(), 1.0)  # the fake kernel did not update
