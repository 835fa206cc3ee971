"""Data-parallel ``fit``: each rank trains on its shard of every global batch.

Under ``mpirun`` (after :func:`gradkit.distributed.init`), ``Model.fit``,
``evaluate`` and ``predict`` need no change in the user's script:

* ``batch_size`` is the GLOBAL batch: every rank draws the same batches (rank 0's
  shuffle order is broadcast each epoch) and computes on its contiguous shard of
  each (``B * r / N`` to ``B * (r + 1) / N``).
* Before the first step, rank 0's weights and optimizer state are broadcast.
* Each update's gradients are combined across ranks in one bucketed allreduce,
  weighted by each rank's share of the batch, so N ranks with batches of B/N take
  exactly the step one process takes with B.
* The loss and metrics shown are the global ones; only rank 0 prints, and callbacks
  that write files (``main_process_only = True``) run on rank 0 only.
* Non-trainable state (BatchNormalization's moving statistics) is per rank during an
  epoch and averaged across ranks at each epoch's end (training batches normalise
  with their own shard's statistics, as without SyncBatchNorm in PyTorch).
* ``validation_data`` and ``evaluate`` split the data across ranks and reduce.

:class:`DataParallel` is the explicit, TensorFlow-strategy-shaped spelling.
"""

from __future__ import annotations

import contextlib
import json

import numpy as np

from gradkit.distributed import collectives as C
from gradkit.distributed import world as W
from gradkit.tensor import Tensor


class DataParallel:
    """A ``MirroredStrategy``-shaped handle on the MPI world.

    Example::

        strategy = gradkit.distributed.DataParallel()     # calls init()
        with strategy.scope():
            model = build_model()
            model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=256)      # 256 per step over all ranks

    ``fit`` is data-parallel whenever the world has 2+ ranks; ``scope()`` exists so
    TensorFlow programs run unchanged.
    """

    def __init__(self, timeout=W.DEFAULT_TIMEOUT):
        W.init(timeout=timeout)

    @property
    def num_replicas_in_sync(self):
        """The number of ranks (TensorFlow's name)."""
        return W.world_size()

    @contextlib.contextmanager
    def scope(self):
        """A no-op scope: weights are broadcast when ``fit`` starts, not at creation."""
        yield self


def active():
    """True when fit should run data-parallel (an initialized world of 2+ ranks)."""
    return W.is_initialized() and W.world().size > 1


def shard_bounds(n, world=None):
    """This rank's ``[lo, hi)`` of ``n`` rows (contiguous; the first ranks get fewer)."""
    w = world or W.world()
    return n * w.rank // w.size, n * (w.rank + 1) // w.size


def _rows(x):
    from gradkit.models import data as D

    return len(D._flat(x)[0])


def for_fit(model, verbose, callbacks):
    """A :class:`FitSync` for this ``fit`` in a data-parallel job, else None."""
    if not active():
        return None
    from gradkit.callbacks import _overrides

    hooks = ("on_train_batch_begin", "on_train_batch_end")
    per_batch = any(_overrides(c, h) for c in callbacks or () for h in hooks)
    return FitSync(model, verbose == 1 or per_batch)


def evaluation_shard(x, y, sw, n):
    """This rank's contiguous slice of evaluation arrays (and its row count)."""
    from gradkit.models import data as D

    lo, hi = shard_bounds(n)
    part = slice(lo, hi)
    return D.take(x, part), D.take(y, part), D.take(sw, part), hi - lo


def evaluation_logs(model, loss_sum, count):
    """``evaluate``'s logs from every rank's sums: loss weighted by rows, metrics merged."""
    total = C.sum_values([loss_sum, count])
    with synced_metrics(model._metrics):
        return model._metric_logs({"loss": float(total[0] / max(total[1], 1))})


