"""``gradkit.optim.Adagrad``: PyTorch's Adagrad on gradkit's Adagrad rule."""

from __future__ import annotations

from gradkit import optimizers
from gradkit.optim.optimizer import TorchOptimizer, check_implementation_flags

__all__ = ["Adagrad"]


class Adagrad(TorchOptimizer, optimizers.Adagrad):
    """Adagrad with PyTorch's names, defaults and rule (epsilon outside the root).

    At the parameter's step ``t`` (gradient ``g``, negated with ``maximize``)::

        g <- g + weight_decay * p                                  (L2 penalty)
        s <- s + g^2                   (s starts at initial_accumulator_value)
        p <- p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    This is :class:`gradkit.optimizers.Adagrad` with ``rule="pytorch"``; the state
    (``step``, ``sum``) is made at construction, as PyTorch does.

    Args:
        params: an iterable of Tensors, or of dicts (parameter groups).
        lr: >= 0, default 1e-2.
        lr_decay: >= 0, default 0.
        weight_decay: L2 penalty >= 0, default 0.
        initial_accumulator_value: >= 0, default 0.
        eps: >= 0, default 1e-10.
        maximize: maximize the objective instead.
        foreach, differentiable, fused: PyTorch's implementation switches; only
            their defaults are accepted.

    Example::

        opt = gradkit.optim.Adagrad(model.parameters(), lr=0.1, lr_decay=1e-3)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        check_implementation_flags(type(self).__name__, foreach=foreach,
                                   differentiable=differentiable, fused=fused)
        self._init_groups(optimizers.Adagrad, params, {
            "lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value, "maximize": maximize})
        for rec in self._order:
            self._ensure_state(rec)

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        for rec in self._order:
            if rec.slots is None:
                self._ensure_state(rec)

    @staticmethod
    def _engine_options(g):
        return {"learning_rate": g["lr"], "lr_decay": g["lr_decay"], "epsilon": g["eps"],
                "initial_accumulator_value": g["initial_accumulator_value"],
                "weight_decay": g["weight_decay"], "decoupled_weight_decay": False,
                "maximize": g["maximize"]}
