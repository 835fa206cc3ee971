"""Callbacks: code that runs at fixed points of ``fit`` (Keras's hooks).

Each hook gets the epoch or batch index and a ``logs`` dict of the latest
values (``loss``, metrics, ``val_*``). ``self.model`` is the model being trained.
"""

from __future__ import annotations

import csv
import math
import os
import time
import warnings

import numpy as np

from gradkit.utils.validation import check_choice, check_int, check_number


class Callback:
    """Base class: override the hooks you need.

    Example::

        class PrintLoss(Callback):
            def on_epoch_end(self, epoch, logs=None):
                print(epoch, logs["loss"])
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


_HOOKS = [name for name in vars(Callback) if name.startswith("on_")]


class CallbackList:
    """Calls a hook on every callback, skipping the ones that don't override it (cheap)."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)
        for hook in _HOOKS:
            active = [getattr(cb, hook) for cb in self.callbacks if _overrides(cb, hook)]
            setattr(self, hook, _fanout(active))

    def overrides_any(self, *hooks):
        """True when some callback overrides one of ``hooks`` (so per-batch logs are needed)."""
        return any(_overrides(cb, h) for cb in self.callbacks for h in hooks)


def _overrides(cb, hook):
    """True when ``cb`` defines ``hook`` itself (class or instance), not the no-op base."""
    fn = getattr(cb, hook)
    return getattr(fn, "__func__", fn) is not getattr(Callback, hook)


def _fanout(fns):
    if not fns:
        return lambda *a, **k: None
    if len(fns) == 1:
        return fns[0]

    def call(*a, **k):
        for f in fns:
            f(*a, **k)

    return call


class History(Callback):
    """Records each epoch's logs: ``history.history["loss"]`` is a list per epoch.

    ``interrupted`` is True when Ctrl-C (or SIGTERM, SIGHUP) stopped ``fit`` (its last epoch
    is then partial); ``interrupted_by`` names it (``"Ctrl-C"``, ``"SIGTERM"``).
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []
        self.interrupted = False
        self.interrupted_by = None

    def on_train_begin(self, logs=None):
        self.epoch = self.epoch if self.epoch else []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self):
        keys = ", ".join(self.history)
        return f"<History epochs={len(self.epoch)} keys=[{keys}]>"


def _monitor_mode(owner, monitor, mode):
    check_choice(owner, "mode", mode, ("auto", "min", "max"))
    if mode == "auto":
        higher = any(s in monitor for s in ("acc", "auc", "precision", "recall"))
        mode = "max" if higher else "min"
    return mode


class _Monitor(Callback):
    def __init__(self, monitor, mode, min_delta=0.0):
        super().__init__()
        self.monitor = monitor
        self.mode = _monitor_mode(type(self).__name__, monitor, mode)
        self.min_delta = abs(check_number(type(self).__name__, "min_delta", min_delta))
        self.best = None

    def _improved(self, value):
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def _value(self, logs):
        logs = logs or {}
        if self.monitor not in logs:
            warnings.warn(f"{type(self).__name__}: the monitored '{self.monitor}' is not among "
                          f"the logs ({', '.join(logs) or 'none'})", stacklevel=3)
            return None
        return float(logs[self.monitor])


class EarlyStopping(_Monitor):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: the log to watch (``"val_loss"``...).
        min_delta: smallest change that counts as improvement.
        patience: epochs without improvement before stopping.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (from the name).
        restore_best_weights: put back the weights of the best epoch when stopping.
        start_from_epoch: epochs to wait before watching.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        self.patience = check_int("EarlyStopping", "patience", patience, minimum=0)
        self.verbose, self.baseline = verbose, baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = check_int("EarlyStopping", "start_from_epoch", start_from_epoch,
                                          minimum=0)

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_weights, self.best_epoch = 0, 0, None, 0
        self.best = self.baseline

    def on_epoch_end(self, epoch, logs=None):
        value = self._value(logs)
        if value is None or epoch < self.start_from_epoch:
            return
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring the weights of the best epoch, {self.best_epoch + 1}")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Save the model (or its weights) after each epoch, atomically.

    Args:
        filepath: may hold ``{epoch}`` and log names, e.g. ``"ckpt-{epoch:02d}.gdk"``.
        save_best_only: only when ``monitor`` improved.
        save_weights_only: ``save_weights`` instead of ``save``.
    """

    main_process_only = True  # under MPI only rank 0 writes (gradkit.distributed)

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch"):
        super().__init__(monitor, mode)
        if save_freq != "epoch":
            raise NotImplementedError(f"ModelCheckpoint: save_freq={save_freq!r} is not "
                                      "implemented in gradkit; only save_freq='epoch' is")
        self.filepath = os.fspath(filepath)
        self.verbose, self.save_best_only = verbose, save_best_only
        self.save_weights_only = save_weights_only

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = self._value(logs)
            if value is None or not self._improved(value):
                return
            self.best = value
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved to {path}")


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch start from ``schedule(epoch, lr) -> lr``."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        lr = float(self.schedule(epoch, float(opt.learning_rate)))
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(f"LearningRateScheduler: the schedule returned {lr} for epoch "
                             f"{epoch}; it must be a finite number >= 0")
        opt.learning_rate = lr
        if self.verbose:
            print(f"Epoch {epoch + 1}: learning rate set to {lr:.6g}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when ``monitor`` stalls for ``patience`` epochs."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta)
        owner = "ReduceLROnPlateau"
        self.factor = check_number(owner, "factor", factor, 0, 1, min_open=True, max_open=True)
        self.patience = check_int(owner, "patience", patience, minimum=0)
        self.cooldown = check_int(owner, "cooldown", cooldown, minimum=0)
        self.min_lr = check_number(owner, "min_lr", min_lr, 0)
        self.verbose = verbose

    def on_train_begin(self, logs=None):
        self.wait, self.cooldown_left, self.best = 0, 0, None

    def on_epoch_end(self, epoch, logs=None):
        value = self._value(logs)
        if value is None:
            return
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if self._improved(value):
            self.best, self.wait = value, 0
            return
        if self.cooldown_left > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            opt = self.model.optimizer
            old = float(opt.learning_rate)
            new = max(old * self.factor, self.min_lr)
            if new < old:
                opt.learning_rate = new
                if self.verbose:
                    print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                          f"{new:.6g}")
            self.cooldown_left, self.wait = self.cooldown, 0


