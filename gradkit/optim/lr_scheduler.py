"""PyTorch's learning-rate schedulers (``torch.optim.lr_scheduler``) for ``gradkit.optim``.

A scheduler changes ``group["lr"]`` of an optimizer's parameter groups each time
its :meth:`~LRScheduler.step` is called (usually once an epoch, after
``optimizer.step()``). As in PyTorch, most schedulers are *chainable*: a step
multiplies the groups' current learning rate, so two schedulers on one optimizer
compose; ``step(epoch)`` uses the closed form instead. Constructing a scheduler
already takes its first step (``last_epoch`` becomes 0).

Schedulers: :class:`LambdaLR`, :class:`StepLR`, :class:`MultiStepLR`,
:class:`ExponentialLR`, :class:`CosineAnnealingLR`, :class:`LinearLR`,
:class:`OneCycleLR`, :class:`SequentialLR`, :class:`ChainedScheduler`,
:class:`ReduceLROnPlateau`. Each has ``get_last_lr()``, ``last_epoch``,
``state_dict()`` and ``load_state_dict()``; the state dicts hold plain data
(numbers, strings, lists, dicts), which :func:`gradkit.save` can write.

Keras-style optimizers take a :mod:`gradkit.optimizers.schedules` schedule instead.

Example::

    opt = gradkit.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = gradkit.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=50)
    for epoch in range(50):
        train_one_epoch(model, opt)
        sched.step()
"""

from __future__ import annotations

import math
import types
from bisect import bisect_right
from collections import Counter

from gradkit.optim.optimizer import TorchOptimizer
from gradkit.utils.validation import check_choice, check_int, check_number

__all__ = ["ChainedScheduler", "CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR",
           "LinearLR", "MultiStepLR", "OneCycleLR", "ReduceLROnPlateau", "SequentialLR",
           "StepLR"]


def _check_optimizer(owner, optimizer):
    if not isinstance(optimizer, TorchOptimizer):
        raise TypeError(f"{owner}: expected a gradkit.optim optimizer (SGD, Adam...), received "
                        f"{type(optimizer).__name__}; Keras-style optimizers take a "
                        "gradkit.optimizers.schedules schedule as learning_rate instead")
    return optimizer


def _per_group(owner, name, optimizer, value):
    """One value per parameter group: a list of that length, or one value for all."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{owner}: {name} has {len(value)} values, the optimizer "
                             f"{n} parameter groups; give one value or one per group")
        return list(value)
    return [value] * n


def _lrs(optimizer):
    return [group["lr"] for group in optimizer.param_groups]


class LRScheduler:
    """Base class: ``step()`` advances ``last_epoch`` and writes ``get_lr()`` into the groups.

    Args:
        optimizer: a :mod:`gradkit.optim` optimizer.
        last_epoch: the index of the last epoch, -1 for a fresh start; to resume,
            pass the saved epoch (the groups must then hold ``"initial_lr"``, which
            a loaded optimizer state dict restores).

    Attributes:
        base_lrs: the groups' initial learning rates.
        last_epoch: how many times :meth:`step` ran since the start (0 after
            construction).
    """

    def __init__(self, optimizer, last_epoch=-1):
        owner = type(self).__name__
        self.optimizer = _check_optimizer(owner, optimizer)
        last_epoch = check_int(owner, "last_epoch", last_epoch, minimum=-1)
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(f"{owner}: param_groups[{i}] has no 'initial_lr', needed to "
                               f"resume at last_epoch={last_epoch}; load the optimizer's state "
                               "dict first, or start with last_epoch=-1")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        """The step every scheduler takes at construction (``_is_initial`` during it)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):
        """The learning rates for ``last_epoch`` (chainable form), one per group."""
        raise NotImplementedError(f"{type(self).__name__} must define get_lr()")

    def get_last_lr(self):
        """The learning rates the last :meth:`step` set, one per parameter group."""
        return self._last_lr

    def step(self, epoch=None):
        """Advance one epoch (or jump to ``epoch``, using the closed form) and set the rates."""
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch=None):
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = check_int(type(self).__name__, "epoch", epoch, minimum=0)
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = _lrs(self.optimizer)

    _unsaved = ("optimizer",)

    def state_dict(self):
        """The scheduler's state as plain data (everything but the optimizer)."""
        return {k: v for k, v in self.__dict__.items() if k not in self._unsaved}

    def load_state_dict(self, state_dict):
        """Restore :meth:`state_dict`'s output (only attributes this scheduler has)."""
        unknown = sorted(set(state_dict) - set(self.__dict__) - set(self._unsaved))
        if unknown or any(k in self._unsaved for k in state_dict):
            raise ValueError(f"{type(self).__name__}.load_state_dict: unexpected keys "
                             f"{unknown or [k for k in state_dict if k in self._unsaved]}; "
                             "was the state saved by another kind of scheduler?")
        self.__dict__.update(state_dict)

    def __repr__(self):
        return f"<{type(self).__name__} last_epoch={self.last_epoch} lr={self._last_lr}>"


