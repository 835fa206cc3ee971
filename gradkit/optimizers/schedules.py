"""Learning-rate schedules: callables from the optimizer's step count to a learning rate.

Pass one as ``learning_rate`` to any optimizer; before each update the optimizer
calls it with ``optimizer.iterations`` (the number of updates done so far, starting
at 0), so update ``k`` uses ``schedule(k)``. A PyTorch ``lr_scheduler`` stepped once
after every ``optimizer.step()`` gives the same sequence.

Example::

    from gradkit.optimizers import SGD, schedules

    sched = schedules.ExponentialDecay(0.1, decay_steps=1000, decay_rate=0.96)
    opt = SGD(model.parameters(), learning_rate=sched, momentum=0.9)   # PyTorch style
    opt = SGD(learning_rate=sched)                                      # Keras style
    sched(0), sched(1000)        # (0.1, 0.096)
"""

from __future__ import annotations

import bisect
import math

from gradkit.utils.config import Configurable
from gradkit.utils.registry import Registry
from gradkit.utils.validation import check_int, check_number

__all__ = ["SCHEDULES", "CosineDecay", "ExponentialDecay", "LearningRateSchedule",
           "PiecewiseConstantDecay", "StepDecay", "deserialize", "get", "register_serializable",
           "serialize"]


def _step(step):
    """The step as a non-negative float (accepts ints, NumPy scalars, 0-d arrays)."""
    return check_number("learning-rate schedule", "step", step, 0)


class LearningRateSchedule(Configurable):
    """Base class: ``schedule(step) -> float``, ``get_config()``, ``from_config(config)``.

    Subclasses implement ``__call__(step)`` and ``get_config()``; the config must hold
    the constructor's arguments so ``cls(**config)`` rebuilds the schedule.
    """

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    Args:
        initial_learning_rate: the rate at step 0 (>= 0).
        decay_steps: steps over which the rate is multiplied by ``decay_rate`` (> 0).
        decay_rate: the multiplier per ``decay_steps`` (> 0).
        staircase: decay in whole steps: ``step // decay_steps`` as the exponent.

    With ``decay_steps=1`` this is PyTorch's ``ExponentialLR(gamma=decay_rate)``.

    Example::

        s = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
        s(9), s(10), s(25)     # (0.1, 0.05, 0.025)
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name=None):
        owner = "ExponentialDecay"
        self.initial_learning_rate = check_number(owner, "initial_learning_rate",
                                                  initial_learning_rate, 0)
        self.decay_steps = check_number(owner, "decay_steps", decay_steps, 0, min_open=True)
        self.decay_rate = check_number(owner, "decay_rate", decay_rate, 0, min_open=True)
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step):
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """Constant rates between step boundaries (Keras's ``PiecewiseConstantDecay``).

    ``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last boundary.

    Args:
        boundaries: strictly increasing step numbers.
        values: ``len(boundaries) + 1`` learning rates.

    PyTorch's ``MultiStepLR(milestones, gamma)`` switches *at* the milestone, so it
    equals ``PiecewiseConstantDecay([m - 1 for m in milestones], [lr * gamma**i ...])``.

    Example::

        s = PiecewiseConstantDecay([100, 200], [0.1, 0.01, 0.001])
        s(100), s(101), s(500)     # (0.1, 0.01, 0.001)
    """

    def __init__(self, boundaries, values, name=None):
        owner = "PiecewiseConstantDecay"
        boundaries = [check_number(owner, "boundary", b) for b in boundaries]
        values = [check_number(owner, "value", v, 0) for v in values]
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"{owner}: needs len(values) == len(boundaries) + 1, got "
                             f"{len(values)} values for {len(boundaries)} boundaries")
        if any(b1 <= b0 for b0, b1 in zip(boundaries, boundaries[1:])):
            raise ValueError(f"{owner}: boundaries must be strictly increasing, got {boundaries}")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        return self.values[bisect.bisect_left(self.boundaries, _step(step))]

    def get_config(self):
        return {"boundaries": list(self.boundaries), "values": list(self.values),
                "name": self.name}