class TerminateOnNaN(Callback):
    """Stop training as soon as the loss is NaN or infinite, naming the epoch and batch."""

    def __init__(self):
        super().__init__()
        self.epoch = 0
        self.message = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.message = (f"TerminateOnNaN: loss is {loss} at epoch {self.epoch + 1}, "
                            f"batch {batch + 1}; training stopped")
            print(self.message)
            self.model.stop_training = True


class CSVLogger(Callback):
    """Append each epoch's logs as a row of a CSV file (flushed every epoch)."""

    main_process_only = True  # under MPI only rank 0 writes (gradkit.distributed)

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys = None
        self.file = None
        self.writer = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename) and \
            os.path.getsize(self.filename) > 0
        if exists:
            with open(self.filename, newline="") as f:
                header = next(csv.reader(f, delimiter=self.sep), None)
            self.keys = header[1:] if header else None
        self.file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115
        self.writer = csv.writer(self.file, delimiter=self.sep)
        self._header_done = exists

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        if not self._header_done:
            self.writer.writerow(["epoch"] + self.keys)
            self._header_done = True
        self.writer.writerow([epoch] + [_fmt(logs.get(k, "NA")) for k in self.keys])
        self.file.flush()

    def on_train_end(self, logs=None):
        if self.file:
            self.file.close()
            self.file = None


def _fmt(v):
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return v


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, **hooks):
        super().__init__()
        for name, fn in hooks.items():
            if name not in _HOOKS:
                raise ValueError(f"LambdaCallback: unknown hook {name!r}; valid: "
                                 f"{', '.join(_HOOKS)}")
            setattr(self, name, fn)


class Timer(Callback):
    """Measures each epoch's wall time into ``logs['epoch_time']`` (used by benchmarks)."""

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_time"] = time.perf_counter() - self._t


from gradkit.utils.tensorboard_callback import TensorBoard  # noqa: E402,F401  (needs Callback)
