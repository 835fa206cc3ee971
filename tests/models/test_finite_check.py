"""fit/evaluate/predict check their inputs for NaN/inf with sums, not a full-size mask:
a sum in the array's own dtype first, then exact passes only when that sum is not finite.
Large finite values whose sum overflows must pass; one bad value anywhere must not."""

import warnings

import numpy as np
import pytest

from gradkit.models import data as D


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_finite_values_whose_sum_overflows_pass(dtype):
    big = np.full((640, 8), np.finfo(dtype).max / 2, dtype=dtype)  # the sum overflows
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.add.reduce(big, axis=None))      # (the fast pass fails)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the overflow inside the check is not the user's
        assert D._all_finite(big)
        out = D.prepare_array(big, "x", "Model.fit", np.dtype(dtype))
    assert out.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_one_bad_value_is_found_whatever_the_others(dtype, bad):
    for fill in (1.0, np.finfo(dtype).max / 2):
        for rows in (5000, 1000):                # summed, and small enough for the mask
            a = np.full((rows, 3), fill, dtype=dtype)
            a[rows - 679, 2] = bad
            assert not D._all_finite(a)
            with pytest.raises(ValueError, match=rf"x contains .* at index \({rows - 679}, 2\)"):
                D.prepare_array(a, "x", "Model.fit", np.dtype(dtype))


def test_opposite_infinities_do_not_cancel():
    a = np.ones((10, 2), np.float32)
    a[1, 0], a[7, 1] = np.inf, -np.inf
    assert not D._all_finite(a)