class FitSync:
    """The per-``fit`` glue between a model and the world (see the module docstring).

    Used as a context manager around the epochs: enter broadcasts the starting state
    and installs the gradient reducer, exit removes it.
    """

    def __init__(self, model, sync_each_step):
        self.model = model
        self.world = W.world()
        self.main = self.world.rank == 0
        self.sync_each_step = bool(sync_each_step)  # identical on every rank
        self.local = 0
        self._handle = None

    # ---- start / stop
    def start(self):
        """Broadcast rank 0's weights and optimizer state; combine gradients from now on."""
        weights = [w for w in self.model.weights if isinstance(w, Tensor)]
        C.broadcast(weights)
        opt = self.model.optimizer
        broadcast_optimizer_state(opt)
        self._handle = opt.set_gradient_reducer(self.reduce)

    def stop(self):
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---- batches
    def permutation(self, n, generator):
        """Rank 0's shuffle order, the same on every rank."""
        order = generator.permutation(n).astype(np.int64) if self.main else \
            np.empty(n, dtype=np.int64)
        return C.broadcast(order)

    def shard(self, xb, yb, swb):
        """This rank's rows of a global batch."""
        from gradkit.models import data as D

        lo, hi = shard_bounds(_rows(xb), self.world)
        self.local = hi - lo
        part = slice(lo, hi)
        return D.take(xb, part), D.take(yb, part), D.take(swb, part)

    def own(self, xb, yb, swb):
        """A batch from this rank's own iterable (a DataLoader over a DistributedSampler):
        used whole, its rows counted."""
        self.local = _rows(xb)
        return xb, yb, swb

    def empty_step(self):
        """Take part in a step for which this rank's shard is empty (a last batch smaller
        than the world): contribute nothing, apply the same combined update."""
        weights = self.model._fit_weights or self.model.trainable_weights
        zeros = [np.zeros_like(w._data) for w in weights]
        self.local = 0
        self.model.optimizer.apply_gradients(zip(zeros, weights))
        return 0.0

    # ---- gradients
    def reduce(self, grads, params):
        """``sum_r(n_r * g_r) / sum_r(n_r)`` for each gradient, in one message per dtype.

        Each rank's gradient is the mean over its ``n_r`` rows, so this is the gradient
        of the mean over the global batch. The row count travels in the same buffer.
        """
        arrays = [g._data if isinstance(g, Tensor) else np.asarray(g) for g in grads]
        out = list(arrays)
        by_dtype = {}
        for i, a in enumerate(arrays):
            by_dtype.setdefault(a.dtype, []).append(i)
        w = self.world
        for dtype, idx in by_dtype.items():
            flat = np.empty(sum(arrays[i].size for i in idx) + 1, dtype=dtype)
            at = 0
            for i in idx:
                a = arrays[i]
                np.multiply(a.reshape(-1), self.local, out=flat[at:at + a.size])
                at += a.size
            flat[-1] = self.local
            with W.guard("gradient all_reduce"):
                w.comm.Allreduce(w.mpi.IN_PLACE, flat, op=w.mpi.SUM)
            total = flat[-1]
            if total <= 0:
                raise W.DistributedError("gradient all_reduce: no rank had rows in this batch")
            flat /= total
            at = 0
            for i in idx:
                out[i] = flat[at:at + arrays[i].size].reshape(arrays[i].shape)
                at += arrays[i].size
        return out

    # ---- what the user sees
    def global_loss(self, loss):
        """The mean loss over the global batch, from each rank's mean over its rows."""
        s = C.sum_values([loss * self.local, self.local])
        return float(s[0] / s[1]) if s[1] else 0.0

    def metric_logs(self, logs):
        """``model._metric_logs`` with every metric's state summed over the ranks."""
        with synced_metrics(self.model._metrics):
            return self.model._metric_logs(logs)

    def end_epoch(self):
        """Average the non-trainable floating-point weights (moving statistics)."""
        extra = [w for w in self.model.non_trainable_weights
                 if isinstance(w, Tensor) and w.dtype.kind == "f"]
        if extra:
            C.all_reduce(extra, op="mean")

    def callbacks(self, cbs):
        """The callbacks this rank runs: those that write files run on rank 0 only."""
        return cbs if self.main else [c for c in cbs
                                      if not getattr(c, "main_process_only", False)]


# ---------------------------------------------------------------- metric state
_STATE_NAMES = {}