class StepDecay(LearningRateSchedule):
    """``initial_learning_rate * gamma ** (step // step_size)`` (PyTorch's ``StepLR``, in steps).

    Args:
        initial_learning_rate: the rate for the first ``step_size`` steps (>= 0).
        step_size: number of steps between decays (integer >= 1).
        gamma: the multiplier applied every ``step_size`` steps (>= 0), default 0.1.

    Example::

        s = StepDecay(0.1, step_size=30, gamma=0.1)
        s(29), s(30), s(60)     # (0.1, 0.01, 0.001)  (up to rounding)
    """

    def __init__(self, initial_learning_rate, step_size, gamma=0.1, name=None):
        owner = "StepDecay"
        self.initial_learning_rate = check_number(owner, "initial_learning_rate",
                                                  initial_learning_rate, 0)
        self.step_size = check_int(owner, "step_size", step_size, minimum=1)
        self.gamma = check_number(owner, "gamma", gamma, 0)
        self.name = name

    def __call__(self, step):
        return self.initial_learning_rate * self.gamma ** (int(_step(step)) // self.step_size)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "step_size": self.step_size, "gamma": self.gamma, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay, with an optional linear warm-up first (Keras 3's ``CosineDecay``).

    Without warm-up (``warmup_target=None``), for ``s = min(step, decay_steps)``::

        lr(step) = initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps))
                                            + alpha)

    With warm-up, the rate rises linearly from ``initial_learning_rate`` to
    ``warmup_target`` over ``warmup_steps`` steps, then decays as above from
    ``warmup_target`` (step counted from the end of the warm-up)::

        lr(step) = initial + (warmup_target - initial) * step / warmup_steps   (step < warmup)
        lr(step) = warmup_target * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)
                   with s = min(step - warmup_steps, decay_steps)

    Args:
        initial_learning_rate: the starting rate (>= 0).
        decay_steps: length of the decay (> 0).
        alpha: the final rate as a fraction of the decayed-from rate (>= 0).
        warmup_target: the rate reached after warm-up; ``None`` for no warm-up.
        warmup_steps: length of the warm-up (>= 0).

    ``alpha`` relates to PyTorch's ``CosineAnnealingLR(T_max=decay_steps, eta_min)`` as
    ``eta_min = alpha * initial_learning_rate`` (the two agree for ``step <= decay_steps``).

    Example::

        s = CosineDecay(0.0, decay_steps=1000, warmup_target=0.1, warmup_steps=100)
        s(0), s(50), s(100), s(1100)     # (0.0, 0.05, 0.1, 0.0)
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name=None,
                 warmup_target=None, warmup_steps=0):
        owner = "CosineDecay"
        self.initial_learning_rate = check_number(owner, "initial_learning_rate",
                                                  initial_learning_rate, 0)
        self.decay_steps = check_number(owner, "decay_steps", decay_steps, 0, min_open=True)
        self.alpha = check_number(owner, "alpha", alpha, 0)
        self.warmup_target = (None if warmup_target is None else
                              check_number(owner, "warmup_target", warmup_target, 0))
        self.warmup_steps = check_number(owner, "warmup_steps", warmup_steps, 0)
        if self.warmup_target is not None and self.warmup_steps == 0:
            raise ValueError(f"{owner}: warmup_target={self.warmup_target} needs warmup_steps "
                             "> 0")
        self.name = name

    def _decay(self, s, start):
        cosine = 0.5 * (1.0 + math.cos(math.pi * s / self.decay_steps))   # 1 -> 0
        return start * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        step = _step(step)
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        if step < self.warmup_steps:
            frac = step / self.warmup_steps
            return self.initial_learning_rate + (self.warmup_target
                                                 - self.initial_learning_rate) * frac
        s = min(step - self.warmup_steps, self.decay_steps)
        return self._decay(s, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


SCHEDULES = Registry("learning-rate schedule", LearningRateSchedule,
                     module="gradkit.optimizers.schedules")
"""The learning-rate schedule registry (see :mod:`gradkit.utils.registry`)."""

for _cls in (ExponentialDecay, PiecewiseConstantDecay, StepDecay, CosineDecay):
    SCHEDULES.register()(_cls)
register_serializable = SCHEDULES.register_serializable


def serialize(schedule):
    """``{"class_name": ..., "config": ...}`` for a schedule (Keras's format)."""
    return SCHEDULES.serialize(schedule)


def deserialize(config, custom_objects=None):
    """Rebuild a schedule from :func:`serialize`'s dict."""
    return SCHEDULES.deserialize(config, custom_objects)


def get(identifier, custom_objects=None):
    """A schedule from an instance (returned as is), a :func:`serialize` dict or a class
    name with default arguments."""
    return SCHEDULES.get(identifier, custom_objects)
