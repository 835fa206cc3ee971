"""``Model``: layers plus a training loop (``compile``, ``fit``, ``evaluate``, ``predict``).

Three ways to make one, as in Keras:

* ``Sequential([...])`` (a stack of layers),
* ``Model(inputs, outputs)`` from ``Input`` placeholders (the functional API),
* subclassing ``Model`` and writing ``call``.

A model is a :class:`~gradkit.layers.Layer`, so it also trains the PyTorch way
(``model.parameters()``, ``loss.backward()``, ``opt.step()``).
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import warnings

import numpy as np

from gradkit.autograd import engine
from gradkit.autograd.function import no_grad
from gradkit.layers.base import Layer
from gradkit.models import data as D
from gradkit.tensor import Tensor
from gradkit.utils.validation import check_choice, check_int, check_number


class Model(Layer):
    """A trainable composition of layers; see the module docstring.

    Example (subclassing)::

        class MLP(Model):
            def __init__(self):
                super().__init__()
                self.hidden = Dense(64, activation="relu")
                self.out = Dense(10)
            def call(self, x, training=None):
                return self.out(self.hidden(x))
    """

    def __new__(cls, *args, **kwargs):
        if cls is Model and (len(args) >= 2 or "inputs" in kwargs or "outputs" in kwargs):
            from gradkit.models.functional import Functional

            return Functional(*args, **kwargs)
        return super().__new__(cls)

    def __init__(self, *args, name=None, trainable=True, dtype=None, **kwargs):
        if args:
            raise TypeError(f"{type(self).__name__}: unexpected positional arguments; a "
                            "functional model is Model(inputs, outputs)")
        super().__init__(name=name, trainable=trainable, dtype=dtype, **kwargs)
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._metrics = []
        self._compile_config = None
        self._warned_nan = False
        self._fit_weights = None  # trainable weights, looked up once per fit()

    # ------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None):
        """Choose how to train.

        Args:
            optimizer: an optimizer instance or name (``"rmsprop"``, ``"adam"``, ``"sgd"``...).
            loss: a loss instance, name (``"sparse_categorical_crossentropy"``...) or
                callable ``(y_true, y_pred) -> scalar Tensor``; for several outputs a
                list or a dict by output name.
            metrics: a list of metric names or instances (``["accuracy"]``).
            loss_weights: optional weights of the outputs' losses.
        """
        from gradkit import losses as L
        from gradkit import metrics as Me
        from gradkit import optimizers as O

        if loss is None:
            raise ValueError(f"{type(self).__name__}.compile: a loss is required, e.g. "
                             "loss='sparse_categorical_crossentropy' or 'mse'")
        self.optimizer = O.get(optimizer)
        self.loss = loss
        self._loss_fns = _per_output(loss, self._output_names(), L.get, "loss")
        self._loss_weights = loss_weights
        self._metric_specs = metrics
        first_loss = self._loss_fns[0][1]
        self._metrics = [Me.get(m, loss=first_loss) for m in (metrics or [])]
        self.compiled = True
        self._compile_config = {"optimizer": O.serialize(self.optimizer),
                                "loss": _serialize_loss(loss),
                                "metrics": [m if isinstance(m, str) else Me.serialize(m)
                                            for m in (metrics or [])],
                                "loss_weights": loss_weights}
        return self

    def _output_names(self):
        return ["output"]

    @property
    def metrics(self):
        return list(self._metrics)

    @property
    def metrics_names(self):
        return ["loss"] + [m.name for m in self._metrics]

    # ------------------------------------------------------------ steps
    def compute_loss(self, y, y_pred):
        """The training objective: the compiled loss(es) plus regularization penalties."""
        preds = y_pred if isinstance(y_pred, (list, tuple)) else [y_pred]
        ys = _match_targets(y, len(preds), self._output_names())
        total = None
        for i, ((_, fn), yt, yp) in enumerate(zip(self._loss_fns, ys, preds)):
            value = fn(yt, yp)
            if self._loss_weights is not None:
                w = self._loss_weights[i] if isinstance(self._loss_weights, (list, tuple)) \
                    else self._loss_weights.get(self._output_names()[i], 1.0)
                value = value * w
            total = value if total is None else total + value
        for penalty in self.losses:
            total = total + penalty
        return total

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"{type(self).__name__} '{self.name}' must be compiled before "
                               f"{what}: call model.compile(optimizer=..., loss=...) first")

    def train_step(self, x, y, sample_weight=None):
        """One optimization step on a batch; returns the loss value (a Python float)."""
        y_pred = self(x, training=True)
        loss = self.compute_loss(y, y_pred)
        weights = self._fit_weights or self.trainable_weights
        grads = engine.run_backward(loss, None, weights) if loss.requires_grad else []
        self.optimizer.apply_gradients(zip(grads, weights))
        self._update_metrics(y, y_pred)
        return float(loss._data)

    def test_step(self, x, y, sample_weight=None):
        with no_grad():
            y_pred = self(x, training=False)
            loss = self.compute_loss(y, y_pred)
        self._update_metrics(y, y_pred)
        return float(loss._data)

    def predict_step(self, x):
        with no_grad():
            out = self(x, training=False)
        if isinstance(out, (list, tuple)):
            return [o._data for o in out]
        return out._data

    def _update_metrics(self, y, y_pred):
        if not self._metrics:
            return
        yp = y_pred[0] if isinstance(y_pred, (list, tuple)) else y_pred
        yt = y[0] if isinstance(y, (list, tuple)) else y
        yt = yt._data if isinstance(yt, Tensor) else yt
        for m in self._metrics:
            m.update_state(yt, yp._data)

    def _reset_metrics(self):
        for m in self._metrics:
            m.reset_state()

    def _metric_logs(self, logs):
        for m in self._metrics:
            logs[m.name] = float(m.result())
        return logs

    # ------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0,
            steps_per_epoch=None, sample_weight=None, validation_batch_size=None):
        """Train for ``epochs`` epochs; returns a :class:`~gradkit.callbacks.History`.

        Args:
            x, y: NumPy arrays or Tensors (a list/dict of them for several inputs),
                or ``x`` alone as an iterable of ``(x, y)`` batches.
            batch_size: samples per step (default 32).
            epochs: the epoch index to stop at (training runs ``initial_epoch..epochs-1``).
            verbose: 0 silent, 1 progress bar, 2 one line per epoch; "auto" is 1.
            callbacks: a list of :class:`~gradkit.callbacks.Callback`.
            validation_split: fraction of the (last) samples held out for validation.
            validation_data: ``(x_val, y_val)`` evaluated after each epoch.
            shuffle: reshuffle the training samples every epoch.
            initial_epoch: epoch to start from (to resume training).

        Ctrl-C stops at the end of the current batch; the model stays usable and
        the History so far is returned.
        """
        from gradkit import callbacks as C
        from gradkit import random as R
        from gradkit.utils.progbar import Progbar

        caller = f"{type(self).__name__}.fit"
        self._require_compiled("fit")
        batch_size = D.check_batch_size(batch_size, caller)
        _check_epochs(epochs, initial_epoch, caller)
        verbose = _verbose(verbose)
        check_number(caller, "validation_split", validation_split, 0, 1, max_open=True)

        arrays = D.is_array_like(x)
        if arrays:
            if y is None:
                raise ValueError(f"{caller}: y (the targets) is required with array inputs")
            x, n = D.prepare(x, "x", caller, self.dtype)
            y, ny = D.prepare(y, "y", caller, self.dtype)
            if n != ny:
                raise ValueError(f"{caller}: x and y have different numbers of samples: x has "
                                 f"{n}, y has {ny}")
            if validation_split and validation_data is None:
                cut = int(n * (1.0 - validation_split))
                if cut < 1 or cut >= n:
                    raise ValueError(f"{caller}: validation_split={validation_split} leaves "
                                     f"{cut} of {n} samples for training; use a different split")
                validation_data = (D.take(x, slice(cut, None)), D.take(y, slice(cut, None)))
                x, y, n = D.take(x, slice(0, cut)), D.take(y, slice(0, cut)), cut
            steps = steps_per_epoch or math.ceil(n / batch_size)
        else:
            if x is None:
                raise ValueError(f"{caller}: no training data: pass x and y arrays, or an "
                                 "iterable of (x, y) batches")
            if validation_split:
                raise ValueError(f"{caller}: validation_split needs array inputs; pass "
                                 "validation_data with an iterable")
            steps = steps_per_epoch or _len_or_none(x)
        if validation_data is not None:
            validation_data = _validation_pair(validation_data, caller, self.dtype)

        history = C.History()
        cbs = list(callbacks or [])
        if any(isinstance(c, C.History) for c in cbs):
            history = next(c for c in cbs if isinstance(c, C.History))
        else:
            cbs.append(history)
        params = {"epochs": epochs, "steps": steps, "verbose": verbose, "batch_size": batch_size}
        cb = C.CallbackList(cbs, self, params)
        batch_hooks = cb.needs_batch_hooks
        self.stop_training = False
        self.history = history
        stopper = _InterruptAtBatchEnd()
        logs = {}
        cb.on_train_begin({})
        if not self.built and arrays:
            self.build((None,) + tuple(D._flat(x)[0].shape[1:]))
        self._fit_weights = self.trainable_weights if self.built else None
        with stopper:
            for epoch in range(initial_epoch, epochs):
                self._reset_metrics()
                cb.on_epoch_begin(epoch, {})
                if verbose:
                    print(f"Epoch {epoch + 1}/{epochs}", flush=True)
                # fit hands the bar epoch averages already: it must show them as they are
                bar = Progbar(steps, verbose=verbose, stateful_metrics=self._log_names(
                    validation_data is not None)) if verbose else None
                loss_sum, seen = 0.0, 0
                batches = self._train_batches(x, y, n if arrays else None, batch_size, shuffle,
                                              steps_per_epoch, R) if arrays else iter(x)
                step = 0
                for step, (xb, yb) in enumerate(batches):
                    if batch_hooks:
                        cb.on_train_batch_begin(step, {})
                    loss = self.train_step(xb, yb)
                    if loss != loss or loss in (math.inf, -math.inf):
                        self._warn_nan(loss, epoch, step)
                    loss_sum += loss
                    seen += 1
                    if batch_hooks or bar is not None:
                        logs = self._metric_logs({}) if self._metrics else {}
                        logs["loss"] = loss_sum / seen
                        if batch_hooks:
                            blogs = dict(logs, loss=loss)
                            cb.on_train_batch_end(step, blogs)
                        if bar is not None:
                            bar.update(step + 1, logs, finalize=False)
                    if self.stop_training or stopper.hit:
                        break
                    if steps_per_epoch and step + 1 >= steps_per_epoch:
                        break
                logs = self._metric_logs({}) if self._metrics else {}
                logs["loss"] = loss_sum / max(seen, 1)
                if validation_data is not None and not stopper.hit:
                    vx, vy = validation_data
                    val = self.evaluate(vx, vy, batch_size=validation_batch_size or batch_size,
                                        verbose=0, return_dict=True, _check=False)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                    self._metric_reset_after_eval(logs)
                if bar is not None:
                    bar.update(step + 1 if seen else 0, logs, finalize=True)
                cb.on_epoch_end(epoch, logs)
                if stopper.hit:
                    print(f"fit: interrupted (Ctrl-C) during epoch {epoch + 1}, after batch "
                          f"{step + 1}; the model is intact and the history so far is returned",
                          file=sys.stderr)
                    break
                if self.stop_training:
                    break
        self._fit_weights = None
        cb.on_train_end(logs)
        return history

    def _log_names(self, with_validation):
        names = ["loss"] + [m.name for m in self._metrics]
        return set(names + ([f"val_{n}" for n in names] if with_validation else []))

    def _metric_reset_after_eval(self, logs):
        # evaluate() reused the metric objects; the train values are already in ``logs``.
        self._reset_metrics()

    def _train_batches(self, x, y, n, batch_size, shuffle, steps_per_epoch, R):
        if shuffle:
            order = R.generator().permutation(n)
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                yield D.take(x, idx), D.take(y, idx)
        else:
            for start in range(0, n, batch_size):
                sl = slice(start, start + batch_size)
                yield D.take(x, sl), D.take(y, sl)

    def _warn_nan(self, loss, epoch, step):
        if not self._warned_nan:
            self._warned_nan = True
            warnings.warn(f"fit: the loss became {loss} at epoch {epoch + 1}, batch {step + 1}; "
                          "training goes on but the weights are likely ruined. Lower the "
                          "learning rate, check the data, or add callbacks.TerminateOnNaN() to "
                          "stop at once", RuntimeWarning, stacklevel=3)

    # ------------------------------------------------------------ evaluate / predict
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False,
                 callbacks=None, steps=None, _check=True):
        """Loss and metrics on data, batch by batch, without building any graph.

        Returns:
            ``loss`` alone when there are no metrics, else ``[loss, *metrics]``
            (or a dict with ``return_dict=True``).
        """
        from gradkit.utils.progbar import Progbar

        caller = f"{type(self).__name__}.evaluate"
        self._require_compiled("evaluate")
        batch_size = D.check_batch_size(batch_size, caller)
        verbose = _verbose(verbose)
        self._reset_metrics()
        if D.is_array_like(x):
            if _check:
                x, n = D.prepare(x, "x", caller, self.dtype)
                y, ny = D.prepare(y, "y", caller, self.dtype)
                if n != ny:
                    raise ValueError(f"{caller}: x and y have different numbers of samples: "
                                     f"x has {n}, y has {ny}")
            else:
                n = D._flat(x)[0].shape[0]
            batches = ((D.take(x, slice(s, s + batch_size)), D.take(y, slice(s, s + batch_size)))
                       for s in range(0, n, batch_size))
            total = math.ceil(n / batch_size)
        else:
            batches, total = (D.split_xy(b, caller)[:2] for b in x), _len_or_none(x)
        bar = Progbar(total, verbose=verbose, stateful_metrics=self._log_names(False)) \
            if verbose else None
        loss_sum, count = 0.0, 0
        for i, (xb, yb) in enumerate(batches):
            nb = len(D._flat(xb)[0])
            loss_sum += self.test_step(xb, yb) * nb
            count += nb
            if bar is not None:
                bar.update(i + 1, self._metric_logs({"loss": loss_sum / count}), finalize=False)
            if steps and i + 1 >= steps:
                break
        logs = self._metric_logs({"loss": loss_sum / max(count, 1)})
        if bar is not None:
            bar.update(bar.seen_so_far, logs, finalize=True)
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else [logs["loss"]] + \
            [logs[m.name] for m in self._metrics]

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """Outputs for ``x`` as NumPy arrays, batch by batch (no graph is kept).

        Only one batch of activations is alive at a time; results are written
        into one preallocated array.
        """
        caller = f"{type(self).__name__}.predict"
        batch_size = D.check_batch_size(batch_size, caller)
        if not D.is_array_like(x):
            outs = [self.predict_step(D.split_xy(b, caller)[0]) for b in x]
            return _concat(outs)
        x, n = D.prepare(x, "x", caller, self.dtype)
        if not self.built and not self._layers_present():
            raise RuntimeError(f"{type(self).__name__} '{self.name}' has no layers to predict "
                               "with; add layers first")
        result = None
        for start in range(0, n, batch_size):
            out = self.predict_step(D.take(x, slice(start, start + batch_size)))
            if result is None:
                result = _alloc_like(out, n)
            _write(result, out, start)
        return result

    def _layers_present(self):
        return bool(self._layers) or type(self).call is not Model.call

    def train_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """One step on one batch; returns the loss (and metrics) on it."""
        caller = f"{type(self).__name__}.train_on_batch"
        self._require_compiled("train_on_batch")
        x, n = D.prepare(x, "x", caller, self.dtype)
        y, ny = D.prepare(y, "y", caller, self.dtype)
        if n != ny:
            raise ValueError(f"{caller}: x has {n} samples, y has {ny}")
        self._reset_metrics()
        loss = self.train_step(x, y)
        return self._batch_result(loss, return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """Loss (and metrics) on one batch, without training."""
        caller = f"{type(self).__name__}.test_on_batch"
        self._require_compiled("test_on_batch")
        x, _ = D.prepare(x, "x", caller, self.dtype)
        y, _ = D.prepare(y, "y", caller, self.dtype)
        self._reset_metrics()
        return self._batch_result(self.test_step(x, y), return_dict)

    def predict_on_batch(self, x):
        """Outputs for one batch as NumPy arrays."""
        x, _ = D.prepare(x, "x", f"{type(self).__name__}.predict_on_batch", self.dtype)
        return self.predict_step(x)

    def _batch_result(self, loss, return_dict):
        logs = self._metric_logs({"loss": loss})
        if return_dict:
            return logs
        return loss if len(logs) == 1 else [loss] + [logs[m.name] for m in self._metrics]

    # ------------------------------------------------------------ summary
    def summary(self, print_fn=None, line_length=None):
        """Print a table of layers, output shapes and parameter counts."""
        from gradkit.models.summary import summary_text

        text = summary_text(self)
        (print_fn or print)(text)

    # ------------------------------------------------------------ saving
    def save(self, filepath, include_optimizer=True):
        """Save architecture, weights and optimizer state to one file, atomically.

        The file is a zip archive with ``config.json``, ``model.safetensors``
        and ``optimizer.safetensors`` (see :mod:`gradkit.models.saving`).
        """
        from gradkit.models.saving import save_model

        save_model(self, filepath, include_optimizer=include_optimizer)

    def save_weights(self, filepath):
        """Save the weights alone (a safetensors file), atomically."""
        from gradkit.models.saving import save_weights

        save_weights(self, filepath)

    def load_weights(self, filepath):
        """Load weights saved by :meth:`save_weights` (or from a model file)."""
        from gradkit.models.saving import load_weights

        load_weights(self, filepath)

    def get_compile_config(self):
        return self._compile_config

    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch axis included)."""
        if type(self).call is Model.call:
            raise NotImplementedError(f"{type(self).__name__} must implement call()")
        shapes = input_shape
        if isinstance(shapes, list) and shapes and isinstance(shapes[0], (tuple, list)):
            x = [np.zeros(tuple(1 if d is None else d for d in s), self.dtype) for s in shapes]
        else:
            x = np.zeros(tuple(1 if d is None else d for d in shapes), self.dtype)
        self.built = True
        self._build_input_shape = input_shape
        with no_grad():
            self.call(D.prepare(x, "x", "build", self.dtype)[0] if not isinstance(x, list)
                      else [Tensor(a) for a in x])

    def __call__(self, inputs, *args, training=None, **kwargs):
        if not self.built and not isinstance(inputs, (list, tuple, dict)) \
                and hasattr(inputs, "shape") and type(self).call is not Model.call:
            self._build_input_shape = (None,) + tuple(inputs.shape[1:])
        return super().__call__(inputs, *args, training=training, **kwargs)


