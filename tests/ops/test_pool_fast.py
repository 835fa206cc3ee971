"""max_pool2d's gradient: the numba one-pass loop (gradkit[fast]) agrees with the NumPy path."""

import numpy as np
import pytest

import gradkit as gk
from gradkit import accel, ops

pytest.importorskip("numba")


@pytest.fixture
def switch():
    previous = accel.enabled()
    yield accel.set_enabled
    accel.set_enabled(previous)


def _grad(x, g, pool, strides, padding, fmt):
    t = gk.Tensor(x, requires_grad=True)
    y = ops.max_pool2d(t, pool, strides, padding, fmt)
    (y * gk.Tensor(g)).sum().backward()
    return t.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize("pool,strides,padding", [
    (2, None, "valid"), (3, None, "valid"), (2, 1, "valid"), (3, 2, "same"),
    ((2, 3), (1, 2), "same"),
])
def test_fast_max_pool_gradient_matches_numpy(switch, dtype, fmt, pool, strides, padding):
    rng = np.random.default_rng(0)
    shape = (2, 9, 7, 3) if fmt == "channels_last" else (2, 3, 9, 7)
    x = np.maximum(rng.standard_normal(shape), 0).astype(dtype)   # ReLU zeros: many ties
    x.flat[5] = np.nan                                             # a NaN window
    y = ops.max_pool2d(gk.Tensor(x), pool, strides, padding, fmt)
    g = rng.standard_normal(y.shape).astype(dtype)
    switch(False)
    ref = _grad(x, g, pool, strides, padding, fmt)
    switch(True)
    got = _grad(x, g, pool, strides, padding, fmt)
    # overlapping windows add several gradients into one element, in another order
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(got, ref, rtol=4 * eps, atol=8 * eps * np.abs(g).max())


def test_fast_path_is_taken_for_float_arrays(switch):
    from gradkit.ops.pool import _fast_backward

    a = np.zeros((1, 2, 2, 1), np.float32)
    switch(True)
    assert _fast_backward(a, a, a) is not None
    assert _fast_backward(a.astype(np.int32), a.astype(np.int32), a) is None
    switch(False)
    assert _fast_backward(a, a, a) is None
