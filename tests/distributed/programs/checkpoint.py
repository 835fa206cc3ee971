"""Train on N ranks with a checkpoint written by rank 0; resume it on another world size.

``checkpoint.py train CKPT CSV`` / ``checkpoint.py resume CKPT OUT.npz``; the test also
imports :func:`resume` to run it in one process.
"""

import sys

import numpy as np

import gradkit as gk
import gradkit.distributed as dist


def data():
    r = np.random.default_rng(3)
    x = r.normal(size=(96, 4))
    return x, (x @ np.arange(1.0, 5.0))[:, None]


def train(ckpt, csv):
    gk.random.seed(0)
    m = gk.Sequential([gk.layers.Dense(6, activation="tanh", dtype="float64"),
                       gk.layers.Dense(1, dtype="float64")])
    m.compile(gk.optimizers.Adam(0.01), "mse")
    x, y = data()
    m.fit(x, y, batch_size=12, epochs=2, verbose=2,
          callbacks=[gk.callbacks.ModelCheckpoint(ckpt), gk.callbacks.CSVLogger(csv)])


def resume(ckpt):
    m = gk.load_model(ckpt)
    gk.random.seed(5)
    x, y = data()
    m.fit(x, y, batch_size=24, epochs=2, verbose=0)
    return [w.numpy() for w in m.weights] + [np.array(m.optimizer.iterations, dtype=float)]


if __name__ == "__main__":
    dist.init(timeout=120)
    if sys.argv[1] == "train":
        train(sys.argv[2], sys.argv[3])
    else:
        out = resume(sys.argv[2])
        if dist.is_main_process():
            np.savez(sys.argv[3], **{str(i): w for i, w in enumerate(out)})
