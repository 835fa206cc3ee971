"""PyTorch's ``torch.optim`` on gradkit: same names, defaults, rules and state dicts.

Optimizers: :class:`SGD`, :class:`Adam`, :class:`AdamW`, :class:`RMSprop`,
:class:`Adagrad` (each a rule of :mod:`gradkit.optimizers` run with
``rule="pytorch"``, so Keras-style and PyTorch-style training share one update
pipeline). Learning-rate schedulers are in :mod:`gradkit.optim.lr_scheduler`.

Example::

    from gradkit import optim

    opt = optim.SGD([{"params": body.parameters()},
                     {"params": head.parameters(), "lr": 1e-2}], lr=1e-3, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    for epoch in range(30):
        for x, y in loader:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        sched.step()
"""

from gradkit.optim import lr_scheduler
from gradkit.optim.adagrad import Adagrad
from gradkit.optim.adam import Adam, AdamW
from gradkit.optim.optimizer import TorchOptimizer
from gradkit.optim.rmsprop import RMSprop
from gradkit.optim.sgd import SGD

Optimizer = TorchOptimizer
"""The base of the PyTorch-style optimizers (``isinstance(opt, optim.Optimizer)``)."""

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "TorchOptimizer",
           "lr_scheduler"]
