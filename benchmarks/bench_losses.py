"""Cost of a softmax output + cross-entropy, detected and fused, against explicit logits.

A Dense layer (``x @ W + b``, batch 128, 10 classes) feeds

* ``softmax -> CategoricalCrossentropy()``: the loss detects the softmax and
  uses the fused ``softmax_cross_entropy`` on its logits;
* ``logits -> CategoricalCrossentropy(from_logits=True)``: the fused op directly;
* the same two with integer labels (``SparseCategoricalCrossentropy``);
* for scale, the probability path the detection avoids: renormalise, clip,
  ``-sum(t log p)`` (what an undetected softmax output would cost).

Each scenario times forward + backward (``loss.backward()``) per step; the
median over repeats of the mean step time is printed, with the ratio of each
row to the explicit-logits row of its label kind (target: ~1.0 for the
detected rows).

Usage:
    python benchmarks/bench_losses.py [--batch 128] [--features 64] [--classes 10]
                                      [--steps 2000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import gradkit  # noqa: E402
from gradkit import losses, ops  # noqa: E402


def _scenarios(batch, features, classes):
    rng = np.random.default_rng(0)
    x = gradkit.Tensor(rng.normal(size=(batch, features)).astype("float32"))
    w = gradkit.Variable(rng.normal(size=(features, classes)).astype("float32") * 0.1)
    b = gradkit.Variable(np.zeros(classes, "float32"))
    labels = rng.integers(0, classes, batch)
    onehot = np.eye(classes, dtype="float32")[labels]

    cce, cce_logits = losses.CategoricalCrossentropy(), losses.CategoricalCrossentropy(True)
    scce = losses.SparseCategoricalCrossentropy()
    scce_logits = losses.SparseCategoricalCrossentropy(from_logits=True)

    def dense():
        return ops.matmul(x, w) + b

    def step(fn):
        def run():
            w.grad = b.grad = None
            fn().backward()
        return run

    def clipped():
        per = losses._cce_clipped(onehot, ops.softmax(dense()))  # the undetected path
        return ops.mean(per)

    return [
        ("one-hot: logits + CCE(from_logits=True)", "onehot",
         step(lambda: cce_logits(onehot, dense())), True),
        ("one-hot: softmax + CCE() (detected)", "onehot",
         step(lambda: cce(onehot, ops.softmax(dense()))), False),
        ("one-hot: softmax + clip/log path", "onehot", step(clipped), False),
        ("sparse:  logits + SCCE(from_logits=True)", "sparse",
         step(lambda: scce_logits(labels, dense())), True),
        ("sparse:  softmax + SCCE() (detected)", "sparse",
         step(lambda: scce(labels, ops.softmax(dense()))), False),
    ]


def _time(fn, steps):
    for _ in range(min(steps, 100)):  # warm-up
        fn()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t0) / steps


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)

    scenarios = _scenarios(args.batch, args.features, args.classes)
    times = {name: [] for name, *_ in scenarios}
    for _ in range(args.repeats):  # interleave scenarios: drift hits all alike
        for name, _kind, fn, _ref in scenarios:
            times[name].append(_time(fn, args.steps))
    med = {name: statistics.median(ts) for name, ts in times.items()}
    refs = {kind: med[name] for name, kind, _fn, is_ref in scenarios if is_ref}

    print(f"forward+backward, Dense({args.features}->{args.classes}), batch {args.batch}, "
          f"{args.steps} steps x {args.repeats} repeats (median), NumPy {np.__version__}")
    for name, kind, _fn, _ref in scenarios:
        print(f"  {name:<44s} {med[name] * 1e6:8.1f} us/step   "
              f"ratio {med[name] / refs[kind]:.3f}")


if __name__ == "__main__":
    main()
