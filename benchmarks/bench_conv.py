"""Forward + backward time of gradkit's conv2d / max_pool2d against PyTorch CPU.

The four layers of the MNIST CNN benchmark, batch 128, float32:

* conv 3x3 (128, 28, 28, 1) -> 32 filters (valid, stride 1; the image needs no gradient)
* conv 3x3 (128, 13, 13, 32) -> 64 filters (the input needs a gradient)
* max pool 2x2 on (128, 26, 26, 32) and on (128, 11, 11, 64)

gradkit runs channels_last (its default, Keras layout) unless ``--data-format
channels_first``; PyTorch runs NCHW with ``torch.set_num_threads(threads)``.
The two are interleaved (gradkit, torch, gradkit, torch, ...) in the same
process so that load from other processes hits both alike; the table shows
the median of ``--repeats`` timed runs after ``--warmup`` untimed ones, and
the ratio gradkit / torch (below 1: gradkit faster), then the same for the
fastest run (less sensitive to other processes' load). A short pause
(``--pause`` seconds) precedes every timed call: OpenBLAS (NumPy) and OpenMP
(PyTorch) worker threads spin for a while after their last job, and would
otherwise steal a core from the other library's next run.

``--clock cpu`` times process CPU time instead of wall time: with
``--threads 1`` (which also sets OPENBLAS_NUM_THREADS=1 before NumPy loads)
this is the least noisy comparison on a shared machine, as waiting for the
CPU does not count.

gradkit's time includes its engine copying the upstream gradient passed to
``backward(gy)`` (PyTorch uses it in place); the ``seed copy`` line prints
that cost alone.

Usage:
    python benchmarks/bench_conv.py [--repeats 10] [--warmup 2] [--threads 2]
                                    [--pause 0.1] [--clock wall|cpu]
                                    [--data-format channels_last]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path


def _early_threads(argv):
    """Apply ``--threads`` to OpenBLAS before NumPy is imported (it reads the env once)."""
    for i, a in enumerate(argv):
        n = a.split("=", 1)[1] if a.startswith("--threads=") else (
            argv[i + 1] if a == "--threads" and i + 1 < len(argv) else None)
        if n is not None:
            os.environ["OPENBLAS_NUM_THREADS"] = n
            os.environ["OMP_NUM_THREADS"] = n


if __name__ == "__main__":
    _early_threads(sys.argv[1:])

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gradkit  # noqa: E402
from gradkit import ops  # noqa: E402


def _nchw(shape):
    n, h, w, c = shape
    return (n, c, h, w)


def _gradkit_case(kind, shape, cout, fmt, rng):
    """A closure running one forward + backward pass in gradkit."""
    x = rng.standard_normal(shape).astype(np.float32)
    if fmt == "channels_first":
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    needs_x = kind == "pool" or shape[-1] > 1  # the first layer's image needs no gradient
    xt = gradkit.Tensor(x, requires_grad=needs_x)
    params = []
    if kind == "conv":
        cin = shape[-1]
        k = rng.standard_normal((3, 3, cin, cout)).astype(np.float32) * 0.1
        if fmt == "channels_first":
            k = np.ascontiguousarray(k.transpose(3, 2, 0, 1))
        kv = gradkit.Variable(k)
        bv = gradkit.Variable(np.zeros(cout, np.float32))
        params = [kv, bv]

        def forward():
            return ops.conv2d(xt, kv, bv, data_format=fmt)
    else:
        def forward():
            return ops.max_pool2d(xt, 2, data_format=fmt)

    gy = np.ones(forward().shape, np.float32)

    def step():
        for p in params + [xt]:
            p.grad = None
        y = forward()
        y.backward(gy)

    return step


def _torch_case(torch, kind, shape, cout, rng):
    x = torch.from_numpy(rng.standard_normal(_nchw(shape)).astype(np.float32))
    x.requires_grad_(kind == "pool" or shape[-1] > 1)
    F = torch.nn.functional
    if kind == "conv":
        w = torch.from_numpy(rng.standard_normal((cout, shape[-1], 3, 3)).astype(np.float32))
        w.requires_grad_(True)
        b = torch.zeros(cout, requires_grad=True)
        params = [w, b]

        def forward():
            return F.conv2d(x, w, b)
    else:
        params = []

        def forward():
            return F.max_pool2d(x, 2)

    gy = torch.ones(forward().shape)

    def step():
        for p in params + [x]:
            p.grad = None
        forward().backward(gy)

    return step


_clock = time.perf_counter


def _time(fn, pause):
    time.sleep(pause)
    t = _clock()
    fn()
    return _clock() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pause", type=float, default=0.1)
    ap.add_argument("--clock", default="wall", choices=["wall", "cpu"])
    ap.add_argument("--data-format", default="channels_last",
                    choices=["channels_last", "channels_first"])
    args = ap.parse_args(argv)
    global _clock
    _clock = time.process_time if args.clock == "cpu" else time.perf_counter
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
        print("PyTorch is not installed: gradkit times only")
    else:
        torch.set_num_threads(args.threads)

    cases = [
        ("conv3x3 (128,28,28,1)->32", "conv", (128, 28, 28, 1), 32),
        ("conv3x3 (128,13,13,32)->64", "conv", (128, 13, 13, 32), 64),
        ("maxpool2x2 (128,26,26,32)", "pool", (128, 26, 26, 32), None),
        ("maxpool2x2 (128,11,11,64)", "pool", (128, 11, 11, 64), None),
    ]
    rng = np.random.default_rng(0)
    print(f"forward+backward, median of {args.repeats} (ms, {args.clock} clock); gradkit "
          f"{args.data_format}, torch NCHW; {args.threads} thread(s) each")
    print(f"{'case':<30}{'gradkit':>10}{'torch':>10}{'ratio':>8}   "
          f"{'min: gradkit':>12}{'torch':>9}{'ratio':>7}")
    for name, kind, shape, cout in cases:
        g = _gradkit_case(kind, shape, cout, args.data_format, rng)
        t = _torch_case(torch, kind, shape, cout, rng) if torch else None
        tg, tt = [], []
        for r in range(args.warmup + args.repeats):
            a = _time(g, args.pause)
            b = _time(t, args.pause) if t else float("nan")
            if r >= args.warmup:
                tg.append(a)
                tt.append(b)
        mg, mt = statistics.median(tg) * 1e3, statistics.median(tt) * 1e3
        lg, lt = min(tg) * 1e3, min(tt) * 1e3
        print(f"{name:<30}{mg:>10.2f}{mt:>10.2f}{mg / mt:>8.2f}   "
              f"{lg:>12.2f}{lt:>9.2f}{lg / lt:>7.2f}")
    big = np.ones((128, 26, 26, 32), np.float32)
    seed = [_time(lambda: np.array(big), args.pause) for _ in range(args.repeats)]
    print(f"seed copy of a (128,26,26,32) gradient: {statistics.median(seed) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
