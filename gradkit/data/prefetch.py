"""``Dataset.prefetch``: a background thread that stays ``k`` elements ahead.

The thread pulls from the upstream iterator into a bounded queue; the consumer takes
from it. An exception upstream is passed through the queue and raised at the
consumer's ``next()``. When the consumer is dropped (a loop left early) or closed,
the thread is told to stop and exits at its next queue operation, so nothing hangs.
"""

from __future__ import annotations

import queue
import threading
import weakref

__all__ = ["Prefetcher"]

_END = object()


class _Raised:
    def __init__(self, exc):
        self.exc = exc


def _put(buffer, item, stop):
    """Put ``item`` unless told to stop first; True when it went in."""
    while not stop.is_set():
        try:
            buffer.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _produce(source, buffer, stop):
    """The thread: move elements from ``source`` into ``buffer`` until told to stop."""
    try:
        for item in source:
            if not _put(buffer, item, stop):
                return
        item = _END
    except BaseException as exc:  # handed to the consumer, raised there
        item = _Raised(exc)
    _put(buffer, item, stop)


class Prefetcher:
    """An iterator over ``source`` whose next ``size`` elements are loaded by a thread.

    Args:
        source: an iterator.
        size: how many elements may wait in the buffer (>= 1).

    Example:
        >>> list(Prefetcher(iter(range(5)), 2))
        [0, 1, 2, 3, 4]
    """

    def __init__(self, source, size):
        self._buffer = queue.Queue(maxsize=size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=_produce, args=(source, self._buffer,
                                                               self._stop),
                                        name="gradkit-data-prefetch", daemon=True)
        self._thread.start()
        self._done = False
        self._finalizer = weakref.finalize(self, self._stop.set)

    def __iter__(self):
        return self

    def __next__(self):
        if self._done:
            raise StopIteration
        item = self._buffer.get()
        if item is _END:
            self._done = True
            raise StopIteration
        if isinstance(item, _Raised):
            self._done = True
            raise item.exc
        return item

    def close(self):
        """Stop the thread (also done when the iterator is dropped)."""
        self._done = True
        self._finalizer()
