"""One optimizer step over an MLP's parameters: gradkit vs PyTorch.

The parameters are those of a 784-512-10 MLP (784x512 + 512 + 512x10 + 10 =
407,050 float32 values). For SGD with momentum, RMSprop and Adam, the script times
single ``step()`` calls of gradkit and of ``torch.optim`` (``foreach`` default,
``torch.set_num_threads(2)``), interleaved call by call so both see the same machine
load, and prints the medians and the ratio gradkit / torch (target: <= 1.0).
Gradients are fixed random arrays set once as ``.grad``.

Usage:
    python benchmarks/bench_optimizers.py [--steps 50] [--warmup 10] [--repeats 3]
                                          [--threads N] [--torch-threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gradkit as gk  # noqa: E402
from gradkit import optimizers as O  # noqa: E402

SHAPES = [(784, 512), (512,), (512, 10), (10,)]

CASES = {
    "SGD momentum": (lambda ps: O.SGD(ps, lr=0.01, momentum=0.9),
                     lambda torch, ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9)),
    "RMSprop": (lambda ps: O.RMSprop(ps, lr=1e-3),
                lambda torch, ps: torch.optim.RMSprop(ps, lr=1e-3, alpha=0.9, eps=1e-7)),
    "Adam": (lambda ps: O.Adam(ps, lr=1e-3),
             lambda torch, ps: torch.optim.Adam(ps, lr=1e-3, eps=1e-7)),
}


def _setup(seed=0):
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(s).astype(np.float32) * 0.05 for s in SHAPES]
    grads = [rng.standard_normal(s).astype(np.float32) * 0.01 for s in SHAPES]
    return values, grads


def bench_case(name, steps, warmup, torch):
    make_gk, make_torch = CASES[name]
    values, grads = _setup()
    gk_params = [gk.Variable(v) for v in values]
    for p, g in zip(gk_params, grads):
        p.grad = gk.Tensor(g)
    t_params = [torch.tensor(v, requires_grad=True) for v in values]
    for p, g in zip(t_params, grads):
        p.grad = torch.tensor(g)
    gk_opt = make_gk(gk_params)
    t_opt = make_torch(torch, t_params)
    clock = time.perf_counter_ns
    for _ in range(warmup):
        gk_opt.step()
        t_opt.step()
    ours, theirs = [], []
    for i in range(steps):
        # alternate which library goes first so neither always follows the other
        order = (gk_opt.step, t_opt.step) if i % 2 == 0 else (t_opt.step, gk_opt.step)
        for fn in order:
            t0 = clock()
            fn()
            dt = clock() - t0
            (ours if fn == gk_opt.step else theirs).append(dt)
    return statistics.median(ours) / 1e3, statistics.median(theirs) / 1e3


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50, help="timed steps per library (50)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed steps first (10)")
    ap.add_argument("--repeats", type=int, default=3, help="rounds; the best median is kept")
    ap.add_argument("--threads", type=int, default=None,
                    help="gradkit optimizer threads (default: gradkit's default)")
    ap.add_argument("--torch-threads", type=int, default=2, help="torch.set_num_threads (2)")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.torch_threads)
    if args.threads is not None:
        O.set_num_threads(args.threads)
    n = sum(int(np.prod(s)) for s in SHAPES)
    print(f"{n:,} float32 parameters {SHAPES}; numpy {np.__version__}, torch "
          f"{torch.__version__} ({torch.get_num_threads()} threads), gradkit optimizer "
          f"threads {O.get_num_threads()}; median of {args.steps} steps, best of "
          f"{args.repeats} rounds")
    print(f"{'optimizer':<14}{'gradkit us':>12}{'torch us':>12}{'ratio':>8}")
    worst = 0.0
    for name in CASES:
        rounds = [bench_case(name, args.steps, args.warmup, torch) for _ in range(args.repeats)]
        ours = min(r[0] for r in rounds)
        theirs = min(r[1] for r in rounds)
        ratio = ours / theirs
        worst = max(worst, ratio)
        print(f"{name:<14}{ours:>12.1f}{theirs:>12.1f}{ratio:>8.2f}")
    print(f"worst ratio gradkit/torch: {worst:.2f} (target <= 1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
