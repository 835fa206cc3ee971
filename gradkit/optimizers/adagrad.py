"""Adagrad: per-coordinate steps shrinking with the sum of squared gradients."""

from __future__ import annotations

from gradkit.backend import get_array_module
from gradkit.optimizers.base import Optimizer
from gradkit.utils.validation import check_number


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011) with Keras 3's rule and defaults.

    Update for a parameter ``p`` with gradient ``g`` (accumulator ``a`` starts at
    ``initial_accumulator_value``)::

        a <- a + g * g
        p <- p - lr * g / sqrt(a + epsilon)

    Keras puts ``epsilon`` inside the square root; PyTorch's ``Adagrad`` adds it
    outside (``g / (sqrt(a) + eps)``) and defaults to ``initial_accumulator_value=0``,
    ``eps=1e-10``, ``lr=0.01``. With ``epsilon=0`` (and the same initial value)
    the two agree. PyTorch's ``lr_decay`` is not supported (use a schedule).

    Args:
        params: parameters (PyTorch style) or the learning rate (Keras style), optional.
        learning_rate: float, schedule or callable; default 0.001. Alias ``lr``.
        initial_accumulator_value: starting value of the accumulator (>= 0), default 0.1.
        epsilon: added under the square root (>= 0), default 1e-7. Alias ``eps``.
        weight_decay, decoupled_weight_decay, clipnorm, clipvalue, global_clipnorm, name:
            see :class:`~gradkit.optimizers.base.Optimizer`.

    Example::

        opt = Adagrad(model.parameters(), lr=0.01)                  # PyTorch style
        opt = Adagrad(learning_rate=0.01)                           # Keras style
        opt.apply_gradients(zip(grads, model.trainable_variables))
    """

    def __init__(self, params=None, learning_rate=None, *, initial_accumulator_value=0.1,
                 epsilon=1e-7, weight_decay=None, decoupled_weight_decay=True,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **aliases):
        epsilon = self._alias(aliases, "eps", "epsilon", epsilon, 1e-7)
        owner = type(self).__name__
        self.initial_accumulator_value = check_number(
            owner, "initial_accumulator_value", initial_accumulator_value, minimum=0)
        self.epsilon = check_number(owner, "epsilon", epsilon, minimum=0)
        super().__init__(params, learning_rate, weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name,
                         **aliases)

    def _slot_names(self):
        return ("accumulator",)

    def _init_slot(self, name, arr, xp):
        return xp.full_like(arr, self.initial_accumulator_value)

    def _coefficients(self, lr, step):
        return (lr, self.epsilon)

    def _kernel(self, c, p, g, slots, scratch):
        lr, eps = c
        xp = get_array_module(p)
        a = slots[0]
        s = scratch[0]
        xp.multiply(g, g, out=s)            # s = g^2
        xp.add(a, s, out=a)                 # a <- a + g^2
        xp.add(a, eps, out=s)               # s = a + eps
        xp.sqrt(s, out=s)                   # s = sqrt(a + eps)
        xp.divide(g, s, out=s)              # s = g / sqrt(a + eps)
        xp.multiply(s, lr, out=s)           # s = lr g / sqrt(a + eps)
        xp.subtract(p, s, out=p)            # p <- p - s

    def get_config(self):
        config = super().get_config()
        config.update(initial_accumulator_value=self.initial_accumulator_value,
                      epsilon=self.epsilon)
        return config
