"""Benchmark workers: one process per (workload, contender), driven by ``run.py`` over pipes.

    python benchmarks/workers.py '{"workload": "mlp", "contender": "pytorch", ...}'

A worker loads Fashion-MNIST itself (the same loader and preprocessing for every
contender, no gradkit import outside the gradkit contenders), seeds, builds its
model with the *same initial weights* as every other contender (drawn here with
NumPy, converted to each framework's layout), runs a short warm-up (compiles
Keras-JAX's functions; the weights and optimizer state are restored afterwards)
and then answers one JSON command per line on stdin:

* ``{"cmd": "epoch"}``: one training epoch (XOR: one block of steps; predict:
  one pass over the test images of ``"model"``); replies ``wall`` and ``cpu``
  seconds (CPU time of the whole process, all threads);
* ``{"cmd": "eval"}``: test accuracy (XOR: trains on to the fixed step count and
  says whether XOR is solved; predict: the predicted classes, for agreement);
* ``{"cmd": "rss"}``: peak resident set size (``ru_maxrss``) of this process;
* ``{"cmd": "quit"}``.

Replies go to a private copy of the original stdout; file descriptor 1 is
pointed at stderr so that anything a library prints cannot corrupt the protocol.
The first reply, after set-up, is ``{"ok": true, "ready": true, "info": {...}}``
or ``{"ok": false, "skip": "..."}`` when the contender's framework is not
installed.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------- shared set-up
XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
XOR_Y = np.array([[0], [1], [1], [0]], np.float32)
XOR_LR = 0.5
MLP_LR = 1e-3      # RMSprop, rho 0.9, eps 1e-7 (Keras defaults; PyTorch alpha=0.9, eps=1e-7)
CNN_LR = 1e-3      # Adam, Keras defaults (beta 0.9/0.999, eps 1e-7; PyTorch eps=1e-7)
RHO, EPS = 0.9, 1e-7
FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
         "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}


class Skip(Exception):
    """The contender cannot run here (its framework is not installed)."""


def _read_idx(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\0\0" or data[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _data_dirs():
    dirs = []
    if os.environ.get("GRADKIT_DATA"):
        base = Path(os.environ["GRADKIT_DATA"])
        dirs += [base / "fashion-mnist", base]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    dirs += [cache / "gradkit" / "fashion-mnist", Path("/usr/share/datasets/fashion-mnist")]
    return dirs


def _find_files():
    for d in _data_dirs():
        found = {}
        for key, name in FILES.items():
            for cand in (d / name, d / (name + ".gz")):
                if cand.is_file():
                    found[key] = cand
                    break
        if len(found) == len(FILES):
            return found
    return None


def data_available():
    """Whether the Fashion-MNIST files are on disk (no download needed)."""
    return _find_files() is not None


def load_fashion_mnist(synthetic=False):
    """``(x_train, y_train), (x_test, y_test)``: uint8 images (N, 28, 28), int64 labels.

    Reads the IDX files from the places gradkit's loader searches (``$GRADKIT_DATA``,
    the user cache, Debian's ``/usr/share/datasets``) without importing gradkit, so
    the peers' memory is not charged with it; falls back to gradkit's loader (which
    can download). ``synthetic``: random images of the same shapes (a machine
    without the dataset; accuracies are then meaningless).
    """
    if synthetic:
        rng = np.random.default_rng(1234)
        return ((rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8),
                 rng.integers(0, 10, 60000).astype(np.int64)),
                (rng.integers(0, 256, (10000, 28, 28), dtype=np.uint8),
                 rng.integers(0, 10, 10000).astype(np.int64)))
    files = _find_files()
    if files is None:
        sys.path.insert(0, str(ROOT))
        from gradkit.datasets import fashion_mnist

        (xa, ya), (xb, yb) = fashion_mnist.load_data(quiet=True)
    else:
        xa, ya = _read_idx(files["train_images"]), _read_idx(files["train_labels"])
        xb, yb = _read_idx(files["test_images"]), _read_idx(files["test_labels"])
    return (xa, ya.astype(np.int64)), (xb, yb.astype(np.int64))


def preprocess(x, layout):
    """uint8 images -> float32 in [0, 1]: ``flat`` (N, 784), ``nhwc`` or ``nchw``."""
    x = x.astype(np.float32) / np.float32(255)
    n = x.shape[0]
    if layout == "flat":
        return x.reshape(n, 784)
    if layout == "nhwc":
        return x.reshape(n, 28, 28, 1)
    return x.reshape(n, 1, 28, 28)


def _glorot(rng, shape, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def initial_weights(model, seed):
    """The same starting point for every contender, in Keras/gradkit layout.

    MLP ``[W1 (784, 512), b1, W2 (512, 10), b2]``; CNN ``[K1 (3, 3, 1, 32), b1,
    K2 (3, 3, 32, 64), b2, W (1600, 10) over the (h, w, c) flattening, b3]``;
    XOR ``[W1 (2, 3), b1, W2 (3, 1), b2]`` (normal, as ``bench_core.py``).
    Glorot-uniform kernels and zero biases: Keras's defaults.
    """
    rng = np.random.default_rng(seed)
    if model == "mlp":
        return [_glorot(rng, (784, 512), 784, 512), np.zeros(512, np.float32),
                _glorot(rng, (512, 10), 512, 10), np.zeros(10, np.float32)]
    if model == "cnn":
        return [_glorot(rng, (3, 3, 1, 32), 9, 9 * 32), np.zeros(32, np.float32),
                _glorot(rng, (3, 3, 32, 64), 9 * 32, 9 * 64), np.zeros(64, np.float32),
                _glorot(rng, (1600, 10), 1600, 10), np.zeros(10, np.float32)]
    rng = np.random.default_rng(0)  # bench_core.py's XOR start, known to solve
    return [rng.normal(size=(2, 3)).astype(np.float32), np.zeros(3, np.float32),
            rng.normal(size=(3, 1)).astype(np.float32), np.zeros(1, np.float32)]


def torch_layout(model, weights):
    """Keras/gradkit-layout weights -> PyTorch's (``Linear``: (out, in); conv OIHW; CHW flatten)."""
    if model in ("mlp", "xor"):
        W1, b1, W2, b2 = weights
        return [W1.T.copy(), b1, W2.T.copy(), b2]
    K1, b1, K2, b2, W, b3 = weights
    Wt = W.reshape(5, 5, 64, 10).transpose(2, 0, 1, 3).reshape(1600, 10).T.copy()
    return [K1.transpose(3, 2, 0, 1).copy(), b1, K2.transpose(3, 2, 0, 1).copy(), b2, Wt, b3]