def _state_names(metric):
    """The attributes ``reset_state`` assigns (the accumulated state, not the config)."""
    cls = type(metric)
    names = _STATE_NAMES.get(cls)
    if names is None:
        seen = []

        def record(self, key, value):
            seen.append(key)
            object.__setattr__(self, key, value)

        probe = object.__new__(type("Probe", (cls,), {"__setattr__": record}))
        probe.__dict__.update(vars(metric))
        cls.reset_state(probe)
        names = _STATE_NAMES[cls] = tuple(dict.fromkeys(seen))
    return names


@contextlib.contextmanager
def synced_metrics(metrics):
    """Within the block each metric holds the sum of every rank's state; restored after.

    Numbers and arrays are summed, booleans and-ed, lists of array tuples (an exact
    metric's kept batches) gathered; caches are cleared.
    """
    saved = []
    for m in metrics:
        names = _state_names(m)
        state = {k: getattr(m, k) for k in names}
        saved.append((m, state))
        nums = [k for k, v in state.items() if isinstance(v, (int, float, np.number))
                and not isinstance(v, (bool, np.bool_))]
        arrs = [k for k, v in state.items() if isinstance(v, np.ndarray)]
        flags = [k for k, v in state.items() if isinstance(v, (bool, np.bool_))]
        lists = [k for k, v in state.items() if isinstance(v, list)]
        packed = C.sum_values([float(state[k]) for k in nums] +
                              [float(not state[k]) for k in flags])
        for k, v in zip(nums, packed[:len(nums)]):
            object.__setattr__(m, k, type(state[k])(v) if isinstance(state[k], int) else v)
        for k, v in zip(flags, packed[len(nums):]):
            object.__setattr__(m, k, v == 0)
        if arrs:
            copies = [np.array(state[k], dtype=np.float64) for k in arrs]
            C.all_reduce(copies)
            for k, c in zip(arrs, copies):
                object.__setattr__(m, k, c.astype(state[k].dtype, copy=False))
        for k in lists:
            object.__setattr__(m, k, _gather_batches(state[k]))
        for k, v in state.items():
            if v is None:
                object.__setattr__(m, k, None)
    try:
        yield
    finally:
        for m, state in saved:
            for k, v in state.items():
                object.__setattr__(m, k, v)


def _gather_batches(kept):
    """Every rank's list of (array, array, ...) batches, concatenated per component."""
    width = int(C.all_reduce(np.array([len(kept[0]) if kept else 0]), op="max")[0])
    if width == 0:
        return []
    cols = [np.concatenate([np.ravel(b[i]) for b in kept]) if kept else np.empty(0)
            for i in range(width)]
    return [tuple(np.concatenate(C.all_gather(np.asarray(c, dtype=np.float64)))
                  for c in cols)]


# ---------------------------------------------------------------- optimizer state
def broadcast_optimizer_state(opt):
    """Give every rank rank 0's optimizer state (slots, iterations, extras)."""
    w = W.world()
    if w.size == 1:
        return
    from gradkit.optimizers.base import Optimizer

    if w.rank == 0:  # the base class's layout, whatever front end's state_dict opt shows
        sd = Optimizer.state_dict(opt)
        head = {"iterations": sd["iterations"], "extra": sd.get("extra", {}),
                "state": {str(i): {n: [list(a.shape), a.dtype.str] for n, a in s.items()}
                          for i, s in sd["state"].items()}}
        blob = np.frombuffer(json.dumps(head).encode(), dtype=np.uint8)
        size = np.array([blob.size], dtype=np.int64)
    else:
        size = np.zeros(1, dtype=np.int64)
    C.broadcast(size)
    if w.rank != 0:
        blob = np.empty(int(size[0]), dtype=np.uint8)
    C.broadcast(blob)
    head = json.loads(blob.tobytes().decode())
    arrays = {}
    for i, slots in head["state"].items():
        for n, (shape, dt) in slots.items():
            arrays[(int(i), n)] = sd["state"][int(i)][n] if w.rank == 0 else \
                np.empty(shape, dtype=np.dtype(dt))
    C.broadcast([arrays[k] for k in sorted(arrays)])
    if w.rank != 0:
        state = {}
        for (i, n), a in arrays.items():
            state.setdefault(i, {})[n] = a
        Optimizer.load_state_dict(opt, {"iterations": head["iterations"], "state": state,
                                        "extra": head["extra"]})
