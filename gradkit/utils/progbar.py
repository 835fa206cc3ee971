"""A Keras-style text progress bar for training loops.

A finished epoch prints as::

    469/469 ━━━━━━━━━━━━━━━━━━━━ 2s 3ms/step - accuracy: 0.8784 - loss: 0.4283

On a terminal the line is redrawn in place (``\\r``) at most every ``interval``
seconds while the epoch runs, showing an ``ETA:`` instead of the elapsed time.
When the output is not a terminal (log files, CI, pytest capture) nothing is
written until the epoch is finalized, and then exactly one clean line is
written, without carriage returns or escape codes.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

import numpy as np

__all__ = ["Progbar", "format_value", "format_time_per_unit", "format_duration"]

_DONE = "\u2501"  # '━' heavy horizontal: done part
_TODO = "\u2500"  # '─' light horizontal: remaining part when colour is off
_DIM = "\x1b[2m"
_RESET = "\x1b[0m"


def format_value(value: Any) -> str:
    """Format one metric value the way Keras prints it.

    Args:
        value: a number (Python or NumPy scalar); anything else is shown with ``str``.

    Returns:
        Four decimals (``0.4283``) when ``abs(value) > 1e-3``, scientific notation
        (``1.2345e-05``) for tiny non-zero values, ``0.0000`` for zero.

    Example:
        >>> format_value(0.42831), format_value(1.23449e-5), format_value(0)
        ('0.4283', '1.2345e-05', '0.0000')
    """
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        v = float(value)
        if v == 0.0 or abs(v) > 1e-3 or v != v or v in (float("inf"), float("-inf")):
            return f"{v:.4f}"
        return f"{v:.4e}"
    return str(value)


def format_time_per_unit(seconds: float, unit_name: str = "step") -> str:
    """Format a per-unit duration as ``2s/step``, ``3ms/step`` or ``45us/step``.

    Args:
        seconds: duration of one unit in seconds (``>= 0``).
        unit_name: the unit label, e.g. ``"step"`` or ``"sample"``.

    Returns:
        The formatted string, rounded to whole s, ms or us.

    Example:
        >>> format_time_per_unit(0.0031)
        '3ms/step'
    """
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


def format_duration(seconds: float) -> str:
    """Format a remaining time as ``7s``, ``1:05`` or ``1:02:03`` (h:mm:ss).

    Args:
        seconds: a duration in seconds.

    Returns:
        The formatted string.

    Example:
        >>> format_duration(65.2)
        '1:05'
    """
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}:{(s % 3600) // 60:02d}:{s % 60:02d}"
    if s >= 60:
        return f"{s // 60}:{s % 60:02d}"
    return f"{s}s"


def _to_float(value: Any) -> float | None:
    """Best-effort conversion of a metric value to float; None if not numeric."""
    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.size == 0:
        return None
    return float(arr.mean())


def _terminal_columns(stream: Any) -> int | None:
    """Width of the terminal behind ``stream``, or None when it cannot be told."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, OSError, ValueError):
        return None


