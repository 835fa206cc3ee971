"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from gradkit.backend import get_array_module
from gradkit.optimizers.base import Optimizer, moving_average, root_plus_epsilon
from gradkit.utils.validation import check_choice, check_number


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012) with Keras 3's rule and defaults.

    Update for a parameter ``p`` with gradient ``g`` (after the clipping and weight
    decay every optimizer applies, see :class:`~gradkit.optimizers.base.Optimizer`)::

        v <- rho * v + (1 - rho) * g^2                     mean square
        mg <- rho * mg + (1 - rho) * g                     mean gradient (centered only)
        d = v + epsilon              (centered: d = v - mg^2 + epsilon)
        step = lr * g / sqrt(d)
        mom <- momentum * mom + step;  p <- p - mom        (momentum > 0)
        p <- p - step                                      (momentum == 0)

    State per parameter (``_slot_names``), zeros made on the parameter's first update:
    ``velocity`` (``v``), ``momentum`` (``mom``, when momentum > 0) and
    ``average_gradient`` (``mg``, when centered); ``state_dict()`` saves them by
    these names. The hyper-parameters are checked before anything else is done.

    Keras 3 puts ``epsilon`` *inside* the square root (``keras/src/optimizers/
    rmsprop.py``: ``denominator = velocity + epsilon``, ``lr * g / sqrt(denominator)``);
    PyTorch's ``RMSprop`` adds ``eps`` outside (``g / (sqrt(v) + eps)``), names
    ``rho`` ``alpha`` and defaults to ``lr=0.01, alpha=0.99, eps=1e-8``. With
    ``epsilon=0`` and a constant learning rate the two give the same updates.

    ``rule="pytorch"`` runs PyTorch's rule: ``epsilon`` outside the square root and
    a momentum buffer of normalised gradients, the learning rate applied at the step::

        d = sqrt(v) + epsilon        (centered: d = sqrt(v - mg^2) + epsilon)
        buf <- momentum * buf + g / d;  p <- p - lr * buf  (momentum > 0)
        p <- p - lr * g / d                                (momentum == 0)

    with the state named ``square_avg``, ``momentum_buffer``, ``grad_avg``.

    Args:
        params: parameters (PyTorch style) or the learning rate (Keras style), optional.
        learning_rate: float, schedule or callable; default 0.001. Alias ``lr``.
        rho: decay of the moving averages, in [0, 1), default 0.9. Alias ``alpha``.
        momentum: in [0, 1], default 0.
        epsilon: added under the square root (>= 0), default 1e-7. Alias ``eps``.
        centered: normalise by the estimated variance instead of the second moment.
        rule: ``"keras"`` (default) or ``"pytorch"``, see above.
        weight_decay, decoupled_weight_decay, clipnorm, clipvalue, global_clipnorm, name:
            see :class:`~gradkit.optimizers.base.Optimizer`.

    Example::

        opt = RMSprop(model.parameters(), lr=1e-3, alpha=0.9)      # PyTorch style
        opt = RMSprop(learning_rate=1e-3, rho=0.9)                  # Keras style
        opt.apply_gradients(zip(grads, model.trainable_variables))
    """

    def __init__(self, params=None, learning_rate=None, *, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, rule="keras", weight_decay=None, decoupled_weight_decay=True,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **aliases):
        epsilon = self._alias(aliases, "eps", "epsilon", epsilon, 1e-7)
        rho = self._alias(aliases, "alpha", "rho", rho, 0.9)
        owner = type(self).__name__        # validate first, as torch.optim does
        self.rho = check_number(owner, "rho", rho, 0, 1, max_open=True)
        self.momentum = check_number(owner, "momentum", momentum, 0, 1)
        self.epsilon = check_number(owner, "epsilon", epsilon, minimum=0)
        self.centered = bool(centered)
        self.rule = check_choice(owner, "rule", rule, ("keras", "pytorch"))
        self._per_parameter_steps = self.rule == "pytorch"
        super().__init__(params, learning_rate, weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name,
                         **aliases)

    def _slot_names(self, hp):
        """The state arrays, in the order ``_kernel`` receives them."""
        keras = self.rule == "keras"
        names = ["velocity" if keras else "square_avg"]
        if hp.momentum > 0:
            names.append("momentum" if keras else "momentum_buffer")
        if hp.centered:
            names.append("average_gradient" if keras else "grad_avg")
        return tuple(names)

    def _coefficients(self, lr, step, hp):
        """This step's Python floats and switches (``lr`` already read from a schedule)."""
        return (lr, hp.rho, 1.0 - hp.rho, hp.epsilon, hp.momentum, hp.centered,
                self.rule == "pytorch")

    def _kernel(self, c, p, g, slots, scratch):
        """The rule above, in place on ``p`` and its state (or on equal chunks of them)."""
        lr, rho, one_m_rho, eps, mu, centered, pytorch = c
        xp = get_array_module(p)
        v = slots[0]
        s = scratch[0]
        xp.multiply(g, g, out=s)            # s = g^2
        moving_average(xp, v, s, rho, one_m_rho, s)  # v <- rho v + (1 - rho) g^2
        if centered:
            mg = slots[-1]
            moving_average(xp, mg, g, rho, one_m_rho, s)  # mg <- rho mg + (1 - rho) g
            xp.multiply(mg, mg, out=s)      # s = mg^2
            xp.subtract(v, s, out=s)        # s = v - mg^2 (called v below)
        root_plus_epsilon(xp, s if centered else v, eps, pytorch, s)  # s = d (see above)
        xp.divide(g, s, out=s)              # s = g / d
        if mu > 0:
            mom = slots[1]
            xp.multiply(mom, mu, out=mom)   # mom <- momentum mom
            if pytorch:
                xp.add(mom, s, out=mom)     # buf <- momentum buf + g / d
                xp.multiply(mom, lr, out=s)  # s = lr buf
                xp.subtract(p, s, out=p)    # p <- p - lr buf
                return
            xp.multiply(s, lr, out=s)       # s = lr g / d
            xp.add(mom, s, out=mom)         # mom <- momentum mom + lr g / d
            xp.subtract(p, mom, out=p)      # p <- p - mom
        else:
            xp.multiply(s, lr, out=s)       # s = lr g / d
            xp.subtract(p, s, out=p)        # p <- p - lr g / d

    def get_config(self):
        config = super().get_config()
        config.update(rho=self.rho, momentum=self.momentum, epsilon=self.epsilon,
                      centered=self.centered)
        if self.rule != "keras":
            config["rule"] = self.rule
        return config
