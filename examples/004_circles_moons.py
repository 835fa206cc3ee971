#!/usr/bin/env python
"""Binary classification of circles and moons with a network built by ``Model.add``.

Tutorial 004 ("Create your own Deep Learning framework using Numpy") builds a
``Model`` layer by layer with ``model.add`` (Linear 2->5, ReLU, Linear 5->2, ReLU,
Linear 2->1, Sigmoid; weights and biases uniform in [0, 1)), trains it with binary
cross-entropy by full-batch gradient descent (learning rate 0.05, 9,000 epochs)
on scikit-learn's ``make_circles(5000, noise=0.04)``, plots the loss curve and
the decision boundary, and scores it with ``roc_auc_score`` on the 0/1
predictions (thresholded at 0.5): "on average in 10 different computations ...
0.8061".

Here the same 2-5-2-1 network is a gradkit ``Sequential`` filled with
``model.add``:

1. trained the Keras way (default initialisation, Adam, mini-batches of 32) on
   circles and on moons, with ROC AUC from ``gradkit.metrics.AUC`` (exact and
   the streamed 200-threshold histogram), scikit-learn's ``roc_auc_score`` when it
   is installed, the tutorial's AUC of the thresholded predictions, and accuracy;
   the loss curve (``plot_history``) and decision boundary
   (``plot_decision_boundary``) go to ``--out`` as PNGs when matplotlib is installed;
2. (full run only) the tutorial's recipe itself, repeated over 10 seeds like the
   tutorial's average: uniform [0, 1) initialisation, full-batch SGD at 0.05,
   9,000 epochs.

Data: ``gradkit.datasets.make_circles(5000, noise=0.04, factor=0.8)``;
scikit-learn's default inner radius is 0.8 and gradkit's is 0.5, so it is set
explicitly to get the tutorial's (harder) circles. Moons: 5000 points, noise
0.05 (the tutorial's ``generate_data`` default). Scores are on the training
points, as in the tutorial.

Usage: python examples/004_circles_moons.py [--quick] [--out DIR]
"""

from __future__ import annotations

import time

import _common as C
import numpy as np

import gradkit
from gradkit import initializers, layers, metrics, optimizers
from gradkit.datasets import make_circles, make_moons
from gradkit.utils import set_random_seed

TUTORIAL_AUC = "0.8061 (ROC AUC of the 0/1 predictions, average of 10 runs on circles)"


def build(uniform_init=False):
    """2-5-2-1: ReLU, ReLU, sigmoid, added one layer at a time."""
    def init():
        return dict(kernel_initializer=initializers.RandomUniform(0.0, 1.0),
                    bias_initializer=initializers.RandomUniform(0.0, 1.0)) if uniform_init else {}

    model = gradkit.Sequential()
    model.add(layers.Dense(5, activation="relu", input_shape=(2,), **init()))
    model.add(layers.Dense(2, activation="relu", **init()))
    model.add(layers.Dense(1, activation="sigmoid", **init()))
    return model


def scores(y, p):
    """ROC AUC of the probabilities (gradkit exact, gradkit histogram, sklearn), of the
    thresholded predictions (the tutorial's number), and accuracy."""
    hard = (p >= 0.5).astype(np.float32)
    out = {}
    m = metrics.AUC(exact=True)
    m.update_state(y, p)
    out["auc"] = float(m.result())
    m = metrics.AUC()  # streamed: 200 thresholds
    m.update_state(y, p)
    out["auc_hist"] = float(m.result())
    m = metrics.AUC(exact=True)
    m.update_state(y, hard)
    out["auc_01"] = float(m.result())
    out["accuracy"] = float(np.mean(hard == y))
    if C.have("sklearn"):
        from sklearn.metrics import roc_auc_score

        out["sk_auc"] = float(roc_auc_score(y, p))
        out["sk_auc_01"] = float(roc_auc_score(y, hard))
    return out


