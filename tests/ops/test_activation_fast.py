"""The relu gradient's numba pass (gradkit[fast]) agrees exactly with the NumPy path, and
``accel.loops_for`` sends only NumPy float32/float64 arrays of one dtype to the loops."""

import numpy as np
import pytest

import gradkit as gk
from gradkit import accel, layers, ops

pytest.importorskip("numba")




def _grads(x, g, build):
    t = gk.Tensor(x, requires_grad=True)
    y = build(t)
    y.backward(g)
    return y.numpy(), t.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_relu_gradient_matches_numpy(accel_switch, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 9, 8, 3)).astype(dtype)
    x[0, 0, 0] = np.nan                                  # NaN outputs: no gradient either way
    conv = layers.Conv2D(5, 3, activation="relu", dtype=dtype)
    dense = layers.Dense(6, activation="relu", dtype=dtype)
    for build in (conv, lambda t: dense(ops.reshape(t, (4, -1)))):
        y = build(gk.Tensor(x))
        g = rng.standard_normal(y.shape).astype(dtype)
        accel_switch(False)
        ref = _grads(x, g, build)
        accel_switch(True)
        got = _grads(x, g, build)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])


def test_relu_masked_takes_the_loop_only_for_contiguous_numpy_floats(accel_switch):
    from gradkit.ops.nn import _fast_loops

    a = np.ones((3, 4), np.float32)
    accel_switch(True)
    assert _fast_loops(a, a) is not None
    assert _fast_loops(a.T, a.T) is None                 # not contiguous
    assert _fast_loops(a, a.astype(np.float64)) is None  # two dtypes
    assert _fast_loops(a.astype(np.float16), a.astype(np.float16)) is None
    accel_switch(False)
    assert _fast_loops(a, a) is None


def test_loops_for_checks_every_array(accel_switch):
    a = np.zeros(3)
    accel_switch(True)
    assert accel.loops_for("gradkit.ops._activation_numba", a, a) is not None
    assert accel.loops_for("gradkit.ops._activation_numba", a, a.astype(np.int64)) is None
    assert accel.loops_for("gradkit.ops._activation_numba", a, [0.0, 0.0, 0.0]) is None
