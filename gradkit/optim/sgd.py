"""``gradkit.optim.SGD``: PyTorch's stochastic gradient descent on gradkit's SGD rule."""

from __future__ import annotations

from gradkit import optimizers
from gradkit.optim.optimizer import TorchOptimizer, check_implementation_flags

__all__ = ["SGD"]


class SGD(TorchOptimizer, optimizers.SGD):
    """Stochastic gradient descent with PyTorch's names, defaults and rule.

    For each parameter ``p`` with gradient ``g`` (negated with ``maximize``)::

        g <- g + weight_decay * p                        (L2 penalty)
        b <- g on the first step, else momentum * b + (1 - dampening) * g
        p <- p - lr * (g + momentum * b)                 (nesterov)
        p <- p - lr * b                                  (momentum > 0)
        p <- p - lr * g                                  (momentum == 0)

    This is :class:`gradkit.optimizers.SGD` with ``rule="pytorch"``; the state is
    ``momentum_buffer``, as in PyTorch.

    Args:
        params: an iterable of Tensors, or of dicts (parameter groups) with
            ``"params"`` and any of the options below.
        lr: learning rate >= 0, default 1e-3.
        momentum: in [0, 1], default 0.
        dampening: in [0, 1], default 0.
        weight_decay: L2 penalty >= 0, default 0.
        nesterov: Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: maximize the objective instead.
        foreach, differentiable, fused: PyTorch's implementation switches; only
            their defaults are accepted.

    Example::

        opt = gradkit.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    """

    _step_in_state = False

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        check_implementation_flags(type(self).__name__, foreach=foreach,
                                   differentiable=differentiable, fused=fused)
        self._init_groups(optimizers.SGD, params, {
            "lr": lr, "momentum": momentum, "dampening": dampening,
            "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize})

    @staticmethod
    def _engine_options(g):
        return {"learning_rate": g["lr"], "momentum": g["momentum"],
                "dampening": g["dampening"], "nesterov": g["nesterov"],
                "weight_decay": g["weight_decay"], "decoupled_weight_decay": False,
                "maximize": g["maximize"]}