def batches_in_epoch(n, batch, max_batches):
    steps = -(-n // batch)
    return min(steps, max_batches) if max_batches else steps


# ----------------------------------------------------------------- contenders
class Contender:
    """One framework on one workload. Subclasses fill in the hooks."""

    models = ()          # workloads supported: "mlp", "cnn", "xor", "predict"
    predict_models = ("mlp", "cnn")   # the models it predicts with in the predict workload

    def __init__(self, cfg):
        self.cfg = cfg
        self.workload = cfg["workload"]
        self.batch = cfg["batch_size"]
        self.max_batches = cfg.get("max_batches")
        self.seed = cfg["seed"]
        self.steps_done = 0          # XOR steps so far

    # data ------------------------------------------------------------
    def load(self, layout):
        (xa, ya), (xb, yb) = load_fashion_mnist(self.cfg.get("synthetic", False))
        self.x_train, self.y_train = preprocess(xa, layout), ya
        limit = self.cfg.get("eval_limit")
        self.x_test, self.y_test = preprocess(xb[:limit], layout), yb[:limit]

    def info(self):
        return {}

    # commands --------------------------------------------------------
    def setup(self):
        raise NotImplementedError

    def epoch(self, msg):
        raise NotImplementedError

    def evaluate(self, msg):
        raise NotImplementedError

    # helpers ---------------------------------------------------------
    def xor_epoch(self, step):
        n = self.cfg["xor_steps"]
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            step()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        self.steps_done += n
        return {"wall": wall / n, "cpu": cpu / n, "steps": n}

    def xor_finish(self, step, predict):
        while self.steps_done < self.cfg["xor_train_steps"]:
            step()
            self.steps_done += 1
        out = np.asarray(predict()).reshape(4, 1)
        return {"solved": bool(((out > 0.5) == (XOR_Y > 0.5)).all()),
                "outputs": [round(float(v), 4) for v in out.ravel()],
                "steps": self.steps_done}


def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}


class FitDriver:
    """Run ``fit(epochs=E)`` once, as a user would, yet one epoch per ``epoch`` command.

    A callback (subclass of the framework's ``Callback``) times each epoch from
    ``on_epoch_begin`` to ``on_epoch_end``; at the end of every epoch but the last
    it replies to the parent and blocks until the next ``epoch`` command, so the
    parent can run the other contenders' epochs in between. ``fit``'s one-time
    set-up is paid once, not once per epoch.
    """

    def __init__(self, worker, callback_base, fit):
        self.worker, self.fit, self.result, self.started = worker, fit, None, False
        driver = self

        class Gate(callback_base):
            def on_epoch_begin(self, epoch, logs=None):
                driver.t0, driver.c0 = time.perf_counter(), time.process_time()

            def on_epoch_end(self, epoch, logs=None):
                driver.result = {"wall": time.perf_counter() - driver.t0,
                                 "cpu": time.process_time() - driver.c0, "epoch": epoch}
                if epoch + 1 < worker.cfg["epochs"]:
                    worker.io.reply(ok=True, **driver.result)
                    msg = worker.io.next_command()
                    if msg.get("cmd") != "epoch":
                        raise RuntimeError(f"expected the next epoch command, got {msg}")

        self.callback = Gate()

    def epoch(self):
        if self.started:
            raise RuntimeError("all epochs of fit() have run already")
        self.started = True
        self.fit(epochs=self.worker.cfg["epochs"], callbacks=[self.callback])
        return self.result