# ---------------------------------------------------------------- helpers
class _InterruptAtBatchEnd:
    """Turn the first Ctrl-C during ``fit`` into a flag checked at each batch's end."""

    def __init__(self):
        self.hit = False
        self.prev = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.prev = signal.getsignal(signal.SIGINT)

            def handler(signum, frame):
                if self.hit:  # a second Ctrl-C: stop right now
                    raise KeyboardInterrupt
                self.hit = True

            signal.signal(signal.SIGINT, handler)
        return self

    def __exit__(self, *exc):
        if self.prev is not None:
            signal.signal(signal.SIGINT, self.prev)
        return False


def _check_epochs(epochs, initial_epoch, caller):
    for name, v in (("epochs", epochs), ("initial_epoch", initial_epoch)):
        check_int(caller, name, v, minimum=0)


def _verbose(v):
    if v == "auto":
        return 1
    return check_choice("fit/evaluate/predict", "verbose", v, (0, 1, 2, "auto"))


def _len_or_none(x):
    try:
        return len(x)
    except TypeError:
        return None


def _validation_pair(validation_data, caller, dtype):
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError(f"{caller}: validation_data must be a tuple (x_val, y_val)")
    vx, vy = validation_data[0], validation_data[1]
    vx, n = D.prepare(vx, "validation x", caller, dtype)
    vy, m = D.prepare(vy, "validation y", caller, dtype)
    if n != m:
        raise ValueError(f"{caller}: validation x has {n} samples, validation y has {m}")
    return vx, vy


