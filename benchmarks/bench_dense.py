"""Dense forward + backward at the tutorials' MNIST size: gradkit vs bare NumPy vs PyTorch.

The network is ``784 -> Dense(512, relu) -> Dense(10)`` on a float32 batch of
128; one step is the forward pass and the backward pass for a fixed upstream
gradient ``g`` of the logits (the loss is left out: it is not Dense's cost).
Contenders, timed interleaved (round-robin, a few steps per turn after an
untimed one) so machine drift hits all alike:

* ``gradkit``: the two layers, ``y.backward(g)``, gradients reset each step;
* ``numpy``: the bare NumPy a hand-written MLP needs, written out below (same
  arrays, float32): forward ``x@W1 + b1``, relu, ``h@W2 + b2``; backward
  ``h.T@g``, ``g.sum(0)``, ``g@W2.T``, the relu mask, ``x.T@g1``, ``g1.sum(0)``;
  no input gradient for ``x``;
* ``numpy (no bias)`` and ``gradkit (no bias)``: the same without biases (the
  exact matmul list: x@W1, relu, h@W2, g@W2.T, h.T@g, relu mask, x.T@g1);
* ``torch``: ``torch.nn.Linear`` layers on the CPU, ``torch.set_num_threads(2)``.

Prints the median per step of each and the ratios; the target is gradkit
<= 1.05x the bare NumPy.

Usage:
    python benchmarks/bench_dense.py [--repeats 50] [--batch 128] [--no-torch]
    python benchmarks/bench_dense.py --blas-threads 1 --cpu-time     # on a busy machine
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gradkit  # noqa: E402
from gradkit import layers  # noqa: E402


def make_data(batch, rng):
    x = rng.standard_normal((batch, 784)).astype(np.float32)
    g = rng.standard_normal((batch, 10)).astype(np.float32)
    return x, g


def gradkit_step_fn(x, g, use_bias):
    d1 = layers.Dense(512, activation="relu", use_bias=use_bias, input_dim=784)
    d2 = layers.Dense(10, use_bias=use_bias, input_dim=512)
    params = d1.trainable_weights + d2.trainable_weights

    def step():
        for p in params:
            p.grad = None
        y = d2(d1(x))
        y.backward(g)

    return step, params


def numpy_step_fn(x, g, weights, use_bias):
    """The reference: the NumPy calls a hand-written MLP makes, nothing more."""
    W1, b1, W2, b2 = weights

    if use_bias:
        def step():
            h = x @ W1
            h += b1
            np.maximum(h, 0, out=h)                  # relu
            y = h @ W2
            y += b2
            dW2 = h.T @ g
            db2 = g.sum(axis=0)
            g1 = g @ W2.T
            g1 *= h > 0                              # relu mask
            dW1 = x.T @ g1
            db1 = g1.sum(axis=0)
            return y, dW1, db1, dW2, db2
    else:
        def step():
            h = x @ W1
            np.maximum(h, 0, out=h)
            y = h @ W2
            dW2 = h.T @ g
            g1 = g @ W2.T
            g1 *= h > 0
            dW1 = x.T @ g1
            return y, dW1, dW2

    return step


def torch_step_fn(x, g, weights, use_bias):
    import torch

    torch.set_num_threads(2)
    W1, b1, W2, b2 = weights
    l1 = torch.nn.Linear(784, 512, bias=use_bias)
    l2 = torch.nn.Linear(512, 10, bias=use_bias)
    with torch.no_grad():
        l1.weight.copy_(torch.from_numpy(W1.T.copy()))
        l2.weight.copy_(torch.from_numpy(W2.T.copy()))
        if use_bias:
            l1.bias.copy_(torch.from_numpy(b1))
            l2.bias.copy_(torch.from_numpy(b2))
    xt, gt = torch.from_numpy(x), torch.from_numpy(g)
    params = list(l1.parameters()) + list(l2.parameters())

    def step():
        for p in params:
            p.grad = None
        y = l2(torch.relu(l1(xt)))
        y.backward(gt)

    return step


def check_agreement(x, g, params, weights):
    """The contenders compute the same thing: gradkit's gradients vs the reference's."""
    W1, b1, W2, b2 = weights
    ref = numpy_step_fn(x, g, weights, True)()
    got = [p.grad.numpy() for p in params]
    for name, a, b in zip(["dW1", "db1", "dW2", "db2"], got, ref[1:]):
        if not np.allclose(a, b, rtol=1e-4, atol=1e-4):
            raise SystemExit(f"gradkit and the NumPy reference disagree on {name}")


def run(contenders, repeats, clock, block=5, warmup=5):
    """Round-robin over the contenders, ``block`` timed steps each per turn.

    Each turn starts with one untimed step: a contender's thread pool (OpenBLAS's,
    PyTorch's OpenMP) keeps spinning for a while after its last call and would
    otherwise slow down whichever contender comes next.
    """
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    times = {k: [] for k in contenders}
    for _ in range(max(1, repeats // block)):
        for name, fn in contenders.items():
            fn()
            for _ in range(block):
                t0 = clock()
                fn()
                times[name].append(clock() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3,
                    help="independent interleaved runs; the best median of each is kept")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="limit NumPy's BLAS threads (needs threadpoolctl)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time with this thread's CPU clock instead of the wall clock: "
                         "steadier on a busy machine; use with --blas-threads 1 (no torch)")
    args = ap.parse_args(argv)
    if args.blas_threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads, user_api="blas")
    # The thread's own CPU clock: BLAS limited to 1 thread runs on it. PyTorch computes on
    # its own thread pool (and its idle workers spin), so it has no place in this mode.
    clock = time.thread_time if args.cpu_time else time.perf_counter
    if args.cpu_time:
        args.no_torch = True

    rng = np.random.default_rng(0)
    gradkit.random.seed(0)
    x, g = make_data(args.batch, rng)

    contenders = {}
    for use_bias, tag in ((True, ""), (False, " (no bias)")):
        step, params = gradkit_step_fn(x, g, use_bias)
        step()
        if use_bias:
            check_agreement(x, g, params, [p.numpy() for p in params])
        # the reference computes with the very same arrays (same memory alignment)
        weights = [p.numpy() for p in params]
        if not use_bias:
            weights = [weights[0], None, weights[1], None]
        contenders["gradkit" + tag] = step
        contenders["numpy" + tag] = numpy_step_fn(x, g, weights, use_bias)
        if not args.no_torch:
            try:
                contenders["torch" + tag] = torch_step_fn(x, g, weights, use_bias)
            except ImportError:
                pass

    best = {}
    for _ in range(args.rounds):
        for k, v in run(contenders, args.repeats, clock).items():
            best[k] = min(best.get(k, v), v)

    print(f"Dense 784 -> 512 relu -> 10, batch {args.batch}, float32, forward + backward; "
          f"median of {args.repeats} interleaved reps, best of {args.rounds} rounds, "
          f"{'thread CPU' if args.cpu_time else 'wall'} clock, NumPy BLAS threads: "
          f"{args.blas_threads or 'default'}")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, NumPy {np.__version__}")
    for k, v in best.items():
        print(f"  {k:20s} {v * 1e3:8.3f} ms")
    for tag in ("", " (no bias)"):
        ratio = best["gradkit" + tag] / best["numpy" + tag]
        verdict = "ok" if ratio <= 1.05 else "over the 1.05x target"
        line = f"gradkit{tag} / numpy{tag}: {ratio:.3f}x ({verdict})"
        if "torch" + tag in best:
            line += f"; gradkit / torch: {best['gradkit' + tag] / best['torch' + tag]:.3f}x"
        print(line)


if __name__ == "__main__":
    main()
