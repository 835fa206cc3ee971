"""Stochastic gradient descent, with (Nesterov) momentum."""

from __future__ import annotations

from gradkit.backend import get_array_module
from gradkit.optimizers.base import Optimizer
from gradkit.utils.validation import check_number


class SGD(Optimizer):
    """Gradient descent with optional momentum and Nesterov momentum (Keras 3's rule).

    Update for a parameter ``p`` with gradient ``g`` and learning rate ``lr``::

        momentum == 0:
            p <- p - lr * g
        momentum > 0 (velocity m, starts at 0):
            m <- momentum * m - lr * g
            p <- p + m                               (nesterov=False)
            p <- p + momentum * m - lr * g           (nesterov=True)

    With a constant learning rate this is exactly PyTorch's ``SGD`` (which keeps
    ``b = -m / lr`` and steps ``p <- p - lr * b``); when a schedule changes ``lr``,
    Keras's velocity remembers the old rates and PyTorch's does not.

    Weight decay: Keras's decoupled ``p <- p * (1 - lr * wd)`` by default;
    ``decoupled_weight_decay=False`` gives PyTorch's ``g <- g + wd * p``. Without
    momentum the two are the same update; with momentum they differ (PyTorch's
    decay term enters the velocity).

    Args:
        params: parameters (PyTorch style) or the learning rate (Keras style), optional.
        learning_rate: float, schedule or callable; default 0.01 (Keras). Alias ``lr``.
        momentum: float in [0, 1], default 0.
        nesterov: use Nesterov momentum, default False.
        weight_decay, decoupled_weight_decay, clipnorm, clipvalue, global_clipnorm, name:
            see :class:`~gradkit.optimizers.base.Optimizer`.

    Example::

        opt = SGD(model.parameters(), lr=0.1, momentum=0.9)        # PyTorch style
        loss.backward(); opt.step(); opt.zero_grad()

        opt = SGD(learning_rate=0.1, momentum=0.9)                  # Keras style
        opt.apply_gradients(zip(grads, model.trainable_variables))
    """

    _default_learning_rate = 0.01

    def __init__(self, params=None, learning_rate=None, *, momentum=0.0, nesterov=False,
                 weight_decay=None, decoupled_weight_decay=True, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name=None, **aliases):
        owner = type(self).__name__
        self.momentum = check_number(owner, "momentum", momentum, 0, 1)
        self.nesterov = bool(nesterov)
        super().__init__(params, learning_rate, weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name,
                         **aliases)

    def _slot_names(self):
        return ("momentum",) if self.momentum != 0 else ()

    def _coefficients(self, lr, step):
        return (lr, self.momentum)

    def _fused_source(self):
        if not self._slot_names():
            return "T g, float64 lr, float64 mu", "T p", "p = p - lr * g;"  # p <- p - lr g
        step = "p = p - lr * g + mu * m;" if self.nesterov else "p = p + m;"
        return "T g, float64 lr, float64 mu", "T p, T m", "m = mu * m - lr * g;" + step

    def _kernel(self, c, p, g, slots, scratch):
        lr, mu = c
        xp = get_array_module(p)
        s = scratch[0]
        xp.multiply(g, lr, out=s)           # s = lr g
        if not slots:
            xp.subtract(p, s, out=p)        # p <- p - lr g
            return
        m = slots[0]
        xp.multiply(m, mu, out=m)           # m <- mu m
        xp.subtract(m, s, out=m)            # m <- mu m - lr g
        if self.nesterov:
            xp.subtract(p, s, out=p)        # p <- p - lr g
            xp.multiply(m, mu, out=s)       # s = mu m
            xp.add(p, s, out=p)             # p <- p + mu m - lr g
        else:
            xp.add(p, m, out=p)             # p <- p + m

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, nesterov=self.nesterov)
        return config