# ................................................................. gradkit
class _Gradkit(Contender):
    models = ("mlp", "cnn", "xor", "predict")

    def import_gradkit(self):
        sys.path.insert(0, str(ROOT))
        import gradkit

        self.gk = gradkit
        gradkit.random.seed(self.seed)
        return gradkit

    def info(self):
        return {"version": "repo " + _git_rev()}

    def build(self, model, logits):
        gk = self.gk
        L = gk.layers
        last = None if logits else "softmax"
        if model == "mlp":
            net = gk.Sequential([L.Dense(512, activation="relu"), L.Dense(10, activation=last)])
            net.build((None, 784))
        elif model == "cnn":
            net = gk.Sequential([L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
                                 L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2),
                                 L.Flatten(), L.Dense(10, activation=last)])
            net.build((None, 28, 28, 1))
        else:
            net = gk.Sequential([L.Dense(3, activation="sigmoid"),
                                 L.Dense(1, activation="sigmoid")])
            net.build((None, 2))
        net.set_weights(initial_weights(model, self.seed))
        return net

    def accuracy_of(self, predict_fn):
        correct = 0
        for s in range(0, len(self.x_test), 1024):
            out = predict_fn(self.x_test[s:s + 1024])
            correct += int((np.asarray(out).argmax(axis=1) == self.y_test[s:s + 1024]).sum())
        return correct / len(self.x_test)


