#!/usr/bin/env python
"""A 4-3-1 sigmoid network trained four ways: by hand in NumPy, then with gradkit at three levels.

Tutorial 000 ("Deep Learning from Scratch and Using Tensorflow in Python") fits a
network with 4 inputs, 3 sigmoid hidden units and 1 sigmoid output to three
samples, minimising the squared error E = sum((yp - yt)^2) by gradient descent
(learning rate 0.1, 2000 passes), once updating after every sample (batch size 1)
and once after all of them (batch size N = 3). Here the same network, from the
same initial weights, is trained

* reference: NumPy, forward and backward written out by hand (the chain rule);
* (a) high level: ``Sequential`` + ``compile(loss="mse", optimizer=SGD)`` +
  ``train_on_batch``;
* (b) medium level: ``GradientTape`` around the model, the optimizer's
  ``apply_gradients``;
* (c) low level: one gradient per variable (``gradkit.gradients``, TF1 style)
  and ``Variable.assign_sub`` by hand;

each with batch size 1 and batch size N. Everything runs in float64, so the
autodiff gradients at step 0 must equal the hand-written ones to rounding error,
and every run must end on the same predictions as the NumPy reference.

Note on "mse": Keras's mean squared error averages over the batch, E sums, so
for batch size N the high level uses learning rate 0.1 * N to take the same step.

It also draws the autodiff graph that ``backward()`` walks for this network, with
the norm of the gradient on every edge (``gradkit.plot.graph``): an SVG in the
output directory when Graphviz is installed, its DOT text otherwise.

Usage: python examples/000_mlp_three_levels.py [--quick] [--graph FILE]
"""

from __future__ import annotations

import time

import _common as C
import numpy as np

import gradkit
from gradkit import layers, optimizers
from gradkit.utils import set_random_seed

X = np.array([[1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0]])
YT = np.array([[1.0], [1.0], [0.0]])
LR = 0.1
NAMES = ("W_h", "b_h", "W_o", "b_o")
GRAD_TOL = 1e-10  # float64 throughout: the gradients agree to rounding error


# --------------------------------------------------------------- NumPy by hand
def np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def np_forward(params, x):
    """Hidden activations and the network's output for a batch ``x`` (rows are samples)."""
    w_h, b_h, w_o, b_o = params
    h = np_sigmoid(x @ w_h + b_h)
    return h, np_sigmoid(h @ w_o + b_o)


def np_backward(params, x, y, h, yp):
    """dE/dparams for E = sum((yp - y)^2), by the chain rule.

    With s' = s (1 - s): the output error signal is delta_o = 2 (yp - y) s'(out),
    the hidden one delta_h = (delta_o W_o^T) s'(h); weights get input^T delta and
    biases the column sums of delta.
    """
    _, _, w_o, _ = params
    delta_o = 2.0 * (yp - y) * yp * (1.0 - yp)
    delta_h = (delta_o @ w_o.T) * h * (1.0 - h)
    return [x.T @ delta_h, delta_h.sum(axis=0), h.T @ delta_o, delta_o.sum(axis=0)]


def batches(batch_size):
    for start in range(0, len(X), batch_size):
        yield X[start:start + batch_size], YT[start:start + batch_size]


def train_numpy(init, batch_size, epochs):
    params = [p.copy() for p in init]
    first = None
    for _ in range(epochs):
        for xb, yb in batches(batch_size):
            h, yp = np_forward(params, xb)
            grads = np_backward(params, xb, yb, h, yp)
            if first is None:
                first = grads
            params = [p - LR * g for p, g in zip(params, grads)]
    return np_forward(params, X)[1], first


# --------------------------------------------------------------- gradkit
def build_model(init):
    """The 4-3-1 network as a Keras-style model, starting from ``init``."""
    model = gradkit.Sequential([
        gradkit.Input(shape=(4,)),
        layers.Dense(3, activation="sigmoid", dtype="float64"),
        layers.Dense(1, activation="sigmoid", dtype="float64"),
    ], dtype="float64")
    model.set_weights([p.copy() for p in init])
    return model


