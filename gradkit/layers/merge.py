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
from gradkit.backend import get_array_module
from gradkit.devices import device_of, place
from gradkit.layers.base import Layer, shape_str
from gradkit.layers.registry import register_builtin
from gradkit.utils.validation import check_int, normalize_axis

__all__ = ["Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract",
           "add", "average", "concatenate", "dot", "maximum", "minimum", "multiply",
           "subtract"]


def _shapes_str(shapes):
    return ", ".join(shape_str(s) for s in shapes)


class _Merge(Layer):
    """Base of the elementwise merges: checks the list, then folds ``_merge``."""

    min_inputs = 2
    max_inputs = None
    supports_masking = True

    def compute_mask(self, inputs, mask=None):
        """Where every input's mask is True (inputs without a mask count as all True)."""
        if mask is None:
            return None
        masks = [m for m in mask if m is not None] if isinstance(mask, list) else [mask]
        out = masks[0]
        for m in masks[1:]:
            out = out & m
        return out

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

    def compute_mask(self, inputs, mask=None):
        """The inputs' masks widened to their shapes, joined along ``axis``, then any() over
        the last axis (Keras's rule); inputs without a mask count as all True."""
        if mask is None:
            return None
        data = getattr(inputs[0], "_data", inputs[0])
        dev, xp = device_of(data), get_array_module(data)
        parts = []
        for x, m in zip(inputs, mask):
            shape = tuple(x.shape)
            if m is None:
                parts.append(xp.ones(shape, dtype=bool))
            else:
                m = place(getattr(m, "_data", m), dev)
                parts.append(xp.broadcast_to(m[..., None] if m.ndim < len(shape) else m, shape))
        return xp.concatenate(parts, axis=self.axis).any(axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@register_builtin
class Dot(_Merge):
    """Dot products between the samples of two inputs, along ``axes``.

    Args:
        axes: the axis of each input to contract (an int for both, or a pair);
            the batch axis 0 cannot be one.
        normalize: L2-normalize both inputs along ``axes`` first (the result is the
            cosine similarity).

    Input: ``[a, b]``. Output: ``a``'s axes without ``axes[0]`` then ``b``'s
    without the batch axis and ``axes[1]``; ``(batch, 1)`` for two vectors.

    Example::

        Dot(axes=1)([a, b])            # (32, 8) and (32, 8) -> (32, 1)
        Dot(axes=(2, 2))([q, k])       # (32, 5, 8) and (32, 7, 8) -> (32, 5, 7)
    """

    max_inputs = 2
    supports_masking = False

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        pair = tuple(axes) if isinstance(axes, (tuple, list)) else (axes, axes)
        if len(pair) != 2:
            raise ValueError(f"Dot: axes must be an int or a pair of ints, received {axes!r}")
        self.axes = tuple(check_int("Dot", "axes", a) for a in pair)
        self.normalize = bool(normalize)

    def _resolved(self, shapes):
        name = f"Dot '{self.name}'"
        out = []
        for a, s in zip(self.axes, shapes):
            ax = normalize_axis(f"{name} (input shape {shape_str(s)})", a, len(s))
            if ax == 0:
                raise ValueError(f"{name}: axes {self.axes} include the batch axis 0")
            out.append(ax)
        da, db = shapes[0][out[0]], shapes[1][out[1]]
        if da is not None and db is not None and da != db:
            raise ValueError(f"{name}: axis {out[0]} of the first input ({da}) and axis "
                             f"{out[1]} of the second ({db}) must have the same size; "
                             f"received shapes {_shapes_str(shapes)}")
        return out

    def _output_shape(self, shapes):
        ia, ib = self._resolved(shapes)
        a, b = shapes
        out = tuple(d for i, d in enumerate(a) if i != ia) + \
            tuple(d for i, d in enumerate(b) if i not in (0, ib))
        return out if len(out) > 1 else out + (1,)

    def _merge(self, xs):
        a, b = xs
        ia, ib = self._resolved([tuple(a.shape), tuple(b.shape)])
        if self.normalize:
            a, b = _l2_normalize(a, ia), _l2_normalize(b, ib)
        letters = "abcdefghijklmnopqrstuvwxyz"
        sa = "z" + letters[:a.ndim - 1]
        sb = "z" + letters[a.ndim - 1:a.ndim - 1 + b.ndim - 1]
        sb = sb[:ib] + sa[ia] + sb[ib + 1:]  # the contracted axis shares a letter
        so = "".join(c for i, c in enumerate(sa) if i != ia) + \
            "".join(c for i, c in enumerate(sb) if i not in (0, ib))
        y = ops.einsum(f"{sa},{sb}->{so}", a, b)
        return ops.expand_dims(y, 1) if y.ndim == 1 else y

    def get_config(self):
        return {**super().get_config(), "axes": list(self.axes), "normalize": self.normalize}


def _l2_normalize(x, axis):
    return x / ops.sqrt(ops.maximum(ops.sum(x * x, axis=axis, keepdims=True), 1e-12))


# ---------------------------------------------------------------- functional helpers
def add(inputs, **kwargs):
    """``Add(**kwargs)(inputs)``: the elementwise sum of a list of inputs."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """``Subtract(**kwargs)(inputs)``: ``inputs[0] - inputs[1]``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """``Multiply(**kwargs)(inputs)``: the elementwise product."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """``Average(**kwargs)(inputs)``: the elementwise mean."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """``Maximum(**kwargs)(inputs)``: the elementwise maximum."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """``Minimum(**kwargs)(inputs)``: the elementwise minimum."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis=axis, **kwargs)(inputs)``: join along ``axis``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """``Dot(axes, normalize, **kwargs)(inputs)``: dot products of two inputs."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