def keras_way(name, x, y, args):
    epochs = 10 if args.quick else 30
    C.section(f"{name}: Model.add 2-5-2-1, binary cross-entropy, Adam(0.01), batch 32, "
              f"{epochs} epochs")
    set_random_seed(args.seed)
    model = build()
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy",
                  metrics=["accuracy", metrics.AUC(name="auc")])
    t = time.perf_counter()
    history = model.fit(x, y.reshape(-1, 1), epochs=epochs, batch_size=32, verbose=0)
    secs = time.perf_counter() - t
    p = model.predict(x, batch_size=1024)[:, 0]
    s = scores(y, p)
    print(f"  loss {history.history['loss'][0]:.4f} -> {history.history['loss'][-1]:.4f} "
          f"({secs:.1f} s); streamed training AUC in the last epoch "
          f"{history.history['auc'][-1]:.4f}")
    C.result(f"{name}: ROC AUC (gradkit.metrics.AUC exact / 200-threshold)",
             f"{s['auc']:.4f} / {s['auc_hist']:.4f}")
    if "sk_auc" in s:
        C.result(f"{name}: ROC AUC (sklearn.metrics.roc_auc_score)", f"{s['sk_auc']:.4f}")
        C.check(abs(s["sk_auc"] - s["auc"]) < 1e-6, f"{name}: gradkit's exact AUC equals "
                "scikit-learn's")
    else:
        print("  (scikit-learn not installed: its roc_auc_score is skipped)")
    C.result(f"{name}: ROC AUC of the 0/1 predictions (the tutorial's score)",
             f"{s['auc_01']:.4f}", TUTORIAL_AUC if name == "circles" else None)
    C.result(f"{name}: accuracy", f"{s['accuracy']:.4f}")
    C.check(s["auc"] > 0.95 and s["accuracy"] > 0.9,
            f"{name}: learned (AUC {s['auc']:.4f} > 0.95, accuracy {s['accuracy']:.4f} > 0.9)")

    if C.have("matplotlib"):
        from gradkit.plot import plot_decision_boundary, plot_history

        out = C.out_dir(args.out)
        plot_history(history, save=out / f"{name}_loss.png")
        plot_decision_boundary(lambda g: model.predict(g, batch_size=8192), x, y,
                               save=out / f"{name}_boundary.png",
                               title=f"{name}: 2-5-2-1 network, AUC {s['auc']:.3f}")
        print(f"  saved {out / f'{name}_loss.png'} and {out / f'{name}_boundary.png'}")
    else:
        print("  (matplotlib not installed: no plots)")
    return s


def tutorial_recipe(x, y, runs=10, epochs=9000):
    C.section(f"circles, the tutorial's recipe: uniform [0, 1) weights and biases, full-batch "
              f"SGD 0.05, {epochs} epochs, {runs} runs")
    yc = y.reshape(-1, 1)
    results = []
    t = time.perf_counter()
    for seed in range(runs):
        set_random_seed(seed)
        model = build(uniform_init=True)
        model.compile(optimizer=optimizers.SGD(learning_rate=0.05), loss="binary_crossentropy")
        for _ in range(epochs):  # one step per epoch: the whole data set is the batch
            loss = model.train_on_batch(x, yc)
        s = scores(y, model.predict(x, batch_size=8192)[:, 0])
        results.append(s)
        print(f"  seed {seed}: final loss {loss:.4f}, AUC {s['auc']:.4f}, AUC of 0/1 "
              f"predictions {s['auc_01']:.4f}, accuracy {s['accuracy']:.4f}")
    auc01 = np.array([r["auc_01"] for r in results])
    print(f"  ({time.perf_counter() - t:.1f} s)")
    C.result(f"circles, tutorial recipe: ROC AUC of the 0/1 predictions, mean of {runs} runs",
             f"{auc01.mean():.4f} (min {auc01.min():.4f}, max {auc01.max():.4f})", TUTORIAL_AUC)
    C.result(f"circles, tutorial recipe: ROC AUC, mean of {runs} runs",
             f"{np.mean([r['auc'] for r in results]):.4f}")
    C.check(auc01.mean() > 0.8, f"tutorial recipe: mean AUC of 0/1 predictions "
            f"{auc01.mean():.4f} > 0.8")


def main():
    args = C.parser(__doc__.splitlines()[1], "runs/examples/004", seed=0).parse_args()
    x_c, y_c = make_circles(5000, noise=0.04, factor=0.8, seed=args.seed)
    x_m, y_m = make_moons(5000, noise=0.05, seed=args.seed)
    print("circles: 5000 points, noise 0.04, inner radius 0.8 (scikit-learn's default); "
          "moons: 5000 points, noise 0.05")
    keras_way("circles", x_c, y_c.astype(np.float32), args)
    keras_way("moons", x_m, y_m.astype(np.float32), args)
    if not args.quick:
        tutorial_recipe(x_c, y_c.astype(np.float32))
    C.finish("004_circles_moons")


if __name__ == "__main__":
    main()
