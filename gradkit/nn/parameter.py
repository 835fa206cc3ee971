"""``Parameter``: a tensor that, assigned to a Module attribute, becomes its weight."""

from __future__ import annotations

import numpy as np

from gradkit.tensor import Variable


class Parameter(Variable):
    """A trainable weight, PyTorch's way of declaring one.

    ``self.w = Parameter(gradkit.randn(3, 4))`` in a Module's ``__init__`` registers
    ``w`` under its attribute name: it is in ``parameters()``, ``state_dict()``
    and the model file. (Any :class:`~gradkit.Variable` assigned to a layer
    attribute is tracked the same way; ``Parameter`` is the PyTorch spelling.)

    Args:
        data: the initial value (copied); None gives an empty float32 tensor.
        requires_grad: trainable (True) or a constant weight.

    Example::

        class Scale(nn.Module):
            def __init__(self, n):
                super().__init__()
                self.s = nn.Parameter(gradkit.ones(n))

            def forward(self, x):
                return x * self.s
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.zeros((0,), np.float32)
        super().__init__(data, trainable=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super(Variable, self).__repr__()
