"""Matrix products: matmul (1-D, 2-D, batched), dot and einsum."""

from __future__ import annotations

from gradkit.autograd.function import Function, OpError, unbroadcast
from gradkit.backend import get_array_module as _xp


class MatMul(Function):
    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise OpError(f"matmul: inputs must have at least 1 axis, got shapes {a.shape} "
                          f"and {b.shape}; use multiply for scalars")
        k = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != k:
            raise OpError(
                f"matmul: shapes {a.shape} and {b.shape} are not aligned: the last axis of "
                f"the first ({a.shape[-1]}) must equal the "
                f"{'only' if b.ndim == 1 else 'second-to-last'} axis of the second ({k})")
        return a @ b

    def backward(self, M, g, out, a, b):
        na, nb = self.needs
        if a.ndim == 2 and b.ndim == 2:  # the common case: g @ b^T, a^T @ g
            return (g @ b.T if na else None), (a.T @ g if nb else None)
        # general: lift 1-D operands to matrices, then sum out broadcast batch axes
        a2 = a.reshape((1, a.shape[0])) if a.ndim == 1 else a
        b2 = b.reshape((b.shape[0], 1)) if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = g2.reshape(g2.shape[:-1] + (1,) + g2.shape[-1:]) if b.ndim > 1 else g2
        if b.ndim == 1:
            g2 = g2.reshape(g2.shape + (1,))
        if a.ndim == 1 and b.ndim == 1:
            g2 = g.reshape((1, 1))
        ga = gb = None
        if na:
            ga = unbroadcast(g2 @ M.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if nb:
            gb = unbroadcast(M.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
        return ga, gb


def _parse_einsum(spec, operands):
    spec = spec.replace(" ", "")
    if "." in spec:
        raise OpError("einsum: ellipsis ('...') is not supported; name every axis")
    if "->" in spec:
        ins, out = spec.split("->")
    else:  # implicit output: letters seen once, in alphabetical order
        ins = spec
        letters = ins.replace(",", "")
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    subs = ins.split(",")
    if len(subs) != len(operands):
        raise OpError(f"einsum: '{spec}' names {len(subs)} operands, got {len(operands)}")
    for s, x in zip(subs, operands):
        if len(s) != x.ndim:
            raise OpError(f"einsum: subscripts '{s}' have {len(s)} axes but the operand has "
                          f"shape {x.shape}")
        if len(set(s)) != len(s):
            raise OpError(f"einsum: repeated subscript in '{s}' (traces) is not supported")
    return subs, out


class Einsum(Function):
    def forward(self, spec, *xs):
        self.subs, self.out_subs = _parse_einsum(spec, xs)
        return _xp(*xs).einsum(f"{','.join(self.subs)}->{self.out_subs}", *xs)

    def backward(self, M, g, out, spec, *xs):
        grads = [None]
        for i, (s, x) in enumerate(zip(self.subs, xs)):
            if not self.needs[i + 1]:
                grads.append(None)
                continue
            # d out / d x_i: contract g with every other operand onto x_i's axes;
            # axes of x_i found nowhere else were summed: broadcast them back.
            others = [(self.subs[j], xs[j]) for j in range(len(xs)) if j != i]
            seen = set(self.out_subs).union(*[set(o) for o, _ in others])
            keep = "".join(c for c in s if c in seen)
            terms = [self.out_subs] + [o for o, _ in others]
            gi = M.einsum(f"{','.join(terms)}->{keep}", g, *[v for _, v in others])
            if keep != s:
                shape = tuple(x.shape[k] if c in keep else 1 for k, c in enumerate(s))
                gi = M.broadcast_to(gi.reshape(shape), x.shape)
            grads.append(gi)
        return tuple(grads)
