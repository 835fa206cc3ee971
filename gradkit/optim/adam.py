"""``gradkit.optim.Adam`` and ``AdamW``: PyTorch's Adam on gradkit's Adam rule."""

from __future__ import annotations

from gradkit import optimizers
from gradkit.optim.optimizer import TorchOptimizer, check_implementation_flags

__all__ = ["Adam", "AdamW"]


class Adam(TorchOptimizer, optimizers.Adam):
    """Adam with PyTorch's names, defaults and rule (epsilon after bias correction).

    At the parameter's step ``t`` (gradient ``g``, negated with ``maximize``)::

        g <- g + weight_decay * p        (L2; decoupled_weight_decay: p <- p (1 - lr wd))
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        v_max <- max(v_max, v); v <- v_max                         (amsgrad)
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)

    This is :class:`gradkit.optimizers.Adam` with ``rule="pytorch"``; the state is
    ``step``, ``exp_avg``, ``exp_avg_sq`` (and ``max_exp_avg_sq``), as in PyTorch.

    Args:
        params: an iterable of Tensors, or of dicts (parameter groups).
        lr: learning rate >= 0, default 1e-3.
        betas: ``(beta1, beta2)``, each in [0, 1), default (0.9, 0.999).
        eps: >= 0, default 1e-8.
        weight_decay: >= 0, default 0: an L2 penalty added to the gradient.
        amsgrad: use AMSGrad.
        maximize: maximize the objective instead.
        decoupled_weight_decay: decay the weights directly (AdamW) instead.
        foreach, capturable, differentiable, fused: PyTorch's implementation
            switches; only their defaults are accepted.

    Example::

        opt = gradkit.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        check_implementation_flags(type(self).__name__, foreach=foreach, capturable=capturable,
                                   differentiable=differentiable, fused=fused)
        self._init_groups(optimizers.Adam, params, {
            "lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
            "amsgrad": amsgrad, "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay})

    @staticmethod
    def _engine_options(g):
        b1, b2 = g["betas"]
        return {"learning_rate": g["lr"], "beta_1": b1, "beta_2": b2, "epsilon": g["eps"],
                "amsgrad": g["amsgrad"], "weight_decay": g["weight_decay"],
                "decoupled_weight_decay": g["decoupled_weight_decay"],
                "maximize": g["maximize"]}


class AdamW(Adam):
    """Adam with decoupled weight decay, PyTorch's ``AdamW`` (default weight_decay 0.01).

    ``p <- p * (1 - lr * weight_decay)`` before the Adam step of :class:`Adam`;
    the groups keep ``decoupled_weight_decay=True``.

    Args:
        params, lr, betas, eps, amsgrad, maximize, foreach, capturable,
            differentiable, fused: as for :class:`Adam`.
        weight_decay: >= 0, default 1e-2.

    Example::

        opt = gradkit.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
