"""Forward + backward time of the benchmark CNN through gradkit layers vs the same PyTorch layers.

The network (MNIST-sized, batch 128, float32)::

    Conv2D(32, 3, relu) on (128, 28, 28, 1) -> MaxPooling2D(2)
    -> Conv2D(64, 3, relu) -> MaxPooling2D(2) -> Flatten -> Dense(10)
    -> softmax cross-entropy (mean)

One timed step = zero the gradients, forward, loss, backward (no optimizer
update). gradkit runs channels_last (Keras layout, its default) unless
``--data-format channels_first``; PyTorch runs NCHW with
``torch.set_num_threads(threads)``. PyTorch gets gradkit's weights (the
Dense rows permuted to its NCHW flatten order), and the two losses and the
gradients are checked to agree before timing. Runs are interleaved
(gradkit, torch, gradkit, ...) in one process so background load hits both
alike; the table shows medians over ``--repeats`` runs after ``--warmup``
and the ratio gradkit / torch (below 1: gradkit faster).

``--profile`` runs pyinstrument over extra gradkit steps and prints where the
time goes.

Usage:
    python benchmarks/bench_cnn_layers.py [--batch 128] [--repeats 15] [--warmup 3]
                                          [--threads 2] [--data-format channels_last]
                                          [--profile]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2,
                   help="torch.set_num_threads, and NumPy's BLAS threads unless already set")
    p.add_argument("--data-format", default="channels_last",
                   choices=["channels_last", "channels_first"])
    p.add_argument("--profile", action="store_true", help="pyinstrument the gradkit step")
    return p.parse_args()


ARGS = _parse() if __name__ == "__main__" else None
if ARGS is not None:  # BLAS reads these once, when NumPy is first imported
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(ARGS.threads))

import numpy as np  # noqa: E402

import gradkit  # noqa: E402
from gradkit import ops  # noqa: E402
from gradkit.layers.conv import Conv2D  # noqa: E402
from gradkit.layers.core import Dense, Flatten  # noqa: E402
from gradkit.layers.pooling import MaxPooling2D  # noqa: E402


def build_gradkit(fmt, batch, rng):
    layers = [Conv2D(32, 3, activation="relu", data_format=fmt), MaxPooling2D(2, data_format=fmt),
              Conv2D(64, 3, activation="relu", data_format=fmt), MaxPooling2D(2, data_format=fmt),
              Flatten(), Dense(10)]
    shape = (batch, 28, 28, 1) if fmt == "channels_last" else (batch, 1, 28, 28)
    x = rng.random(shape, dtype=np.float32)
    labels = rng.integers(0, 10, batch)

    def forward():
        h = gradkit.Tensor(x)
        for layer in layers:
            h = layer(h)
        return ops.softmax_cross_entropy(h, labels)

    forward()  # build the weights
    params = [w for layer in layers for w in layer.trainable_weights]

    def step():
        for p in params:
            p.grad = None
        loss = forward()
        loss.backward()
        return loss

    return layers, x, labels, params, step


def build_torch(torch, layers, x, labels, fmt):
    nn = torch.nn
    c1, _, c2, _, _, d = layers

    def conv(layer):
        k = layer.kernel.numpy()  # (kh, kw, in, out) in both formats
        m = nn.Conv2d(k.shape[2], k.shape[3], k.shape[:2])
        with torch.no_grad():
            m.weight.copy_(torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1))))
            m.bias.copy_(torch.from_numpy(layer.bias.numpy()))
        return m

    w = d.kernel.numpy()  # (H*W*C, 10) rows in gradkit's flatten order
    if fmt == "channels_last":  # torch flattens NCHW: rows (c, h, w)
        w = w.reshape(5, 5, 64, 10).transpose(2, 0, 1, 3).reshape(-1, 10)
    dense = nn.Linear(w.shape[0], 10)
    with torch.no_grad():
        dense.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
        dense.bias.copy_(torch.from_numpy(d.bias.numpy()))
    model = nn.Sequential(conv(c1), nn.ReLU(), nn.MaxPool2d(2), conv(c2), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), dense)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))
                          if fmt == "channels_last" else x)
    yt = torch.from_numpy(labels)
    params = list(model.parameters())

    def step():
        for p in params:
            p.grad = None
        loss = nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        return loss

    return model, step


def check_agreement(g_layers, g_step, t_model, t_step, fmt):
    gl, tl = g_step().item(), t_step().item()
    assert abs(gl - tl) < 1e-4 * max(1.0, abs(tl)), f"losses differ: gradkit {gl}, torch {tl}"
    gk = g_layers[0].kernel.grad.numpy().transpose(3, 2, 0, 1)
    tk = t_model[0].weight.grad.numpy()
    err = np.abs(gk - tk).max() / max(np.abs(tk).max(), 1e-12)
    assert err < 1e-3, f"first-conv kernel gradients differ (relative {err:.2e})"
    return gl, tl


def main():
    args = ARGS
    import torch

    torch.set_num_threads(args.threads)
    gradkit.random.seed(0)
    rng = np.random.default_rng(0)
    fmt = args.data_format
    layers, x, labels, _, g_step = build_gradkit(fmt, args.batch, rng)
    t_model, t_step = build_torch(torch, layers, x, labels, fmt)
    gl, tl = check_agreement(layers, g_step, t_model, t_step, fmt)

    times = {"gradkit": [], "torch": []}
    for i in range(args.warmup + args.repeats):
        for name, fn in (("gradkit", g_step), ("torch", t_step)):
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            if i >= args.warmup:
                times[name].append(dt)
    g, t = statistics.median(times["gradkit"]), statistics.median(times["torch"])
    print(f"benchmark CNN forward+backward, batch {args.batch}, float32, gradkit {fmt}, "
          f"torch NCHW, {args.threads} threads (torch {torch.__version__}, "
          f"numpy {np.__version__}); loss {gl:.5f} (torch {tl:.5f})")
    print(f"{'':10s}{'median ms':>12s}{'min ms':>10s}{'max ms':>10s}")
    for name in ("gradkit", "torch"):
        v = times[name]
        print(f"{name:10s}{statistics.median(v) * 1e3:12.2f}{min(v) * 1e3:10.2f}"
              f"{max(v) * 1e3:10.2f}")
    print(f"ratio gradkit / torch (median): {g / t:.2f}  (target <= 1.0)")

    if args.profile:
        from pyinstrument import Profiler

        prof = Profiler(interval=0.0005)
        prof.start()
        for _ in range(max(args.repeats, 10)):
            g_step()
        prof.stop()
        print(prof.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
