"""Nadam: Adam with Nesterov momentum (Dozat, 2016)."""

from __future__ import annotations

from gradkit.backend import get_array_module
from gradkit.optimizers.adam import _moment_hyperparameters
from gradkit.optimizers.base import Optimizer, moving_average


class Nadam(Optimizer):
    """Nadam with Keras 3's rule (momentum schedule ``0.96 ** t``) and defaults.

    Update at step ``t = iterations + 1`` for a parameter ``p`` with gradient ``g``
    (``m``, ``v`` start at 0, the product ``P`` at 1 and is shared by all parameters)::

        u_t = beta_1 * (1 - 0.5 * 0.96^t);  u_t1 = beta_1 * (1 - 0.5 * 0.96^(t + 1))
        P <- P * u_t                                         (once per step)
        m <- beta_1 * m + (1 - beta_1) * g
        v <- beta_2 * v + (1 - beta_2) * g^2
        m_hat = u_t1 * m / (1 - P * u_t1) + (1 - u_t) * g / (1 - P)
        v_hat = v / (1 - beta_2^t)
        p <- p - lr * m_hat / (sqrt(v_hat) + epsilon)

    PyTorch's ``NAdam`` is the same rule with ``0.96^(t * momentum_decay)``
    (``momentum_decay=0.004`` by default): ``NAdam(..., momentum_decay=1.0)`` equals
    this optimizer (``eps`` is placed alike, outside the square root).

    Args:
        params: parameters (PyTorch style) or the learning rate (Keras style), optional.
        learning_rate: float, schedule or callable; default 0.001. Alias ``lr``.
        beta_1, beta_2: in [0, 1), defaults 0.9, 0.999. Alias ``betas``.
        epsilon: >= 0, default 1e-7. Alias ``eps``.
        weight_decay, decoupled_weight_decay, clipnorm, clipvalue, global_clipnorm, name:
            see :class:`~gradkit.optimizers.base.Optimizer`.

    Example::

        opt = Nadam(model.parameters(), lr=2e-3)                    # PyTorch style
        opt = Nadam(learning_rate=2e-3)                             # Keras style
        opt.apply_gradients(zip(grads, model.trainable_variables))
    """

    _scratch_count = 2

    def __init__(self, params=None, learning_rate=None, *, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, weight_decay=None, decoupled_weight_decay=True, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name=None, **aliases):
        self.beta_1, self.beta_2, self.epsilon = _moment_hyperparameters(
            self, aliases, beta_1, beta_2, epsilon)
        self._u_product = 1.0
        super().__init__(params, learning_rate, weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name,
                         **aliases)

    def _slot_names(self, hp):
        return ("momentum", "velocity")

    def _extra_state(self):
        return {"u_product": self._u_product}

    def _set_extra_state(self, extra):
        self._u_product = float(extra.get("u_product", 1.0))

    def _u(self, step):
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** step)

    def _begin_step(self, step):
        self._u_product *= self._u(step)                   # P <- P u_t

    def _coefficients(self, lr, step, hp):
        u_t, u_t1 = self._u(step), self._u(step + 1)
        prod = self._u_product
        c_m = lr * u_t1 / (1.0 - prod * u_t1)              # lr u_t1 / (1 - P u_t1)
        c_g = lr * (1.0 - u_t) / (1.0 - prod)              # lr (1 - u_t) / (1 - P)
        inv_bc2 = 1.0 / (1.0 - self.beta_2 ** step)        # 1 / (1 - beta_2^t)
        b1, b2 = self.beta_1, self.beta_2
        return (c_m, c_g, inv_bc2, b1, 1.0 - b1, b2, 1.0 - b2, self.epsilon)

    def _kernel(self, c, p, g, slots, scratch):
        c_m, c_g, inv_bc2, b1, one_m_b1, b2, one_m_b2, eps = c
        xp = get_array_module(p)
        m, v = slots
        s, d = scratch
        moving_average(xp, m, g, b1, one_m_b1, s)   # m <- beta_1 m + (1 - beta_1) g
        xp.multiply(g, g, out=s)                    # s = g^2
        moving_average(xp, v, s, b2, one_m_b2, s)   # v <- beta_2 v + (1 - beta_2) g^2
        xp.multiply(v, inv_bc2, out=d)      # d = v_hat
        xp.sqrt(d, out=d)                   # d = sqrt(v_hat)
        xp.add(d, eps, out=d)               # d = sqrt(v_hat) + eps
        xp.divide(g, d, out=s)              # s = g / d
        xp.multiply(s, c_g, out=s)          # s = lr (1 - u_t) g / ((1 - P) d)
        xp.subtract(p, s, out=p)            # p <- p - s
        xp.divide(m, d, out=s)              # s = m / d
        xp.multiply(s, c_m, out=s)          # s = lr u_t1 m / ((1 - P u_t1) d)
        xp.subtract(p, s, out=p)            # p <- p - s

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        return config