class GradkitFit(_Gradkit):
    """gradkit's Keras API: ``compile`` + ``fit(epochs=1)`` per epoch, ``predict``."""

    def make_optimizer(self):
        O = self.gk.optimizers
        if self.workload == "mlp":
            return O.RMSprop(learning_rate=MLP_LR, rho=RHO, epsilon=EPS)
        if self.workload == "cnn":
            return O.Adam(learning_rate=CNN_LR)
        return O.SGD(learning_rate=XOR_LR)

    def compile(self):
        if self.workload == "xor":
            self.model.compile(optimizer=self.make_optimizer(), loss="mse")
        else:
            self.model.compile(optimizer=self.make_optimizer(),
                               loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    def setup(self):
        self.import_gradkit()
        if self.workload == "predict":
            return self.setup_predict()
        if self.workload == "xor":
            self.model = self.build("xor", logits=False)
            self.compile()
            return
        self.load("flat" if self.workload == "mlp" else "nhwc")
        self.model = self.build(self.workload, logits=False)
        self.compile()
        # warm-up: two steps, then the initial weights and a fresh optimizer again
        k = self.cfg.get("warmup_batches", 2) * self.batch
        self.model.fit(self.x_train[:k], self.y_train[:k],
                       batch_size=self.batch, epochs=1, verbose=0, shuffle=False)
        self.model.set_weights(initial_weights(self.workload, self.seed))
        self.compile()
        self.gk.random.seed(self.seed)
        self.driver = FitDriver(self, self.gk.callbacks.Callback, lambda **kw: self.model.fit(
            self.x_train, self.y_train, batch_size=self.batch, verbose=0,
            steps_per_epoch=self.max_batches, **kw))

    def epoch(self, msg):
        if self.workload == "xor":
            return self.xor_epoch(lambda: self.model.train_on_batch(XOR_X, XOR_Y))
        if self.workload == "predict":
            return self.predict_epoch(msg)
        return self.driver.epoch()

    def evaluate(self, msg):
        if self.workload == "xor":
            return self.xor_finish(lambda: self.model.train_on_batch(XOR_X, XOR_Y),
                                   lambda: self.model.predict(XOR_X, verbose=0))
        if self.workload == "predict":
            return self.predict_classes()
        _, acc = self.model.evaluate(self.x_test, self.y_test, batch_size=1024, verbose=0)
        return {"accuracy": float(acc)}

    # predict workload: both models in one worker
    def setup_predict(self):
        (_, _), (xb, _) = load_fashion_mnist(self.cfg.get("synthetic", False))
        lim = self.cfg.get("predict_limit")
        self.inputs = {"mlp": preprocess(xb[:lim], "flat"), "cnn": preprocess(xb[:lim], "nhwc")}
        self.nets = {m: self.build(m, logits=False) for m in ("mlp", "cnn")}
        self.classes = {m: self.run_predict(m).argmax(1) for m in ("mlp", "cnn")}  # warm-up

    def run_predict(self, m):
        return self.nets[m].predict(self.inputs[m], batch_size=self.cfg["predict_batch"],
                                    verbose=0)

    def predict_epoch(self, msg):
        return timed(lambda: self.run_predict(msg["model"]))

    def predict_classes(self):
        return {"classes": {m: c.tolist() for m, c in self.classes.items()}}


class GradkitFitNumPy(GradkitFit):
    """``GradkitFit`` with gradkit[fast]'s numba loops off, as ``GRADKIT_FUSED=0`` does:
    what a user without numba runs (numba is then never imported, so its memory is not
    in this worker's peak RSS)."""

    models = ("mlp", "cnn")

    def import_gradkit(self):
        gradkit = super().import_gradkit()
        gradkit.accel.set_enabled(False)
        return gradkit


class GradkitLoop(_Gradkit):
    """gradkit's PyTorch-style loop: ``model.parameters()``, ``loss.backward()``, ``opt.step()``."""

    models = ("mlp", "cnn", "xor")

    def make_optimizer(self):
        O, params = self.gk.optimizers, self.model.parameters()
        if self.workload == "mlp":
            return O.RMSprop(params, lr=MLP_LR, alpha=RHO, eps=EPS)
        if self.workload == "cnn":
            return O.Adam(params, lr=CNN_LR)
        return O.SGD(params, lr=XOR_LR)

    def setup(self):
        gk = self.import_gradkit()
        if self.workload == "xor":
            self.model = self.build("xor", logits=False)
            self.opt = self.make_optimizer()
            self.x, self.y = gk.Tensor(XOR_X), gk.Tensor(XOR_Y)
            return
        self.load("flat" if self.workload == "mlp" else "nhwc")
        self.model = self.build(self.workload, logits=True)
        self.opt = self.make_optimizer()
        self.rng = np.random.default_rng(self.seed)
        self.train_epoch(self.cfg.get("warmup_batches", 2))
        self.model.set_weights(initial_weights(self.workload, self.seed))
        self.opt = self.make_optimizer()

    def xor_step(self):
        gk = self.gk
        self.opt.zero_grad()
        loss = gk.mean_squared_error(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()

    def train_epoch(self, max_batches):
        gk, model, opt = self.gk, self.model, self.opt
        it = gk.utils.batch_iterator(self.x_train, self.y_train, batch_size=self.batch,
                                     shuffle=True, seed=self.rng)
        for i, (xb, yb) in enumerate(it):
            opt.zero_grad()
            loss = gk.softmax_cross_entropy(model(xb, training=True), yb)
            loss.backward()
            opt.step()
            if max_batches and i + 1 >= max_batches:
                break

    def epoch(self, msg):
        if self.workload == "xor":
            return self.xor_epoch(self.xor_step)
        return timed(lambda: self.train_epoch(self.max_batches))

    def evaluate(self, msg):
        gk = self.gk

        def forward(x):
            with gk.no_grad():
                return self.model(x, training=False).numpy()

        if self.workload == "xor":
            return self.xor_finish(self.xor_step, lambda: forward(XOR_X))
        return {"accuracy": self.accuracy_of(forward)}


# ................................................................. PyTorch
class PyTorch(Contender):
    """PyTorch CPU, ``torch.set_num_threads(2)``, a plain training loop, NCHW for the CNN."""

    models = ("mlp", "cnn", "xor", "predict")

    def import_torch(self):
        try:
            import torch
        except ImportError as e:
            raise Skip(f"PyTorch is not installed ({e}); pip install torch==2.13.0") from e
        torch.set_num_threads(self.cfg.get("torch_threads", 2))
        torch.manual_seed(self.seed)
        self.torch = torch
        return torch

    def info(self):
        return {"version": self.torch.__version__, "threads": self.torch.get_num_threads()}

    def build(self, model):
        nn = self.torch.nn
        if model == "mlp":
            net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
        elif model == "cnn":
            net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                                nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                                nn.Flatten(), nn.Linear(1600, 10))
        else:
            net = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1), nn.Sigmoid())
        self.load_weights(net, model)
        return net

    def load_weights(self, net, model):
        params = list(net.parameters())
        with self.torch.no_grad():
            for p, v in zip(params, torch_layout(model, initial_weights(model, self.seed))):
                p.copy_(self.torch.from_numpy(np.ascontiguousarray(v)))

    def make_optimizer(self):
        optim, params = self.torch.optim, self.model.parameters()
        if self.workload == "mlp":
            return optim.RMSprop(params, lr=MLP_LR, alpha=RHO, eps=EPS)
        if self.workload == "cnn":
            return optim.Adam(params, lr=CNN_LR, eps=EPS)
        return optim.SGD(params, lr=XOR_LR)

    def setup(self):
        torch = self.import_torch()
        if self.workload == "predict":
            (_, _), (xb, _) = load_fashion_mnist(self.cfg.get("synthetic", False))
            lim = self.cfg.get("predict_limit")
            self.inputs = {"mlp": torch.from_numpy(preprocess(xb[:lim], "flat")),
                           "cnn": torch.from_numpy(preprocess(xb[:lim], "nchw"))}
            self.nets = {m: self.build(m).eval() for m in ("mlp", "cnn")}
            self.classes = {m: self.run_predict(m).argmax(1) for m in ("mlp", "cnn")}
            return
        if self.workload == "xor":
            self.model = self.build("xor")
            self.opt = self.make_optimizer()
            self.x, self.y = torch.from_numpy(XOR_X), torch.from_numpy(XOR_Y)
            return
        self.load("flat" if self.workload == "mlp" else "nchw")
        self.xt, self.yt = torch.from_numpy(self.x_train), torch.from_numpy(self.y_train)
        self.model = self.build(self.workload)
        self.opt = self.make_optimizer()
        self.gen = torch.Generator().manual_seed(self.seed)
        self.train_epoch(self.cfg.get("warmup_batches", 2))
        self.load_weights(self.model, self.workload)
        self.opt = self.make_optimizer()

    def xor_step(self):
        self.opt.zero_grad()
        loss = self.torch.nn.functional.mse_loss(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()

    def train_epoch(self, max_batches):
        torch, model, opt = self.torch, self.model, self.opt
        F = torch.nn.functional
        model.train()
        n = self.xt.shape[0]
        perm = torch.randperm(n, generator=self.gen)
        for i, start in enumerate(range(0, n, self.batch)):
            idx = perm[start:start + self.batch]
            xb, yb = self.xt[idx], self.yt[idx]
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            if max_batches and i + 1 >= max_batches:
                break

    def epoch(self, msg):
        if self.workload == "xor":
            return self.xor_epoch(self.xor_step)
        if self.workload == "predict":
            return timed(lambda: self.run_predict(msg["model"]))
        return timed(lambda: self.train_epoch(self.max_batches))

    def run_predict(self, m):
        torch, net, x = self.torch, self.nets[m], self.inputs[m]
        out = np.empty((x.shape[0], 10), np.float32)
        bs = self.cfg["predict_batch"]
        with torch.inference_mode():
            for s in range(0, x.shape[0], bs):
                out[s:s + bs] = torch.softmax(net(x[s:s + bs]), dim=1).numpy()
        return out

    def evaluate(self, msg):
        torch = self.torch
        if self.workload == "predict":
            return {"classes": {m: c.tolist() for m, c in self.classes.items()}}
        if self.workload == "xor":
            def predict():
                with torch.no_grad():
                    return self.model(self.x).numpy()
            return self.xor_finish(self.xor_step, predict)
        self.model.eval()
        correct = 0
        x = torch.from_numpy(self.x_test)
        with torch.inference_mode():
            for s in range(0, x.shape[0], 1024):
                pred = self.model(x[s:s + 1024]).argmax(1).numpy()
                correct += int((pred == self.y_test[s:s + 1024]).sum())
        return {"accuracy": correct / len(self.y_test)}


# ................................................................. Keras 3 on JAX
class KerasJax(Contender):
    """Keras 3 with ``KERAS_BACKEND=jax`` (CPU): ``fit``/``predict``/``train_on_batch``.

    The warm-up in set-up compiles the train step for the full and the last
    partial batch (and the predict/evaluate functions), so no timed epoch
    includes XLA compilation; the weights and optimizer variables are then reset.
    """

    models = ("mlp", "cnn", "xor", "predict")

    def import_keras(self):
        os.environ["KERAS_BACKEND"] = "jax"
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            import jax
            import keras
        except ImportError as e:
            raise Skip(f"Keras 3 / JAX is not installed ({e}); pip install keras jax jaxlib") \
                from e
        if keras.backend.backend() != "jax":
            raise Skip(f"Keras runs on {keras.backend.backend()!r}, not JAX")
        keras.utils.set_random_seed(self.seed)
        self.keras, self.jax = keras, jax
        return keras

    def info(self):
        return {"version": f"keras {self.keras.__version__}, jax {self.jax.__version__}",
                "devices": [str(d) for d in self.jax.devices()]}

    def build(self, model):
        keras = self.keras
        L = keras.layers
        if model == "mlp":
            net = keras.Sequential([keras.Input((784,)), L.Dense(512, activation="relu"),
                                    L.Dense(10, activation="softmax")])
        elif model == "cnn":
            net = keras.Sequential([keras.Input((28, 28, 1)),
                                    L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
                                    L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2),
                                    L.Flatten(), L.Dense(10, activation="softmax")])
        else:
            net = keras.Sequential([keras.Input((2,)), L.Dense(3, activation="sigmoid"),
                                    L.Dense(1, activation="sigmoid")])
        net.set_weights(initial_weights(model, self.seed))
        return net

    def make_optimizer(self):
        O = self.keras.optimizers
        if self.workload == "mlp":
            return O.RMSprop(learning_rate=MLP_LR, rho=RHO, epsilon=EPS)
        if self.workload == "cnn":
            return O.Adam(learning_rate=CNN_LR)
        return O.SGD(learning_rate=XOR_LR)

    def snapshot(self):
        """Build the optimizer's variables now and remember every starting value."""
        self.model.optimizer.build(self.model.trainable_variables)
        self.start = [(v, np.array(v.numpy())) for v in self.model.optimizer.variables]

    def reset(self):
        """The initial weights and the optimizer's starting state (iterations, slots) again."""
        self.model.set_weights(initial_weights(self.workload, self.seed))
        for v, value in self.start:
            v.assign(value)

    def setup(self):
        keras = self.import_keras()
        if self.workload == "predict":
            (_, _), (xb, _) = load_fashion_mnist(self.cfg.get("synthetic", False))
            lim = self.cfg.get("predict_limit")
            self.inputs = {"mlp": preprocess(xb[:lim], "flat"), "cnn": preprocess(xb[:lim], "nhwc")}
            self.nets = {m: self.build(m) for m in ("mlp", "cnn")}
            self.classes = {m: self.run_predict(m).argmax(1) for m in ("mlp", "cnn")}
            return
        self.model = self.build(self.workload)
        if self.workload == "xor":
            self.model.compile(optimizer=self.make_optimizer(), loss="mse")
            self.snapshot()
            self.model.train_on_batch(XOR_X, XOR_Y)   # compile
            self.model.predict(XOR_X, verbose=0)
            self.reset()
            return
        self.load("flat" if self.workload == "mlp" else "nhwc")
        self.model.compile(optimizer=self.make_optimizer(),
                           loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        self.snapshot()
        n = len(self.x_train)
        last = n % self.batch if not self.max_batches else 0
        k = self.batch + last
        self.model.fit(self.x_train[:k], self.y_train[:k], batch_size=self.batch, epochs=1,
                       verbose=0, shuffle=False)
        self.model.evaluate(self.x_test[:1024], self.y_test[:1024], batch_size=1024, verbose=0)
        self.reset()
        keras.utils.set_random_seed(self.seed)
        self.driver = FitDriver(self, keras.callbacks.Callback, lambda **kw: self.model.fit(
            self.x_train, self.y_train, batch_size=self.batch, verbose=0,
            steps_per_epoch=self.max_batches, **kw))

    def epoch(self, msg):
        if self.workload == "xor":
            return self.xor_epoch(lambda: self.model.train_on_batch(XOR_X, XOR_Y))
        if self.workload == "predict":
            return timed(lambda: self.run_predict(msg["model"]))
        return self.driver.epoch()

    def run_predict(self, m):
        return self.nets[m].predict(self.inputs[m], batch_size=self.cfg["predict_batch"],
                                    verbose=0)

    def evaluate(self, msg):
        if self.workload == "predict":
            return {"classes": {m: c.tolist() for m, c in self.classes.items()}}
        if self.workload == "xor":
            return self.xor_finish(lambda: self.model.train_on_batch(XOR_X, XOR_Y),
                                   lambda: self.model.predict(XOR_X, verbose=0))
        _, acc = self.model.evaluate(self.x_test, self.y_test, batch_size=1024, verbose=0)
        return {"accuracy": float(acc)}


# ................................................................. hand-fused NumPy
class NumpyMLP(Contender):
    """The MLP written out by hand in NumPy: the ceiling of what NumPy allows.

    Forward ``relu(x @ W1 + b1) @ W2 + b2``, softmax cross-entropy gradient
    ``(softmax(z) - onehot) / B``, backward ``h.T @ g``, ``g @ W2.T`` masked by
    ``h > 0``, ``x.T @ g1``, then Keras's RMSprop (``v = rho v + (1 - rho) g^2``,
    ``p -= lr g / sqrt(v + eps)``). float32 throughout, every intermediate in a
    preallocated buffer, every update in place; the loss value is computed too
    (a training loop reports it), accuracy metrics are not.
    """

    models = ("mlp", "predict")
    predict_models = ("mlp",)

    def info(self):
        return {"version": f"numpy {np.__version__}"}

    def setup(self):
        if self.workload == "predict":
            (_, _), (xb, _) = load_fashion_mnist(self.cfg.get("synthetic", False))
            self.inputs = {"mlp": preprocess(xb[:self.cfg.get("predict_limit")], "flat")}
            self.params = initial_weights("mlp", self.seed)
            self.classes = {"mlp": self.run_predict("mlp").argmax(1)}
            return
        self.load("flat")
        self.rng = np.random.default_rng(self.seed)
        B = self.batch
        f32 = np.float32
        self.H, self.Z = np.empty((B, 512), f32), np.empty((B, 10), f32)
        self.G1, self.M = np.empty((B, 512), f32), np.empty((B, 512), bool)
        self.ZMAX = np.empty((B, 1), f32)
        self.reset()
        self.train_epoch(self.cfg.get("warmup_batches", 2))
        self.reset()

    def reset(self):
        self.params = initial_weights("mlp", self.seed)
        self.grads = [np.empty_like(p) for p in self.params]
        self.vel = [np.zeros_like(p) for p in self.params]
        self.tmp = [np.empty_like(p) for p in self.params]

    def step(self, xb, yb):
        W1, b1, W2, b2 = self.params
        dW1, db1, dW2, db2 = self.grads
        B = xb.shape[0]
        h, z, g1, mask = self.H[:B], self.Z[:B], self.G1[:B], self.M[:B]
        zmax = self.ZMAX[:B]
        np.matmul(xb, W1, out=h)
        h += b1
        np.maximum(h, 0, out=h)
        np.matmul(h, W2, out=z)
        z += b2
        np.max(z, axis=1, keepdims=True, out=zmax)
        z -= zmax
        np.exp(z, out=z)
        np.sum(z, axis=1, keepdims=True, out=zmax)
        z /= zmax                                    # softmax probabilities
        rows = np.arange(B)
        loss = -float(np.log(z[rows, yb]).mean())
        z[rows, yb] -= 1.0
        z *= np.float32(1.0 / B)                     # dL/dz
        np.matmul(h.T, z, out=dW2)
        np.sum(z, axis=0, out=db2)
        np.matmul(z, W2.T, out=g1)
        np.greater(h, 0, out=mask)
        g1 *= mask
        np.matmul(xb.T, g1, out=dW1)
        np.sum(g1, axis=0, out=db1)
        lr, rho = np.float32(MLP_LR), np.float32(RHO)
        for p, g, v, t in zip(self.params, self.grads, self.vel, self.tmp):
            v *= rho
            np.multiply(g, g, out=t)
            t *= np.float32(1 - RHO)
            v += t
            np.add(v, np.float32(EPS), out=t)
            np.sqrt(t, out=t)
            np.divide(g, t, out=t)
            t *= lr
            p -= t
        return loss

    def train_epoch(self, max_batches):
        x, y = self.x_train, self.y_train
        n = x.shape[0]
        order = self.rng.permutation(n)
        for i, start in enumerate(range(0, n, self.batch)):
            idx = order[start:start + self.batch]
            self.step(x[idx], y[idx])
            if max_batches and i + 1 >= max_batches:
                break

    def forward(self, x):
        W1, b1, W2, b2 = self.params
        h = x @ W1
        h += b1
        np.maximum(h, 0, out=h)
        z = h @ W2
        z += b2
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    def run_predict(self, m):
        x = self.inputs[m]
        bs = self.cfg["predict_batch"]
        out = np.empty((x.shape[0], 10), np.float32)
        for s in range(0, x.shape[0], bs):
            out[s:s + bs] = self.forward(x[s:s + bs])
        return out

    def epoch(self, msg):
        if self.workload == "predict":
            return timed(lambda: self.run_predict(msg["model"]))
        return timed(lambda: self.train_epoch(self.max_batches))

    def evaluate(self, msg):
        if self.workload == "predict":
            return {"classes": {m: c.tolist() for m, c in self.classes.items()}}
        pred = np.concatenate([self.forward(self.x_test[s:s + 1024]).argmax(1)
                               for s in range(0, len(self.x_test), 1024)])
        return {"accuracy": float((pred == self.y_test).mean())}


class BlasFloor(Contender):
    """The GEMMs of one MLP epoch replayed bare: the floor under any NumPy MLP epoch.

    Per training step (batch B, 128 or the last 96): forward ``x @ W1``
    (B x 784 @ 784 x 512) and ``h @ W2`` (B x 512 @ 512 x 10); backward
    ``h.T @ g`` (512 x B @ B x 10), ``g @ W2.T`` (B x 10 @ 10 x 512) and
    ``x.T @ g1`` (784 x B @ B x 512); no gradient for the input images. Same
    operand layouts as a framework sees (transposed views, no copies), outputs
    into preallocated arrays, as many steps as one epoch has.
    """

    models = ("mlp",)

    def info(self):
        return {"version": f"numpy {np.__version__}"}

    def setup(self):
        rng = np.random.default_rng(self.seed)
        f32 = np.float32

        def r(*s):
            return rng.standard_normal(s).astype(f32)

        B = self.batch
        self.W1, self.W2 = r(784, 512), r(512, 10)
        self.x, self.h, self.g, self.g1 = r(B, 784), r(B, 512), r(B, 10), r(B, 512)
        self.o1, self.o2 = np.empty((B, 512), f32), np.empty((B, 10), f32)
        self.dW1, self.dW2 = np.empty((784, 512), f32), np.empty((512, 10), f32)
        n = self.cfg.get("train_samples", 60000)
        steps = batches_in_epoch(n, B, self.max_batches)
        full = n // B if not self.max_batches else steps
        self.sizes = [B] * min(full, steps) + ([n % B] if steps > full else [])
        self.epoch({})

    def gemms(self, B):
        x, h, g, g1 = self.x[:B], self.h[:B], self.g[:B], self.g1[:B]
        np.matmul(x, self.W1, out=self.o1[:B])
        np.matmul(h, self.W2, out=self.o2[:B])
        np.matmul(h.T, g, out=self.dW2)
        np.matmul(g, self.W2.T, out=self.o1[:B])
        np.matmul(x.T, g1, out=self.dW1)

    def epoch(self, msg):
        def run():
            for B in self.sizes:
                self.gemms(B)
        return dict(timed(run), steps=len(self.sizes))

    def evaluate(self, msg):
        flops = sum(2 * B * (784 * 512 + 512 * 10) * 3 for B in self.sizes)
        return {"gflop_per_epoch": flops / 1e9, "steps": len(self.sizes)}


CONTENDERS = {"gradkit-fit": GradkitFit, "gradkit-fit-numpy": GradkitFitNumPy,
              "gradkit-loop": GradkitLoop, "pytorch": PyTorch,
              "keras-jax": KerasJax, "numpy": NumpyMLP, "blas-floor": BlasFloor}


def _git_rev():
    head = ROOT / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            return (ROOT / ".git" / ref[5:]).read_text().strip()[:10]
        return ref[:10]
    except OSError:
        return "unknown"


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ----------------------------------------------------------------- protocol
class Protocol:
    """JSON lines: commands from stdin, replies to a private copy of the original stdout."""

    def __init__(self):
        self.out = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)                  # stray prints from libraries go to stderr

    def reply(self, **kw):
        self.out.write(json.dumps(kw) + "\n")
        self.out.flush()

    def next_command(self):
        line = sys.stdin.readline()
        return json.loads(line) if line else {"cmd": "quit"}


