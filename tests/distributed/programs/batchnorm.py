"""BatchNormalization's moving statistics end each epoch equal on every rank, and the
validation loss is the global one (each rank evaluates half, the sums are reduced)."""

import sys

import numpy as np

import gradkit as gk
import gradkit.distributed as dist

dist.init(timeout=120)
gk.random.seed(0)
m = gk.Sequential([gk.layers.Dense(5, dtype="float64"),
                   gk.layers.BatchNormalization(dtype="float64"),
                   gk.layers.Dense(1, dtype="float64")])
m.compile("sgd", "mse", metrics=["mae"])
r = np.random.default_rng(1)
x, vx = r.normal(size=(64, 3)) + dist.rank(), r.normal(size=(30, 3))
y, vy = x[:, :1] ** 2, vx[:, :1] ** 2
h = m.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(vx, vy))
stats = np.concatenate([w.numpy().ravel() for w in m.non_trainable_weights])
everything = dist.all_gather(stats)
val = dist.all_gather(np.array([h.history["val_loss"][-1]]))
if dist.is_main_process():
    # the same evaluation in this process alone, on the full validation set
    from gradkit.distributed import world

    one = world._Single()
    saved, world._world = world._world, one
    try:
        single = m.evaluate(vx, vy, verbose=0, return_dict=True)["loss"]
    finally:
        world._world = saved
    np.savez(sys.argv[1], rank0=everything[0], rank1=everything[1],
             val_loss_ranks=np.concatenate(val), evaluate_one=single)
