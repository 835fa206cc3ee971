#!/usr/bin/env python
"""XOR with a 2-3-1 network, then gradkit's NNClassifier on 500 MNIST digits.

Tutorial 002 ("Neural Network from scratch in Python") first learns XOR with two
inputs, three sigmoid hidden units and one linear output, no biases, weights
drawn uniformly in [0, 1), full-batch gradient descent on half the summed
squared error, learning rate 0.1, 50,000 epochs. Then it writes an
``NNClassifier`` (one sigmoid hidden layer, mini-batches, L1/L2 penalties) and
trains it on 500 MNIST training digits, testing on the rest:

* 50 hidden units, l2=0.5, 300 epochs, learning rate 0.001, 25 batches:
  train 91.80 %, test 81.65 %
* the same on standardized pixels: test 84.80 %
* 250 hidden units, 500 epochs: test 86.77 %

Here XOR is a gradkit ``Sequential`` trained under a ``GradientTape``, and the
digits go to ``gradkit.sklearn.NNClassifier``.

The hyperparameters do not carry over one to one. The tutorial sums the
gradient over a mini-batch and adds ``l2 * w`` to it; gradkit (like Keras)
averages the loss over the batch and adds the penalty ``l2 * sum(w^2)`` (gradient
``2 * l2 * w``). With B samples per batch (500 / 25 = 20) the same steps are
``learning_rate = 0.001 * B`` and ``l2 = 0.5 / (2 B)``. The script runs those
translated settings as the main comparison and, in the full run, also the
tutorial's numbers typed in as they are, to show what the difference does.

Data: the MNIST training files are usually not on these machines. Then the
first 500 digits of the real MNIST test set (t10k) are the training set and the
other 9,500 the test set; the output says which data was used. ``--mnist-dir``
points at the files (default ``<repo>/../shared/data/mnist``); if it lacks them,
gradkit's normal lookup ($GRADKIT_DATA, ~/.cache/gradkit, /usr/share/datasets)
is tried (downloads only with ``--download``).

Finally the classifier goes into a scikit-learn ``Pipeline`` with
``GridSearchCV`` (skipped, with a note, when scikit-learn is not installed).

Usage: python examples/002_xor_and_nnclassifier.py [--quick] [--mnist-dir DIR] [--no-mnist]
"""

from __future__ import annotations

import time

import _common as C
import numpy as np

import gradkit
from gradkit import layers, optimizers
from gradkit.datasets import DatasetError, make_xor, mnist
from gradkit.sklearn import NNClassifier
from gradkit.utils import Standardizer, set_random_seed

RANDOM_SEED = 42
TRAIN_SIZE = 500
N_BATCHES = 25


