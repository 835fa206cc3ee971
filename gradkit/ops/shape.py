"""Shape ops: views and rearrangements whose gradient undoes them."""

from __future__ import annotations

from gradkit.autograd.function import Function, OpError, unbroadcast
from gradkit.backend import get_array_module as _xp
from gradkit.utils.validation import normalize_axis


class Reshape(Function):
    def forward(self, x, shape):
        try:
            return x.reshape(shape)
        except ValueError:
            raise OpError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                          f"({x.size} elements) into shape {tuple(shape)}") from None

    def backward(self, M, g, out, x, shape):
        return g.reshape(x.shape), None


class Transpose(Function):
    def forward(self, x, axes):
        if axes is not None:
            owner = f"transpose (input shape {x.shape})"
            axes = tuple(normalize_axis(owner, a, x.ndim) for a in axes)
            if sorted(axes) != list(range(x.ndim)):
                raise OpError(f"transpose: axes {axes} are not a permutation of the "
                              f"{x.ndim} axes of a tensor of shape {x.shape}")
        self.axes = axes
        return x.transpose(axes)

    def backward(self, M, g, out, x, axes):
        if self.axes is None:
            return g.transpose(), None
        inv = [0] * len(self.axes)  # the inverse permutation
        for i, a in enumerate(self.axes):
            inv[a] = i
        return g.transpose(tuple(inv)), None


class SwapAxes(Function):
    def forward(self, x, a, b):
        owner = f"swapaxes (input shape {x.shape})"
        return _xp(x).swapaxes(x, normalize_axis(owner, a, x.ndim),
                               normalize_axis(owner, b, x.ndim))

    def backward(self, M, g, out, x, a, b):
        return M.swapaxes(g, a, b), None, None


class BroadcastTo(Function):
    def forward(self, x, shape):
        try:
            return _xp(x).broadcast_to(x, shape)
        except ValueError:
            raise OpError(f"broadcast_to: cannot broadcast shape {x.shape} to {tuple(shape)}; "
                          "axes must match from the right or be 1") from None

    def backward(self, M, g, out, x, shape):
        return unbroadcast(g, x.shape), None  # sum over the copies


class Concatenate(Function):
    def forward(self, *xs, axis=0):
        if not xs:
            raise OpError("concatenate: needs at least one tensor, got an empty sequence")
        ref = xs[0]
        ax = normalize_axis(f"concatenate (input 0 shape {ref.shape})", axis, ref.ndim)
        for i, x in enumerate(xs):
            if x.ndim != ref.ndim or any(
                    n != m for d, (n, m) in enumerate(zip(x.shape, ref.shape)) if d != ax):
                raise OpError(
                    f"concatenate: input {i} has shape {x.shape}, input 0 has {ref.shape}; "
                    f"all axes but axis {axis} must match")
        self.axis = ax
        return _xp(*xs).concatenate(xs, axis=ax)

    def backward(self, M, g, out, *xs):
        grads, start = [], 0
        for x, need in zip(xs, self.needs):
            n = x.shape[self.axis]
            if need:
                idx = (slice(None),) * self.axis + (slice(start, start + n),)
                grads.append(g[idx])
            else:
                grads.append(None)
            start += n
        return tuple(grads)


class Stack(Function):
    def forward(self, *xs, axis=0):
        if not xs:
            raise OpError("stack: needs at least one tensor, got an empty sequence")
        for i, x in enumerate(xs):
            if x.shape != xs[0].shape:
                raise OpError(f"stack: input {i} has shape {x.shape}, input 0 has "
                              f"{xs[0].shape}; stack needs equal shapes")
        self.axis = normalize_axis(f"stack (input shape {xs[0].shape})", axis, xs[0].ndim + 1)
        return _xp(*xs).stack(xs, axis=self.axis)

    def backward(self, M, g, out, *xs):
        idx = (slice(None),) * self.axis
        return tuple(g[idx + (i,)] if need else None for i, need in enumerate(self.needs))


class Pad(Function):
    def forward(self, x, pad_width, value):
        self.pad = [(int(a), int(b)) for a, b in pad_width]
        return _xp(x).pad(x, self.pad, constant_values=value)

    def backward(self, M, g, out, x, pad_width, value):
        idx = tuple(slice(a, a + n) for (a, _), n in zip(self.pad, x.shape))
        return g[idx], None, None  # the padding had no inputs behind it


def _is_basic(idx):
    """True for indices made of ints, slices, None and Ellipsis (no repeats possible)."""
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(isinstance(i, (int, slice)) or i is None or i is Ellipsis for i in items)


class GetItem(Function):
    def forward(self, x, idx):
        self.idx = idx
        return x[idx]

    def backward(self, M, g, out, x, idx):
        if _is_basic(self.idx) and not M.graph:
            gx = M.zeros_like(x)  # each element picked at most once: plain assignment
            gx[self.idx] = g
            return gx, None
        return M.scatter_add(x.shape, self.idx, g), None  # repeats accumulate


class ScatterAdd(Function):
    """Zeros of ``shape`` with ``values`` added at ``idx``: the adjoint of indexing."""

    def forward(self, shape, idx, values):
        self.idx = idx
        out = _xp(values).zeros(shape, dtype=values.dtype)
        _xp(values).add.at(out, idx, values)
        return out

    def backward(self, M, g, out, shape, idx, values):
        return None, None, g[self.idx]
