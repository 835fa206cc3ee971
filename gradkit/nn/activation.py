"""Activation modules: ``ReLU``, ``LeakyReLU``, ``ELU``, ``GELU``, ``SiLU``, ``Sigmoid``,
``Tanh``, ``Softplus``, ``Softmax``, ``LogSoftmax``."""

from __future__ import annotations

from gradkit.nn import functional as F
from gradkit.nn.module import Module, builtin
from gradkit.utils.validation import check_choice, check_number


class _Inplace(Module):
    """An elementwise activation with PyTorch's ``inplace`` flag (see ``F.relu``)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def get_config(self):
        return {"inplace": self.inplace}

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


@builtin
class ReLU(_Inplace):
    """``max(x, 0)``."""

    def forward(self, input):  # noqa: A002
        return F.relu(input, self.inplace)


@builtin
class SiLU(_Inplace):
    """``x * sigmoid(x)``."""

    def forward(self, input):  # noqa: A002
        return F.silu(input, self.inplace)


@builtin
class LeakyReLU(Module):
    """``x`` if ``x > 0`` else ``negative_slope * x`` (default slope 0.01)."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = check_number("LeakyReLU", "negative_slope", negative_slope)
        self.inplace = bool(inplace)

    def forward(self, input):  # noqa: A002
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def get_config(self):
        return {"negative_slope": self.negative_slope, "inplace": self.inplace}

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


@builtin
class ELU(Module):
    """``x`` if ``x > 0`` else ``alpha (e^x - 1)``."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = check_number("ELU", "alpha", alpha)
        self.inplace = bool(inplace)

    def forward(self, input):  # noqa: A002
        return F.elu(input, self.alpha, self.inplace)

    def get_config(self):
        return {"alpha": self.alpha, "inplace": self.inplace}


@builtin
class GELU(Module):
    """Gaussian error linear unit, exact or ``approximate="tanh"``."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = check_choice("GELU", "approximate", approximate, ("none", "tanh"))

    def forward(self, input):  # noqa: A002
        return F.gelu(input, self.approximate)

    def get_config(self):
        return {"approximate": self.approximate}


@builtin
class Sigmoid(Module):
    """``1 / (1 + e^-x)``."""

    def forward(self, input):  # noqa: A002
        return F.sigmoid(input)


@builtin
class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, input):  # noqa: A002
        return F.tanh(input)


@builtin
class Softplus(Module):
    """``log(1 + e^(beta x)) / beta`` (linear above ``threshold``)."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = check_number("Softplus", "beta", beta, 0, min_open=True)
        self.threshold = check_number("Softplus", "threshold", threshold)

    def forward(self, input):  # noqa: A002
        return F.softplus(input, self.beta, self.threshold)

    def get_config(self):
        return {"beta": self.beta, "threshold": self.threshold}


def _legacy_dim(ndim):
    """PyTorch's choice when ``dim`` is None: 0 for 0-, 1- and 3-D inputs, else 1."""
    return 0 if ndim in (0, 1, 3) else 1


class _SoftmaxBase(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def _dim(self, x):
        return _legacy_dim(x.ndim) if self.dim is None else self.dim

    def get_config(self):
        return {"dim": self.dim}

    def extra_repr(self):
        return f"dim={self.dim}"


@builtin
class Softmax(_SoftmaxBase):
    """Softmax along ``dim``.

    Example::

        probs = nn.Softmax(dim=1)(logits)
    """

    def forward(self, input):  # noqa: A002
        return F.softmax(input, dim=self._dim(input))


@builtin
class LogSoftmax(_SoftmaxBase):
    """Log-softmax along ``dim`` (pair with ``NLLLoss``)."""

    def forward(self, input):  # noqa: A002
        return F.log_softmax(input, dim=self._dim(input))
