"""glibc malloc tuning, scoped to gradkit's own training and inference loops.

NumPy allocates every temporary with malloc. glibc serves large blocks with
fresh mmap-ed pages and hands freed memory back to the OS, so a loop that
allocates the same big arrays every step (im2col buffers, gradients,
activations) faults them in again each time. Inside :func:`tuned` the mmap
threshold is 32 MiB (smaller blocks come from the heap and are reused) and the
trim threshold 512 MiB (freed memory stays for the next step).

A library is a guest in its host process, so this is never done at import:
``fit``, ``evaluate`` and ``predict`` enter :func:`tuned`, and when the last
loop (over all threads) leaves it, glibc's default thresholds are set again and
``malloc_trim(0)`` returns the freed heap to the OS. ``GRADKIT_MALLOC_TUNING=0``
leaves malloc alone entirely (also the way to keep settings of your own, which
glibc gives no way to read back). Linux with glibc only; elsewhere a no-op.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_TUNED = {_M_MMAP_THRESHOLD: 32 * 1024 * 1024, _M_TRIM_THRESHOLD: 512 * 1024 * 1024}
_DEFAULT = {_M_MMAP_THRESHOLD: 128 * 1024, _M_TRIM_THRESHOLD: 128 * 1024}  # glibc's own

_lock = threading.Lock()
_depth = 0          # loops inside tuned(), over all threads
_libc = None        # ctypes handle once loaded; False where there is no glibc


def _glibc():
    global _libc
    if _libc is None:
        _libc = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                lib = ctypes.CDLL("libc.so.6")
                lib.mallopt, lib.malloc_trim  # noqa: B018 - both exist only in glibc
                _libc = lib
            except (OSError, AttributeError):  # musl and friends: nothing to tune
                _libc = False
    return _libc


def enabled() -> bool:
    """True when the loops tune malloc: glibc is present and ``GRADKIT_MALLOC_TUNING`` is not 0."""
    return os.environ.get("GRADKIT_MALLOC_TUNING", "1") != "0" and bool(_glibc())


def _apply(settings):
    libc = _glibc()
    for param, value in settings.items():
        libc.mallopt(param, value)


@contextlib.contextmanager
def tuned():
    """Raise glibc's malloc thresholds while the body runs (nested and threaded uses count).

    Example::

        with tuned():
            for batch in batches:
                train_step(batch)
    """
    global _depth
    if not enabled():
        yield
        return
    with _lock:
        _depth += 1
        if _depth == 1:
            _apply(_TUNED)
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _apply(_DEFAULT)
                _glibc().malloc_trim(0)


def tuned_iter(batches):
    """Yield from ``batches`` inside :func:`tuned`; leaving it (exhausted, ``break``,
    an error) closes the scope."""
    with tuned():
        yield from batches