# ------------------------------------------------------------------ XOR
def xor(args):
    epochs = 3000 if args.quick else 50_000
    C.section(f"XOR: 2-3-1 network (sigmoid hidden, linear output, no biases), full batch, "
              f"lr 0.1, {epochs} epochs")
    x, y = make_xor()
    x, y = x.astype("float64"), y.reshape(-1, 1).astype("float64")
    set_random_seed(args.seed)
    rng = gradkit.random.generator()
    model = gradkit.Sequential([
        gradkit.Input(shape=(2,)),
        layers.Dense(3, activation="sigmoid", use_bias=False, dtype="float64"),
        layers.Dense(1, use_bias=False, dtype="float64"),
    ], dtype="float64")
    model.set_weights([rng.uniform(size=(2, 3)), rng.uniform(size=(3, 1))])
    opt = optimizers.SGD(learning_rate=0.1)
    xt = gradkit.constant(x)
    t = time.perf_counter()
    for epoch in range(epochs):
        with gradkit.GradientTape() as tape:
            out = model(xt)
            loss = 0.5 * gradkit.reduce_sum(gradkit.square(out - y))
        grads = tape.gradient(loss, model.trainable_weights)
        opt.apply_gradients(zip(grads, model.trainable_weights))
        if epoch % (epochs // 10) == 0:
            # the tutorial prints sum(y - output) every 5,000 epochs
            print(f"  epoch {epoch:6d}: error sum {float(np.sum(y - out.numpy())): .8e}, "
                  f"loss {float(loss.numpy()):.3e}")
    pred = model.predict(x)
    err_sum = float(np.sum(y - pred))
    print(f"  ({time.perf_counter() - t:.1f} s)")
    for xi, yi, pi in zip(x, y, pred):
        print(f"  {xi.astype(int).tolist()} -> {pi[0]: .6f} (target {int(yi[0])})")
    C.result("XOR error sum after training", f"{err_sum:.3e}",
             "1.49842526e-14 (last of its 10 prints); prediction for [0, 1]: 1.0")
    C.result("XOR prediction for [0, 1]", f"{pred[1, 0]:.6f}", "1.0")
    C.check(np.all((pred > 0.5) == (y > 0.5)), "XOR: all 4 predictions correct (threshold 0.5)")


# ------------------------------------------------------------------ MNIST
def load_digits(args):
    """(x_train, y_train, x_test, y_test, description) or None when MNIST is not found."""
    download = args.download
    full = None
    for where in (args.mnist_dir, None):
        try:
            full = mnist.load_data(where, download=download and where is None, quiet=True)
            break
        except DatasetError:
            continue
    if full is not None:  # the tutorial's split: shuffle the training set, 500 / rest
        (x, y), _ = full
        order = np.random.default_rng(RANDOM_SEED).permutation(len(x))
        x, y = x[order].reshape(len(x), -1), y[order]
        return (x[:TRAIN_SIZE], y[:TRAIN_SIZE], x[TRAIN_SIZE:], y[TRAIN_SIZE:],
                f"MNIST training set (shuffled, seed {RANDOM_SEED}): {TRAIN_SIZE} for training, "
                f"{len(x) - TRAIN_SIZE} for testing, as in the tutorial")
    test = None
    for where in (args.mnist_dir, None):
        try:
            test = mnist.load_test_data(where, download=download and where is None, quiet=True)
            break
        except DatasetError as exc:
            last = exc
    if test is None:
        print(f"  MNIST not found (--mnist-dir {args.mnist_dir}, then the normal lookup):\n"
              f"  {str(last).splitlines()[0]}")
        return None
    x, y = test
    x = x.reshape(len(x), -1)
    return (x[:TRAIN_SIZE], y[:TRAIN_SIZE], x[TRAIN_SIZE:], y[TRAIN_SIZE:],
            f"the MNIST training files are not available here, so the REAL MNIST TEST set "
            f"(t10k) stands in: its first {TRAIN_SIZE} digits for training, the next "
            f"{len(x) - TRAIN_SIZE} for testing (the tutorial used 500 training digits and "
            f"tested on the other 59,500)")


def fit_report(label, clf, x_tr, y_tr, x_te, y_te, tutorial_train=None, tutorial_test=None):
    t = time.perf_counter()
    clf.fit(x_tr, y_tr)
    secs = time.perf_counter() - t
    tr, te = clf.score(x_tr, y_tr), clf.score(x_te, y_te)
    C.result(f"{label}: train accuracy", f"{100 * tr:.2f}%", tutorial_train)
    C.result(f"{label}: test accuracy", f"{100 * te:.2f}%", tutorial_test)
    print(f"  (fit {secs:.1f} s; loss first epoch {clf.error_[0]:.3f}, last {clf.error_[-1]:.3f})")
    return tr, te


def nnclassifier(args):
    C.section("NNClassifier on MNIST digits")
    data = load_digits(args)
    if data is None:
        C.check(False, "MNIST data found (pass --mnist-dir, or --no-mnist to skip this part)")
        return
    x_tr, y_tr, x_te, y_te, what = data
    if args.quick:  # fewer test digits and epochs; the same 500 training digits
        x_te, y_te = x_te[:2000], y_te[:2000]
    print(f"  data: {what}")
    x_tr, x_te = x_tr.astype("float64"), x_te.astype("float64")
    batch = TRAIN_SIZE // N_BATCHES
    translated = dict(l2=0.5 / (2 * batch), learning_rate=0.001 * batch, n_batches=N_BATCHES,
                      random_seed=RANDOM_SEED)
    print(f"  tutorial settings translated to gradkit's mean-loss convention (batch {batch}): "
          f"learning_rate {translated['learning_rate']:g}, l2 {translated['l2']:g}")
    epochs = 30 if args.quick else 300
    scaler = Standardizer().fit(x_tr)  # statistics from the training digits only
    s_tr, s_te = scaler.transform(x_tr), scaler.transform(x_te)

    print(f"\n  50 hidden units, {epochs} epochs, raw pixels (0-255)")
    clf = NNClassifier(n_hidden_units=50, epochs=epochs, **translated)
    _, te_raw = fit_report("50 hidden, raw", clf, x_tr, y_tr, x_te, y_te, "91.80%", "81.65%")
    print("  first 5 test digits: predicted", clf.predict(x_te[:5]).tolist(),
          "true", y_te[:5].tolist())
    proba = clf.predict_proba(x_te[:1])[0]
    print(f"  predict_proba of the first test digit: max {proba.max():.3f} for class "
          f"{int(np.argmax(proba))} (sums to {proba.sum():.3f})")

    print(f"\n  50 hidden units, {epochs} epochs, standardized pixels (Standardizer fit on train)")
    clf = NNClassifier(n_hidden_units=50, epochs=epochs, **translated)
    _, te_std = fit_report("50 hidden, standardized", clf, s_tr, y_tr, s_te, y_te,
                           None, "84.80%")
    if args.quick:
        C.check(te_raw > 0.70, f"NNClassifier learned the digits: test accuracy {te_raw:.3f} "
                "> 0.70 (raw, quick run)")
        C.check(te_std > 0.70, f"NNClassifier learned the digits: test accuracy {te_std:.3f} "
                "> 0.70 (standardized, quick run)")
        return x_tr, y_tr

    print("\n  250 hidden units, 500 epochs, raw pixels")
    clf = NNClassifier(n_hidden_units=250, epochs=500, **translated)
    _, te_250 = fit_report("250 hidden, raw", clf, x_tr, y_tr, x_te, y_te, None, "86.77%")

    print("\n  250 hidden units, 500 epochs, standardized (the tutorial leaves this one "
          "as an exercise)")
    clf = NNClassifier(n_hidden_units=250, epochs=500, **translated)
    fit_report("250 hidden, standardized", clf, s_tr, y_tr, s_te, y_te, None, "not run")

    print("\n  the tutorial's numbers typed in unchanged (l2=0.5, learning_rate=0.001): "
          "gradkit's penalty is 2 x 20 = 40 times stronger relative to the data term")
    verbatim = dict(l2=0.5, learning_rate=0.001, n_batches=N_BATCHES, random_seed=RANDOM_SEED)
    clf = NNClassifier(n_hidden_units=50, epochs=300, **verbatim)
    fit_report("50 hidden, raw, settings as typed", clf, x_tr, y_tr, x_te, y_te,
               "91.80%", "81.65%")
    clf = NNClassifier(n_hidden_units=50, epochs=300, **verbatim)
    fit_report("50 hidden, standardized, settings as typed", clf, s_tr, y_tr, s_te, y_te,
               None, "84.80%")

    C.check(te_raw > 0.75, f"50 hidden raw: test accuracy {te_raw:.3f} > 0.75")
    C.check(te_std > 0.75, f"50 hidden standardized: test accuracy {te_std:.3f} > 0.75")
    C.check(te_250 > 0.75, f"250 hidden raw: test accuracy {te_250:.3f} > 0.75")
    return x_tr, y_tr


def grid_search(args, x_tr, y_tr):
    C.section("scikit-learn Pipeline + GridSearchCV")
    if not C.have("sklearn"):
        print("  SKIPPED: scikit-learn is not installed (pip install scikit-learn); "
              "NNClassifier works on its own without it")
        return
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    epochs = 20 if args.quick else 100
    pipe = Pipeline([("scale", StandardScaler()),
                     ("nn", NNClassifier(epochs=epochs, learning_rate=0.02, l2=0.0125,
                                         n_batches=N_BATCHES, random_seed=RANDOM_SEED))])
    grid = {"nn__n_hidden_units": [20, 50]}
    if not args.quick:
        grid["nn__l2"] = [0.0, 0.0125]
    t = time.perf_counter()
    search = GridSearchCV(pipe, grid, cv=3).fit(x_tr, y_tr)
    secs = time.perf_counter() - t
    for params, mean in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
        print(f"  {params}: mean CV accuracy {mean:.3f}")
    C.result("GridSearchCV best", f"{search.best_params_} with CV accuracy "
             f"{search.best_score_:.3f} ({secs:.1f} s, {len(search.cv_results_['params'])} "
             "settings x 3 folds)")
    C.check(search.best_score_ > 0.6, "NNClassifier works inside Pipeline + GridSearchCV "
            f"(best CV accuracy {search.best_score_:.3f} > 0.6)")


def main():
    p = C.parser(__doc__.splitlines()[1], "runs/examples/002", seed=RANDOM_SEED)
    p.add_argument("--mnist-dir", default=str(C.ROOT.parent / "shared" / "data" / "mnist"),
                   help="directory with the MNIST files (default: <repo>/../shared/data/mnist; "
                        "then gradkit's normal lookup)")
    p.add_argument("--download", action="store_true",
                   help="let the normal lookup download MNIST if it finds no files")
    p.add_argument("--no-mnist", action="store_true", help="run only the XOR part")
    args = p.parse_args()
    xor(args)
    if args.no_mnist:
        print("\n(MNIST part skipped: --no-mnist)")
    else:
        digits = nnclassifier(args)
        if digits is not None:
            grid_search(args, *digits)
    C.finish("002_xor_and_nnclassifier")


if __name__ == "__main__":
    main()
