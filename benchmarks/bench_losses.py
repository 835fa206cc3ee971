"""Cost of a softmax output + cross-entropy, detected and fused, against explicit logits.

A Dense layer (``x @ W + b``, batch 128, 10 classes) feeds

* ``softmax -> CategoricalCrossentropy()``: the loss detects the softmax and
  uses the fused ``softmax_cross_entropy`` on its logits;
* ``logits -> CategoricalCrossentropy(from_logits=True)``: the fused op directly;
* the same two with integer labels (``SparseCategoricalCrossentropy``);
* explicit logits + fused loss plus a softmax forward whose result is unused:
  the softmax a model with a softmax output computes anyway, so the difference
  between this row and the detected row is what the detection itself costs;
* for scale, the probability path the detection avoids: renormalise, clip,
  ``-sum(t log p)`` (what an undetected softmax output would cost).

Each scenario times forward + backward (``loss.backward()``) per step, in
short rounds interleaved with the other scenarios. The best round (least
disturbed by other processes) and the median round are printed, with the
ratio of each row's best to the explicit-logits row of its label kind
(target: ~1.0 for the detected rows, beyond the softmax forward itself).

Usage:
    python benchmarks/bench_losses.py [--batch 128] [--features 64] [--classes 10]
                                      [--steps 300] [--repeats 30]
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

    def logits_plus_softmax(loss, y):
        def run():
            z = dense()
            ops.softmax(z)  # the output layer's own work, unused by the loss
            return loss(y, z)
        return run

    def clipped():
        per = losses._cce_clipped(onehot, ops.softmax(dense()))  # the undetected path
        return ops.mean(per)

    return [
        ("one-hot: logits + CCE(from_logits=True)", "onehot",
         step(lambda: cce_logits(onehot, dense())), True),
        ("one-hot: logits + CCE(from_logits) + softmax fwd", "onehot",
         step(logits_plus_softmax(cce_logits, onehot)), False),
        ("one-hot: softmax + CCE() (detected)", "onehot",
         step(lambda: cce(onehot, ops.softmax(dense()))), False),
        ("one-hot: softmax + clip/log path", "onehot", step(clipped), False),
        ("sparse:  logits + SCCE(from_logits=True)", "sparse",
         step(lambda: scce_logits(labels, dense())), True),
        ("sparse:  logits + SCCE(from_logits) + softmax fwd", "sparse",
         step(logits_plus_softmax(scce_logits, labels)), False),
        ("sparse:  softmax + SCCE() (detected)", "sparse",
         step(lambda: scce(labels, ops.softmax(dense()))), False),
    ]


def _time(fn, steps):
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t0) / steps


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--steps", type=int, default=300, help="steps per timed round")
    ap.add_argument("--repeats", type=int, default=30, help="rounds per scenario")
    args = ap.parse_args(argv)

    scenarios = _scenarios(args.batch, args.features, args.classes)
    for _name, _kind, fn, _ref in scenarios:  # warm-up
        _time(fn, 100)
    times = {name: [] for name, *_ in scenarios}
    for _ in range(args.repeats):  # interleave scenarios: drift hits all alike
        for name, _kind, fn, _ref in scenarios:
            times[name].append(_time(fn, args.steps))
    best = {name: min(ts) for name, ts in times.items()}
    med = {name: statistics.median(ts) for name, ts in times.items()}
    refs = {kind: best[name] for name, kind, _fn, is_ref in scenarios if is_ref}

    print(f"forward+backward, Dense({args.features}->{args.classes}), batch {args.batch}, "
          f"{args.repeats} rounds x {args.steps} steps, NumPy {np.__version__}")
    print(f"  {'scenario':<50s} {'best':>8s} {'median':>8s}  us/step   ratio (best)")
    for name, kind, _fn, _ref in scenarios:
        print(f"  {name:<50s} {best[name] * 1e6:8.1f} {med[name] * 1e6:8.1f}"
              f"            {best[name] / refs[kind]:.3f}")


if __name__ == "__main__":
    main()