def _per_output(spec, names, getter, what):
    if isinstance(spec, dict):
        missing = [k for k in spec if k not in names]
        if missing:
            raise ValueError(f"compile: {what} given for unknown outputs {missing}; outputs "
                             f"are {names}")
        return [(n, getter(spec[n])) for n in names if n in spec]
    if isinstance(spec, (list, tuple)):
        if len(spec) != len(names):
            raise ValueError(f"compile: {len(spec)} {what}es for {len(names)} outputs")
        return [(n, getter(s)) for n, s in zip(names, spec)]
    fn = getter(spec)
    return [(n, fn) for n in names]


def _match_targets(y, n_out, names):
    if n_out == 1:
        return [y[0] if isinstance(y, (list, tuple)) and len(y) == 1 else y]
    if isinstance(y, dict):
        return [y[k] for k in names]
    if not isinstance(y, (list, tuple)) or len(y) != n_out:
        raise ValueError(f"the model has {n_out} outputs ({', '.join(names)}); pass y as a "
                         f"list or dict of {n_out} arrays")
    return list(y)


def _serialize_loss(loss):
    from gradkit import losses as L

    if isinstance(loss, str) or loss is None:
        return loss
    if isinstance(loss, (list, tuple)):
        return [_serialize_loss(item) for item in loss]
    if isinstance(loss, dict) and "class_name" not in loss:  # one loss per output
        return {k: _serialize_loss(v) for k, v in loss.items()}
    return L.serialize(loss)


def _concat(outs):
    if isinstance(outs[0], list):
        return [np.concatenate([o[i] for o in outs]) for i in range(len(outs[0]))]
    return np.concatenate(outs)


def _alloc_like(out, n):
    if isinstance(out, list):
        return [np.empty((n,) + o.shape[1:], o.dtype) for o in out]
    return np.empty((n,) + out.shape[1:], out.dtype)


def _write(result, out, start):
    if isinstance(out, list):
        for r, o in zip(result, out):
            r[start:start + len(o)] = o
    else:
        result[start:start + len(out)] = out

