"""Adam and AdamW: adaptive moment estimation, with decoupled weight decay for AdamW."""

from __future__ import annotations

import math

from gradkit.backend import get_array_module
from gradkit.optimizers.base import Optimizer, moving_average
from gradkit.utils.validation import check_choice, check_number

_BETAS_DEFAULT = (0.9, 0.999)
_SLOTS = {"keras": ("momentum", "velocity", "velocity_hat"),
          "pytorch": ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")}


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2014) with Keras 3's rule and defaults, optional AMSGrad.

    Update at step ``t = iterations + 1`` for a parameter ``p`` with gradient ``g``
    (``m``, ``v`` and ``v_max`` start at 0)::

        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        m <- beta_1 * m + (1 - beta_1) * g
        v <- beta_2 * v + (1 - beta_2) * g^2
        v_max <- max(v_max, v);  v <- v_max                 (amsgrad only)
        p <- p - alpha * m / (sqrt(v) + epsilon)

    Keras's ``epsilon`` is the paper's "epsilon hat" (added to ``sqrt(v)`` before bias
    correction); PyTorch adds ``eps`` after (``sqrt(v) / sqrt(1 - beta_2^t) + eps``) and
    defaults to ``eps=1e-8``: the two agree exactly for ``epsilon=0`` and differ by a
    factor ``sqrt(1 - beta_2^t)`` on epsilon otherwise.

    ``rule="pytorch"`` puts ``epsilon`` where PyTorch does, after the bias
    correction: ``p <- p - lr / (1 - beta_1^t) * m / (sqrt(v / (1 - beta_2^t)) + eps)``,
    i.e. the rule above with ``epsilon * sqrt(1 - beta_2^t)``; ``t`` then counts the
    parameter's own updates (PyTorch's ``state["step"]``) and the state is named
    ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``.

    ``weight_decay`` is decoupled (Keras's ``p <- p * (1 - lr * wd)``, i.e. AdamW) unless
    ``decoupled_weight_decay=False``, which gives PyTorch ``Adam``'s L2 penalty
    ``g <- g + wd * p``.

    Args:
        params: parameters (PyTorch style) or the learning rate (Keras style), optional.
        learning_rate: float, schedule or callable; default 0.001. Alias ``lr``.
        beta_1, beta_2: decay rates of the moment estimates, in [0, 1); defaults 0.9,
            0.999. Alias ``betas=(beta_1, beta_2)``.
        epsilon: >= 0, default 1e-7. Alias ``eps``.
        amsgrad: use the AMSGrad variant (Reddi et al., 2018).
        rule: ``"keras"`` (default) or ``"pytorch"`` (epsilon placement, see above).
        weight_decay, decoupled_weight_decay, clipnorm, clipvalue, global_clipnorm, name:
            see :class:`~gradkit.optimizers.base.Optimizer`.

    Example::

        opt = Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99))  # PyTorch style
        loss.backward(); opt.step(); opt.zero_grad()

        opt = Adam(learning_rate=1e-3, beta_2=0.99)                 # Keras style
        opt.apply_gradients(zip(grads, model.trainable_variables))
    """

    def __init__(self, params=None, learning_rate=None, *, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, rule="keras", weight_decay=None,
                 decoupled_weight_decay=True, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, **aliases):
        self.beta_1, self.beta_2, self.epsilon = _moment_hyperparameters(
            self, aliases, beta_1, beta_2, epsilon)
        self.amsgrad = bool(amsgrad)
        self.rule = check_choice(type(self).__name__, "rule", rule, ("keras", "pytorch"))
        self._per_parameter_steps = self.rule == "pytorch"
        super().__init__(params, learning_rate, weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name,
                         **aliases)

    def _slot_names(self, hp):
        names = _SLOTS[self.rule]
        return names if hp.amsgrad else names[:2]

    def _coefficients(self, lr, step, hp):
        b1, b2 = hp.beta_1, hp.beta_2
        root_bc2 = math.sqrt(1.0 - b2 ** step)                 # sqrt(1 - beta_2^t)
        alpha = lr * root_bc2 / (1.0 - b1 ** step)
        eps = hp.epsilon * root_bc2 if self.rule == "pytorch" else hp.epsilon
        return (alpha, b1, 1.0 - b1, b2, 1.0 - b2, eps, hp.amsgrad)

    def _fused_source(self):
        if self.amsgrad or self.rule == "pytorch":  # per-group switches: the composed update
            return None
        return ("T g, float64 alpha, float64 b1, float64 omb1, float64 b2, float64 omb2, "
                "float64 eps, bool amsgrad", "T p, T m, T v",
                "m = b1 * m + omb1 * g;"                    # m <- beta_1 m + (1 - beta_1) g
                "v = b2 * v + omb2 * g * g;"                # v <- beta_2 v + (1 - beta_2) g^2
                "p = p - alpha * m / (sqrt((double)v) + eps);")  # p <- p - alpha m / (...)

    def _kernel(self, c, p, g, slots, scratch):
        alpha, b1, one_m_b1, b2, one_m_b2, eps, amsgrad = c
        xp = get_array_module(p)
        m, v = slots[0], slots[1]
        s = scratch[0]
        moving_average(xp, m, g, b1, one_m_b1, s)   # m <- beta_1 m + (1 - beta_1) g
        xp.multiply(g, g, out=s)                    # s = g^2
        moving_average(xp, v, s, b2, one_m_b2, s)   # v <- beta_2 v + (1 - beta_2) g^2
        if amsgrad:
            v = slots[2]
            xp.maximum(v, slots[1], out=v)  # v_max <- max(v_max, v)
        xp.sqrt(v, out=s)                   # s = sqrt(v)
        xp.add(s, eps, out=s)               # s = sqrt(v) + eps
        xp.divide(m, s, out=s)              # s = m / (sqrt(v) + eps)
        xp.multiply(s, alpha, out=s)        # s = alpha m / (sqrt(v) + eps)
        xp.subtract(p, s, out=p)            # p <- p - s

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
                      amsgrad=self.amsgrad)
        if self.rule != "keras":
            config["rule"] = self.rule
        return config


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), Keras 3's defaults.

    Update at step ``t`` (see :class:`Adam` for ``alpha``, ``m``, ``v``)::

        p <- p * (1 - lr * weight_decay)                    decoupled decay, first
        m <- beta_1 * m + (1 - beta_1) * g
        v <- beta_2 * v + (1 - beta_2) * g^2
        p <- p - alpha * m / (sqrt(v) + epsilon)

    The default ``weight_decay`` is Keras's 0.004 (PyTorch's ``AdamW`` uses 0.01);
    PyTorch's decay step ``p.mul_(1 - lr * wd)`` is the same as Keras's.

    Args:
        params: parameters (PyTorch style) or the learning rate (Keras style), optional.
        learning_rate: default 0.001. Alias ``lr``.
        weight_decay: >= 0, default 0.004.
        beta_1, beta_2, epsilon, amsgrad, rule, clipnorm, clipvalue, global_clipnorm,
            name: as for :class:`Adam`.

    Example::

        opt = AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)  # PyTorch style
        opt = AdamW(learning_rate=1e-3, weight_decay=0.004)           # Keras style
    """

    def __init__(self, params=None, learning_rate=None, *, weight_decay=0.004, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-7, amsgrad=False, rule="keras", clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name=None, **aliases):
        if aliases.get("decoupled_weight_decay", True) is not True:
            raise ValueError("AdamW: weight decay is always decoupled; use Adam("
                             "decoupled_weight_decay=False) for an L2 penalty")
        aliases.pop("decoupled_weight_decay", None)
        weight_decay = check_number(type(self).__name__, "weight_decay", weight_decay, minimum=0)
        super().__init__(params, learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, rule=rule, weight_decay=weight_decay,
                         decoupled_weight_decay=True, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **aliases)

    def get_config(self):
        config = super().get_config()
        config.pop("decoupled_weight_decay")
        return config


