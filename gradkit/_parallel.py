"""Elementwise in-place updates spread over a few threads: the optimizers' runtime.

An optimizer's update rule is a *kernel* ``kernel(coefficients, p, g, slots, scratch)``
that works elementwise and in place, so it gives the same bits on a whole array
or on any contiguous slices of it. :meth:`ParallelRunner.run` applies a kernel to
one step's parameters:

* large contiguous NumPy parameters (at least ``2 * MIN_CHUNK`` elements) are cut
  into one chunk per thread; the chunk views are cached per parameter;
* small and non-contiguous parameters are updated whole;
* chunks and whole parameters go into one list that the calling thread and the
  pool's workers drain together, so a worker slow to wake leaves its share to the
  caller. NumPy releases the GIL inside ufuncs, so the chunks really run at once.

Waking a worker costs microseconds that a machine busier than its cores may not
repay, so each runner times the threaded and the serial way now and then and uses
the faster (see :meth:`ParallelRunner.choose`). Results are bitwise identical
either way and for every :func:`set_num_threads` setting.

Nothing happens at import: the worker threads start on the first threaded
update, and only then is a fork hook registered so that a forked child starts a
pool of its own instead of waiting on its parent's threads, which it does not have.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
import time

import numpy as np

from gradkit.utils.validation import check_int

__all__ = ["MIN_CHUNK", "ParallelRunner", "get_num_threads", "set_num_threads"]

MIN_CHUNK = 1 << 16           # elements per thread below which splitting does not pay
# a kernel may say otherwise with a ``min_chunk`` attribute: a fused one-pass loop
# (gradkit.optimizers.fused) is ~5x cheaper per element, so waking a thread pays later

_pool = None                  # the _Workers, started by the first threaded update
_pool_lock = threading.Lock()
_num_threads = None           # None: not read from the environment yet
_fork_hook_registered = False


# ----------------------------------------------------------------- settings
def _default_threads():
    env = os.environ.get("GRADKIT_NUM_THREADS", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"GRADKIT_NUM_THREADS must be an integer >= 1, received {env!r}; "
                             "unset it for the default") from None
        return check_int("GRADKIT_NUM_THREADS", "the value", n, minimum=1)
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 4))


def set_num_threads(n):
    """Set how many threads share an update of a large parameter (1 turns splitting off).

    The default is the ``GRADKIT_NUM_THREADS`` environment variable, else the number
    of usable cores, at most 4. Results are bitwise identical for every setting.

    Args:
        n: an integer >= 1.

    Raises:
        TypeError: ``n`` is not an integer.
        ValueError: ``n`` < 1.

    Example::

        gradkit.optimizers.set_num_threads(1)    # every update on the calling thread
    """
    global _num_threads, _pool
    n = check_int("set_num_threads", "n", n, minimum=1)
    with _pool_lock:
        _num_threads = n
        if _pool is not None:         # the next threaded update starts n - 1 new workers
            _pool.shutdown()
            _pool = None


def get_num_threads():
    """The number of threads updates of large parameters are split over."""
    global _num_threads
    if _num_threads is None:
        _num_threads = _default_threads()
    return _num_threads


# ----------------------------------------------------------------- the pool
class _Workers:
    """Daemon threads running callables from a queue (cheaper to wake than an Executor)."""

    def __init__(self, n):
        self.queue = queue.SimpleQueue()
        self.n = n
        for i in range(n):
            threading.Thread(target=self._loop, name=f"gradkit-update-{i}", daemon=True).start()

    def _loop(self):
        get = self.queue.get
        while True:
            job = get()
            if job is None:
                return
            job()

    def submit(self, fn):
        self.queue.put(fn)

    def shutdown(self):
        for _ in range(self.n):
            self.queue.put(None)


def _forget_pool_after_fork():
    global _pool, _pool_lock
    _pool = None                      # the parent's workers do not exist in the child
    _pool_lock = threading.Lock()     # and the parent's lock may have been held


def _get_pool():
    global _pool, _fork_hook_registered
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                if not _fork_hook_registered and hasattr(os, "register_at_fork"):
                    os.register_at_fork(after_in_child=_forget_pool_after_fork)
                    _fork_hook_registered = True
                _pool = _Workers(get_num_threads() - 1)
    return _pool


class _Batch:
    """Tasks that several threads claim one by one (``next`` on a counter is atomic)."""

    __slots__ = ("kernel", "c", "tasks", "claim", "left", "lock", "done", "error")

    def __init__(self, kernel, c, tasks):
        self.kernel, self.c, self.tasks = kernel, c, tasks
        self.claim = itertools.count()
        self.left = len(tasks)
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.error = None

    def work(self):
        tasks, n = self.tasks, len(self.tasks)
        while True:
            i = next(self.claim)
            if i >= n:
                return
            try:
                self.kernel(self.c, *tasks[i])
            except BaseException as e:  # re-raised by wait() in the calling thread
                self.error = e
            with self.lock:
                self.left -= 1
                if self.left == 0:
                    self.done.set()

    def wait(self):
        self.done.wait()
        if self.error is not None:
            raise self.error


def _chunk_views(p, slots, scratch, nthreads, min_chunk=MIN_CHUNK):
    """``[(lo, hi, p_view, slot_views, scratch_views)]``, one per chunk, or None (no split)."""
    n = p.size
    if not (isinstance(p, np.ndarray) and n >= 2 * min_chunk and p.flags.c_contiguous
            and all(a.flags.c_contiguous for a in slots)):
        return None
    k = min(nthreads, n // min_chunk)
    bounds = [n * j // k for j in range(k + 1)]
    flat_p = p.reshape(-1)
    flat_s = [a.reshape(-1) for a in slots]
    flat_t = [a.reshape(-1) for a in scratch]
    return [(lo, hi, flat_p[lo:hi], [a[lo:hi] for a in flat_s], [a[lo:hi] for a in flat_t])
            for lo, hi in zip(bounds[:-1], bounds[1:])]


def _any_splittable(tasks, min_size):
    """Whether some task's parameter has ``min_size`` elements (``_chunk_views``' first
    condition: below it a parameter is always updated whole)."""
    for task in tasks:
        if task[1].size >= min_size:
            return True
    return False


# ----------------------------------------------------------------- the runner
class ParallelRunner:
    """Runs one optimizer's kernel over a step's parameters, threaded or serially.

    Each optimizer owns one: it caches the chunk views of its parameters and keeps
    running estimates (exponential moving averages) of how long a threaded and a
    serial update take. See :meth:`choose` for how it picks between them.

    Args:
        probe: every ``probe``-th timed update uses the slower way, to re-time it
            (the machine's load changes).
        clock: a function returning seconds (tests pass a fake one).

    Example::

        runner = ParallelRunner()
        runner.run(kernel, (lr,), [(0, p, g, [velocity], [scratch])])
    """

    WARMUP = 2                        # first updates, not timed (page faults, pool start)
    DECAY = 0.7                       # weight of the old estimate in the moving average

    def __init__(self, probe=16, clock=time.perf_counter):
        self.probe = check_int("ParallelRunner", "probe", probe, minimum=2)
        self.clock = clock
        self.count = 0                # updates that could be threaded so far
        self.serial_time = None       # moving averages, seconds (None: not timed yet)
        self.threaded_time = None
        self._views = {}              # key -> (p, slots, scratch, nthreads, chunk views)

    def choose(self):
        """Whether the next update runs threaded (``True``) or serially; counts it.

        The first update runs threaded (starting the pool), the second serially,
        neither timed. Then each way is timed once (threaded first), after which
        the faster is used, except that every ``probe``-th update uses the other
        way so that its estimate follows the machine's load.
        """
        self.count += 1
        if self.count <= self.WARMUP:
            return self.count == 1
        if self.threaded_time is None:
            return True
        if self.serial_time is None:
            return False
        faster = self.threaded_time <= self.serial_time
        return (not faster) if self.count % self.probe == 0 else faster

    def record(self, threaded, seconds):
        """Fold the duration of the update :meth:`choose` just chose into its estimate."""
        if self.count <= self.WARMUP:
            return
        old = self.threaded_time if threaded else self.serial_time
        new = seconds if old is None else self.DECAY * old + (1.0 - self.DECAY) * seconds
        if threaded:
            self.threaded_time = new
        else:
            self.serial_time = new

    def run(self, kernel, coefficients, tasks):
        """Apply ``kernel(coefficients, p, g, slots, scratch)`` to every task, in place.

        Args:
            kernel: the elementwise update rule.
            coefficients: passed through to every kernel call (this step's floats).
            tasks: ``(key, p, g, slots, scratch)`` per parameter: ``key`` (hashable)
                names the parameter, its chunk views are cached under it; ``p``,
                ``g`` and the arrays in the lists ``slots``/``scratch`` have one shape.
        """
        nthreads = get_num_threads()
        min_chunk = getattr(kernel, "min_chunk", MIN_CHUNK)
        # one thread, or no parameter large enough to cut into chunks (small networks):
        # straight through on this thread, no chunk views and no timing
        if nthreads == 1 or not _any_splittable(tasks, 2 * min_chunk):
            for _, p, g, slots, scratch in tasks:
                kernel(coefficients, p, g, slots, scratch)
            return
        chunks, whole = [], []
        for key, p, g, slots, scratch in tasks:
            views = self._chunks(key, p, slots, scratch, nthreads, min_chunk)
            if views is None or not g.flags.c_contiguous:
                whole.append((p, g, slots, scratch))
                continue
            flat = g.reshape(-1)
            chunks.extend((pv, flat[lo:hi], sv, tv) for lo, hi, pv, sv, tv in views)
        work = chunks + whole
        if len(chunks) < 2:           # nothing large: no thread can help
            for task in work:
                kernel(coefficients, *task)
            return
        threaded = self.choose()
        t0 = self.clock()
        if threaded:
            pool = _get_pool()
            batch = _Batch(kernel, coefficients, work)
            for _ in range(min(nthreads - 1, len(chunks) - 1)):
                pool.submit(batch.work)
            batch.work()
            batch.wait()
        else:
            for task in work:
                kernel(coefficients, *task)
        self.record(threaded, self.clock() - t0)

    def _chunks(self, key, p, slots, scratch, nthreads, min_chunk=MIN_CHUNK):
        cached = self._views.get(key)
        if (cached is not None and cached[0] is p and cached[1] is slots
                and cached[2] is scratch and cached[3] == (nthreads, min_chunk)):
            return cached[4]
        views = _chunk_views(p, slots, scratch, nthreads, min_chunk)
        self._views[key] = (p, slots, scratch, (nthreads, min_chunk), views)
        return views
