"""``gradkit.optim.RMSprop``: PyTorch's RMSprop on gradkit's RMSprop rule."""

from __future__ import annotations

from gradkit import optimizers
from gradkit.optim.optimizer import TorchOptimizer, check_implementation_flags

__all__ = ["RMSprop"]


class RMSprop(TorchOptimizer, optimizers.RMSprop):
    """RMSprop with PyTorch's names, defaults and rule (epsilon outside the root).

    For each parameter (gradient ``g``, negated with ``maximize``)::

        g <- g + weight_decay * p                                   (L2 penalty)
        v <- alpha * v + (1 - alpha) * g^2
        mg <- alpha * mg + (1 - alpha) * g                          (centered)
        d = sqrt(v) + eps          (centered: sqrt(v - mg^2) + eps)
        b <- momentum * b + g / d;  p <- p - lr * b                 (momentum > 0)
        p <- p - lr * g / d                                         (momentum == 0)

    This is :class:`gradkit.optimizers.RMSprop` with ``rule="pytorch"``; the state
    is ``step``, ``square_avg`` (and ``momentum_buffer``, ``grad_avg``).

    Args:
        params: an iterable of Tensors, or of dicts (parameter groups).
        lr: >= 0, default 1e-2.
        alpha: smoothing constant in [0, 1), default 0.99.
        eps: >= 0, default 1e-8.
        weight_decay: L2 penalty >= 0, default 0.
        momentum: in [0, 1], default 0.
        centered: normalise by the gradient's estimated variance.
        maximize: maximize the objective instead.
        capturable, foreach, differentiable: PyTorch's implementation switches;
            only their defaults are accepted.

    Example::

        opt = gradkit.optim.RMSprop(model.parameters(), lr=1e-3, momentum=0.9)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        check_implementation_flags(type(self).__name__, capturable=capturable,
                                   foreach=foreach, differentiable=differentiable)
        self._init_groups(optimizers.RMSprop, params, {
            "lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
            "momentum": momentum, "centered": centered, "maximize": maximize})

    @staticmethod
    def _engine_options(g):
        return {"learning_rate": g["lr"], "rho": g["alpha"], "epsilon": g["eps"],
                "momentum": g["momentum"], "centered": g["centered"],
                "weight_decay": g["weight_decay"], "decoupled_weight_decay": False,
                "maximize": g["maximize"]}
