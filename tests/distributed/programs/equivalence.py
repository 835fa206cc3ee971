"""N ranks with batches of B/N take the same steps as one process with batches of B,
in the three front ends (Keras fit, TensorFlow tape + all_reduce, PyTorch DDP).

Run as a program under mpirun (rank 0 writes every final weight to an .npz), and
imported by the test, which runs the same functions in one process as the reference.
"""

import sys

import numpy as np

import gradkit as gk
import gradkit.distributed as dist
from gradkit import layers, optim, optimizers

BATCH, STEPS = 16, 6
# RMSprop divides each gradient by its own running size, so a weight whose batch gradient
# nearly cancels moves ~lr whatever its (rounding-dominated) value: in float32 the ranks'
# differently ordered sums then differ by ~lr * 1e-4. lr=1e-3 keeps that under 1e-6.
OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(0.1, momentum=0.9),
    "adam": lambda: optimizers.Adam(0.01),
    "rmsprop": lambda: optimizers.RMSprop(0.001),
}


def data(dtype):
    r = np.random.default_rng(0)
    x = r.normal(size=(BATCH * STEPS // 2, 5)).astype(dtype)
    y = r.integers(0, 3, size=len(x))
    return x, y


def model(dtype, seed=1):
    gk.random.seed(seed)
    m = gk.Sequential([layers.Dense(8, activation="tanh", dtype=dtype),
                       layers.Dense(3, dtype=dtype)])
    m.build((None, 5))
    return m


def keras_fit(opt, dtype):
    x, y = data(dtype)
    m = model(dtype)
    m.compile(OPTIMIZERS[opt](), gk.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
    gk.random.seed(7)  # the shuffle order: rank 0's is used everywhere
    hist = m.fit(x, y, batch_size=BATCH, epochs=2, shuffle=True, verbose=0)
    return [w.numpy() for w in m.weights] + [np.array(hist.history["loss"]),
                                             np.array(hist.history["accuracy"])]


def _shard(i):
    lo = i * BATCH
    n, r = dist.world_size(), dist.rank()
    return slice(lo + BATCH * r // n, lo + BATCH * (r + 1) // n)


def tape_loop(opt, dtype):
    x, y = data(dtype)
    m = model(dtype)
    o = OPTIMIZERS[opt]()
    loss_fn = gk.losses.SparseCategoricalCrossentropy(from_logits=True)
    for i in range(len(x) // BATCH):
        part = _shard(i)
        with gk.GradientTape() as tape:
            loss = loss_fn(y[part], m(x[part], training=True))
        grads = tape.gradient(loss, m.trainable_weights)
        dist.all_reduce(grads, op="mean")
        o.apply_gradients(zip(grads, m.trainable_weights))
    return [w.numpy() for w in m.weights]


def torch_ddp(opt, dtype):
    x, y = data(dtype)
    net = dist.DistributedDataParallel(model(dtype), bucket_cap_mb=0.0002)  # several buckets
    o = {"sgd": lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
         "adam": lambda p: optim.Adam(p, lr=0.01),
         "rmsprop": lambda p: optim.RMSprop(p, lr=0.001)}[opt](net.parameters())
    for i in range(len(x) // BATCH):
        part = _shard(i)
        o.zero_grad()
        loss = gk.ops.softmax_cross_entropy(net(gk.Tensor(x[part])), y[part])
        loss.backward()
        o.step()
    return [w.numpy() for w in net.module.weights]


def _loader(dtype):
    """A DataLoader over a DistributedSampler: each rank's batches of B/N are slices of the
    same shuffled order, whose union is one process's batch of B."""
    from gradkit.utils.data import DataLoader, TensorDataset

    x, y = data(dtype)
    ds = TensorDataset(x, y)
    sampler = dist.DistributedSampler(ds, shuffle=True, seed=3)
    return DataLoader(ds, batch_size=BATCH // dist.world_size(), sampler=sampler)


def torch_loader(opt, dtype):
    loader = _loader(dtype)
    net = dist.DistributedDataParallel(model(dtype))
    o = {"sgd": lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
         "adam": lambda p: optim.Adam(p, lr=0.01),
         "rmsprop": lambda p: optim.RMSprop(p, lr=0.001)}[opt](net.parameters())
    for epoch in range(2):
        loader.sampler.set_epoch(epoch)
        for xb, yb in loader:
            o.zero_grad()
            gk.ops.softmax_cross_entropy(net(xb), yb).backward()
            o.step()
    return [w.numpy() for w in net.module.weights]


def keras_loader(opt, dtype):
    m = model(dtype)
    m.compile(OPTIMIZERS[opt](), gk.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
    hist = m.fit(_loader(dtype), epochs=2, verbose=0)  # fit calls the sampler's set_epoch
    return [w.numpy() for w in m.weights] + [np.array(hist.history["loss"]),
                                             np.array(hist.history["accuracy"])]


STYLES = {"keras": keras_fit, "tape": tape_loop, "torch": torch_ddp,
          "torch-loader": torch_loader, "keras-loader": keras_loader}


def all_results():
    out = {}
    for style, fn in STYLES.items():
        for opt in OPTIMIZERS:
            for dtype in ("float64", "float32"):
                for i, a in enumerate(fn(opt, dtype)):
                    out[f"{style}-{opt}-{dtype}-{i}"] = a
    return out


if __name__ == "__main__":
    dist.init(timeout=120)
    res = all_results()
    if dist.is_main_process():
        np.savez(sys.argv[1], **res)
