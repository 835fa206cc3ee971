"""Stochastic gradient descent, with (Nesterov) momentum."""

from __future__ import annotations

from gradkit.backend import get_array_module
from gradkit.optimizers.base import Optimizer
from gradkit.utils.validation import check_choice, check_number


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

    ``rule="pytorch"`` runs PyTorch's ``SGD`` rule instead, whose buffer holds
    gradients and whose learning rate is applied at the step (so a changing
    learning rate does not linger in it), with ``dampening``::

        b <- g                                   (first update of the parameter)
        b <- momentum * b + (1 - dampening) * g  (later updates)
        p <- p - lr * (g + momentum * b)         (nesterov=True)
        p <- p - lr * b                          (nesterov=False)

    Its state is named ``momentum_buffer``, Keras's ``momentum``.

    Weight decay: Keras's decoupled ``p <- p * (1 - lr * wd)`` by default;
    ``decoupled_weight_decay=False`` gives PyTorch's ``g <- g + wd * p``. Without
    momentum the two are the same update; with momentum they differ (PyTorch's
    decay term enters the velocity).

    Args:
        params: parameters (PyTorch style) or the learning rate (Keras style), optional.
        learning_rate: float, schedule or callable; default 0.01 (Keras). Alias ``lr``.
        momentum: float in [0, 1], default 0.
        nesterov: use Nesterov momentum, default False.
        dampening: PyTorch's dampening of the gradient in the buffer, in [0, 1],
            default 0; needs ``rule="pytorch"``.
        rule: ``"keras"`` (default) or ``"pytorch"``, the update written above.
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
                 dampening=0.0, rule="keras", weight_decay=None, decoupled_weight_decay=True,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **aliases):
        owner = type(self).__name__
        self.rule = check_choice(owner, "rule", rule, ("keras", "pytorch"))
        self._per_parameter_steps = self.rule == "pytorch"
        self.momentum = check_number(owner, "momentum", momentum, 0, 1)
        self.nesterov = bool(nesterov)
        self.dampening = check_number(owner, "dampening", dampening, 0, 1)
        if self.dampening and self.rule != "pytorch":
            raise NotImplementedError(f"{owner}: dampening={dampening} is PyTorch's rule; pass "
                                      "rule='pytorch' with it (Keras's SGD has no dampening)")
        if self.nesterov and self.rule == "pytorch" and (not self.momentum or self.dampening):
            raise ValueError(f"{owner}: Nesterov momentum needs momentum > 0 and dampening 0, "
                             f"received momentum={momentum}, dampening={dampening}")
        super().__init__(params, learning_rate, weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name,
                         **aliases)

    def _slot_names(self, hp):
        if hp.momentum == 0:
            return ()
        return ("momentum_buffer",) if self.rule == "pytorch" else ("momentum",)

    def _coefficients(self, lr, step, hp):
        if self.rule == "pytorch":       # a fresh buffer takes the gradient undamped
            return (lr, hp.momentum, 1.0 if step == 1 else 1.0 - hp.dampening, hp.nesterov)
        return (lr, hp.momentum, hp.nesterov)

    def _fused_source(self):
        if self.rule == "pytorch":  # PyTorch's buffer and dampening: the composed update
            return None
        # the coefficients are (lr, mu, nesterov); the switch is fixed per kernel
        params = "T g, float64 lr, float64 mu, bool nesterov"
        if not self.momentum:
            return params, "T p", "p = p - lr * g;"  # p <- p - lr g
        step = "p = p - lr * g + mu * m;" if self.nesterov else "p = p + m;"
        return params, "T p, T m", "m = mu * m - lr * g;" + step

    def _kernel(self, c, p, g, slots, scratch):
        if self.rule == "pytorch":
            return self._kernel_pytorch(c, p, g, slots, scratch)
        lr, mu, nesterov = c
        xp = get_array_module(p)
        s = scratch[0]
        xp.multiply(g, lr, out=s)           # s = lr g
        if not slots:
            xp.subtract(p, s, out=p)        # p <- p - lr g
            return
        m = slots[0]
        xp.multiply(m, mu, out=m)           # m <- mu m
        xp.subtract(m, s, out=m)            # m <- mu m - lr g
        if nesterov:
            xp.subtract(p, s, out=p)        # p <- p - lr g
            xp.multiply(m, mu, out=s)       # s = mu m
            xp.add(p, s, out=p)             # p <- p + mu m - lr g
        else:
            xp.add(p, m, out=p)             # p <- p + m

    @staticmethod
    def _kernel_pytorch(c, p, g, slots, scratch):
        lr, mu, one_m_d, nesterov = c
        xp = get_array_module(p)
        s = scratch[0]
        if not slots:
            xp.multiply(g, lr, out=s)       # s = lr g
            xp.subtract(p, s, out=p)        # p <- p - lr g
            return
        b = slots[0]
        xp.multiply(b, mu, out=b)           # b <- mu b
        xp.multiply(g, one_m_d, out=s)      # s = (1 - dampening) g
        xp.add(b, s, out=b)                 # b <- mu b + (1 - dampening) g
        if nesterov:
            xp.multiply(b, mu, out=s)       # s = mu b
            xp.add(s, g, out=s)             # s = g + mu b
            xp.multiply(s, lr, out=s)       # s = lr (g + mu b)
        else:
            xp.multiply(b, lr, out=s)       # s = lr b
        xp.subtract(p, s, out=p)            # p <- p - s

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, nesterov=self.nesterov)
        if self.rule != "keras":
            config.update(dampening=self.dampening, rule=self.rule)
        return config
