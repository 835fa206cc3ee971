"""Argument checks shared by every public function: one place, one exception type per mistake.

The conventions (every caller follows them, so users can rely on them):

* a value of the wrong *type* (a string where a number goes, ``True`` where an
  integer goes) raises ``TypeError``;
* a value of the right type but out of range (``units=0``, ``rate=1.5``, a NaN
  learning rate) raises ``ValueError``;
* an axis out of range raises :class:`AxisError`, which is both a ``ValueError``
  and an ``IndexError`` (as NumPy's own ``AxisError`` is), so code written for
  either keeps working.

Every message starts with ``owner`` -- the function, op or layer that was
called (``"Dense 'dense_1'"``, ``"batch_iterator"``) -- then names the argument,
says what was expected and shows what was received::

    Dense 'dense_1': units must be an integer >= 1, received 0
"""

from __future__ import annotations

import math
import numbers
import operator

__all__ = ["AxisError", "check_choice", "check_int", "check_number", "normalize_axes",
           "normalize_axis"]


class AxisError(ValueError, IndexError):
    """An axis argument out of range for the array it applies to."""


def _message(owner, name, kind, minimum, maximum, min_open, max_open, received):
    """``owner: name must be KIND >= MIN and <= MAX, received X`` (built only on failure)."""
    parts = [kind]
    if minimum is not None:
        parts.append(f"{'>' if min_open else '>='} {minimum}")
    if maximum is not None:
        parts.append(f"{'and ' if minimum is not None else ''}{'<' if max_open else '<='} "
                     f"{maximum}")
    return f"{owner}: {name} must be {' '.join(parts)}, received {received}"


def _in_range(value, minimum, maximum, min_open, max_open):
    if minimum is not None and (value <= minimum if min_open else value < minimum):
        return False
    if maximum is not None and (value >= maximum if max_open else value > maximum):
        return False
    return True


def check_int(owner: str, name: str, value, minimum=None, maximum=None) -> int:
    """``value`` as a Python int, or an error naming ``owner`` and ``name``.

    Accepts Python and NumPy integers (not ``bool``, not floats, even ``2.0``).

    Raises:
        TypeError: ``value`` is not an integer.
        ValueError: it is below ``minimum`` or above ``maximum`` (both inclusive).
    """
    try:
        if isinstance(value, bool):
            raise TypeError
        result = operator.index(value)
    except TypeError:
        raise TypeError(_message(owner, name, "an integer", minimum, maximum, False, False,
                                 repr(value))) from None
    if not _in_range(result, minimum, maximum, False, False):
        raise ValueError(_message(owner, name, "an integer", minimum, maximum, False, False,
                                  result))
    return result


def check_number(owner: str, name: str, value, minimum=None, maximum=None, *,
                 min_open=False, max_open=False, finite=True) -> float:
    """``value`` as a Python float, or an error naming ``owner`` and ``name``.

    Accepts real numbers (Python, NumPy scalars, 0-d arrays) but not ``bool``.

    Args:
        minimum, maximum: bounds, inclusive unless ``min_open``/``max_open``.
        finite: refuse NaN and infinities (the default).

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: it is NaN/infinite (with ``finite``) or out of bounds.
    """
    kind = "a finite number" if finite else "a number"
    if isinstance(value, bool) or not (isinstance(value, numbers.Real) or (
            getattr(value, "shape", None) == () and getattr(value, "dtype", None) is not None
            and value.dtype.kind in "iuf")):
        raise TypeError(_message(owner, name, kind, minimum, maximum, min_open, max_open,
                                 repr(value)))
    result = float(value)
    if (finite and not math.isfinite(result)) or math.isnan(result) or not _in_range(
            result, minimum, maximum, min_open, max_open):
        raise ValueError(_message(owner, name, kind, minimum, maximum, min_open, max_open,
                                  result))
    return result


def check_choice(owner: str, name: str, value, choices):
    """``value`` if it is one of ``choices``, else a ``ValueError`` listing them."""
    if value not in choices:
        known = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{owner}: {name} must be one of {known}; received {value!r}")
    return value


def normalize_axis(owner: str, axis, ndim: int) -> int:
    """``axis`` in ``[0, ndim)``; negative axes count from the end, none wraps around.

    Raises:
        TypeError: ``axis`` is not an integer.
        AxisError: it is outside ``[-ndim, ndim)``.
    """
    axis = check_int(owner, "axis", axis)
    if not -ndim <= axis < ndim:
        hint = f"use -{ndim}..{ndim - 1}" if ndim else "a 0-d input has no axes"
        raise AxisError(f"{owner}: axis {axis} is out of range for an input with {ndim} "
                        f"axes; {hint}")
    return axis % ndim


def normalize_axes(owner: str, axis, ndim: int):
    """``None`` (all axes) or a sorted tuple of distinct axes in ``[0, ndim)``.

    ``axis`` may be ``None``, an int or a sequence of ints.

    Raises:
        TypeError: an entry is not an integer.
        AxisError: an entry is out of range.
        ValueError: the same axis is named twice.
    """
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)):
        axes = tuple(normalize_axis(owner, a, ndim) for a in axis)
    else:
        axes = (normalize_axis(owner, axis, ndim),)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{owner}: repeated axis in {axis!r}")
    return tuple(sorted(axes))
