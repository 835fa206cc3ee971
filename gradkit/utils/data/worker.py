"""Parallel loading: worker processes (or threads) that fetch batches, results in order.

One implementation serves :class:`~gradkit.utils.data.DataLoader` (``num_workers``) and
:class:`~gradkit.utils.PyDataset` (``workers``, ``use_multiprocessing``):

* :class:`WorkerPool` starts ``n`` workers. Each runs :func:`_worker_loop`: it takes
  ``(generation, task id, payload)`` from its own task queue, calls ``fetch(payload)``
  and puts ``(generation, task id, result)`` on the shared result queue. A failure comes
  back as the worker's formatted traceback and is raised in the main process with the
  original exception type.
* :class:`OrderedPrefetcher` keeps ``depth`` tasks in flight, round robin over the
  workers, and yields results in task order. A new prefetcher on a pool (persistent
  workers, a new epoch) bumps the generation, so results of an abandoned epoch are
  dropped.

Processes start with ``fork`` where the platform has it (no pickling of the dataset,
no re-import of gradkit) and otherwise with the platform's default; results are
pickled in the worker, so an unpicklable batch is an error, not a lost message. Each
process worker seeds gradkit's generator, NumPy's legacy one and Python's ``random``
with ``base_seed + worker_id`` and ignores SIGINT (Ctrl-C is the main process's). A
worker that dies (killed, ``os._exit``) is reported with its pid and exit code; a
worker whose parent died exits by itself.
"""

from __future__ import annotations

import itertools
import os
import pickle
import queue
import random as _pyrandom
import signal
import threading
import time
import traceback
import weakref
from dataclasses import dataclass

import numpy as np

__all__ = ["OrderedPrefetcher", "WorkerInfo", "WorkerPool", "get_worker_info"]

_POLL = 0.1  # seconds between liveness checks while waiting


@dataclass(frozen=True)
class WorkerInfo:
    """What :func:`get_worker_info` returns inside a worker.

    Attributes:
        id: this worker's index, ``0..num_workers-1``.
        num_workers: how many workers the loader runs.
        seed: this worker's seed (``base_seed + id``).
        dataset: this worker's copy of the dataset (the fetch function's ``dataset``).
    """

    id: int
    num_workers: int
    seed: int
    dataset: object = None


_info = threading.local()


def get_worker_info():
    """The :class:`WorkerInfo` of the calling worker, or None in the main process.

    An :class:`~gradkit.utils.data.IterableDataset` uses it to give each worker its own
    share of the stream.

    Example:
        >>> get_worker_info() is None
        True
    """
    return getattr(_info, "value", None)


class _Message(str):
    """A message whose repr is itself: ``KeyError`` shows its argument's repr, which would
    print the traceback as one line of escaped newlines."""

    def __repr__(self):
        return str(self)


class _Failure:
    """An exception raised in a worker, carried back as its type and formatted traceback."""

    def __init__(self, exc, owner, worker_id):
        kind = type(exc)
        try:
            pickle.dumps(kind)
        except Exception:  # a class the main process could not rebuild: say RuntimeError
            kind = RuntimeError
        self.kind = kind
        where = f"{owner} worker {worker_id} (pid {os.getpid()})"
        self.message = (f"Caught {type(exc).__name__} in {where}.\nOriginal traceback (most "
                        "recent call last):\n" + "".join(traceback.format_exception(exc)))

    def reraise(self):
        try:
            exc = self.kind(_Message(self.message))
        except Exception:  # an exception type whose constructor wants other arguments
            exc = RuntimeError(self.message)
        raise exc


class _Exhausted:
    """A worker's answer when its stream (an IterableDataset's iterator) has ended."""


def _seed_worker(seed):
    from gradkit import random as gk_random

    gk_random.seed(seed)
    np.random.seed(seed % 2**32)
    _pyrandom.seed(seed)