def train_high(init, batch_size, epochs):
    """(a) compile + train_on_batch; the step-0 gradient is read off the first update."""
    model = build_model(init)
    lr = LR * batch_size  # mean over the batch -> same step as the summed E
    model.compile(loss="mse", optimizer=optimizers.SGD(learning_rate=lr))
    first = None
    for _ in range(epochs):
        for xb, yb in batches(batch_size):
            before = model.get_weights()
            model.train_on_batch(xb, yb)
            if first is None:  # w1 = w0 - lr * dmse/dw, and dE/dw = batch * dmse/dw
                first = [(b - a) / lr * len(xb) for b, a in zip(before, model.get_weights())]
    return model.predict(X), first


def train_medium(init, batch_size, epochs):
    """(b) GradientTape around the model + optimizer.apply_gradients."""
    model = build_model(init)
    opt = optimizers.SGD(learning_rate=LR)
    first = None
    for _ in range(epochs):
        for xb, yb in batches(batch_size):
            x = gradkit.convert_to_tensor(xb, dtype="float64")
            y = gradkit.convert_to_tensor(yb, dtype="float64")
            with gradkit.GradientTape() as tape:
                ypred = model(x)
                loss = gradkit.reduce_sum(gradkit.pow(ypred - y, 2))
            grads = tape.gradient(loss, model.trainable_weights)
            if first is None:
                first = [g.numpy() for g in grads]
            opt.apply_gradients(zip(grads, model.trainable_weights))
    return model.predict(X), first


def train_low(init, batch_size, epochs):
    """(c) raw Variables, one gradient per variable, updates by assign_sub."""
    variables = [gradkit.Variable(p.copy(), name=n) for p, n in zip(init, NAMES)]
    w_h, b_h, w_o, b_o = variables

    def forward(x):
        hidden = gradkit.sigmoid(gradkit.matmul(x, w_h) + b_h)
        return gradkit.sigmoid(gradkit.matmul(hidden, w_o) + b_o)

    first = None
    for _ in range(epochs):
        for xb, yb in batches(batch_size):
            e = gradkit.reduce_sum(gradkit.pow(forward(gradkit.constant(xb)) - yb, 2))
            # tf.gradients style: ask for each derivative separately (the graph is kept)
            grads = [gradkit.gradients(e, [v])[0] for v in variables]
            if first is None:
                first = [g.numpy() for g in grads]
            for v, g in zip(variables, grads):
                v.assign_sub(LR * g)
    with gradkit.no_grad():
        return forward(gradkit.constant(X)).numpy(), first


def draw_graph(init, path):
    """The tutorials' picture of the 4-3-1 network, drawn from the graph autodiff records.

    E for all three samples at the initial weights; after ``backward(retain_graph=True)``
    each edge carries |gradient|. The edges leaving the weights carry exactly dE/dW, so
    their norms must equal the hand-written backprop's.
    """
    from gradkit.plot import graph

    weights = [gradkit.Variable(p.copy(), name=n) for p, n in zip(init, NAMES)]
    w_h, b_h, w_o, b_o = weights
    x = gradkit.Tensor(X, name="x")
    yt = gradkit.Tensor(YT, name="yt")
    hidden = gradkit.sigmoid(gradkit.matmul(x, w_h) + b_h)
    e = gradkit.reduce_sum(gradkit.pow(gradkit.sigmoid(gradkit.matmul(hidden, w_o) + b_o) - yt,
                                       2))
    e.backward(retain_graph=True)
    drawing = graph(e, to_file=path, rankdir="LR")
    h, yp = np_forward(init, X)
    want = [float(np.linalg.norm(g)) for g in np_backward(init, X, YT, h, yp)]
    got = [drawing.grads_from(w) for w in weights]  # each weight is used once
    print(f"  autodiff graph of E: {drawing.source.count('->')} edges, drawn to {drawing.path}")
    C.check(all(len(g) == 1 for g in got) and np.allclose([g[0] for g in got], want,
                                                          rtol=1e-12, atol=0),
            "the graph's |gradient| on the edges leaving W_h, b_h, W_o, b_o equals the "
            "hand-written backprop's")


