"""Adagrad: per-coordinate steps shrinking with the sum of squared gradients."""

from __future__ import annotations

from gradkit.backend import get_array_module
from gradkit.optimizers.base import Optimizer, root_plus_epsilon
from gradkit.utils.validation import check_choice, check_number


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011) with Keras 3's rule and defaults.

    Update for a parameter ``p`` with gradient ``g`` (accumulator ``a`` starts at
    ``initial_accumulator_value``)::

        a <- a + g * g
        p <- p - lr * g / sqrt(a + epsilon)

    Keras puts ``epsilon`` inside the square root; PyTorch's ``Adagrad`` adds it
    outside (``g / (sqrt(a) + eps)``) and defaults to ``initial_accumulator_value=0``,
    ``eps=1e-10``, ``lr=0.01``. With ``epsilon=0`` (and the same initial value)
    the two agree. ``rule="pytorch"`` puts ``epsilon`` outside, as PyTorch does,
    counts steps per parameter and names the state ``sum``.

    ``lr_decay`` (PyTorch's) divides the learning rate at step ``t`` (1 on the first
    update) by ``1 + (t - 1) * lr_decay``.

    Args:
        params: parameters (PyTorch style) or the learning rate (Keras style), optional.
        learning_rate: float, schedule or callable; default 0.001. Alias ``lr``.
        initial_accumulator_value: starting value of the accumulator (>= 0), default 0.1.
        epsilon: added under the square root (>= 0), default 1e-7. Alias ``eps``.
        lr_decay: >= 0, default 0 (see above).
        rule: ``"keras"`` (default) or ``"pytorch"``, see above.
        weight_decay, decoupled_weight_decay, clipnorm, clipvalue, global_clipnorm, name:
            see :class:`~gradkit.optimizers.base.Optimizer`.

    Example::

        opt = Adagrad(model.parameters(), lr=0.01)                  # PyTorch style
        opt = Adagrad(learning_rate=0.01)                           # Keras style
        opt.apply_gradients(zip(grads, model.trainable_variables))
    """

    def __init__(self, params=None, learning_rate=None, *, initial_accumulator_value=0.1,
                 epsilon=1e-7, lr_decay=0.0, rule="keras", weight_decay=None,
                 decoupled_weight_decay=True, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, **aliases):
        epsilon = self._alias(aliases, "eps", "epsilon", epsilon, 1e-7)
        owner = type(self).__name__
        self.initial_accumulator_value = check_number(
            owner, "initial_accumulator_value", initial_accumulator_value, minimum=0)
        self.epsilon = check_number(owner, "epsilon", epsilon, minimum=0)
        self.lr_decay = check_number(owner, "lr_decay", lr_decay, minimum=0)
        self.rule = check_choice(owner, "rule", rule, ("keras", "pytorch"))
        self._per_parameter_steps = self.rule == "pytorch"
        super().__init__(params, learning_rate, weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name,
                         **aliases)

    def _slot_names(self, hp):
        return ("sum",) if self.rule == "pytorch" else ("accumulator",)

    def _init_slot(self, name, arr, xp, hp):
        return xp.full_like(arr, hp.initial_accumulator_value)

    def _coefficients(self, lr, step, hp):
        lr = lr / (1.0 + (step - 1) * hp.lr_decay) if hp.lr_decay else lr
        return (lr, hp.epsilon, self.rule == "pytorch")

    def _kernel(self, c, p, g, slots, scratch):
        lr, eps, pytorch = c
        xp = get_array_module(p)
        a = slots[0]
        s = scratch[0]
        xp.multiply(g, g, out=s)            # s = g^2
        xp.add(a, s, out=a)                 # a <- a + g^2
        root_plus_epsilon(xp, a, eps, pytorch, s)  # d = sqrt(a) + eps or sqrt(a + eps)
        xp.divide(g, s, out=s)              # s = g / d
        xp.multiply(s, lr, out=s)           # s = lr g / d
        xp.subtract(p, s, out=p)            # p <- p - s

    def get_config(self):
        config = super().get_config()
        config.update(initial_accumulator_value=self.initial_accumulator_value,
                      epsilon=self.epsilon)
        if self.lr_decay:
            config["lr_decay"] = self.lr_decay
        if self.rule != "keras":
            config["rule"] = self.rule
        return config
