#!/usr/bin/env python
"""Recover a random linear map with a Dense + ReLU layer: hand-written backprop beside autodiff.

Tutorial 001 ("Deep Learning from scratch") draws a random ``w_real`` (2 x 10)
and ``b_real`` (2) uniformly in [0, 1), feeds fresh batches of 512 uniform inputs
through ``y = x w_real^T + b_real``, and fits ``relu(x w^T + b)`` to them with the
mean squared error and plain gradient descent (learning rate 0.01, 10,000 steps,
``w`` starting uniform in [0, 1), ``b`` at zero). Inputs and weights are
positive, so the targets are too and the ReLU does not get in the way.

Here the same problem is solved twice in lockstep, on the same batches:

* NumPy: explicit ``dense/relu/mse`` forward functions and their backward
  functions (the chain rule written out);
* gradkit: a ``Dense(2, activation="relu")`` layer, ``gradkit.mean_squared_error``,
  ``GradientTape`` and ``optimizers.SGD``.

Both start from the same weights; at every step the two gradients must agree to
1e-6 (float64), and both must end near ``w_real``/``b_real``. gradkit keeps the
kernel as (in, out), the transpose of the tutorial's (out, in) ``w``.

A last part does the Keras way on ``gradkit.datasets.make_regression`` (standard
normal weights, so targets can be negative: a linear ``Dense``, no ReLU),
``compile`` + ``fit``, and reads the recovered weights off the layer.

About the tutorial's ``dMSE``, which drops the factor 2/N: the exact gradient of
the mean over all B x 2 entries is 2 (z - y) / (2 B) = (z - y) / B, which is what
the tutorial's code computes once ``dDense`` averages over the batch, so with two
outputs nothing is actually dropped.

Usage: python examples/001_regression_from_scratch.py [--quick]
"""

from __future__ import annotations

import time

import _common as C
import numpy as np

import gradkit
from gradkit import layers, optimizers
from gradkit.datasets import make_regression
from gradkit.utils import set_random_seed

IN, OUT, BATCH = 10, 2, 512
GRAD_TOL = 1e-6


# ------------------------------------------------------------ NumPy by hand
def dense(x, w, b):
    """(batch, in) @ (in, out) + (out,)."""
    return x @ w + b


def d_dense(dz, x, w):
    """Gradients of a dense layer: input, kernel, bias."""
    return dz @ w.T, x.T @ dz, dz.sum(axis=0)


def relu(z):
    return np.maximum(z, 0.0)


def d_relu(dy, z):
    return dy * (z > 0)


def mse(pred, target):
    return float(np.mean((pred - target) ** 2))


def d_mse(pred, target):
    """d mean((pred - target)^2) / d pred."""
    return 2.0 * (pred - target) / pred.size


def numpy_step(w, b, x, y):
    """Forward and backward by hand; returns loss, dW, db."""
    z1 = dense(x, w, b)
    z2 = relu(z1)
    loss = mse(z2, y)
    dz2 = d_mse(z2, y)
    dz1 = d_relu(dz2, z1)
    _, dw, db = d_dense(dz1, x, w)
    return loss, dw, db


