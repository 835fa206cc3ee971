"""Dynamic loss scaling for float16 training: :class:`LossScale` (the rule),
PyTorch's :class:`GradScaler` and Keras's :class:`LossScaleOptimizer` on top of it.

float16 gradients underflow to zero below about 6e-8. Multiplying the loss by a large
``scale`` before backward lifts them into range; the gradients are divided by it again
before the update. When a step's gradients hold inf or NaN the scale was too large: the
step is skipped and the scale halved; after ``growth_interval`` good steps in a row it
doubles.
"""

from __future__ import annotations

import math

from gradkit.backend import get_array_module
from gradkit.tensor import Tensor
from gradkit.utils.validation import check_int, check_number

__all__ = ["GradScaler", "LossScale", "LossScaleOptimizer"]


class LossScale:
    """The dynamic loss-scale rule shared by :class:`GradScaler`, :class:`LossScaleOptimizer`
    and ``fit`` under the ``mixed_float16`` policy.

    Args:
        init_scale: the first scale (PyTorch's default 2**16; Keras's 2**15).
        growth_factor: multiplies the scale after ``growth_interval`` finite steps.
        backoff_factor: multiplies the scale after a non-finite step.
        growth_interval: finite steps in a row before the scale grows.
    """

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000):
        self.scale = check_number("LossScale", "init_scale", init_scale, 0, min_open=True)
        self.growth_factor = check_number("LossScale", "growth_factor", growth_factor, 1,
                                          min_open=True)
        self.backoff_factor = check_number("LossScale", "backoff_factor", backoff_factor, 0,
                                           1, min_open=True, max_open=True)
        self.growth_interval = check_int("LossScale", "growth_interval", growth_interval,
                                         minimum=1)
        self.good_steps = 0
        self.skipped_steps = 0

    def unscale(self, grads):
        """Divide the gradient arrays (Tensors or arrays; None skipped) by the scale in place;
        True when all are finite. One read-back per call: the sum of the sums."""
        inv = 1.0 / self.scale
        total = 0.0
        for g in grads:
            if g is None:
                continue
            a = g._data if isinstance(g, Tensor) else g
            get_array_module(a).multiply(a, inv, out=a)     # g <- g / scale
            total = a.sum() + total                          # inf/nan survive the sum
        return math.isfinite(float(total))

    def update(self, finite):
        """Grow or back off the scale after a step (``finite``: its gradients were)."""
        if finite:
            self.good_steps += 1
            if self.good_steps >= self.growth_interval:
                self.scale *= self.growth_factor
                self.good_steps = 0
        else:
            self.skipped_steps += 1
            self.scale *= self.backoff_factor
            self.good_steps = 0

    def state_dict(self):
        return {"scale": self.scale, "good_steps": self.good_steps,
                "skipped_steps": self.skipped_steps}

    def load_state_dict(self, state):
        self.scale = float(state["scale"])
        self.good_steps = int(state["good_steps"])
        self.skipped_steps = int(state.get("skipped_steps", 0))


class GradScaler:
    """PyTorch's ``torch.amp.GradScaler``: ``scale(loss).backward()``, ``step(opt)``,
    ``update()``.

    Args:
        device: ``"cuda"`` or ``"cpu"`` (accepted for PyTorch's signature; the scaler
            works on whatever device the gradients live on).
        init_scale, growth_factor, backoff_factor, growth_interval: see :class:`LossScale`.
        enabled: False makes every method a pass-through.

    Example::

        scaler = gradkit.amp.GradScaler()
        with gradkit.autocast("cuda"):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)          # skipped when a gradient is inf/nan
        scaler.update()
        opt.zero_grad()
    """

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0,
                 backoff_factor=0.5, growth_interval=2000, enabled=True):
        self.device = device
        self._rule = LossScale(init_scale, growth_factor, backoff_factor, growth_interval)
        self.enabled = bool(enabled)
        self._unscaled = {}  # id(optimizer) -> all gradients finite

    def get_scale(self):
        """The current scale (1.0 when disabled)."""
        return self._rule.scale if self.enabled else 1.0

    def scale(self, loss):
        """``loss * scale`` (a Tensor; backward through it gives scaled gradients)."""
        return loss * self._rule.scale if self.enabled else loss

    def unscale_(self, optimizer):
        """Divide the ``.grad`` of ``optimizer``'s parameters by the scale (once a step)."""
        if not self.enabled:
            return
        if id(optimizer) in self._unscaled:
            raise RuntimeError("GradScaler.unscale_ was already called for this optimizer "
                               "since the last update()")
        grads = [p.grad for p in optimizer.params if p.grad is not None]
        self._unscaled[id(optimizer)] = self._rule.unscale(grads)

    def step(self, optimizer, *args, **kwargs):
        """Unscale (if not done yet), then ``optimizer.step()`` unless a gradient is inf/nan.

        Returns ``optimizer.step()``'s result, or None for a skipped step.
        """
        if not self.enabled:
            return optimizer.step(*args, **kwargs)
        if id(optimizer) not in self._unscaled:
            self.unscale_(optimizer)
        if self._unscaled[id(optimizer)]:
            return optimizer.step(*args, **kwargs)
        return None

    def update(self, new_scale=None):
        """Adjust the scale after the step(s) (or set it to ``new_scale``)."""
        if not self.enabled:
            return
        if new_scale is not None:
            self._rule.scale = check_number("GradScaler.update", "new_scale", new_scale, 0,
                                            min_open=True)
        elif self._unscaled:
            self._rule.update(all(self._unscaled.values()))
        self._unscaled = {}

    @property
    def skipped_steps(self):
        """How many steps were skipped for inf/nan gradients."""
        return self._rule.skipped_steps

    def state_dict(self):
        return self._rule.state_dict()

    def load_state_dict(self, state):
        self._rule.load_state_dict(state)


class LossScaleOptimizer:
    """Keras's ``LossScaleOptimizer``: an optimizer whose ``apply_gradients`` unscales the
    gradients and skips the update when one is inf/nan.

    ``Model.compile`` under the ``mixed_float16`` policy gives the model this behaviour
    itself; wrap an optimizer for custom loops (``scale_loss`` before the tape's gradient).

    Args:
        inner_optimizer: the optimizer to wrap.
        initial_scale: the first scale (Keras's default 2**15).
        dynamic_growth_steps: finite steps before the scale doubles (Keras's 2000).
    """

    def __init__(self, inner_optimizer, initial_scale=2.0 ** 15, dynamic_growth_steps=2000):
        self.inner_optimizer = inner_optimizer
        self.loss_scale = LossScale(initial_scale, 2.0, 0.5, dynamic_growth_steps)

    def scale_loss(self, loss):
        """``loss * scale``: take gradients of this."""
        return loss * self.loss_scale.scale

    def apply_gradients(self, grads_and_vars):
        """Unscale, then apply unless non-finite; returns True when the step was applied."""
        pairs = list(grads_and_vars)
        finite = self.loss_scale.unscale([g for g, _ in pairs])
        if finite:
            self.inner_optimizer.apply_gradients(pairs)
        self.loss_scale.update(finite)
        return finite

    def __getattr__(self, name):
        return getattr(self.__dict__["inner_optimizer"], name)