class LambdaLR(LRScheduler):
    """``lr = initial_lr * lr_lambda(epoch)``.

    Args:
        optimizer: a :mod:`gradkit.optim` optimizer.
        lr_lambda: a function of the epoch (an int), or one per parameter group.
        last_epoch: see :class:`LRScheduler`.

    ``state_dict`` saves the attributes of callable objects (not of plain functions),
    as PyTorch does.

    Example::

        LambdaLR(opt, lambda epoch: 0.95 ** epoch)
    """

    _unsaved = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        _check_optimizer(type(self).__name__, optimizer)
        self.lr_lambdas = _per_group(type(self).__name__, "lr_lambda", optimizer, lr_lambda)
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"LambdaLR: lr_lambda must be a function of the epoch, "
                                f"received {type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def state_dict(self):
        state = super().state_dict()
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(vars(fn))
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        saved = state_dict.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        super().load_state_dict(state_dict)
        for fn, attrs in zip(self.lr_lambdas, saved):
            if attrs is not None:
                vars(fn).update(attrs)

    def get_lr(self):
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    Args:
        optimizer: a :mod:`gradkit.optim` optimizer.
        step_size: epochs between decays (int >= 1).
        gamma: the factor, default 0.1.
        last_epoch: see :class:`LRScheduler`.

    Example::

        StepLR(opt, step_size=30, gamma=0.1)   # 0.05 for epochs 0-29, 0.005 for 30-59...
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = check_int("StepLR", "step_size", step_size, minimum=1)
        self.gamma = check_number("StepLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size:
            return _lrs(self.optimizer)
        return [lr * self.gamma for lr in _lrs(self.optimizer)]

    def _get_closed_form_lr(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size)
                for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each milestone epoch.

    Args:
        optimizer: a :mod:`gradkit.optim` optimizer.
        milestones: epoch indices (ints; a repeated one decays that many times).
        gamma: the factor, default 0.1.
        last_epoch: see :class:`LRScheduler`.

    Example::

        MultiStepLR(opt, milestones=[30, 80], gamma=0.1)
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = Counter(check_int("MultiStepLR", "milestones", m, minimum=0)
                                  for m in milestones)
        self.gamma = check_number("MultiStepLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self.milestones = Counter({int(k): int(v) for k, v in self.milestones.items()})

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return _lrs(self.optimizer)
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in _lrs(self.optimizer)]

    def _get_closed_form_lr(self):
        marks = sorted(self.milestones.elements())
        return [base * self.gamma ** bisect_right(marks, self.last_epoch)
                for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch.

    Args:
        optimizer: a :mod:`gradkit.optim` optimizer.
        gamma: the factor per epoch.
        last_epoch: see :class:`LRScheduler`.

    Example::

        ExponentialLR(opt, gamma=0.95)
    """

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = check_number("ExponentialLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return _lrs(self.optimizer)
        return [lr * self.gamma for lr in _lrs(self.optimizer)]

    def _get_closed_form_lr(self):
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from the initial rate to ``eta_min`` over ``T_max`` epochs (SGDR
    without restarts); past ``T_max`` the cosine goes on, rising again.

    ``lr_t = eta_min + (initial_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``, applied
    recursively (chainable form) as PyTorch does.

    Args:
        optimizer: a :mod:`gradkit.optim` optimizer.
        T_max: half-period in epochs (int >= 1).
        eta_min: the lowest learning rate, default 0.
        last_epoch: see :class:`LRScheduler`.

    Example::

        CosineAnnealingLR(opt, T_max=100, eta_min=1e-5)
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):  # noqa: N803
        self.T_max = check_int("CosineAnnealingLR", "T_max", T_max, minimum=1)
        self.eta_min = check_number("CosineAnnealingLR", "eta_min", eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, T, lo = self.last_epoch, self.T_max, self.eta_min  # noqa: N806
        if self._is_initial:
            return _lrs(self.optimizer)
        if self._step_count == 1 and t > 0:      # resumed: closed form
            return [lo + (base - lo) * (1 + math.cos(t * math.pi / T)) / 2
                    for base in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:           # the bottom of the cosine: climb back
            return [lr + (base - lo) * (1 - math.cos(math.pi / T)) / 2
                    for base, lr in zip(self.base_lrs, _lrs(self.optimizer))]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - lo) + lo for lr in _lrs(self.optimizer)]

    def _get_closed_form_lr(self):
        return [self.eta_min + (base - self.eta_min) *
                (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the learning rate linearly from ``start_factor`` to ``end_factor`` of its
    initial value over ``total_iters`` epochs, then keep it (a warm-up).

    Args:
        optimizer: a :mod:`gradkit.optim` optimizer.
        start_factor: in (0, 1], default 1/3.
        end_factor: in [0, 1], default 1.
        total_iters: epochs of the ramp (int >= 1), default 5.
        last_epoch: see :class:`LRScheduler`.

    Example::

        LinearLR(opt, start_factor=0.1, total_iters=10)
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1):
        self.start_factor = check_number("LinearLR", "start_factor", start_factor, 0, 1,
                                         min_open=True)
        self.end_factor = check_number("LinearLR", "end_factor", end_factor, 0, 1)
        self.total_iters = check_int("LinearLR", "total_iters", total_iters, minimum=1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        lrs = _lrs(self.optimizer)
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in lrs]
        if self._is_initial or self.last_epoch > self.total_iters:
            return lrs
        d = self.end_factor - self.start_factor
        factor = 1.0 + d / (self.total_iters * self.start_factor + (self.last_epoch - 1) * d)
        return [lr * factor for lr in lrs]

    def _get_closed_form_lr(self):
        d = self.end_factor - self.start_factor
        frac = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * (self.start_factor + d * frac) for base in self.base_lrs]


class _Composite(LRScheduler):
    """A scheduler made of schedulers: their states are saved inside its own."""

    _unsaved = ("optimizer", "_schedulers")

    def state_dict(self):
        state = super().state_dict()
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        subs = state_dict.pop("_schedulers", [])
        if len(subs) != len(self._schedulers):
            raise ValueError(f"{type(self).__name__}.load_state_dict: {len(subs)} saved "
                             f"schedulers, {len(self._schedulers)} here")
        super().load_state_dict(state_dict)
        for s, sub in zip(self._schedulers, subs):
            s.load_state_dict(sub)


class SequentialLR(_Composite):
    """Run schedulers one after another, switching at the ``milestones`` epochs.

    At a milestone the next scheduler starts from its own epoch 0 (its closed form
    when it has one), as in PyTorch.

    Args:
        optimizer: the optimizer all ``schedulers`` drive.
        schedulers: the schedulers, in order (not :class:`ReduceLROnPlateau`).
        milestones: ``len(schedulers) - 1`` increasing epochs.
        last_epoch: see :class:`LRScheduler`.

    Example::

        warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
        decay = CosineAnnealingLR(opt, T_max=95)
        sched = SequentialLR(opt, [warmup, decay], milestones=[5])
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        owner = type(self).__name__
        _check_optimizer(owner, optimizer)
        schedulers = _check_schedulers(owner, schedulers, optimizer)
        milestones = [check_int(owner, "milestones", m, minimum=0) for m in milestones]
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"{owner}: expected {len(schedulers) - 1} milestones (one fewer "
                             f"than the {len(schedulers)} schedulers), received "
                             f"{len(milestones)}")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = check_int(owner, "last_epoch", last_epoch, minimum=-1) + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:     # undo the schedulers' initial steps
            group["lr"] = group["initial_lr"]
        self._undo(self)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _undo(self, sched):
        subs = getattr(sched, "_schedulers", None)
        if subs is not None:
            for s in subs:
                self._undo(s)
        elif hasattr(sched, "last_epoch"):
            sched.last_epoch -= 1

    def step(self):
        """Advance one epoch with the scheduler whose turn it is."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        sched = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            sched._update_lr(0)
        else:
            sched.step()
        self._last_lr = sched.get_last_lr()


class ChainedScheduler(_Composite):
    """Step several schedulers together (their chainable forms multiply).

    Args:
        schedulers: schedulers of one optimizer (not :class:`ReduceLROnPlateau`).
        optimizer: that optimizer (default: the first scheduler's).

    Example::

        sched = ChainedScheduler([LinearLR(opt, 0.1, total_iters=4), ExponentialLR(opt, 0.9)])
    """

    def __init__(self, schedulers, optimizer=None):
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("ChainedScheduler: expected at least one scheduler")
        optimizer = optimizer if optimizer is not None else schedulers[0].optimizer
        _check_optimizer("ChainedScheduler", optimizer)
        self._schedulers = _check_schedulers("ChainedScheduler", schedulers, optimizer)
        self.optimizer = optimizer
        self._last_lr = _lrs(optimizer)

    def step(self):
        """Step every scheduler, in order."""
        for s in self._schedulers:
            s.step()
        self._last_lr = _lrs(self.optimizer)


def _check_schedulers(owner, schedulers, optimizer):
    schedulers = list(schedulers)
    if not schedulers:
        raise ValueError(f"{owner}: expected at least one scheduler")
    for i, s in enumerate(schedulers):
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(f"{owner}: scheduler {i} is a ReduceLROnPlateau, whose step needs "
                             "a metric; step it yourself")
        if not isinstance(s, LRScheduler):
            raise TypeError(f"{owner}: scheduler {i} is a {type(s).__name__}, expected an "
                            "LRScheduler")
        if s.optimizer is not optimizer:
            raise ValueError(f"{owner}: scheduler {i} ({type(s).__name__}) drives another "
                             "optimizer; all must drive the same one")
    return schedulers


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin): warm up from ``max_lr / div_factor`` to
    ``max_lr``, then anneal to ``initial_lr / final_div_factor``; momentum (or Adam's
    beta1) cycles the other way. Step it after every batch.

    Args:
        optimizer: a :mod:`gradkit.optim` optimizer.
        max_lr: the peak learning rate, or one per group.
        total_steps: steps in the cycle; or give ``epochs`` and ``steps_per_epoch``.
        epochs, steps_per_epoch: ints >= 1, ``total_steps = epochs * steps_per_epoch``.
        pct_start: fraction of the cycle spent warming up, in [0, 1], default 0.3.
        anneal_strategy: ``"cos"`` (default) or ``"linear"``.
        cycle_momentum: cycle ``momentum`` / ``betas[0]`` between ``max_momentum``
            and ``base_momentum`` (default True; the optimizer needs one of them).
        base_momentum, max_momentum: defaults 0.85 and 0.95 (or one per group).
        div_factor: ``initial_lr = max_lr / div_factor``, default 25.
        final_div_factor: ``min_lr = initial_lr / final_div_factor``, default 1e4.
        three_phase: warm up, come back down to ``initial_lr``, then anneal.
        last_epoch: see :class:`LRScheduler`.

    Example::

        sched = OneCycleLR(opt, max_lr=0.1, epochs=10, steps_per_epoch=len(loader))
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True,
                 base_momentum=0.85, max_momentum=0.95, div_factor=25.0,
                 final_div_factor=1e4, three_phase=False, last_epoch=-1):
        owner = type(self).__name__
        _check_optimizer(owner, optimizer)
        if total_steps is not None:
            self.total_steps = check_int(owner, "total_steps", total_steps, minimum=1)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (check_int(owner, "epochs", epochs, minimum=1) *
                                check_int(owner, "steps_per_epoch", steps_per_epoch, minimum=1))
        else:
            raise ValueError(f"{owner}: give total_steps, or epochs and steps_per_epoch")
        pct_start = check_number(owner, "pct_start", pct_start, 0, 1)
        self._anneal_func_type = check_choice(owner, "anneal_strategy", anneal_strategy,
                                              ("cos", "linear"))
        div_factor = check_number(owner, "div_factor", div_factor, 0, min_open=True)
        final_div_factor = check_number(owner, "final_div_factor", final_div_factor, 0,
                                        min_open=True)
        n = self.total_steps
        if three_phase:
            self._schedule_phases = [
                _phase(pct_start * n - 1, "initial_lr", "max_lr", "max_momentum",
                       "base_momentum"),
                _phase(2 * pct_start * n - 2, "max_lr", "initial_lr", "base_momentum",
                       "max_momentum"),
                _phase(n - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self._schedule_phases = [
                _phase(pct_start * n - 1, "initial_lr", "max_lr", "max_momentum",
                       "base_momentum"),
                _phase(n - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        max_lrs = [check_number(owner, "max_lr", v, 0)
                   for v in _per_group(owner, "max_lr", optimizer, max_lr)]
        if last_epoch == -1:
            for lr, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = lr / div_factor
                group["max_lr"] = lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"{owner}: cycle_momentum=True needs an optimizer with "
                                 f"momentum or betas, {type(optimizer).__name__} has neither; "
                                 "pass cycle_momentum=False")
            self.use_beta1 = "betas" in optimizer.defaults
            highs = _per_group(owner, "max_momentum", optimizer, max_momentum)
            lows = _per_group(owner, "base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for hi, lo, group in zip(highs, lows, optimizer.param_groups):
                    self._set_momentum(group, hi)
                    group["max_momentum"] = hi
                    group["base_momentum"] = lo
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group, value):
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start, end, pct):
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: stepped {step} times, but total_steps is "
                             f"{self.total_steps}; make the cycle longer")
        lrs = []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end = phase["end_step"]
                if step <= end or i == last:
                    pct = (step - start) / (end - start)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]],
                                            pct))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct))
                    break
                start = end
        return lrs


def _phase(end_step, start_lr, end_lr, start_momentum, end_momentum):
    return {"end_step": float(end_step), "start_lr": start_lr, "end_lr": end_lr,
            "start_momentum": start_momentum, "end_momentum": end_momentum}


class ReduceLROnPlateau(LRScheduler):
    """Multiply the learning rate by ``factor`` when a metric stops improving.

    ``step(metric)`` once an epoch: after more than ``patience`` epochs without an
    improvement (``threshold``, relative or absolute) the rates drop (not below
    ``min_lr``; changes smaller than ``eps`` are skipped), then ``cooldown`` epochs
    pass before bad epochs count again.

    Args:
        optimizer: a :mod:`gradkit.optim` optimizer.
        mode: ``"min"`` (the metric should fall, default) or ``"max"``.
        factor: in [0, 1), default 0.1.
        patience: bad epochs tolerated (int >= 0), default 10.
        threshold: the smallest improvement that counts, default 1e-4.
        threshold_mode: ``"rel"`` (default) or ``"abs"``.
        cooldown: epochs (int >= 0) to wait after a reduction, default 0.
        min_lr: a lower bound, or one per group, default 0.
        eps: the smallest change of the rate applied, default 1e-8.

    Example::

        sched = ReduceLROnPlateau(opt, patience=3)
        for epoch in range(100):
            sched.step(validate(model))
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        owner = type(self).__name__
        self.optimizer = _check_optimizer(owner, optimizer)
        self.factor = check_number(owner, "factor", factor, 0, 1, max_open=True)
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr = None
            self.min_lrs = [check_number(owner, "min_lr", v, 0)
                            for v in _per_group(owner, "min_lr", optimizer, min_lr)]
        else:
            self.default_min_lr = check_number(owner, "min_lr", min_lr, 0)
            self.min_lrs = [self.default_min_lr] * len(optimizer.param_groups)
        self.patience = check_int(owner, "patience", patience, minimum=0)
        self.cooldown = check_int(owner, "cooldown", cooldown, minimum=0)
        self.eps = check_number(owner, "eps", eps, 0)
        self.mode = check_choice(owner, "mode", mode, ("min", "max"))
        self.threshold = check_number(owner, "threshold", threshold)
        self.threshold_mode = check_choice(owner, "threshold_mode", threshold_mode,
                                           ("rel", "abs"))
        self.mode_worse = math.inf if self.mode == "min" else -math.inf
        self.last_epoch = 0
        self._last_lr = _lrs(optimizer)
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics, epoch=None):
        """Record this epoch's metric and reduce the rates if it has plateaued."""
        current = check_number(type(self).__name__, "metrics", float(metrics), finite=False)
        self.last_epoch = self.last_epoch + 1 if epoch is None else check_int(
            type(self).__name__, "epoch", epoch, minimum=0)
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0          # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _lrs(self.optimizer)

    @property
    def in_cooldown(self):
        """Whether the scheduler is waiting after a reduction."""
        return self.cooldown_counter > 0

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"ReduceLROnPlateau: the optimizer has {len(groups)} "
                                   f"parameter groups, min_lr gave {len(self.min_lrs)}; set "
                                   "min_lrs to one value per group")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, low in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, low)
            if old - new > self.eps:
                group["lr"] = new

    def _is_better(self, a):
        best, th = self.best, self.threshold
        if self.mode == "min":
            return a < best * (1.0 - th) if self.threshold_mode == "rel" else a < best - th
        return a > best * (1.0 + th) if self.threshold_mode == "rel" else a > best + th