def fmt(pred):
    return "[" + ", ".join(f"{v:.4f}" for v in np.ravel(pred)) + "]"


def main():
    p = C.parser(__doc__.splitlines()[1], "runs/examples/000", seed=0)
    p.add_argument("--graph", default=None,
                   help="file for the autodiff graph: .svg/.png/.pdf (Graphviz) or .dot "
                        "(default: <out>/autodiff_graph.svg)")
    args = p.parse_args()
    epochs = 300 if args.quick else 2000
    set_random_seed(args.seed)
    rng = gradkit.random.generator()
    init = [rng.uniform(-1.0, 1.0, size=s) for s in ((4, 3), (3,), (3, 1), (1,))]
    print(f"4-3-1 sigmoid MLP on 3 samples, lr {LR}, {epochs} epochs"
          f"{' (--quick)' if args.quick else ''}; targets yt = {fmt(YT)}")
    print("tutorial reported: no numbers in the text; the goal is outputs close to yt = "
          "[1, 1, 0] after 2000 passes at learning rate 0.1")

    C.section("the autodiff graph of E (what backward() walks)")
    draw_graph(init, args.graph or str(C.out_dir(args.out) / "autodiff_graph.svg"))

    levels = [("(a) high: Sequential+train_on_batch", train_high),
              ("(b) medium: GradientTape+apply_gradients", train_medium),
              ("(c) low: gradients per variable+assign_sub", train_low)]
    for batch_size, label in ((1, "batch size 1 (sample by sample)"),
                              (len(X), f"batch size N={len(X)} (full batch)")):
        C.section(label)
        t = time.perf_counter()
        ref_pred, ref_grads = train_numpy(init, batch_size, epochs)
        print(f"  {'reference: NumPy by hand':45s} predictions {fmt(ref_pred)}  "
              f"({time.perf_counter() - t:.2f} s)")
        for name, train in levels:
            t = time.perf_counter()
            pred, grads = train(init, batch_size, epochs)
            secs = time.perf_counter() - t
            gdiff = max(float(np.max(np.abs(g - r))) for g, r in zip(grads, ref_grads))
            pdiff = float(np.max(np.abs(pred - ref_pred)))
            print(f"  {name:45s} predictions {fmt(pred)}  ({secs:.2f} s)")
            print(f"  {'':45s} step-0 gradient vs NumPy: max |diff| {gdiff:.1e}; "
                  f"final predictions vs NumPy: max |diff| {pdiff:.1e}")
            C.check(gdiff < GRAD_TOL, f"bs={batch_size} {name.split(':')[0]} step-0 gradients "
                    f"of {', '.join(NAMES)} match the hand-written backprop (< {GRAD_TOL:g})")
            C.check(pdiff < 1e-6, f"bs={batch_size} {name.split(':')[0]} ends on the NumPy "
                    "reference's predictions (< 1e-6)")
        C.result(f"final predictions, batch size {batch_size}", fmt(ref_pred),
                 "no number (targets [1, 1, 0])")
        learned = np.all((ref_pred > 0.5) == (YT > 0.5))
        err = float(np.max(np.abs(ref_pred - YT)))
        C.check(learned, f"bs={batch_size}: every prediction is on the right side of 0.5")
        if not args.quick:
            C.check(err < 0.2, f"bs={batch_size}: every prediction within 0.2 of its target "
                    f"(max error {err:.3f})")
    C.finish("000_mlp_three_levels")


if __name__ == "__main__":
    main()