def _worker_loop(fetch, worker_id, num_workers, seed, init_fn, tasks, results, done, owner,
                 process, parent_pid):
    """Body of one worker: fetch each task's payload until told to stop."""
    if process:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _seed_worker(seed)
    _info.value = WorkerInfo(worker_id, num_workers, seed, getattr(fetch, "dataset", None))
    failure = None
    try:
        if init_fn is not None:
            init_fn(worker_id)
    except Exception as exc:
        failure = _Failure(exc, owner, worker_id)
    while not done.is_set():
        try:
            task = tasks.get(timeout=_POLL)
        except queue.Empty:
            if process and os.getppid() != parent_pid:
                break  # the main process died without shutting us down
            continue
        if task is None:
            break
        generation, task_id, payload = task
        if failure is not None:
            data = failure
        else:
            try:
                data = fetch(payload)
            except Exception as exc:
                data = _Failure(exc, owner, worker_id)
        if process:
            try:
                data = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:
                data = pickle.dumps(_Failure(exc, owner, worker_id))
        results.put((generation, task_id, data))
    if process:
        results.cancel_join_thread()  # exiting must not wait for the main process to read


def _default_context():
    import multiprocessing  # here, not at the top: it loads socket, which import gradkit must not

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


class WorkerPool:
    """``num_workers`` processes (or threads) running ``fetch(payload)`` on request.

    Args:
        fetch: a callable ``payload -> result``; with processes it is inherited (fork)
            or pickled (spawn), so each worker has its own copy. ``fetch.dataset``, if
            present, is what :func:`get_worker_info` reports.
        num_workers: how many workers (>= 1).
        processes: True for processes, False for threads sharing this process.
        context: a multiprocessing context or start-method name (default: ``fork``
            where available).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker first.
        base_seed: worker ``i`` is seeded with ``base_seed + i`` (processes only).
        timeout: seconds :meth:`get` waits for a result (0: forever).
        owner: the name in messages (``"DataLoader"``).
    """

    def __init__(self, fetch, num_workers, *, processes=True, context=None,
                 worker_init_fn=None, base_seed=0, timeout=0, owner="DataLoader"):
        self.owner, self.timeout, self.processes = owner, timeout, processes
        self.generation = 0
        if processes:
            import multiprocessing

            ctx = context if hasattr(context, "Process") else (
                multiprocessing.get_context(context) if context else _default_context())
            make_queue, make_event, make_worker = ctx.Queue, ctx.Event, ctx.Process
        else:
            make_queue, make_event, make_worker = queue.Queue, threading.Event, threading.Thread
        self._results = make_queue()
        self._done = make_event()
        self._tasks = [make_queue() for _ in range(num_workers)]
        self._workers = []
        for i in range(num_workers):
            worker = make_worker(
                target=_worker_loop, daemon=True, name=f"{owner}-worker-{i}",
                args=(fetch, i, num_workers, base_seed + i, worker_init_fn, self._tasks[i],
                      self._results, self._done, owner, processes, os.getpid()))
            worker.start()
            self._workers.append(worker)
        self._closed = False
        self._finalizer = weakref.finalize(self, WorkerPool._stop, self._workers, self._tasks,
                                           self._results, self._done, processes)

    @property
    def num_workers(self):
        return len(self._workers)

    @property
    def pids(self):
        """The worker processes' ids (None entries for thread workers)."""
        return [getattr(w, "pid", None) for w in self._workers]

    def put(self, worker_id, task_id, payload):
        """Send ``payload`` to worker ``worker_id`` under ``task_id``."""
        self._tasks[worker_id].put((self.generation, task_id, payload))

    def get(self):
        """The next ``(task id, result)`` of the current generation, in arrival order.

        Raises:
            RuntimeError: a worker died, or nothing came within ``timeout`` seconds.
            Whatever the worker raised, with its traceback in the message.
        """
        deadline = time.monotonic() + self.timeout if self.timeout else None
        while True:
            wait = _POLL if deadline is None else min(_POLL, max(deadline - time.monotonic(),
                                                                 0.0))
            try:
                generation, task_id, data = self._results.get(timeout=wait)
            except queue.Empty:
                self._check_alive()
                if deadline is not None and time.monotonic() >= deadline:
                    raise RuntimeError(f"{self.owner} timed out after {self.timeout} seconds "
                                       "waiting for a batch from its workers; raise timeout= "
                                       "or look for a slow or stuck dataset") from None
                continue
            if generation != self.generation:
                continue  # a result of an abandoned epoch
            if self.processes:
                data = pickle.loads(data)
            if isinstance(data, _Failure):
                data.reraise()
            return task_id, data

    def _check_alive(self):
        for w in self._workers:
            if not w.is_alive():
                code = getattr(w, "exitcode", None)
                pid = getattr(w, "pid", None)
                self.shutdown()
                raise RuntimeError(f"{self.owner} worker (pid {pid}) exited unexpectedly with "
                                   f"exit code {code}; a negative code is the signal that "
                                   "killed it (-9: out of memory?)")

    def new_generation(self):
        """Start a new epoch on this pool: results of earlier tasks will be ignored."""
        self.generation += 1
        return self.generation

    def shutdown(self):
        """Stop the workers (idempotent); called when the pool is dropped, or at exit."""
        self._closed = True
        self._finalizer()

    @staticmethod
    def _stop(workers, tasks, results, done, processes):
        done.set()
        for q in tasks:
            try:
                q.put(None)
            except (ValueError, OSError):  # pragma: no cover - queue already closed
                pass
        for w in workers:
            w.join(timeout=1.0)
        for w in workers:
            if processes and w.is_alive():
                w.terminate()
                w.join(timeout=1.0)
        if processes:
            for q in tasks + [results]:
                q.cancel_join_thread()
                q.close()


