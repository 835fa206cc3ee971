"""Training on many processes and machines over MPI (the optional extra ``gradkit[mpi]``).

The same script runs alone or under ``mpirun -n N python train.py``:

* Keras style: call :func:`init` and ``fit`` as usual (``batch_size`` is the global
  batch, each rank trains on its shard, gradients are averaged; see
  :mod:`gradkit.distributed.data_parallel`), or use :class:`DataParallel`'s ``scope()``.
* PyTorch style: :class:`DistributedDataParallel` around the model and a
  :class:`DistributedSampler` in the ``DataLoader``.
* TensorFlow-tape style: ``all_reduce(grads, op="mean")`` before ``apply_gradients``.

Collectives work in place on Tensors and NumPy arrays: :func:`all_reduce`,
:func:`broadcast`, :func:`all_gather`, :func:`barrier`. See docs/DISTRIBUTED.md for
launching across machines.
"""

from gradkit.distributed.collectives import all_gather, all_reduce, broadcast
from gradkit.distributed.data_parallel import DataParallel
from gradkit.distributed.ddp import DistributedDataParallel
from gradkit.distributed.sampler import DistributedSampler
from gradkit.distributed.world import (
    DistributedError,
    barrier,
    device,
    init,
    is_initialized,
    is_main_process,
    launched_by_mpi,
    local_rank,
    rank,
    world_size,
)

# PyTorch's spellings (torch.distributed), thin aliases
get_rank = rank
get_world_size = world_size


def init_process_group(backend="mpi", **kwargs):
    """``torch.distributed.init_process_group``: gradkit's only backend is MPI."""
    if backend not in ("mpi", None):
        raise NotImplementedError(f"init_process_group: backend {backend!r} is not implemented "
                                  f"in gradkit; it runs over MPI (backend='mpi')")
    for k in kwargs:
        if k != "timeout":
            raise NotImplementedError(f"init_process_group: argument {k!r} is not implemented "
                                      f"in gradkit (MPI takes the world from mpirun)")
    t = kwargs.get("timeout")
    return init(timeout=t.total_seconds() if hasattr(t, "total_seconds") else
                (t if t is not None else 600.0))


__all__ = ["DataParallel", "DistributedDataParallel", "DistributedError", "DistributedSampler",
           "all_gather", "all_reduce", "barrier", "broadcast", "device", "get_rank",
           "get_world_size", "init", "init_process_group", "is_initialized", "is_main_process",
           "launched_by_mpi", "local_rank", "rank", "world_size"]
