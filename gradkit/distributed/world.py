"""The process group: who this process is among the ranks of an MPI job.

``init()`` joins the job ``mpirun`` started (through mpi4py, the optional extra
``gradkit[mpi]``); run without ``mpirun`` it makes a world of one process, so the
same script runs alone unchanged. Everything here is per process and created only
when ``init()`` is called: importing gradkit starts no MPI, no thread, no handler.

Faults: a rank that raises prints its traceback tagged with its rank and aborts the
whole job (``MPI_Abort``), and a collective that has not finished after ``timeout``
seconds (a peer died or never arrived) aborts it with a message naming the collective
and this rank, so no job hangs forever.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from gradkit.utils.validation import check_number

#: environment variables an MPI launcher sets (Open MPI, MPICH/Hydra, Slurm's PMI)
_LAUNCHER_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE")
_LOCAL_RANK_VARS = ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MPI_LOCAL_RANK",
                    "SLURM_LOCALID")
DEFAULT_TIMEOUT = 600.0


class DistributedError(RuntimeError):
    """A problem with the process group: MPI missing, used before init, a collective failing."""


class _Single:
    """The world of one process: every collective is the identity."""

    size = 1
    rank = 0
    local_rank = 0
    mpi = None


class _MPIWorld:
    """A world backed by an mpi4py communicator (``COMM_WORLD`` by default)."""

    def __init__(self, comm, mpi, timeout):
        self.comm = comm
        self.mpi = mpi
        self.size = comm.Get_size()
        self.rank = comm.Get_rank()
        self.local_rank = _local_rank(comm, mpi)
        self.timeout = timeout
        self._watch = _Watchdog(self) if timeout else None


class _Watchdog:
    """A daemon thread that aborts the job when one collective outlasts the timeout."""

    def __init__(self, world):
        self.world = world
        self.lock = threading.Lock()
        self.current = None  # (what, started) while a collective runs
        self.thread = threading.Thread(target=self._run, name="gradkit-dist-watchdog",
                                       daemon=True)
        self.thread.start()

    def _run(self):
        w = self.world
        while True:
            time.sleep(min(1.0, w.timeout / 4))
            with self.lock:
                cur = self.current
            if cur and time.monotonic() - cur[1] > w.timeout:
                sys.stderr.write(
                    f"gradkit.distributed: rank {w.rank}/{w.size}: collective '{cur[0]}' did "
                    f"not finish within {w.timeout:g} s (timeout=): a peer rank died, raised, "
                    f"or took another path; aborting the job\n")
                sys.stderr.flush()
                w.comm.Abort(3)

    def __enter__(self):
        return self

    def guard(self, what):
        with self.lock:
            self.current = (what, time.monotonic())
        return self

    def __exit__(self, *exc):
        with self.lock:
            self.current = None
        return False


_world = None
_hook_installed = False


def _local_rank(comm, mpi):
    for var in _LOCAL_RANK_VARS:
        if var in os.environ:
            try:
                return int(os.environ[var])
            except ValueError:
                pass
    node = comm.Split_type(mpi.COMM_TYPE_SHARED)  # pragma: no cover - launcher without vars
    return node.Get_rank()


def launched_by_mpi() -> bool:
    """True when an MPI launcher (mpirun, srun) started this process in a job of 2+."""
    for var in _LAUNCHER_SIZE_VARS:
        try:
            if int(os.environ.get(var, "1")) > 1:
                return True
        except ValueError:
            continue
    return False


def _import_mpi():
    try:
        from mpi4py import MPI  # noqa: PLC0415 - optional extra, loaded on init only
    except ImportError as e:
        raise DistributedError(
            "gradkit.distributed needs mpi4py for a multi-process job: install gradkit[mpi] "
            "(pip install mpi4py) and Open MPI (apt-get install openmpi-bin libopenmpi-dev)"
        ) from e
    return MPI


def init(timeout=DEFAULT_TIMEOUT, abort_on_error=True):
    """Join the MPI job this process belongs to (or a world of one without one).

    Idempotent: a second call returns the same world.

    Args:
        timeout: seconds a collective may take before the job is aborted (a dead peer
            otherwise hangs the others forever); None or 0 disables the watchdog.
        abort_on_error: an uncaught exception on any rank prints its traceback tagged
            with the rank, then aborts the whole job (the other ranks would wait for it
            in their next collective). Installed here, on request, never at import.

    Returns:
        The world size.

    Raises:
        DistributedError: started by mpirun in a job of 2+ but mpi4py is missing.

    Example::

        import gradkit.distributed as dist
        dist.init()                         # mpirun -n 4 python train.py
        model.fit(x, y, batch_size=256)     # each rank trains on its quarter of a batch
    """
    global _world
    if timeout is not None:
        timeout = check_number("distributed.init", "timeout", timeout, 0)
    if _world is not None:
        return _world.size
    if not launched_by_mpi():  # run alone: no MPI needed (nor initialized)
        _world = _Single()
        return 1
    MPI = _import_mpi()
    world = _MPIWorld(MPI.COMM_WORLD, MPI, timeout or None)
    _world = world
    if abort_on_error and world.size > 1:
        _install_abort_hook(world)
    return world.size


def _install_abort_hook(world):
    global _hook_installed
    if _hook_installed:
        return
    _hook_installed = True
    previous = sys.excepthook

    def hook(kind, value, tb):
        sys.stderr.write(f"gradkit.distributed: rank {world.rank}/{world.size} raised "
                         f"{kind.__name__}; aborting the job\n")
        previous(kind, value, tb)
        sys.stderr.flush()
        world.comm.Abort(1)

    sys.excepthook = hook


def world():
    """The current world (initialized on first use as a world of one if init() was not
    called and no launcher started this process)."""
    if _world is None:
        if launched_by_mpi():
            raise DistributedError(
                "this process was started by mpirun but gradkit.distributed.init() was not "
                "called: call it at the start of the script")
        return _Single()
    return _world


def rank() -> int:
    """This process's rank, 0..world_size()-1."""
    return world().rank


def world_size() -> int:
    """The number of processes in the job (1 when run alone)."""
    return world().size


def local_rank() -> int:
    """This process's rank among those on its machine (use it to pick a GPU)."""
    return world().local_rank


def is_main_process() -> bool:
    """True on rank 0: the one that prints, logs and writes checkpoints."""
    return world().rank == 0


def is_initialized() -> bool:
    """True once init() made a world (of any size)."""
    return _world is not None


def guard(what):
    """A context that aborts the job if the collective ``what`` outlasts the timeout."""
    w = world()
    watch = getattr(w, "_watch", None)
    return watch.guard(what) if watch is not None else _NoGuard


class _NoGuardType:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_NoGuard = _NoGuardType()


def barrier():
    """Wait until every rank reaches this point."""
    w = world()
    if w.size > 1:
        with guard("barrier"):
            w.comm.Barrier()


def device():
    """The device this rank should use: ``cuda:<local_rank mod GPUs>`` when CuPy sees GPUs,
    else the CPU (one rank per GPU is the usual layout)."""
    from gradkit import backend, devices

    cp = backend.cupy_module()
    if cp is not None:  # pragma: no cover - GPU machines only
        n = cp.cuda.runtime.getDeviceCount()
        if n:
            return devices.Device("cuda", local_rank() % n)
    return devices.CPU
