"""Shared helpers for the benchmark scripts: interleaved timing and medians."""

from __future__ import annotations

import platform
import statistics
import time


def machine():
    import os

    import numpy as np

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, NumPy {np.__version__}")


def interleaved(contenders: dict, repeats: int, inner: int = 1, warmup: int = 3):
    """Run each contender ``inner`` times per round, round-robin, ``repeats`` rounds.

    Returns ``{name: [seconds per call, ...]}``; interleaving makes machine
    drift hit all contenders alike.
    """
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            t = time.perf_counter()
            for _ in range(inner):
                fn()
            times[name].append((time.perf_counter() - t) / inner)
    return times


def median(xs):
    return statistics.median(xs)


def fmt_time(s):
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3f} ms"
    return f"{s * 1e6:.1f} us"
