"""Collectives on tensors and arrays: ``all_reduce``, ``broadcast``, ``all_gather``.

They work in place on the arrays they are given, as PyTorch's do, and accept one
tensor/array or a list of them: a list travels as few large messages (arrays of one
dtype packed into buckets of at most ``BUCKET_BYTES``), never one message per array.
In a world of one they return at once. The buffers go through mpi4py's buffer
interface (no pickling).
"""

from __future__ import annotations

import numpy as np

from gradkit.distributed import world as W
from gradkit.tensor import Tensor
from gradkit.utils.validation import check_choice, check_int

BUCKET_BYTES = 32 * 1024 * 1024
_OPS = ("sum", "mean", "max", "min")


def _array(owner, x):
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, np.ndarray):
        return x
    raise TypeError(f"{owner}: expected a gradkit Tensor or a NumPy array (or a list of "
                    f"them), received {type(x).__name__}")


def _items(owner, x):
    many = isinstance(x, (list, tuple))
    items = list(x) if many else [x]
    return many, items, [None if it is None else _array(owner, it) for it in items]


def _buckets(arrays):
    """Group arrays by dtype into runs of at most BUCKET_BYTES (one array may exceed it)."""
    by_dtype = {}
    for a in arrays:
        by_dtype.setdefault(a.dtype, []).append(a)
    for group in by_dtype.values():
        run, size = [], 0
        for a in group:
            if run and size + a.nbytes > BUCKET_BYTES:
                yield run
                run, size = [], 0
            run.append(a)
            size += a.nbytes
        if run:
            yield run


def _packed(run):
    if len(run) == 1 and run[0].flags.c_contiguous:
        return run[0].reshape(-1), False
    return np.concatenate([a.reshape(-1) for a in run]), True


def _unpack(flat, run):
    at = 0
    for a in run:
        a[...] = flat[at:at + a.size].reshape(a.shape)
        at += a.size


def _bump(items):
    for it in items:
        if isinstance(it, Tensor):
            it._version += 1  # changed in place: a graph that saw the old value will know


def all_reduce(x, op="sum"):
    """Combine ``x`` across ranks, in place on every rank, and return it.

    Args:
        x: a Tensor or array, or a list of them (``None`` entries are skipped, as
            gradients of unused weights are).
        op: ``"sum"`` (the default, as in MPI and PyTorch), ``"mean"``, ``"max"`` or
            ``"min"``. ``"mean"`` needs floating-point arrays.

    Returns:
        ``x`` itself, now holding the combined values on every rank.

    Example (TensorFlow-style loop)::

        grads = tape.gradient(loss, model.trainable_weights)
        dist.all_reduce(grads, op="mean")
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
    """
    check_choice("all_reduce", "op", op, _OPS)
    many, items, arrays = _items("all_reduce", x)
    arrays = [a for a in arrays if a is not None]
    if op == "mean":
        for a in arrays:
            if a.dtype.kind != "f":
                raise TypeError(f"all_reduce(op='mean') needs floating-point arrays, received "
                                f"{a.dtype}; use op='sum' for integers")
    w = W.world()
    if w.size == 1:
        return x
    mpi_op = {"sum": w.mpi.SUM, "mean": w.mpi.SUM, "max": w.mpi.MAX, "min": w.mpi.MIN}[op]
    with W.guard(f"all_reduce({op})"):
        for run in _buckets(arrays):
            flat, copied = _packed(run)
            w.comm.Allreduce(w.mpi.IN_PLACE, flat, op=mpi_op)
            if op == "mean":
                flat /= w.size
            if copied:
                _unpack(flat, run)
    _bump(items)
    return x


def broadcast(x, src=0):
    """Copy rank ``src``'s values of ``x`` into ``x`` on every rank, in place; returns ``x``.

    Every rank must pass arrays of the same shapes and dtypes (the model's weights, for
    instance). ``x`` is a Tensor, an array or a list of them.
    """
    w = W.world()
    src = check_int("broadcast", "src", src, minimum=0)
    if src >= w.size:
        raise ValueError(f"broadcast: src={src} but the world has {w.size} rank(s)")
    many, items, arrays = _items("broadcast", x)
    arrays = [a for a in arrays if a is not None]
    if w.size == 1:
        return x
    with W.guard("broadcast"):
        for run in _buckets(arrays):
            flat, copied = _packed(run)
            w.comm.Bcast(flat, root=src)
            if copied:
                _unpack(flat, run)
    _bump(items)
    return x


def all_gather(x):
    """Every rank's ``x``, in rank order, on every rank.

    Args:
        x: a Tensor or array; ranks may differ in the first axis (a last, smaller
            shard), not in the others nor in dtype.

    Returns:
        A list of ``world_size()`` arrays (Tensors if ``x`` is a Tensor).
    """
    a = _array("all_gather", x)
    wrap = isinstance(x, Tensor)
    w = W.world()
    if w.size == 1:
        out = [a.copy()]
    else:
        a = a if a.flags.c_contiguous else a.copy(order="C")
        if a.ndim > 16:
            raise ValueError(f"all_gather: at most 16 axes, received {a.ndim}")
        head = np.full(18, -1, dtype=np.int64)
        head[0], head[1] = a.ndim, np.dtype(a.dtype).num
        head[2:2 + a.ndim] = a.shape
        heads = np.empty((w.size, 18), dtype=np.int64)
        with W.guard("all_gather"):
            w.comm.Allgather(head, heads)
            if np.any(heads[:, :2] != head[:2]) or np.any(heads[:, 3:] != head[3:]):
                raise W.DistributedError(
                    f"all_gather: ranks passed arrays of different dtypes or trailing shapes "
                    f"(this rank {a.dtype}{a.shape}); only the first axis may differ")
            counts = [int(np.prod(h[2:2 + a.ndim])) for h in heads]
            flat = np.empty(sum(counts), dtype=a.dtype)
            w.comm.Allgatherv(a.reshape(-1), [flat, counts])
        out, at = [], 0
        for h, c in zip(heads, counts):
            out.append(flat[at:at + c].reshape(tuple(h[2:2 + a.ndim])))
            at += c
    return [Tensor(o) for o in out] if wrap else out


def sum_values(values):
    """Internal: the sums over ranks of a few Python numbers (one small float64 message)."""
    buf = np.asarray(values, dtype=np.float64)
    w = W.world()
    if w.size > 1:
        with W.guard("all_reduce(sum)"):
            w.comm.Allreduce(w.mpi.IN_PLACE, buf, op=w.mpi.SUM)
    return buf