def blas_kernels():
    """The BLAS libraries this process loaded and the kernel each runs (threadpoolctl), so a
    report shows whether a contender ran on forced old kernels."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"internal_api": "threadpoolctl not installed", "architecture": "?"}]
    return [{k: lib.get(k) for k in ("internal_api", "architecture", "num_threads", "version")}
            for lib in threadpool_info() if lib.get("user_api") == "blas"]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    cfg = json.loads(argv[0])
    io = Protocol()
    try:
        worker = CONTENDERS[cfg["contender"]](cfg)
        worker.io = io
        worker.setup()
    except Skip as e:
        io.reply(ok=False, skip=str(e))
        return 0
    except Exception:
        io.reply(ok=False, error=traceback.format_exc())
        return 1
    io.reply(ok=True, ready=True, info=dict(worker.info(), blas=blas_kernels()),
             rss_mb=peak_rss_mb())
    while True:
        msg = io.next_command()
        cmd = msg.get("cmd")
        if cmd == "quit":
            break
        try:
            if cmd == "epoch":
                io.reply(ok=True, **worker.epoch(msg))
            elif cmd == "eval":
                io.reply(ok=True, **worker.evaluate(msg))
            elif cmd == "rss":
                ru = resource.getrusage(resource.RUSAGE_SELF)
                io.reply(ok=True, rss_mb=peak_rss_mb(), cpu_s=ru.ru_utime + ru.ru_stime)
            else:
                io.reply(ok=False, error=f"unknown command {cmd!r}")
        except Exception:
            io.reply(ok=False, error=traceback.format_exc())
    return 0


if __name__ == "__main__":
    sys.exit(main())
