"""gradkit.utils.validation: one exception type per kind of mistake, messages that name it."""

import numpy as np
import pytest

from gradkit.utils.validation import (
    AxisError,
    check_choice,
    check_int,
    check_number,
    normalize_axes,
    normalize_axis,
)


@pytest.mark.parametrize("value", [3, np.int64(3), np.int8(3)])
def test_check_int_accepts_integers(value):
    assert check_int("f", "n", value, minimum=1) == 3
    assert type(check_int("f", "n", value)) is int


@pytest.mark.parametrize("value", [True, 2.0, "2", None, [2]])
def test_check_int_wrong_type_is_type_error(value):
    with pytest.raises(TypeError, match=r"f: n must be an integer"):
        check_int("f", "n", value)


def test_check_int_out_of_range_is_value_error():
    with pytest.raises(ValueError, match=r"Dense 'd': units must be an integer >= 1, received 0"):
        check_int("Dense 'd'", "units", 0, minimum=1)
    with pytest.raises(ValueError, match="<= 4"):
        check_int("f", "n", 5, maximum=4)


def test_check_number():
    assert check_number("f", "x", np.float32(0.5), 0, 1) == 0.5
    assert check_number("f", "x", np.array(2.0)) == 2.0
    with pytest.raises(TypeError, match="must be a finite number"):
        check_number("f", "x", "0.1")
    with pytest.raises(TypeError):
        check_number("f", "x", False)
    with pytest.raises(ValueError, match="received nan"):
        check_number("f", "x", float("nan"))
    with pytest.raises(ValueError, match="inf"):
        check_number("f", "x", float("inf"))
    assert check_number("f", "x", float("inf"), finite=False) == float("inf")
    with pytest.raises(ValueError, match="> 0"):
        check_number("f", "lr", 0.0, 0, min_open=True)
    with pytest.raises(ValueError, match="< 1"):
        check_number("Dropout", "rate", 1.0, 0, 1, max_open=True)


def test_check_choice():
    assert check_choice("f", "mode", "min", ("min", "max")) == "min"
    with pytest.raises(ValueError, match="one of 'min', 'max'; received 'avg'"):
        check_choice("f", "mode", "avg", ("min", "max"))


def test_axes():
    assert normalize_axis("sum", -1, 3) == 2
    assert normalize_axes("sum", (-1, 0), 3) == (0, 2)
    assert normalize_axes("sum", None, 3) is None
    for bad in (3, -4):
        with pytest.raises(AxisError, match=r"sum: axis .* out of range .* 3 axes; use -3..2"):
            normalize_axis("sum", bad, 3)
    err = pytest.raises(AxisError, normalize_axis, "sum", 0, 0).value
    assert isinstance(err, ValueError) and isinstance(err, IndexError)
    with pytest.raises(TypeError):
        normalize_axis("sum", 1.0, 3)
    with pytest.raises(ValueError, match="repeated axis"):
        normalize_axes("sum", (1, -2), 3)
