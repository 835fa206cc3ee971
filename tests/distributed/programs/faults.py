"""Rank 1 fails during fit (raises, is killed, or hangs); the job must end, not hang."""

import os
import signal
import sys
import time

import numpy as np

import gradkit as gk
import gradkit.distributed as dist

mode = sys.argv[1]
dist.init(timeout=3 if mode == "hang" else 60)


class Fail(gk.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 2 and dist.rank() == 1:
            if mode == "raise":
                raise ValueError("rank 1 fails on purpose")
            if mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(600)  # hang: rank 0 waits in the next allreduce


m = gk.Sequential([gk.layers.Dense(4), gk.layers.Dense(1)])
m.compile("sgd", "mse")
x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
m.fit(x, x[:, :1], batch_size=8, epochs=3, verbose=0, callbacks=[Fail()])
print("finished: the failure was not noticed", flush=True)
