"""``DistributedDataParallel``: PyTorch's data-parallel wrapper, on MPI.

Wrap a model after ``init()``; every rank runs its own batch (a
:class:`~gradkit.distributed.DistributedSampler` gives each a different shard), and
``loss.backward()`` leaves every rank with the gradients averaged over all ranks, so
``optimizer.step()`` takes the same step everywhere. Gradients travel in buckets of
about ``bucket_cap_mb``: each bucket is sent (a non-blocking allreduce) as soon as
backward has finished all of its weights, overlapping the communication with the rest
of the backward pass.
"""

from __future__ import annotations

import contextlib

import numpy as np

from gradkit.distributed import collectives as C
from gradkit.distributed import world as W
from gradkit.layers.base import Layer
from gradkit.utils.validation import check_number


class DistributedDataParallel(Layer):
    """Average gradients over the ranks during ``backward()``.

    Args:
        module: the model (a gradkit Layer / ``nn.Module``); its weights are broadcast
            from rank 0 here, so all ranks start equal.
        device_ids, output_device: accepted for PyTorch's signature when they name this
            rank's device or are None; gradkit places the model with ``.to()`` instead.
        broadcast_buffers: broadcast rank 0's non-trainable state (BatchNorm statistics)
            at every forward pass, as PyTorch does.
        bucket_cap_mb: the size of one gradient message.
        find_unused_parameters: not implemented (every trainable weight must receive a
            gradient in each backward pass).

    Example::

        dist.init()
        model = DistributedDataParallel(Net())
        opt = optim.SGD(model.parameters(), lr=0.1)
        for x, y in loader:                 # loader over a DistributedSampler
            opt.zero_grad()
            loss_fn(model(x), y).backward() # gradients averaged over the ranks here
            opt.step()
    """

    def __init__(self, module, device_ids=None, output_device=None, broadcast_buffers=True,
                 bucket_cap_mb=25, find_unused_parameters=False, **kwargs):
        if not isinstance(module, Layer):
            raise TypeError(f"DistributedDataParallel: expected a gradkit model or module, "
                            f"received {type(module).__name__}")
        if find_unused_parameters:
            raise NotImplementedError(
                "DistributedDataParallel: argument 'find_unused_parameters'=True is not "
                "implemented in gradkit; every trainable weight must get a gradient")
        if device_ids not in (None, [], [0]) or output_device not in (None, 0, "cpu"):
            raise NotImplementedError(
                "DistributedDataParallel: arguments 'device_ids'/'output_device' naming a GPU "
                "are not implemented; move the model with model.to(device) first")
        for k in kwargs:
            raise NotImplementedError(f"DistributedDataParallel: argument {k!r} is not "
                                      f"implemented in gradkit")
        super().__init__(name=f"ddp_{module.name}")
        self.built = True  # the wrapped module builds itself
        W.world()  # refuses an mpirun-started process that forgot init()
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        cap = check_number("DistributedDataParallel", "bucket_cap_mb", bucket_cap_mb, 0,
                           min_open=True)
        self._params = [p for p in module.parameters() if p.requires_grad]
        C.broadcast([w for w in module.weights])
        self._sync = True
        self._buckets = _make_buckets(self._params, int(cap * 1024 * 1024))
        self._pending = {}           # bucket -> ids of its weights whose gradient is complete
        self._sent = []              # (bucket, request, buffer) allreduces in flight
        self._handles = []
        if W.world().size > 1:
            for b, bucket in enumerate(self._buckets):
                for p in bucket:
                    self._handles.append(p.register_post_accumulate_grad_hook(
                        lambda t, b=b: self._ready(b, t)))

    def call(self, *args, **kwargs):
        if self._pending or self._sent:
            missing = sum(len(self._buckets[b]) - len(d) for b, d in self._pending.items()
                          if len(d) < len(self._buckets[b]))
            self._pending.clear()
            self._sent.clear()
            raise RuntimeError(
                f"DistributedDataParallel: the previous backward pass left {missing} trainable "
                f"weight(s) without a gradient, so their average was never taken; every weight "
                f"must be used in each forward pass (or freeze it with requires_grad_(False))")
        if self.broadcast_buffers and W.world().size > 1:
            buffers = list(self.module.non_trainable_weights)
            if buffers:
                C.broadcast(buffers)
        return self.module(*args, **kwargs)

    def forward(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Accumulate gradients locally (no communication) inside the block; the next
        backward outside it averages everything accumulated."""
        old, self._sync = self._sync, False
        try:
            yield
        finally:
            self._sync = old

    # ---- the bucketed, overlapped reduction
    def _ready(self, b, t):
        if not self._sync:
            return
        done = self._pending.setdefault(b, set())
        done.add(id(t))
        bucket = self._buckets[b]
        if len(done) < len(bucket):
            return
        w = W.world()
        flat = np.concatenate([p.grad._data.reshape(-1) for p in bucket])
        self._sent.append((b, w.comm.Iallreduce(w.mpi.IN_PLACE, flat, op=w.mpi.SUM), flat))
        if len(self._sent) == len(self._buckets):
            self._finish()

    def _finish(self):
        w = W.world()
        with W.guard("DistributedDataParallel gradient all_reduce"):
            for b, req, flat in self._sent:
                req.Wait()
                flat /= w.size
                at = 0
                for p in self._buckets[b]:
                    g = p.grad._data
                    g[...] = flat[at:at + g.size].reshape(g.shape)
                    p.grad._version += 1
                    at += g.size
        self._pending.clear()
        self._sent.clear()

    def get_config(self):
        raise NotImplementedError("DistributedDataParallel is not saved itself: save "
                                  "ddp.module (rank 0 only), as in PyTorch")


def _make_buckets(params, cap):
    """Weights in reverse order (backward reaches the last layers first), grouped by dtype
    into runs of about ``cap`` bytes."""
    buckets, run, size, dtype = [], [], 0, None
    for p in reversed(params):
        if run and (size + p._data.nbytes > cap or p.dtype != dtype):
            buckets.append(run)
            run, size = [], 0
        run.append(p)
        size += p._data.nbytes
        dtype = p.dtype
    if run:
        buckets.append(run)
    return buckets
