"""Child processes for the fault tests: they save or train until the parent kills them."""

import sys

import numpy as np

import gradkit as gk
from gradkit import callbacks, layers


def small_model(seed=0):
    gk.utils.set_random_seed(seed)
    model = gk.Sequential([layers.Dense(32, activation="relu", input_shape=(8,)),
                           layers.Dropout(0.1), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0)
    return x, y


def save_forever(path):
    """Alternate between two weight sets, saving each to ``path`` again and again."""
    model = small_model()
    w0 = model.get_weights()
    w1 = [w + 1.0 for w in w0]
    model.save(path)
    print("ready", flush=True)
    i = 0
    while True:
        model.set_weights(w1 if i % 2 else w0)
        model.save(path)
        i += 1


def checkpoint_forever(path):
    """Train with a ModelCheckpoint writing every (tiny) epoch until killed."""
    model = small_model()
    x, y = data()

    class Ready(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                print("ready", flush=True)

    model.fit(x, y, epochs=100000, batch_size=256, verbose=0,
              callbacks=[callbacks.ModelCheckpoint(path), Ready()])


def train_then_die(path, stop_after):
    """Checkpoint every epoch; after epoch ``stop_after`` is saved, wait to be killed."""
    import time

    model = small_model(seed=5)
    x, y = data()

    class Announce(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == stop_after:
                print("checkpointed", flush=True)
                time.sleep(60)  # the parent kills us here, mid-training

    model.fit(x, y, epochs=10, batch_size=64, verbose=0,
              callbacks=[callbacks.ModelCheckpoint(path), Announce()])


def fit_until_sigint(path):
    """A long fit; Ctrl-C must stop it at a batch boundary, then the model is saved."""
    model = small_model()
    x, y = data()
    x = np.repeat(x, 50, axis=0)
    y = np.repeat(y, 50, axis=0)

    class Started(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 5:
                print("started", flush=True)

    hist = model.fit(x, y, epochs=50, batch_size=8, verbose=0, callbacks=[Started()])
    model.save(path)
    again = gk.load_model(path)
    assert np.array_equal(again.predict(x[:10]), model.predict(x[:10]))
    print(f"saved after {len(hist.epoch)} epoch(s)", flush=True)


def slow_save(path):
    """Save once, then save again with a slow disk: says "writing" while the temp file is
    half-done, so the parent's signal lands mid-write."""
    import time

    from gradkit.models import saving

    model = small_model()
    model.save(path)
    real_fsync = saving.os.fsync

    def slow_fsync(fd):
        print("writing", flush=True)
        time.sleep(2)
        real_fsync(fd)

    saving.os.fsync = slow_fsync
    model.save(path)
    print("saved", flush=True)


if __name__ == "__main__":
    {"save": save_forever, "checkpoint": checkpoint_forever, "die": train_then_die,
     "sigint": fit_until_sigint, "slowsave": slow_save}[sys.argv[1]](*sys.argv[2:3],
                                             *[int(a) for a in sys.argv[3:]])
