"""``Dropout``: active in training mode only (``module.train()`` / ``fit``)."""

from __future__ import annotations

from gradkit.nn import functional as F
from gradkit.nn.module import Module, builtin
from gradkit.utils.validation import check_number


@builtin
class Dropout(Module):
    """Zero each element with probability ``p`` while training (scaling the rest by
    ``1/(1-p)``); the identity after ``eval()``.

    Example::

        drop = nn.Dropout(0.2)
    """

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p = check_number("Dropout", "p", p, 0.0, 1.0)
        self.inplace = bool(inplace)

    def forward(self, input):  # noqa: A002
        return F.dropout(input, self.p, self.training, self.inplace)

    def get_config(self):
        return {"p": self.p, "inplace": self.inplace}

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
