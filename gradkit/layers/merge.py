"""Merge layers: combine a list of inputs (Add, Subtract, Multiply, Average,
Maximum, Minimum, Concatenate).

Each is called on a list: ``Add()([a, b, c])``. The elementwise ones need
equal shapes (axes of size 1 broadcast, the batch axis must match);
Concatenate needs equal shapes except along ``axis``. A mismatch raises a
ValueError naming the layer and every input shape.
"""

from __future__ import annotations

from functools import reduce

from gradkit import ops
from gradkit.layers.base import Layer, shape_str
from gradkit.layers.registry import register_builtin
from gradkit.utils.validation import check_int, normalize_axis

__all__ = ["Add", "Average", "Concatenate", "Maximum", "Minimum", "Multiply", "Subtract"]


def _shapes_str(shapes):
    return ", ".join(shape_str(s) for s in shapes)


class _Merge(Layer):
    """Base of the elementwise merges: checks the list, then folds ``_merge``."""

    min_inputs = 2
    max_inputs = None

    def _check_list(self, shapes, received):
        name = f"{type(self).__name__} '{self.name}'"
        if not isinstance(shapes, list):
            raise ValueError(f"{name} expects a list of inputs, received a single input of "
                             f"shape {shape_str(received)}; call it as layer([a, b])")
        n = len(shapes)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            want = (f"exactly {self.min_inputs}" if self.max_inputs == self.min_inputs
                    else f"at least {self.min_inputs}")
            raise ValueError(f"{name} expects {want} inputs, received {n}"
                             + (f" with shapes {_shapes_str(shapes)}" if n else ""))

    def _output_shape(self, shapes):
        """Broadcast the shapes (None = unknown); raise naming all of them."""
        name = f"{type(self).__name__} '{self.name}'"
        ranks = {len(s) for s in shapes}
        if len(ranks) != 1:
            raise ValueError(f"{name} received inputs with different numbers of axes: shapes "
                             f"{_shapes_str(shapes)}; all inputs need the same shape")
        out = []
        for axis, dims in enumerate(zip(*shapes)):
            known = {d for d in dims if d is not None}
            sizes = known - {1} if axis > 0 else known  # size 1 broadcasts, not the batch
            if len(sizes) > 1:
                raise ValueError(f"{name} received inputs of incompatible shapes "
                                 f"{_shapes_str(shapes)} (axis {axis} differs); all inputs "
                                 "need the same shape")
            if sizes:
                out.append(sizes.pop())
            else:
                out.append(None if None in dims else 1)
        return tuple(out)

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape, input_shape)
        return self._output_shape(input_shape)

    def call(self, inputs, training=None):
        if isinstance(inputs, (list, tuple)):
            shapes = [tuple(x.shape) for x in inputs]
            self._check_list(shapes, None)
            self._output_shape(shapes)
            return self._merge(list(inputs))
        self._check_list(None, inputs.shape)  # raises: a single input
        return None

    def _merge(self, xs):  # pragma: no cover - abstract
        raise NotImplementedError


@register_builtin
class Add(_Merge):
    """Elementwise sum of the inputs.

    Input: a list of tensors of the same shape. Output: that shape.

    Example::

        y = Add()([x, shortcut])      # a residual connection
    """

    def _merge(self, xs):
        return reduce(ops.add, xs)


@register_builtin
class Subtract(_Merge):
    """``inputs[0] - inputs[1]`` (exactly two inputs of the same shape).

    Example::

        d = Subtract()([a, b])
    """

    max_inputs = 2

    def _merge(self, xs):
        return ops.subtract(xs[0], xs[1])


@register_builtin
class Multiply(_Merge):
    """Elementwise product of the inputs (same shape).

    Example::

        gated = Multiply()([x, gate])
    """

    def _merge(self, xs):
        return reduce(ops.multiply, xs)


@register_builtin
class Average(_Merge):
    """Elementwise mean of the inputs (same shape).

    Example::

        y = Average()([a, b, c])
    """

    def _merge(self, xs):
        return ops.multiply(reduce(ops.add, xs), 1.0 / len(xs))


@register_builtin
class Maximum(_Merge):
    """Elementwise maximum of the inputs (same shape).

    Example::

        y = Maximum()([a, b])
    """

    def _merge(self, xs):
        return reduce(ops.maximum, xs)


@register_builtin
class Minimum(_Merge):
    """Elementwise minimum of the inputs (same shape).

    Example::

        y = Minimum()([a, b])
    """

    def _merge(self, xs):
        return reduce(ops.minimum, xs)


@register_builtin
class Concatenate(_Merge):
    """Join the inputs along ``axis``.

    Args:
        axis: the joining axis (default the last). All other axes must match.

    Input: a list of tensors. Output: their shape with the ``axis`` sizes summed.

    Example::

        Concatenate()([a, b])        # (32, 5) and (32, 3) -> (32, 8)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = check_int("Concatenate", "axis", axis)

    def _output_shape(self, shapes):
        name = f"{type(self).__name__} '{self.name}'"
        ranks = {len(s) for s in shapes}
        nd = len(shapes[0])
        if len(ranks) != 1:
            raise ValueError(f"{name} received inputs with different numbers of axes: shapes "
                             f"{_shapes_str(shapes)}")
        ax = normalize_axis(f"{name} (inputs of shapes {_shapes_str(shapes)})", self.axis, nd)
        out = []
        for axis, dims in enumerate(zip(*shapes)):
            if axis == ax:
                out.append(None if None in dims else sum(dims))
                continue
            known = {d for d in dims if d is not None}
            if len(known) > 1:
                raise ValueError(f"{name} received inputs of shapes {_shapes_str(shapes)}: "
                                 f"all axes but axis {self.axis} must match (axis {axis} "
                                 "differs)")
            out.append(known.pop() if known else None)
        return tuple(out)

    def _merge(self, xs):
        return ops.concatenate(xs, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