class OrderedPrefetcher:
    """Iterate over a pool's results for ``payloads``, in order, ``depth`` tasks ahead.

    Args:
        pool: a :class:`WorkerPool`.
        payloads: an iterator of task payloads (map-style: index lists), or None for a
            stream: each worker is asked for "the next batch" until it answers that its
            stream ended.
        depth: tasks in flight at once (``prefetch_factor * num_workers``).
        own_pool: shut the pool down when this iterator ends or is dropped.
    """

    def __init__(self, pool, payloads, depth, own_pool):
        self._pool = pool
        self._generation = pool.new_generation()
        self._stream = payloads is None
        self._payloads = itertools.repeat(self._generation) if self._stream else iter(payloads)
        self._depth = max(1, depth)
        self._active = list(range(pool.num_workers))
        self._cycle = 0
        self._sent = 0
        self._next = 0
        self._owner = {}       # task id -> worker id, for tasks in flight
        self._ready = {}       # task id -> result that came early
        self._exhausted = False
        if own_pool:
            self._finalizer = weakref.finalize(self, pool.shutdown)
        self._fill()

    def _fill(self):
        while not self._exhausted and len(self._owner) < self._depth and self._active:
            try:
                payload = next(self._payloads)
            except StopIteration:
                self._exhausted = True
                return
            worker = self._active[self._cycle % len(self._active)]
            self._cycle += 1
            self._pool.put(worker, self._sent, payload)
            self._owner[self._sent] = worker
            self._sent += 1

    def __iter__(self):
        return self

    def __next__(self):
        while True:
            if self._next not in self._owner:
                self.close()
                raise StopIteration
            while self._next not in self._ready:
                task_id, data = self._pool.get()
                self._ready[task_id] = data
            data = self._ready.pop(self._next)
            worker = self._owner.pop(self._next)
            self._next += 1
            if isinstance(data, _Exhausted):
                if worker in self._active:  # its stream ended: ask the others only
                    self._active.remove(worker)
                self._fill()
                continue
            self._fill()
            return data

    def close(self):
        """Stop early; an owned pool is shut down."""
        self._exhausted = True
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer()
