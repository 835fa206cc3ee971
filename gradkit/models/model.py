"""``Model``: layers plus a training loop (``compile``, ``fit``, ``evaluate``, ``predict``).

Three ways to make one, as in Keras:

* ``Sequential([...])`` (a stack of layers),
* ``Model(inputs, outputs)`` from ``Input`` placeholders (the functional API),
* subclassing ``Model`` and writing ``call``.

A model is a :class:`~gradkit.layers.Layer`, so it also trains the PyTorch way
(``model.parameters()``, ``loss.backward()``, ``opt.step()``).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import sys
import warnings

import numpy as np

from gradkit import _malloc
from gradkit.autograd import engine
from gradkit.autograd.function import no_grad
from gradkit.distributed import data_parallel as DP
from gradkit.layers.base import Layer
from gradkit.losses import mask_weights
from gradkit.models import data as D
from gradkit.tensor import Tensor
from gradkit.utils.signals import StopAtBatchEnd
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
        if _functional_arguments(args, kwargs):
            return super().__new__(_functional_subclass(cls))
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
        self._metric_entries = []
        self._compile_config = None
        self._warned_nan = False
        self._fit_weights = None  # trainable weights, looked up once per fit()
        self._loss_scale = None   # amp.LossScale under the mixed_float16 policy (compile)

    # ------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=False, jit_compile="auto"):
        """Choose how to train.

        Args:
            optimizer: an optimizer instance or name (``"rmsprop"``, ``"adam"``, ``"sgd"``...).
            loss: a loss instance, name (``"sparse_categorical_crossentropy"``...) or
                callable ``(y_true, y_pred) -> scalar Tensor``; for several outputs a
                list or a dict by output name. None: the model's ``add_loss`` terms
                (``losses``) are the objective, or a custom ``train_step`` computes it.
            metrics: a list of metric names or instances (``["accuracy"]``); as in
                Keras they ignore ``sample_weight`` / ``class_weight``.
            loss_weights: optional weights of the outputs' losses.
            weighted_metrics: metrics that take ``sample_weight`` / ``class_weight``
                (weighted means, ``sum(w * v) / sum(w)``). A name also in ``metrics`` is
                logged as ``weighted_<name>``.
            run_eagerly, jit_compile: accepted so Keras code runs; they change nothing.
                gradkit always runs eagerly (each op computes as it is called, recording
                the graph for backward) and has no compiler to hand the step to, so there
                is no graph mode to leave and nothing to compile: results are the same
                for every value. Each must be a bool (``jit_compile`` also ``"auto"``).
        """
        from gradkit import losses as L
        from gradkit import metrics as Me
        from gradkit import optimizers as O

        for name, flag, ok in (("run_eagerly", run_eagerly, "a bool"),
                               ("jit_compile", jit_compile, "a bool or 'auto'")):
            if not isinstance(flag, bool) and not (name == "jit_compile" and flag == "auto"):
                raise TypeError(f"{type(self).__name__}.compile: {name} must be {ok}, "
                                f"received {flag!r}")
        self.optimizer = O.get(optimizer)
        self.loss = loss
        # loss=None: the objective is the add_loss() terms, or a custom train_step's own
        self._loss_fns = [] if loss is None else _per_output(loss, self._output_names(),
                                                             L.get, "loss")
        self._loss_weights = loss_weights
        first_loss = self._loss_fns[0][1] if self._loss_fns else None
        # not through Layer.__setattr__: metrics lists the tracker first by itself, and it
        # is no reason to look through the layers' attributes for metrics (_METRIC_ATTRS)
        object.__setattr__(self, "_loss_tracker", Me.Mean(name="loss"))
        plain = [Me.get(m, loss=first_loss) for m in (metrics or [])]
        weighted = [Me.get(m, loss=first_loss) for m in (weighted_metrics or [])]
        names = {m.name for m in plain}
        # (log key, metric, takes sample weights)
        self._metric_entries = [(m.name, m, False) for m in plain] + [
            (f"weighted_{m.name}" if m.name in names else m.name, m, True) for m in weighted]
        self._metrics = plain + weighted
        self.compiled = True
        from gradkit import mixed_precision

        # Keras's compile: a mixed_float16 model trains with dynamic loss scaling
        self._loss_scale = mixed_precision.loss_scale_for(self)
        self._compile_config = {"optimizer": O.serialize(self.optimizer),
                                "loss": _serialize_loss(loss),
                                "metrics": _serialize_metrics(metrics),
                                "loss_weights": loss_weights}
        if weighted_metrics:
            self._compile_config["weighted_metrics"] = _serialize_metrics(weighted_metrics)
        return self

    def _output_names(self):
        return ["output"]

    @property
    def metrics(self):
        """Keras 3's list: once compiled the loss tracker (``Mean`` named "loss"), the
        compiled metrics, then every ``Metric`` held as an attribute of the model or its
        layers (``self.loss_tracker = metrics.Mean(...)``). ``fit``/``evaluate`` reset
        them all at each epoch; a custom ``train_step`` updates and reports them."""
        from gradkit.layers.base import _METRIC_ATTRS
        from gradkit.metrics import Metric

        tracker = getattr(self, "_loss_tracker", None)
        out = ([tracker] if self.compiled and tracker is not None else []) + list(self._metrics)
        if not _METRIC_ATTRS[0]:  # no layer holds a metric as an attribute
            return out
        seen = set(map(id, out))
        for layer in self._flatten_layers():
            for value in list(vars(layer).values()):
                if isinstance(value, Metric) and id(value) not in seen:
                    seen.add(id(value))
                    out.append(value)
        return out

    @property
    def metrics_names(self):
        return ["loss"] + self._metric_keys()

    def _metric_keys(self):
        return [key for key, _, _ in self._metric_entries]

    # ------------------------------------------------------------ steps
    def compute_loss(self, y, y_pred, sample_weight=None):
        """The training objective: the compiled loss(es) plus regularization penalties.

        Args:
            y: the targets (a list/dict of them for several outputs).
            y_pred: the model's output(s).
            sample_weight: optional per-sample weights ``(batch,)``: one array for all
                outputs, or a list/dict with one per output. Each loss reduces as Keras's
                ``"sum_over_batch_size"``: ``sum(loss * weight) / number of losses``.
        """
        preds = y_pred if isinstance(y_pred, (list, tuple)) else [y_pred]
        if not self._loss_fns:
            added = self.losses
            if not added:
                raise ValueError(f"{type(self).__name__}.compute_loss: no loss to compute: the "
                                 "model was compiled without a loss and adds none (add_loss); "
                                 "pass loss= to compile()")
            total = added[0]
            for penalty in added[1:]:
                total = total + penalty
            return total
        ys = _match_targets(y, len(preds), self._output_names())
        sws = _match_weights(sample_weight, len(preds), self._output_names())
        total = None
        for i, ((_, fn), yt, yp, sw) in enumerate(zip(self._loss_fns, ys, preds, sws)):
            value = fn(yt, yp) if sw is None else fn(yt, yp, sample_weight=sw)
            if self._loss_weights is not None:
                w = self._loss_weights[i] if isinstance(self._loss_weights, (list, tuple)) \
                    else self._loss_weights.get(self._output_names()[i], 1.0)
                value = value * w
            total = value if total is None else total + value
        for penalty in self.losses:
            total = total + penalty
        return total

    def _loss_of(self, y, y_pred, sample_weight):
        # a compute_loss overridden with the older (y, y_pred) signature still works unweighted
        if sample_weight is None:
            return self.compute_loss(y, y_pred)
        return self.compute_loss(y, y_pred, sample_weight=sample_weight)

    def _needs_targets(self):
        """Whether batches need y: a compiled loss reads it; add_loss terms and a custom
        Keras-style train_step may not (``fit(x)``)."""
        return bool(self._loss_fns) and not _takes_data(self.train_step)

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"{type(self).__name__} '{self.name}' must be compiled before "
                               f"{what}: call model.compile(optimizer=..., loss=...) first")

    def train_step(self, x, y, sample_weight=None):
        """One optimization step on a batch; returns the loss value (a Python float).

        ``sample_weight`` (per-sample weights, or None) weights the loss, and so the
        gradient, and the ``weighted_metrics``.
        """
        y_pred = self(x, training=True)
        loss = self._loss_of(y, y_pred, sample_weight)
        weights = self._fit_weights or self.trainable_weights
        scale = self._loss_scale
        if scale is None:
            grads = engine.run_backward(loss, None, weights) if loss.requires_grad else []
            self.optimizer.apply_gradients(zip(grads, weights))
        else:  # mixed_float16: scaled backward; a step with inf/nan gradients is skipped
            grads = engine.run_backward(loss * scale.scale, None, weights)
            finite = scale.unscale(grads)
            if finite:
                self.optimizer.apply_gradients(zip(grads, weights))
            scale.update(finite)
        self._update_metrics(y, y_pred, sample_weight)
        return float(loss._data)

    def test_step(self, x, y, sample_weight=None):
        """Loss (a Python float) on a batch, metrics updated; no graph is built."""
        with no_grad():
            y_pred = self(x, training=False)
            loss = self._loss_of(y, y_pred, sample_weight)
        self._update_metrics(y, y_pred, sample_weight)
        return float(loss._data)

    def _run_step(self, step, xb, yb, swb):
        """Run one step; return its loss (a float) and keep a Keras-style step's logs."""
        # each batch goes to the model's device first (a no-op on the CPU)
        xb, yb, swb = D.to_device((xb, yb, swb), self.device)
        if _takes_data(step):  # Keras 3's train_step(self, data) returning a dict of logs
            data = xb if yb is None and swb is None else (xb, yb) if swb is None \
                else (xb, yb, swb)
            return self._keep_step_logs(step(data))
        self._step_logs = None
        # an overridden train_step/test_step with the (x, y) signature still works unweighted
        loss = step(xb, yb) if swb is None else step(xb, yb, sample_weight=swb)
        if self.compiled:
            self._loss_tracker.update_state(loss)
        return loss

    def _keep_step_logs(self, out):
        """A custom step's result: a dict becomes the logs (nested dicts flattened, values
        as floats); the returned float is its "loss" (0.0 when it reports none)."""
        if not isinstance(out, dict):
            return float(out._data if isinstance(out, Tensor) else out)
        logs = {}
        for key, value in out.items():
            items = value.items() if isinstance(value, dict) else [(key, value)]
            for k, v in items:
                logs[k] = float(v._data if isinstance(v, Tensor) else v)
        self._step_logs = logs
        return logs.get("loss", 0.0)

    def predict_step(self, x):
        with no_grad():
            out = self(x, training=False)
        if isinstance(out, (list, tuple)):
            return [o._data for o in out]
        return out._data

    def _update_metrics(self, y, y_pred, sample_weight=None):
        if not self._metrics:
            return
        yp = y_pred[0] if isinstance(y_pred, (list, tuple)) else y_pred
        yt = y[0] if isinstance(y, (list, tuple)) else y
        yt = yt._data if isinstance(yt, Tensor) else yt
        sw = _match_weights(sample_weight, 1 if yp is y_pred else len(y_pred),
                            self._output_names())[0]
        mask = getattr(yp, "_keras_mask", None)  # masked positions count for no metric
        plain = None if mask is None else mask_weights(mask, reduction="sum")
        if mask is not None and sw is not None:
            sw = mask_weights(mask, sw, reduction="sum")
        for _, m, weighted in self._metric_entries:
            if sw is None or not weighted:
                if plain is None:
                    m.update_state(yt, yp._data)
                else:
                    m.update_state(yt, yp._data, sample_weight=plain)
            else:
                m.update_state(yt, yp._data, sample_weight=sw)

    def _reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def _metric_logs(self, logs):
        if getattr(self, "_step_logs", None) is not None:
            return dict(self._step_logs)  # a custom step decides its logs
        for key, m, _ in self._metric_entries:
            logs[key] = float(m.result())
        if self._loss_scale is not None:
            logs["skipped_steps"] = self._loss_scale.skipped_steps
        return logs

    # ------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None,
            validation_batch_size=None):
        """Train for ``epochs`` epochs; returns a :class:`~gradkit.callbacks.History`.

        Args:
            x, y: NumPy arrays or Tensors (a list/dict of them for several inputs),
                or ``x`` alone as an iterable of ``(x, y)`` or ``(x, y, sample_weight)``
                batches (then ``y`` and ``sample_weight`` stay None): a DataLoader, a
                ``gradkit.data.Dataset``, a PyDataset/Sequence (see ``models.data.BatchStream``).
            batch_size: samples per step (default 32).
            epochs: the epoch index to stop at (training runs ``initial_epoch..epochs-1``).
            verbose: 0 silent, 1 progress bar, 2 one line per epoch; "auto" is 1.
            callbacks: a list of :class:`~gradkit.callbacks.Callback`; their
                ``on_test_*`` hooks run during validation.
            validation_split: fraction of the (last) samples held out for validation
                (their sample weights go with them).
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``,
                evaluated after each epoch.
            shuffle: reshuffle the training samples every epoch (array inputs; an
                iterable's batches come in its own order, as in Keras).
            class_weight: ``{class index: weight}``; each sample's loss and weighted
                metrics are weighted by its class's weight (times ``sample_weight`` when both are
                given). Works for integer labels, one-hot rows and 0/1 targets.
            sample_weight: per-sample weights ``(n,)`` (a list/dict per output for
                several outputs): the loss becomes ``sum(loss * w) / batch size`` (Keras's
                ``"sum_over_batch_size"``) and ``weighted_metrics`` weighted means.
            initial_epoch: epoch to start from (to resume training).
            steps_per_epoch: batches per epoch (default: all of them).
            validation_batch_size: batch size for validation (default ``batch_size``).

        Ctrl-C, SIGTERM or SIGHUP stop at the end of the current batch (a second one at
        once); the model stays usable and the History so far is returned, with
        ``interrupted`` set and ``interrupted_by`` naming the signal.

        Example::

            model.fit(x, y, epochs=5, class_weight={0: 1.0, 1: 5.0})
        """
        from gradkit import callbacks as C
        from gradkit import random as R
        from gradkit.utils.progbar import Progbar

        caller = f"{type(self).__name__}.fit"
        self._require_compiled("fit")
        given_batch_size = batch_size
        batch_size = D.check_batch_size(batch_size, caller)
        _check_epochs(epochs, initial_epoch, caller)
        verbose = _verbose(verbose)
        check_number(caller, "validation_split", validation_split, 0, 1, max_open=True)
        if steps_per_epoch is not None:
            steps_per_epoch = check_int(caller, "steps_per_epoch", steps_per_epoch, minimum=1)

        arrays = D.is_array_like(x)
        self._step_logs = None
        if arrays:
            if y is None and self._needs_targets():
                raise ValueError(f"{caller}: y (the targets) is required with array inputs")
            x, y, sample_weight, n = _prepare_xy(x, y, sample_weight, caller, self.dtype)
            if validation_split and validation_data is None:
                cut = int(n * (1.0 - validation_split))
                if cut < 1 or cut >= n:
                    raise ValueError(f"{caller}: validation_split={validation_split} leaves "
                                     f"{cut} of {n} samples for training; use a different split")
                held = slice(cut, None)
                validation_data = (D.take(x, held), D.take(y, held),
                                   D.take(sample_weight, held))
                x, y = D.take(x, slice(0, cut)), D.take(y, slice(0, cut))
                sample_weight, n = D.take(sample_weight, slice(0, cut)), cut
            if class_weight is not None:
                sample_weight = D.combine_weights(
                    sample_weight, D.class_sample_weights(class_weight, y, caller))
            steps = steps_per_epoch or math.ceil(n / batch_size)
        else:
            if x is None:
                raise ValueError(f"{caller}: no training data: pass x and y arrays, or an "
                                 "iterable of (x, y) batches")
            stream = D.BatchStream(x, caller, self.dtype, steps_per_epoch, y=y)
            _not_with_iterable(caller, y=y, sample_weight=sample_weight,
                               batch_size=given_batch_size)
            if validation_split:
                raise ValueError(f"{caller}: validation_split needs array inputs; pass "
                                 "validation_data with an iterable")
            steps = steps_per_epoch or _len_or_none(x)
        if validation_data is not None:
            validation_data = _validation_triple(validation_data, caller, self.dtype)

        par = DP.for_fit(self, verbose, callbacks)  # None unless a data-parallel (MPI) job
        history = C.History()
        cbs = list(callbacks or [])
        if any(isinstance(c, C.History) for c in cbs):
            history = next(c for c in cbs if isinstance(c, C.History))
        else:
            cbs.append(history)
        if par is not None:
            cbs, verbose = par.callbacks(cbs), verbose if par.main else 0
        params = {"epochs": epochs, "steps": steps, "verbose": verbose, "batch_size": batch_size}
        cb = C.CallbackList(cbs, self, params)
        batch_hooks = cb.overrides_any("on_train_batch_begin", "on_train_batch_end")
        self.stop_training = False
        self.history = history
        stopper = StopAtBatchEnd()
        logs = {}
        cb.on_train_begin({})
        if not self.built and arrays:
            self.build((None,) + tuple(D._flat(x)[0].shape[1:]))
        self._fit_weights = self.trainable_weights if self.built else None
        if self._loss_scale is None:
            from gradkit import mixed_precision

            mixed_precision.warn_float16_without_policy(self._fit_weights or ())
        with stopper, _malloc.tuned(), par or contextlib.nullcontext():
            for epoch in range(initial_epoch, epochs):
                self._reset_metrics()
                cb.on_epoch_begin(epoch, {})
                if verbose:
                    print(f"Epoch {epoch + 1}/{epochs}", flush=True)
                # fit hands the bar epoch averages already: it must show them as they are
                bar = Progbar(steps, verbose=verbose, stateful_metrics=self._log_names(
                    validation_data is not None)) if verbose else None
                loss_sum, seen = 0.0, 0
                batches = self._array_batches(x, y, sample_weight, n, batch_size, shuffle, R,
                                              par) \
                    if arrays else _iterable_batches(stream.epoch(epoch), class_weight, caller)
                step = 0
                for step, (xb, yb, swb) in enumerate(batches):
                    if batch_hooks:
                        cb.on_train_batch_begin(step, {})
                    if par is None:
                        loss = self._run_step(self.train_step, xb, yb, swb)
                    else:  # this rank's rows of the global batch; the global mean loss
                        xb, yb, swb = par.shard(xb, yb, swb) if arrays else \
                            par.own(xb, yb, swb)
                        loss = par.global_loss(par.empty_step() if par.local == 0 else
                                               self._run_step(self.train_step, xb, yb, swb))
                    if loss != loss or loss in (math.inf, -math.inf):
                        self._warn_nan(loss, epoch, step)
                    loss_sum += loss
                    seen += 1
                    if batch_hooks or bar is not None or (par and par.sync_each_step):
                        logs = (par.metric_logs if par else self._metric_logs)(
                            {"loss": loss_sum / seen})
                        if batch_hooks:
                            blogs = dict(logs, loss=loss)
                            cb.on_train_batch_end(step, blogs)
                        if bar is not None:
                            bar.update(step + 1, logs, finalize=False)
                    if self.stop_training or stopper.hit:
                        break
                    if steps_per_epoch and step + 1 >= steps_per_epoch:
                        break
                logs = (par.metric_logs if par else self._metric_logs)(
                    {"loss": loss_sum / max(seen, 1)})
                if par is not None:
                    par.end_epoch()
                if validation_data is not None and not stopper.hit:
                    vx, vy, vsw = validation_data
                    val = self.evaluate(vx, vy, batch_size=None if vy is None else
                                        validation_batch_size or batch_size,
                                        verbose=0, return_dict=True, callbacks=cb,
                                        sample_weight=vsw, _check=False)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                    self._metric_reset_after_eval(logs)
                if bar is not None:
                    bar.update(step + 1 if seen else 0, logs, finalize=True)
                cb.on_epoch_end(epoch, logs)
                if stopper.hit:
                    history.interrupted, history.interrupted_by = True, stopper.reason
                    print(f"fit: interrupted ({stopper.reason}) during epoch {epoch + 1}, after "
                          f"batch {step + 1}; the model is intact and the history so far is "
                          "returned",
                          file=sys.stderr)
                    break
                if self.stop_training:
                    break
        self._fit_weights = None
        cb.on_train_end(logs)
        return history

    def _log_names(self, with_validation):
        # + tracked metrics: a custom step reports their running results, shown as they are
        names = ["loss"] + self._metric_keys() + [m.name for m in self.metrics]
        return set(names + ([f"val_{n}" for n in names] if with_validation else []))

    def _metric_reset_after_eval(self, logs):
        # evaluate() reused the metric objects; the train values are already in ``logs``.
        self._reset_metrics()

    def _array_batches(self, x, y, sw, n, batch_size, shuffle, R, par=None):
        order = None if not shuffle else R.generator().permutation(n) if par is None else \
            par.permutation(n, R.generator())
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size] if shuffle else slice(start, start + batch_size)
            yield D.take(x, idx), D.take(y, idx), D.take(sw, idx)

    def _warn_nan(self, loss, epoch, step):
        if not self._warned_nan:
            self._warned_nan = True
            warnings.warn(f"fit: the loss became {loss} at epoch {epoch + 1}, batch {step + 1}; "
                          "training goes on but the weights are likely ruined. Lower the "
                          "learning rate, check the data, or add callbacks.TerminateOnNaN() to "
                          "stop at once", RuntimeWarning, stacklevel=3)

    # ------------------------------------------------------------ evaluate / predict
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False,
                 callbacks=None, steps=None, sample_weight=None, _check=True):
        """Loss and metrics on data, batch by batch, without building any graph.

        Args:
            x, y: arrays (see :meth:`fit`), or ``x`` alone as an iterable of ``(x, y)`` or
                ``(x, y, sample_weight)`` batches.
            batch_size: samples per batch for array inputs (default 32).
            verbose: 0 silent, 1 progress bar, 2 one line; "auto" is 1.
            return_dict: return ``{name: value}`` instead of a list.
            callbacks: callbacks whose ``on_test_begin/_batch_begin/_batch_end/_end``
                hooks run.
            steps: evaluate at most this many batches.
            sample_weight: per-sample weights ``(n,)`` for array inputs: each batch's loss
                is ``sum(loss * w) / batch size`` and ``weighted_metrics`` are weighted
                means.

        Returns:
            ``loss`` alone when there are no metrics, else ``[loss, *metrics]``
            (or a dict with ``return_dict=True``). The loss is the mean of the batch
            losses weighted by batch size, as in Keras.

        Example::

            loss, acc = model.evaluate(x_test, y_test, sample_weight=w, verbose=0)
        """
        from gradkit import callbacks as C
        from gradkit.utils.progbar import Progbar

        caller = f"{type(self).__name__}.evaluate"
        self._require_compiled("evaluate")
        given_batch_size = batch_size
        batch_size = D.check_batch_size(batch_size, caller)
        verbose = _verbose(verbose)
        if DP.active() and not DP.W.is_main_process():
            verbose = 0  # one progress bar per job
        if steps is not None:
            steps = check_int(caller, "steps", steps, minimum=1)
        self._reset_metrics()
        train_logs, self._step_logs = getattr(self, "_step_logs", None), None
        if D.is_array_like(x):
            if _check:
                x, y, sample_weight, n = _prepare_xy(x, y, sample_weight, caller, self.dtype)
            else:
                n = D._flat(x)[0].shape[0]
            if DP.active():  # each rank evaluates its slice; totals are reduced below
                x, y, sample_weight, n = DP.evaluation_shard(x, y, sample_weight, n)
            batches = self._array_batches(x, y, sample_weight, n, batch_size, False, None)
            total = math.ceil(n / batch_size)
        else:
            stream = D.BatchStream(x, caller, self.dtype, y=y)
            _not_with_iterable(caller, y=y, sample_weight=sample_weight,
                               batch_size=given_batch_size)
            batches, total = _iterable_batches(stream.epoch(), None, caller), _len_or_none(x)
        total = _capped(total, steps)
        cb = callbacks if isinstance(callbacks, C.CallbackList) else \
            C.CallbackList(callbacks or [], self, {"steps": total, "verbose": verbose})
        hooks = cb.overrides_any("on_test_batch_begin", "on_test_batch_end")
        bar = Progbar(total, verbose=verbose, stateful_metrics=self._log_names(False)) \
            if verbose else None
        cb.on_test_begin({})
        loss_sum, count = 0.0, 0
        for i, (xb, yb, swb) in enumerate(_malloc.tuned_iter(batches)):
            if hooks:
                cb.on_test_batch_begin(i, {})
            nb = len(D._flat(xb)[0])
            loss_sum += self._run_step(self.test_step, xb, yb, swb) * nb
            count += nb
            if hooks or bar is not None:
                blogs = self._metric_logs({"loss": loss_sum / count})
                if hooks:
                    cb.on_test_batch_end(i, blogs)
                if bar is not None:
                    bar.update(i + 1, blogs, finalize=False)
            if steps and i + 1 >= steps:
                break
        if DP.active():
            logs = DP.evaluation_logs(self, loss_sum, count)
        else:
            logs = self._metric_logs({"loss": loss_sum / max(count, 1)})
        if bar is not None:
            bar.update(bar.seen_so_far, logs, finalize=True)
        cb.on_test_end(dict(logs))
        custom, self._step_logs = self._step_logs, train_logs
        if return_dict:
            return logs
        if custom is not None:  # a custom test_step's logs, in its order
            return list(logs.values()) if len(logs) > 1 else next(iter(logs.values()), None)
        return logs["loss"] if len(logs) == 1 else [logs["loss"]] + \
            [logs[k] for k in self._metric_keys()]

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """Outputs for ``x`` as NumPy arrays, batch by batch (no graph is kept).

        Only one batch of activations is alive at a time; results for array inputs
        are written into one preallocated array.

        Args:
            x: arrays (one, or a list/dict for several inputs), or an iterable of
                batches (``x`` or ``(x, ...)`` tuples; only ``x`` is used).
            batch_size: samples per batch for array inputs (default 32).
            verbose: 0 silent (the default), 1 progress bar, 2 one line; "auto" is 1.
            steps: predict at most this many batches (for arrays: the first
                ``steps * batch_size`` samples); no further batch is drawn from an
                iterable.
            callbacks: callbacks whose ``on_predict_begin/_batch_begin/_batch_end/_end``
                hooks run; ``on_predict_batch_end`` gets ``{"outputs": batch outputs}``.

        Returns:
            An array (a list of arrays for several outputs).

        Example::

            probs = model.predict(x_test, batch_size=256)
        """
        from gradkit import callbacks as C
        from gradkit.utils.progbar import Progbar

        caller = f"{type(self).__name__}.predict"
        given_batch_size = batch_size
        batch_size = D.check_batch_size(batch_size, caller)
        verbose = _verbose(verbose)
        if steps is not None:
            steps = check_int(caller, "steps", steps, minimum=1)
        arrays = D.is_array_like(x)
        if arrays:
            x, n = D.prepare(x, "x", caller, self.dtype)
            if not self.built and not self._layers_present():
                raise RuntimeError(f"{type(self).__name__} '{self.name}' has no layers to "
                                   "predict with; add layers first")
            n = n if steps is None else min(n, steps * batch_size)
            total = math.ceil(n / batch_size)
            batches = (D.take(x, slice(s, s + batch_size)) for s in range(0, n, batch_size))
        else:
            _not_with_iterable(caller, batch_size=given_batch_size)
            total = _capped(_len_or_none(x), steps)
            batches = (D.split_xy(b, caller)[0] for b in
                       itertools.islice(D.BatchStream(x, caller, self.dtype).epoch(), steps))
        cb = C.CallbackList(callbacks or [], self, {"steps": total, "verbose": verbose})
        hooks = cb.overrides_any("on_predict_batch_begin", "on_predict_batch_end")
        bar = Progbar(total, verbose=verbose) if verbose else None
        cb.on_predict_begin({})
        result, outs, start = None, [], 0
        for i, xb in enumerate(_malloc.tuned_iter(batches)):
            if hooks:
                cb.on_predict_batch_begin(i, {})
            out = D.to_host(self.predict_step(D.to_device(xb, self.device)))
            if not arrays:
                outs.append(out)
            else:
                if result is None:
                    result = _alloc_like(out, n)
                _write(result, out, start)
                start += len(D._flat(xb)[0])
            if hooks:
                cb.on_predict_batch_end(i, {"outputs": out})
            if bar is not None:
                bar.update(i + 1, finalize=False)
        if not arrays:
            if not outs:
                raise ValueError(f"{caller}: x gave no batches to predict on")
            result = _concat(outs)
        if bar is not None:
            bar.update(bar.seen_so_far, finalize=True)
        cb.on_predict_end({})
        return result

    def _layers_present(self):
        return bool(self._layers) or type(self).call is not Model.call

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict=False):
        """One step on one batch; returns the loss (and metrics) on it.

        Args:
            x, y: the batch (arrays, or lists/dicts of them).
            sample_weight: per-sample weights ``(n,)``, as in :meth:`fit`.
            class_weight: ``{class index: weight}``, as in :meth:`fit`.
            return_dict: return ``{name: value}``.
        """
        caller = f"{type(self).__name__}.train_on_batch"
        self._require_compiled("train_on_batch")
        x, y, sw, _ = _prepare_xy(x, y, sample_weight, caller, self.dtype, _BATCH_MISMATCH)
        if class_weight is not None:
            sw = D.combine_weights(sw, D.class_sample_weights(class_weight, y, caller))
        self._reset_metrics()
        loss = self._run_step(self.train_step, x, y, sw)
        return self._batch_result(loss, return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """Loss (and metrics) on one batch, without training.

        Args:
            x, y: the batch.
            sample_weight: per-sample weights ``(n,)``, as in :meth:`evaluate`.
            return_dict: return ``{name: value}``.
        """
        caller = f"{type(self).__name__}.test_on_batch"
        self._require_compiled("test_on_batch")
        x, y, sw, _ = _prepare_xy(x, y, sample_weight, caller, self.dtype, _BATCH_MISMATCH)
        self._reset_metrics()
        return self._batch_result(self._run_step(self.test_step, x, y, sw), return_dict)

    def predict_on_batch(self, x):
        """Outputs for one batch as NumPy arrays."""
        x, _ = D.prepare(x, "x", f"{type(self).__name__}.predict_on_batch", self.dtype)
        return self.predict_step(x)

    def _batch_result(self, loss, return_dict):
        logs = self._metric_logs({"loss": loss})
        if return_dict:
            return logs
        return loss if len(logs) == 1 else [loss] + [logs[k] for k in self._metric_keys()]

    # ------------------------------------------------------------ summary
    def summary(self, print_fn=None, line_length=None):
        """Print a table of layers, output shapes and parameter counts.

        Args:
            print_fn: called with the whole text (default ``print``).
            line_length: the width of the table in characters; columns are shrunk
                or widened in proportion and long cells cut with "…".
                Default: as wide as the contents need.
        """
        from gradkit.models.summary import summary_text

        text = summary_text(self, line_length=line_length)
        (print_fn or print)(text)

    # ------------------------------------------------------------ saving
    def save(self, filepath, include_optimizer=None, format=None):  # noqa: A002 - Keras's name
        """Save architecture, weights and optimizer state to one file, atomically.

        The file is a zip archive with ``config.json``, ``model.safetensors``
        and ``optimizer.safetensors`` (see :mod:`gradkit.models.saving`);
        ``include_optimizer`` (default True) says whether to write the last.
        ``format="keras"`` writes a Keras 3 ``.keras`` file instead, which Keras
        itself loads: architecture and weights, no optimizer state (see
        :mod:`gradkit.models.keras_archive`; needs ``gradkit[keras]``).
        """
        from gradkit.utils.validation import check_choice

        check_choice(f"{type(self).__name__}.save", "format", format, (None, "gradkit", "keras"))
        if format == "keras":
            if include_optimizer:
                raise NotImplementedError("save(format='keras') writes no optimizer state; "
                                          "drop include_optimizer=True")
            from gradkit.models.keras_archive import save_keras_archive

            save_keras_archive(self, filepath)
            return
        from gradkit.models.saving import save_model

        save_model(self, filepath, include_optimizer=include_optimizer is not False)

    def export(self, filepath, format="onnx", **kwargs):  # noqa: A002 - Keras's name
        """Write the model for other runtimes: ``format="onnx"`` (needs ``gradkit[onnx]``).

        Args:
            filepath: the ``.onnx`` file to write (atomically).
            format: ``"onnx"``, the one format gradkit exports to.
            **kwargs: :func:`gradkit.onnx.export`'s ``input_shape``, ``input_dtype``, ``opset``.

        Returns:
            The ``onnx.ModelProto`` written.
        """
        from gradkit.utils.validation import check_choice

        check_choice(f"{type(self).__name__}.export", "format", format, ("onnx",))
        from gradkit.onnx import export

        return export(self, filepath, **kwargs)

    def save_weights(self, filepath):
        """Save the weights alone (a safetensors file), atomically."""
        from gradkit.models.saving import save_weights

        save_weights(self, filepath)

    def load_weights(self, filepath):
        """Load weights saved by :meth:`save_weights` (or from a model file)."""
        from gradkit.models.saving import load_weights

        load_weights(self, filepath)

    def to_json(self, **kwargs):
        """The architecture (no weights) as JSON; ``keras.models.model_from_json`` rebuilds
        it. ``kwargs`` go to ``json.dumps`` (``indent=2``...)."""
        from gradkit.models.model_json import model_to_json

        return model_to_json(self, **kwargs)

    def get_compile_config(self):
        return self._compile_config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild from ``get_config``; a subclass saved as ``Sub(inputs, outputs)`` is
        rebuilt from its graph."""
        if "nodes" in config and "outputs" in config:
            from gradkit.models.functional import Functional

            return Functional.from_config.__func__(cls, config, custom_objects)
        return super().from_config(config)

    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch axis included)."""
        if type(self).call is Model.call:
            raise NotImplementedError(f"{type(self).__name__} must implement call()")
        shapes = input_shape
        if isinstance(shapes, list) and shapes and isinstance(shapes[0], (tuple, list)):
            x = [np.zeros(tuple(1 if d is None else d for d in s), self.dtype)  # host: dummy
                 for s in shapes]
        else:
            x = np.zeros(tuple(1 if d is None else d for d in shapes), self.dtype)  # host: dummy
        self.built = True
        self._build_input_shape = input_shape
        with no_grad():
            self.call(D.prepare(x, "x", "build", self.dtype)[0] if not isinstance(x, list)
                      else [Tensor(a, device=self.device) for a in x])

    def __call__(self, inputs, *args, training=None, **kwargs):
        if not self.built and not isinstance(inputs, (list, tuple, dict)) \
                and hasattr(inputs, "shape") and type(self).call is not Model.call:
            self._build_input_shape = (None,) + tuple(inputs.shape[1:])
        return super().__call__(inputs, *args, training=training, **kwargs)


# ---------------------------------------------------------------- helpers
_takes_data_cache: dict = {}


def _takes_data(step):
    """Whether a bound train_step/test_step has Keras 3's one-argument form ``(data)``."""
    fn = getattr(step, "__func__", step)
    v = _takes_data_cache.get(fn)
    if v is None:
        import inspect

        params = [p for p in inspect.signature(step).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        v = _takes_data_cache[fn] = len(params) == 1
    return v


def _functional_arguments(args, kwargs):
    """Whether a Model subclass is being made as ``Sub(inputs, outputs)`` from symbolic
    tensors (Keras's ``CustomModel(inputs, outputs)``)."""
    from gradkit.layers.base import _is_symbolic

    inputs = args[0] if args else kwargs.get("inputs")
    if isinstance(inputs, dict):
        inputs = list(inputs.values())
    return (len(args) >= 2 or "outputs" in kwargs) and inputs is not None and \
        _is_symbolic(inputs)


_FUNCTIONAL_SUBCLASSES: dict = {}


def _functional_subclass(cls):
    """``cls`` with the functional machinery under it: ``class cls_(cls, Functional)``, so
    the subclass's own methods (``train_step``, ``metrics``...) come first and its
    ``super().__init__(inputs, outputs)`` reaches ``Functional``. Saved under ``cls``'s
    name; loading calls ``cls(inputs, outputs)`` again."""
    from gradkit.layers.registry import LAYERS
    from gradkit.models.functional import Functional

    if issubclass(cls, Functional):
        return cls
    sub = _FUNCTIONAL_SUBCLASSES.get(cls)
    if sub is None:
        sub = type(cls.__name__, (cls, Functional), {"__module__": cls.__module__,
                                                   "__qualname__": cls.__qualname__})
        _FUNCTIONAL_SUBCLASSES[cls] = sub
        name = LAYERS.name_of(cls)
        if name != cls.__name__:  # a registered user class: saved under its registered name
            LAYERS.serialize_as(sub, name)
    return sub


def _serialize_metrics(metrics):
    """Names stay names (``"accuracy"`` is resolved again from the loss); objects -> configs."""
    from gradkit import metrics as Me

    return [m if isinstance(m, str) else Me.serialize(m) for m in (metrics or [])]


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


def _capped(total, steps):
    """The number of batches a loop over ``total`` batches stopped after ``steps`` runs."""
    if steps is None:
        return total
    return steps if total is None else min(total, steps)


def _not_with_iterable(caller, **given):
    """Refuse arguments that an iterable of batches decides itself."""
    for name, value in given.items():
        if value is not None:
            raise ValueError(f"{caller}: {name} must be None when x is an iterable of batches; "
                             "the iterable sets the batches: yield (x, y) or "
                             "(x, y, sample_weight) tuples of the size you want")


def _iterable_batches(batches, class_weight, caller):
    """``(x, y, sample_weight)`` for each item of a batch iterable (lists count as tuples)."""
    for batch in batches:
        if isinstance(batch, list) and len(batch) in (2, 3):
            batch = tuple(batch)
        xb, yb, swb = D.split_xy(batch, caller)
        if yb is None:
            raise ValueError(f"{caller}: a batch has no targets; the iterable must yield "
                             "(x, y) or (x, y, sample_weight) tuples")
        if class_weight is not None:
            swb = D.combine_weights(swb, D.class_sample_weights(class_weight, yb, caller))
        yield xb, yb, swb


_MISMATCH = "x and y have different numbers of samples: x has {n}, y has {ny}"
_BATCH_MISMATCH = "x has {n} samples, y has {ny}"   # train_on_batch, test_on_batch


def _prepare_xy(x, y, sample_weight, caller, dtype, mismatch=_MISMATCH):
    """``(x, y, sample_weight, n)``: the arrays checked and converted (see
    :func:`~gradkit.models.data.prepare`), ``n`` samples in each; ``mismatch`` words the
    error when x and y differ (formatted with their counts ``n`` and ``ny``)."""
    x, n = D.prepare(x, "x", caller, dtype)
    y, ny = (None, n) if y is None else D.prepare(y, "y", caller, dtype)  # add_loss models
    if n != ny:
        raise ValueError(f"{caller}: " + mismatch.format(n=n, ny=ny))
    if sample_weight is not None:
        sample_weight = D.prepare_sample_weight(sample_weight, n, caller)
    return x, y, sample_weight, n


def _validation_triple(validation_data, caller, dtype):
    """``(x_val, y_val, sample_weight_val or None)``, checked and converted."""
    if D._batch_source_kind(validation_data) is not None:  # a DataLoader, Dataset...
        return validation_data, None, None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError(f"{caller}: validation_data must be a tuple (x_val, y_val) or "
                         "(x_val, y_val, sample_weight_val)")
    vx, vy = validation_data[0], validation_data[1]
    vx, n = D.prepare(vx, "validation x", caller, dtype)
    vy, m = D.prepare(vy, "validation y", caller, dtype)
    if n != m:
        raise ValueError(f"{caller}: validation x has {n} samples, validation y has {m}")
    vsw = validation_data[2] if len(validation_data) == 3 else None
    if vsw is not None:
        vsw = D.prepare_sample_weight(vsw, n, f"{caller} (validation_data)")
    return vx, vy, vsw


def _match_weights(sample_weight, n_out, names):
    """One entry (weights or None) per output: a single array serves every output."""
    if sample_weight is None:
        return [None] * n_out
    if isinstance(sample_weight, dict):
        unknown = [k for k in sample_weight if k not in names]
        if unknown:
            raise ValueError(f"sample_weight given for unknown outputs {unknown}; outputs are "
                             f"{names}")
        return [sample_weight.get(k) for k in names]
    if isinstance(sample_weight, (list, tuple)) and not np.isscalar(sample_weight[0]):
        if len(sample_weight) != n_out:
            raise ValueError(f"{len(sample_weight)} sample_weight arrays for {n_out} outputs "
                             f"({', '.join(names)}); pass one per output, or one array for all")
        return list(sample_weight)
    return [sample_weight] * n_out


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


def _concat(outs):  # host: predictions, already copied from the device
    if isinstance(outs[0], list):
        return [np.concatenate([o[i] for o in outs]) for i in range(len(outs[0]))]
    return np.concatenate(outs)


def _alloc_like(out, n):  # host: predict's result
    if isinstance(out, list):
        return [np.empty((n,) + o.shape[1:], o.dtype) for o in out]
    return np.empty((n,) + out.shape[1:], out.dtype)


def _write(result, out, start):
    if isinstance(out, list):
        for r, o in zip(result, out):
            r[start:start + len(o)] = o
    else:
        result[start:start + len(out)] = out