class Progbar:
    """Keras-style progress bar.

    Args:
        target: total number of steps (or samples) in the epoch, or ``None`` if
            unknown (the bar then shows ``123/Unknown``).
        width: width of the bar in characters.
        verbose: ``0`` silent, ``1`` bar (live on a terminal, one line otherwise),
            ``2`` one summary line per epoch only.
        stateful_metrics: names of metrics whose latest value is shown as-is
            instead of being averaged over the epoch.
        interval: minimum number of seconds between two live redraws.
        unit_name: label for the per-unit time, e.g. ``"step"`` or ``"sample"``.
        file: text stream to write to; defaults to ``sys.stdout``.

    Values passed to :meth:`update` are averaged over the epoch, each weighted by
    the number of units it covers (``current`` minus the previous ``current``).
    Metric names are shown in the order they were first seen.

    In a training loop pass ``finalize=False`` on every batch, then call
    ``update(target, all_logs, finalize=True)`` once at the end of the epoch
    (that is where validation metrics can be added); if ``finalize`` is left
    ``None`` it becomes ``current >= target``.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> bar = Progbar(3, file=out)
        >>> for step in range(1, 4):
        ...     bar.update(step, {"loss": 1.0 / step}, finalize=False)
        >>> bar.update(3, {"val_loss": 0.5}, finalize=True)
        >>> print(out.getvalue().split(" - ", 1)[1], end="")
        loss: 0.6111 - val_loss: 0.5000
    """

    def __init__(
        self,
        target: int | None,
        width: int = 20,
        verbose: int = 1,
        stateful_metrics: Iterable[str] | None = None,
        interval: float = 0.05,
        unit_name: str = "step",
        file: TextIO | None = None,
    ) -> None:
        if target is not None:
            if not isinstance(target, (int, np.integer)) or isinstance(target, bool):
                raise TypeError(
                    f"Progbar: target must be an int or None, got {type(target).__name__}"
                )
            if target < 0:
                raise ValueError(f"Progbar: target must be >= 0, got {target}")
            target = int(target)
        if verbose not in (0, 1, 2):
            raise ValueError(f"Progbar: verbose must be 0, 1 or 2, got {verbose!r}")
        if int(width) < 1:
            raise ValueError(f"Progbar: width must be >= 1, got {width}")
        self.target = target
        self.width = int(width)
        self.verbose = verbose
        self.stateful_metrics = set(stateful_metrics or ())
        self.interval = float(interval)
        self.unit_name = unit_name
        self._file = file
        stream = file if file is not None else sys.stdout
        isatty = getattr(stream, "isatty", None)
        try:
            tty = bool(isatty()) if isatty is not None else False
        except (ValueError, OSError):  # closed or detached stream
            tty = False
        in_notebook = stream is sys.stdout and "ipykernel" in sys.modules
        self._dynamic = tty or in_notebook
        self._color = self._dynamic and "NO_COLOR" not in os.environ
        self._columns = _terminal_columns(stream) if tty else None
        # Accumulators: name -> [weighted sum, weight]; stateful/non-numeric: name -> value.
        self._sums: dict[str, list[float]] = {}
        self._latest: dict[str, Any] = {}
        self._order: list[str] = []
        self._seen_so_far = 0
        self._start = time.perf_counter()
        self._first_time: float | None = None  # time of the first update with current > 0
        self._first_count = 0
        self._last_draw = float("-inf")
        self._prev_width = 0

    # ------------------------------------------------------------------ update
    def update(
        self,
        current: int,
        values: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        finalize: bool | None = None,
    ) -> None:
        """Record progress and redraw the bar when a redraw is due.

        Args:
            current: number of units (steps or samples) done so far this epoch.
            values: metric values for the units since the previous update, as a
                dict or a list of ``(name, value)`` pairs.
            finalize: whether this is the last update of the epoch; defaults to
                ``current >= target`` (never, when the target is unknown).

        Example:
            >>> Progbar(10, verbose=0).update(5, {"loss": 0.3})
        """
        if values:
            weight = current - self._seen_so_far
            if weight < 1:
                weight = 1
            items = values.items() if isinstance(values, Mapping) else values
            sums = self._sums
            for name, value in items:
                acc = sums.get(name)
                if acc is not None:
                    try:
                        acc[0] += float(value) * weight
                        acc[1] += weight
                        continue
                    except (TypeError, ValueError):
                        pass
                self._record_slow(name, value, weight)
        self._seen_so_far = current
        if self._first_time is None and current > 0:
            self._first_time = time.perf_counter()
            self._first_count = current
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if self.verbose == 0:
            return
        if not finalize:
            if self.verbose == 2 or not self._dynamic:
                return
            now = time.perf_counter()
            if now - self._last_draw < self.interval:
                return
        else:
            now = time.perf_counter()
        self._draw(current, now, finalize)

    def _record_slow(self, name: str, value: Any, weight: int) -> None:
        """Handle first sightings, stateful metrics and non-scalar values."""
        if name not in self._sums and name not in self._latest:
            self._order.append(name)
        if name in self.stateful_metrics:
            self._latest[name] = value
            return
        v = _to_float(value)
        if v is None:  # not numeric: show the latest value as text
            self._sums.pop(name, None)
            self._latest[name] = value
            return
        self._latest.pop(name, None)
        acc = self._sums.get(name)
        if acc is None:
            self._sums[name] = [v * weight, weight]
        else:
            acc[0] += v * weight
            acc[1] += weight

    def add(
        self,
        n: int,
        values: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
    ) -> None:
        """Advance the bar by ``n`` units; same as ``update(seen + n, values)``.

        Args:
            n: number of units just completed.
            values: metric values for those units (dict or ``(name, value)`` pairs).

        Example:
            >>> bar = Progbar(100, verbose=0)
            >>> bar.add(32, {"loss": 0.7})
        """
        self.update(self._seen_so_far + n, values)

    # ------------------------------------------------------------- inspection
    @property
    def averages(self) -> dict[str, Any]:
        """Current displayed values: epoch averages, or latest for stateful metrics."""
        out: dict[str, Any] = {}
        for name in self._order:
            if name in self._latest:
                out[name] = self._latest[name]
            else:
                s, w = self._sums[name]
                out[name] = s / w
        return out

    @property
    def seen_so_far(self) -> int:
        """The ``current`` value of the most recent update."""
        return self._seen_so_far

    # ---------------------------------------------------------------- drawing
    def _time_per_unit(self, current: int, now: float) -> float:
        if current <= 0:
            return 0.0
        # Measure from the first update so one-off start-up cost (first batch,
        # graph building, caches) does not inflate the per-step time.
        if self._first_time is not None and current > self._first_count:
            return (now - self._first_time) / (current - self._first_count)
        return (now - self._start) / current

    def _metrics_text(self) -> str:
        parts = []
        for name, value in self.averages.items():
            v = _to_float(value) if name in self._latest else value
            parts.append(f" - {name}: {format_value(v if v is not None else value)}")
        return "".join(parts)

    def _count_text(self, current: int) -> str:
        if self.target is None:
            return f"{current}/Unknown"
        digits = len(str(self.target))
        return f"{current:>{digits}}/{self.target}"

    def _bar_text(self, current: int) -> tuple[str, int]:
        """Return the bar (maybe with ANSI codes) and its visible length."""
        target = self.target
        if target is None:
            return "", 0
        frac = 1.0 if target == 0 else min(max(current / target, 0.0), 1.0)
        done = int(self.width * frac)
        rest = self.width - done
        if rest == 0:
            return _DONE * done, self.width
        if self._color:
            return _DONE * done + _DIM + _DONE * rest + _RESET, self.width
        return _DONE * done + _TODO * rest, self.width

    def _draw(self, current: int, now: float, finalize: bool) -> None:
        self._last_draw = now
        elapsed = now - self._start
        tpu = format_time_per_unit(self._time_per_unit(current, now), self.unit_name)
        metrics = self._metrics_text()
        count = self._count_text(current)
        stream = self._file if self._file is not None else sys.stdout

        if self.verbose == 2:
            stream.write(f"{count} - {elapsed:.0f}s - {tpu}{metrics}\n")
            stream.flush()
            return

        bar, bar_width = self._bar_text(current)
        in_progress = not finalize and self.target is not None and current < self.target
        if in_progress:
            tpu_s = self._time_per_unit(current, now)
            timing = f"ETA: {format_duration(tpu_s * (self.target - current))}"
        else:
            timing = f"{elapsed:.0f}s"
        head = f"{count} {bar} " if bar_width else f"{count} "
        prefix = f"{head}{timing} {tpu}"
        if self._dynamic and not finalize and self._columns:
            # A live line that wraps cannot be redrawn with '\r': trim the metrics.
            room = self._columns - 1 - (len(prefix) - (len(bar) - bar_width))
            if len(metrics) > room:
                metrics = metrics[: max(room, 0)]
        line = prefix + metrics

        if not self._dynamic:
            # Logs / CI: one clean line, no colour, no carriage returns.
            stream.write(line + "\n")
            stream.flush()
            return

        visible = len(line) - (len(bar) - bar_width)
        pad = " " * max(self._prev_width - visible, 0)
        self._prev_width = visible
        stream.write("\r" + line + pad + ("\n" if finalize else ""))
        stream.flush()
        if finalize:
            self._prev_width = 0
