"""Stop signals (Ctrl-C, SIGTERM, SIGHUP) while gradkit trains, saves or runs a command.

A library is a guest in its process: gradkit installs no handler at import.
Each helper here installs its handlers for the duration of a ``with`` block,
in the main thread only (Python delivers signals there), and puts the
previous handlers back when the block ends.

* :class:`StopAtBatchEnd` (``fit``): the first stop signal sets a flag that the
  loop checks after each batch; a second one raises :class:`Interrupted` at once.
* :func:`deferred` (atomic file writes): signals that arrive while a file is
  being written are held and re-delivered once it is complete, so a kill never
  leaves a temporary file behind.
* :func:`raising` (the command line): SIGTERM and SIGHUP raise
  :class:`Interrupted` like Ctrl-C raises ``KeyboardInterrupt``, so cleanup in
  ``finally`` blocks runs.
"""

from __future__ import annotations

import contextlib
import signal
import threading

__all__ = ["STOP_SIGNALS", "Interrupted", "StopAtBatchEnd", "deferred", "describe", "raising"]

#: The signals that ask a program to stop: Ctrl-C, ``kill``, a closed terminal.
STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, n))


class Interrupted(KeyboardInterrupt):
    """A stop signal other than Ctrl-C (SIGTERM, SIGHUP), raised like ``KeyboardInterrupt``.

    Attributes:
        signum: the signal's number.
    """

    def __init__(self, signum):
        super().__init__(describe(signum))
        self.signum = signum


def describe(signum) -> str:
    """``"Ctrl-C"`` for SIGINT, else the signal's name (``"SIGTERM"``)."""
    if signum == signal.SIGINT:
        return "Ctrl-C"
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _raise(signum):
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Interrupted(signum)


@contextlib.contextmanager
def _handling(handler, signals=STOP_SIGNALS):
    """Install ``handler`` for ``signals`` (main thread only); restore the old ones after."""
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    previous = {s: signal.getsignal(s) for s in signals}
    try:
        for s in signals:
            signal.signal(s, handler)
        yield True
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


class StopAtBatchEnd:
    """Turn the first stop signal during ``fit`` into a flag checked at each batch's end.

    Attributes:
        hit: True once a stop signal arrived.
        signum: that signal's number (None before).
    """

    def __init__(self):
        self.hit = False
        self.signum = None
        self._scope = None

    @property
    def reason(self) -> str:
        """``"Ctrl-C"``, ``"SIGTERM"``...: what stopped the loop."""
        return describe(self.signum) if self.signum is not None else ""

    def _handler(self, signum, frame):
        if self.hit:  # a second signal: stop right now
            _raise(signum)
        self.hit, self.signum = True, signum

    def __enter__(self):
        self._scope = _handling(self._handler)
        self._scope.__enter__()
        return self

    def __exit__(self, *exc):
        return self._scope.__exit__(*exc)


@contextlib.contextmanager
def deferred():
    """Hold stop signals until the block ends, then deliver them to the previous handlers.

    Example::

        with deferred():
            write_temp_file(); os.replace(tmp, path)   # never cut in the middle
    """
    held = []
    with _handling(lambda signum, frame: held.append(signum)):
        yield
    for signum in dict.fromkeys(held):
        signal.raise_signal(signum)


@contextlib.contextmanager
def raising():
    """SIGTERM and SIGHUP raise :class:`Interrupted` (Ctrl-C keeps raising KeyboardInterrupt)."""
    others = tuple(s for s in STOP_SIGNALS if s != signal.SIGINT)
    with _handling(lambda signum, frame: _raise(signum), others):
        yield