def lockstep(args):
    steps, lr = (1500, 0.1) if args.quick else (10_000, 0.01)
    set_random_seed(args.seed)
    rng = gradkit.random.generator()
    w_real = rng.uniform(size=(IN, OUT))
    b_real = rng.uniform(size=OUT)
    w0, b0 = rng.uniform(size=(IN, OUT)), np.zeros(OUT)

    C.section(f"hand-written backprop vs gradkit autodiff, in lockstep ({steps} steps, "
              f"batch {BATCH}, lr {lr})")
    # NumPy copy
    w, b = w0.copy(), b0.copy()
    # gradkit copy: a Dense + ReLU layer from the same start
    layer = layers.Dense(OUT, activation="relu", input_dim=IN, dtype="float64")
    layer.set_weights([w0.copy(), b0.copy()])
    opt = optimizers.SGD(learning_rate=lr)

    max_gdiff, max_ldiff = 0.0, 0.0
    t = time.perf_counter()
    for step in range(steps):
        x = rng.uniform(size=(BATCH, IN))
        y = dense(x, w_real, b_real)
        loss_np, dw, db = numpy_step(w, b, x, y)
        with gradkit.GradientTape() as tape:
            loss = gradkit.mean_squared_error(layer(x), y)
        g_kernel, g_bias = tape.gradient(loss, [layer.kernel, layer.bias])
        gdiff = max(float(np.max(np.abs(g_kernel.numpy() - dw))),
                    float(np.max(np.abs(g_bias.numpy() - db))))
        max_gdiff = max(max_gdiff, gdiff)
        max_ldiff = max(max_ldiff, abs(float(loss.numpy()) - loss_np))
        if step == 0:
            print(f"  step 0: loss NumPy {loss_np:.6f}, gradkit {float(loss.numpy()):.6f}; "
                  f"gradient max |diff| {gdiff:.1e}")
            C.check(gdiff < GRAD_TOL, f"step-0 gradients agree to {GRAD_TOL:g}")
        if step % max(1, steps // 5) == 0 or step == steps - 1:
            print(f"  step {step:5d}: loss {loss_np:.3e}")
        w, b = w - lr * dw, b - lr * db
        opt.apply_gradients(zip([g_kernel, g_bias], [layer.kernel, layer.bias]))
    secs = time.perf_counter() - t
    print(f"  ({secs:.1f} s for both)")
    C.check(max_gdiff < GRAD_TOL, f"gradients agree to {GRAD_TOL:g} at every step "
            f"(max |diff| over the run {max_gdiff:.1e}; losses {max_ldiff:.1e})")

    kernel, bias = layer.get_weights()
    np.set_printoptions(precision=4, suppress=True)
    print("  w_real^T (out x in, the tutorial's layout):\n", w_real.T)
    print("  recovered by gradkit:\n", kernel.T)
    print("  b_real:", b_real, " recovered by NumPy:", b, " by gradkit:", bias)
    err_np = max(np.abs(w - w_real).max(), np.abs(b - b_real).max())
    err_gk = max(np.abs(kernel - w_real).max(), np.abs(bias - b_real).max())
    C.result("max |recovered - real| (w and b), NumPy by hand", f"{err_np:.4f}",
             "no number (the text prints |w - w_real| and |b - b_real| without output)")
    C.result("max |recovered - real| (w and b), gradkit autodiff", f"{err_gk:.4f}")
    C.result("final training loss", f"{loss_np:.2e}")
    C.check(np.abs(kernel - w).max() < 1e-6 and np.abs(bias - b).max() < 1e-6,
            "NumPy and gradkit end on the same weights (< 1e-6)")
    C.check(err_np < 0.05, f"NumPy recovered w_real and b_real (max error {err_np:.4f} < 0.05)")
    C.check(err_gk < 0.05, f"gradkit recovered w_real and b_real (max error {err_gk:.4f} < 0.05)")


def keras_way(args):
    n, epochs = (1024, 10) if args.quick else (4096, 30)
    C.section(f"Keras way: make_regression ({n} samples, {IN} features, {OUT} targets) + "
              f"Dense({OUT}) + compile/fit ({epochs} epochs)")
    set_random_seed(args.seed)
    x, y, w_real, b_real = make_regression(n, n_features=IN, n_targets=OUT, seed=args.seed)
    model = gradkit.Sequential([layers.Dense(OUT, input_shape=(IN,))])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.05), loss="mse")
    hist = model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    kernel, bias = model.get_weights()
    err = max(np.abs(kernel - w_real).max(), np.abs(bias - b_real).max())
    print(f"  loss: first epoch {hist.history['loss'][0]:.3e}, last {hist.history['loss'][-1]:.3e}")
    print("  b_real:", b_real, " recovered:", bias)
    C.result("make_regression + fit: max |recovered - real|", f"{err:.1e}")
    C.check(err < 1e-3, f"fit recovered make_regression's w_real and b_real (max error {err:.1e})")


def main():
    args = C.parser(__doc__.splitlines()[1], "runs/examples/001", seed=0).parse_args()
    lockstep(args)
    keras_way(args)
    C.finish("001_regression_from_scratch")


if __name__ == "__main__":
    main()
