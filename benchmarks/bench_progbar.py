"""Per-update cost of gradkit.utils.progbar.Progbar.

Times 10,000 ``update()`` calls one by one (``time.perf_counter_ns`` around each
call), does the same for an empty loop body, and prints the median per-update
cost in microseconds after subtracting the empty-loop median. The scenarios
cover the calls a training loop makes on every batch when no redraw is due,
plus, for scale, a bar forced to redraw on every call.

Usage:
    python benchmarks/bench_progbar.py [--updates 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gradkit.utils.progbar import Progbar  # noqa: E402


class _NullTTY(io.TextIOBase):
    """A terminal-like sink that discards everything written to it."""

    def isatty(self):
        return True

    def write(self, s):
        return len(s)


def _time_calls(fn, n):
    """Return the per-call durations (ns) of fn(i) for i in 1..n."""
    clock = time.perf_counter_ns
    out = [0] * n
    for i in range(1, n + 1):
        t0 = clock()
        fn(i)
        out[i - 1] = clock() - t0
    return out


def _empty(i):
    return None


def _scenarios(n):
    logs = {"accuracy": 0.87, "loss": 0.43}
    return {
        "non-tty, 2 metrics": lambda: Progbar(n + 1, file=io.StringIO()),
        "tty (throttled), 2 metrics": lambda: Progbar(n + 1, file=_NullTTY(), interval=3600),
        "verbose=0, 2 metrics": lambda: Progbar(n + 1, verbose=0),
        "non-tty, no metrics": lambda: Progbar(n + 1, file=io.StringIO()),
        "tty, redraw every update": lambda: Progbar(n + 1, file=_NullTTY(), interval=0),
    }, logs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    n = args.updates

    baseline = statistics.median(t for _ in range(args.repeats) for t in _time_calls(_empty, n))
    print(f"{n} updates x {args.repeats} repeats; empty-loop median {baseline / 1e3:.3f} us")
    print(f"{'scenario':<30} {'median us':>10} {'p90 us':>10}")
    factories, logs = _scenarios(n)
    for name, make in factories.items():
        samples = []
        for _ in range(args.repeats):
            bar = make()
            if name.endswith("no metrics"):
                samples += _time_calls(lambda i, bar=bar: bar.update(i, finalize=False), n)
            else:
                samples += _time_calls(lambda i, bar=bar: bar.update(i, logs, finalize=False), n)
        samples.sort()
        med = (statistics.median(samples) - baseline) / 1e3
        p90 = (samples[int(0.9 * len(samples))] - baseline) / 1e3
        print(f"{name:<30} {med:>10.3f} {p90:>10.3f}")


if __name__ == "__main__":
    main()