def _moment_hyperparameters(opt, aliases, beta_1, beta_2, epsilon):
    """Adam's and Nadam's ``(beta_1, beta_2, epsilon)``, checked; PyTorch's ``eps`` and
    ``betas`` spellings are popped from ``aliases`` and used when given."""
    epsilon = opt._alias(aliases, "eps", "epsilon", epsilon, 1e-7)
    beta_1, beta_2 = _betas(opt, aliases, beta_1, beta_2)
    owner = type(opt).__name__
    return (check_number(owner, "beta_1", beta_1, 0, 1, max_open=True),
            check_number(owner, "beta_2", beta_2, 0, 1, max_open=True),
            check_number(owner, "epsilon", epsilon, minimum=0))


def _betas(opt, aliases, beta_1, beta_2):
    """Resolve PyTorch's ``betas=(b1, b2)`` against Keras's ``beta_1``/``beta_2``."""
    if "betas" not in aliases:
        return beta_1, beta_2
    betas = aliases.pop("betas")
    name = type(opt).__name__
    if (beta_1, beta_2) != _BETAS_DEFAULT:
        raise TypeError(f"{name}: got both betas={betas!r} and beta_1/beta_2; pass one")
    try:
        b1, b2 = betas
    except TypeError:
        raise TypeError(f"{name}: betas must be a pair (beta_1, beta_2), received {betas!r}") \
            from None
    except ValueError:
        raise ValueError(f"{name}: betas must be a pair (beta_1, beta_2), received "
                         f"{betas!r}") from None
    return b1, b2
