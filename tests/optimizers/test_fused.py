"""gradkit.optimizers.fused: the one-pass numba loops agree with the NumPy kernels.

Every rule and option is run both ways from the same start on the same gradients;
the parameters and every state array must agree to float32 rounding (in practice
the loops follow the NumPy kernels operation by operation and agree bitwise).
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradkit as gk
from gradkit import _parallel as P
from gradkit import optimizers as O
from gradkit.optimizers import fused

# the fused loops are numba code over NumPy arrays: on a GPU (the stand-in) the rules run
# as their composed kernels, which the rest of the suite checks there
pytestmark = pytest.mark.host_only("numba's fused loops run on NumPy arrays only")

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parents[2]

CASES = {
    "sgd": lambda ps: O.SGD(ps, lr=0.1),
    "sgd-momentum": lambda ps: O.SGD(ps, lr=0.1, momentum=0.9),
    "sgd-nesterov": lambda ps: O.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    "rmsprop": lambda ps: O.RMSprop(ps, lr=1e-2),
    "rmsprop-momentum": lambda ps: O.RMSprop(ps, lr=1e-2, momentum=0.5),
    "rmsprop-centered": lambda ps: O.RMSprop(ps, lr=1e-2, centered=True),
    "rmsprop-centered-momentum": lambda ps: O.RMSprop(ps, lr=1e-2, centered=True,
                                                      momentum=0.9, eps=1e-3),
    "adam": lambda ps: O.Adam(ps, lr=1e-2),
    "adam-amsgrad": lambda ps: O.Adam(ps, lr=1e-2, amsgrad=True),
    "adam-l2": lambda ps: O.Adam(ps, lr=1e-2, weight_decay=0.1, decoupled_weight_decay=False),
    "adamw": lambda ps: O.AdamW(ps, lr=1e-2, weight_decay=0.05),
    "nadam": lambda ps: O.Nadam(ps, lr=1e-2),
    "adagrad": lambda ps: O.Adagrad(ps, lr=1e-1, initial_accumulator_value=0.5),
    "adagrad-clipnorm": lambda ps: O.Adagrad(ps, lr=1e-1, clipnorm=1.0),
    "sgd-clipvalue": lambda ps: O.SGD(ps, lr=0.1, momentum=0.5, clipvalue=0.3),
    "rmsprop-global-clipnorm": lambda ps: O.RMSprop(ps, global_clipnorm=2.0),
}
SHAPES = [(7, 5), (13,), (), (3, 4, 2), (70, 64)]   # the last is over SGD's small size




def _train(make, flag, dtype, shapes, steps=6, seed=0):
    fused.set_enabled(flag)
    rng = np.random.default_rng(seed)
    ps = [gk.Variable(rng.standard_normal(s).astype(dtype)) for s in shapes]
    opt = make(ps)
    assert getattr(fused.kernel_for(opt), "fused", False) is flag
    for _ in range(steps):
        for p in ps:
            p.grad = gk.Tensor(rng.standard_normal(p.shape).astype(dtype))
        opt.step()
    return [p.numpy() for p in ps], opt.variables()[1:]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fused_agrees_with_numpy(case, dtype, accel_switch):
    ref_p, ref_s = _train(CASES[case], False, dtype, SHAPES)
    got_p, got_s = _train(CASES[case], True, dtype, SHAPES)
    rtol = 2 * np.finfo(dtype).eps
    for a, b in zip(ref_p + ref_s, got_p + got_s):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=rtol, atol=rtol,
                                   err_msg=f"{case}: fused loop differs from the NumPy kernel")


@pytest.mark.parametrize("case", ["adam-amsgrad", "rmsprop-centered-momentum", "sgd-nesterov"])
def test_fused_threaded_equals_serial(case, accel_switch):
    """A parameter big enough to be split runs chunk by chunk on the pool: same bits."""
    saved = P.get_num_threads()
    shapes = [(2 * fused.FUSED_MIN_CHUNK + 17,), (5,)]
    try:
        P.set_num_threads(1)
        serial = _train(CASES[case], True, np.float32, shapes, steps=3)
        P.set_num_threads(3)
        threaded = _train(CASES[case], True, np.float32, shapes, steps=3)
    finally:
        P.set_num_threads(saved)
    for a, b in zip(serial[0] + serial[1], threaded[0] + threaded[1]):
        np.testing.assert_array_equal(a, b)


def test_unknown_option_falls_back_to_numpy(accel_switch):
    accel_switch(True)
    opt = O.Adam([gk.Variable(np.zeros(3, np.float32))])
    assert fused.kernel_for(opt).fused
    opt.maximize = False                      # neutral at this value
    assert fused.kernel_for(opt).fused
    opt.maximize = True                       # a rule the loop does not know
    assert fused.kernel_for(opt) == opt._kernel
    del opt.maximize
    opt.some_new_option = 1
    assert fused.kernel_for(opt) == opt._kernel


def test_subclass_and_disabled_use_numpy(accel_switch):
    class MyAdam(O.Adam):
        def _kernel(self, c, p, g, slots, scratch):
            super()._kernel(c, p, g, slots, scratch)

    accel_switch(True)
    sub = MyAdam([gk.Variable(np.zeros(3, np.float32))])
    assert fused.kernel_for(sub) == sub._kernel
    accel_switch(False)
    opt = O.Adam([gk.Variable(np.zeros(3, np.float32))])
    assert fused.kernel_for(opt) == opt._kernel


def test_small_sgd_parameters_keep_numpy(accel_switch):
    """SGD's few NumPy passes beat a call into the loop on tiny weights (XOR nets)."""
    accel_switch(True)
    opt = O.SGD([gk.Variable(np.zeros((2, 3), np.float32))], lr=0.1)
    assert fused.kernel_for(opt) == opt._kernel
    big = O.SGD([gk.Variable(np.zeros((2, 3), np.float32)),
                 gk.Variable(np.zeros(1 << 13, np.float32))], lr=0.1)
    assert fused.kernel_for(big).fused


def test_unsupported_arrays_take_the_numpy_kernel(accel_switch):
    """float16 parameters are not fused: the kernel hands them to the NumPy rule."""
    ref_p, _ = _train(CASES["adam"], False, np.float16, [(4, 3)])
    accel_switch(True)
    rng = np.random.default_rng(0)
    p = gk.Variable(rng.standard_normal((4, 3)).astype(np.float16))
    opt = CASES["adam"]([p])
    for _ in range(6):
        p.grad = gk.Tensor(rng.standard_normal(p.shape).astype(np.float16))
        opt.step()
    np.testing.assert_array_equal(p.numpy(), ref_p[0])


def test_set_enabled_checks_its_argument():
    with pytest.raises(TypeError, match="bool"):
        fused.set_enabled(1)


def test_import_compiles_nothing():
    """numba is imported on the first fused update, not by ``import gradkit``."""
    code = "import sys, gradkit; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "False"
