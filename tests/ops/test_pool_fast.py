"""max_pool2d: the numba one-pass loops (gradkit[fast]), forward and gradient, agree with the
NumPy path."""

import numpy as np
import pytest

import gradkit as gk
from gradkit import ops

pytest.importorskip("numba")




def _run(x, g, pool, strides, padding, fmt):
    t = gk.Tensor(x, requires_grad=True)
    y = ops.max_pool2d(t, pool, strides, padding, fmt)
    (y * gk.Tensor(g)).sum().backward()
    return y.numpy(), t.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize("pool,strides,padding", [
    (2, None, "valid"), (3, None, "valid"), (2, 1, "valid"), (3, 2, "same"),
    ((2, 3), (1, 2), "same"), (2, 3, "valid"), (1, None, "valid"), (3, 2, 1),
])
def test_fast_max_pool_matches_numpy(accel_switch, dtype, fmt, pool, strides, padding):
    rng = np.random.default_rng(0)
    shape = (2, 9, 7, 3) if fmt == "channels_last" else (2, 3, 9, 7)
    x = np.maximum(rng.standard_normal(shape), 0).astype(dtype)   # ReLU zeros: many ties
    x.flat[5] = np.nan                                             # NaN windows: inside one,
    x.flat[0] = np.nan                                             # first in another
    x.flat[40] = -np.inf
    y = ops.max_pool2d(gk.Tensor(x), pool, strides, padding, fmt)
    g = rng.standard_normal(y.shape).astype(dtype)
    accel_switch(False)
    ref_y, ref = _run(x, g, pool, strides, padding, fmt)
    accel_switch(True)
    got_y, got = _run(x, g, pool, strides, padding, fmt)
    np.testing.assert_array_equal(got_y, ref_y)                    # NaNs in the same places
    # overlapping windows add several gradients into one element, in another order
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(got, ref, rtol=4 * eps, atol=8 * eps * np.abs(g).max())


def test_fast_path_is_taken_for_float_arrays(accel_switch):
    from gradkit.ops.pool import _fast_loops

    a = np.zeros((1, 2, 2, 1), np.float32)
    accel_switch(True)
    assert _fast_loops(a) is not None
    assert _fast_loops(a.astype(np.int32)) is None
    t = gk.Tensor(a, requires_grad=True)
    assert ops.max_pool2d(t, 2)._ctx.arg is not None  # the forward recorded its maxima
    accel_switch(False)
    assert _fast_loops(a) is None
    assert ops.max_pool2d(t, 2)._ctx.arg is None
