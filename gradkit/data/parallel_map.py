"""``Dataset.map(num_parallel_calls=k)``: ``k`` threads apply the function, order kept.

A sliding window of ``k`` submitted calls runs on a thread pool; results are taken in
submission order, so the output equals the sequential map's. NumPy releases the GIL in
its array kernels, which is where a map's time usually goes.
"""

from __future__ import annotations

import collections

__all__ = ["parallel_map"]


def parallel_map(fn, source, workers):
    """Yield ``fn(item)`` for each item of ``source``, computed ``workers`` at a time.

    Example:
        >>> list(parallel_map(lambda v: v * v, iter(range(5)), 3))
        [0, 1, 4, 9, 16]
    """
    # imported here: concurrent.futures registers a fork hook, which import gradkit must not
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gradkit-data-map")
    window = collections.deque()
    try:
        for item in source:
            window.append(pool.submit(fn, item))
            if len(window) >= workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:
        for future in window:
            future.cancel()
        pool.shutdown(wait=False)
