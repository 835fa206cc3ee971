"""The ``TensorBoard`` callback: ``fit`` logs for TensorBoard (Keras's ``callbacks.TensorBoard``).

Layout, as Keras writes it: ``<log_dir>/train`` and ``<log_dir>/validation`` runs,
scalars ``epoch_loss``, ``epoch_<metric>`` and ``epoch_learning_rate`` per epoch
(``batch_loss``... per batch with ``update_freq``), histograms of every weight
(``dense/kernel``) and of its last gradient (``dense/kernel/gradient``) every
``histogram_freq`` epochs, and the model graph.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from gradkit.callbacks import Callback
from gradkit.utils.tensorboard import SummaryWriter
from gradkit.utils.validation import check_int


class TensorBoard(Callback):
    """Write training logs that ``tensorboard --logdir <log_dir>`` shows live.

    Args:
        log_dir: the run's directory (``train/`` and ``validation/`` go inside).
        histogram_freq: every this many epochs, histograms of the weights and of the
            gradients of the epoch's last batch (0: never).
        write_graph: write the model's layer graph (Sequential and functional models)
            for the Graphs tab.
        write_images: with ``histogram_freq``, also write 2-D kernels as grayscale images
            (scaled to their own min..max) for the Images tab.
        update_freq: ``"epoch"``; or ``"batch"`` / an int N to also write ``batch_loss``
            (that batch's loss) and ``batch_<metric>`` (the epoch's running value, as ``fit``
            logs it) every N batches, numbered by batches since training began.
        write_steps_per_second, profile_batch, embeddings_freq, embeddings_metadata: Keras's
            names, accepted at their defaults only (``NotImplementedError`` otherwise).

    Needs the optional extra ``gradkit[tensorboard]``.

    Example::

        model.fit(x, y, epochs=10, validation_split=0.1,
                  callbacks=[gradkit.callbacks.TensorBoard("runs/mlp", histogram_freq=1)])
        # then: tensorboard --logdir runs/
    """

    main_process_only = True  # under MPI only rank 0 writes (gradkit.distributed)

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 update_freq="epoch", write_steps_per_second=False, profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        for name, value, default in (("write_steps_per_second", write_steps_per_second, False),
                                     ("profile_batch", profile_batch, 0),
                                     ("embeddings_freq", embeddings_freq, 0),
                                     ("embeddings_metadata", embeddings_metadata, None)):
            if value != default:
                raise NotImplementedError(
                    f"TensorBoard: {name}={value!r} is not supported by gradkit (no profiler or "
                    f"embedding projector logs); leave it at {default!r}")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = check_int("TensorBoard", "histogram_freq", histogram_freq,
                                        minimum=0)
        self.write_graph = bool(write_graph)
        self.write_images = bool(write_images)
        if write_images and not histogram_freq:
            raise ValueError("TensorBoard: write_images=True writes kernels with the histograms; "
                             "set histogram_freq >= 1 too")
        if update_freq == "epoch":
            self._batch_every = 0
        elif update_freq == "batch":
            self._batch_every = 1
        else:
            if isinstance(update_freq, str):
                raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a "
                                 f"positive int, received {update_freq!r}")
            self._batch_every = check_int("TensorBoard", "update_freq", update_freq, minimum=1)
        self.update_freq = update_freq
        if self._batch_every:  # only then: fit skips per-batch hook work when none listens
            self.on_train_batch_end = self._log_batch
        self._train = self._val = None
        self._batches = 0
        self._grads = {}
        self._watched = None  # the handle of our optimizer gradient hook

    def _writer(self, which):
        return SummaryWriter(os.path.join(self.log_dir, which))

    def on_train_begin(self, logs=None):
        self._train = self._writer("train")
        self._batches = 0
        if self.write_graph:
            try:
                self._train.add_graph(self.model)
            except ValueError as e:  # a subclassed model: its graph is Python code
                warnings.warn(f"TensorBoard: no graph written: {e}", stacklevel=2)
        if self.histogram_freq:
            self._watch_gradients()

    def _watch_gradients(self):
        """Keep a reference to each batch's gradients as the optimizer receives them."""
        opt = getattr(self.model, "optimizer", None)
        if opt is None or not hasattr(opt, "register_gradient_hook"):
            return

        def keep(grads, params):
            self._grads = {id(p): g for g, p in zip(grads, params)}

        self._watched = opt.register_gradient_hook(keep)

    def _log_batch(self, batch, logs=None):
        self._batches += 1
        if self._batch_every and self._batches % self._batch_every == 0:
            for key, value in (logs or {}).items():
                self._train.add_scalar(f"batch_{key}", value, self._batches)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        for key, value in logs.items():
            if key.startswith("val_"):
                if self._val is None:
                    self._val = self._writer("validation")
                self._val.add_scalar(f"epoch_{key[4:]}", value, epoch)
            else:
                self._train.add_scalar(f"epoch_{key}", value, epoch)
        opt = getattr(self.model, "optimizer", None)
        if opt is not None and "learning_rate" not in logs:
            self._train.add_scalar("epoch_learning_rate", opt.learning_rate, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._write_weights(epoch)
        self._train.flush()
        if self._val is not None:
            self._val.flush()

    def _write_weights(self, epoch):
        for i, w in enumerate(self.model.weights):
            tag = w.name or f"weight_{i}"
            self._train.add_histogram(tag, w._data, epoch)
            g = self._grads.get(id(w))
            if g is not None:
                self._train.add_histogram(f"{tag}/gradient", g, epoch)
            if self.write_images and w._data.ndim == 2:
                k = w._data.astype(np.float64)
                span = k.max() - k.min()
                img = (k - k.min()) / span if span > 0 else np.zeros_like(k)
                self._train.add_image(f"{tag}/image", img, epoch, dataformats="HW")

    def on_train_end(self, logs=None):
        if self._watched is not None:
            self._watched.remove()
            self._watched = None
        for w in (self._train, self._val):
            if w is not None:
                w.close()
        self._train = self._val = None
        self._grads = {}


__all__ = ["TensorBoard"]
