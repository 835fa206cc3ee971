"""``keras.random`` over gradkit's one generator: ``from gradkit.keras import random``.

Every draw goes through :func:`gradkit.random.rng`, so the seed rules are
gradkit's: ``seed=None`` draws from the global generator (``gradkit.random.seed``
or ``keras.utils.set_random_seed`` make runs repeat), an int gives the same values
on every call (Keras's stateless seeds), and a :class:`SeedGenerator` gives a
repeatable stream that advances with each draw.

Example::

    from gradkit.keras import random
    gen = random.SeedGenerator(42)
    a = random.normal((2, 3), seed=gen)      # the stream's first draw
    b = random.normal((2, 3), seed=gen)      # its second: different from a
    random.normal((2, 3), seed=42)           # the same values on every call
"""

from __future__ import annotations

import numpy as np

from gradkit import ops as _ops
from gradkit import random as _random
from gradkit.keras.missing import module_getattr
from gradkit.tensor import Tensor
from gradkit.utils.validation import check_int, check_number, normalize_axis


class SeedGenerator:
    """A seeded stream of random draws: pass it as ``seed=`` to any ``keras.random``
    function (or a layer that takes one); each draw advances it.

    Args:
        seed: an int (the same stream every time the program runs), or None (a
            stream seeded from gradkit's global generator).
        name: optional, kept for Keras's signature.

    Example::

        gen = SeedGenerator(1337)
        noise = random.uniform((4,), seed=gen)
    """

    def __init__(self, seed=None, name=None, **kwargs):
        if kwargs:
            raise NotImplementedError(f"SeedGenerator: arguments {sorted(kwargs)} are not "
                                      "supported (gradkit has one device and no backends)")
        if seed is None:
            seed = int(_random.rng(None).integers(2 ** 31))
        self.seed = check_int("SeedGenerator", "seed", seed, minimum=0)
        self.name = name or "seed_generator"
        self.generator = _random.rng(self.seed, owner="SeedGenerator")

    def next(self):
        """A fresh int seed drawn from the stream (advances it)."""
        return int(self.generator.integers(2 ** 31))

    def get_config(self):
        return {"seed": self.seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"SeedGenerator(seed={self.seed})"


def _gen(seed, owner):
    """The numpy Generator a Keras ``seed=`` stands for."""
    if isinstance(seed, SeedGenerator):
        return seed.generator
    return _random.rng(seed, owner=f"keras.random.{owner}")


def _float(values, dtype):
    return Tensor(np.asarray(values).astype(dtype or "float32"))


def _shape(shape):
    return (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Gaussian samples (float32 by default)."""
    return _float(_gen(seed, "normal").normal(mean, stddev, _shape(shape)), dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniform samples in ``[minval, maxval)``."""
    return _float(_gen(seed, "uniform").uniform(minval, maxval, _shape(shape)), dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Gaussian samples redrawn until within two standard deviations of ``mean``."""
    g = _gen(seed, "truncated_normal")
    out = g.standard_normal(_shape(shape))
    far = np.abs(out) > 2.0
    while far.any():
        out[far] = g.standard_normal(int(far.sum()))
        far = np.abs(out) > 2.0
    return _float(mean + stddev * out, dtype)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers in ``[minval, maxval)``."""
    values = _gen(seed, "randint").integers(minval, maxval, _shape(shape))
    return Tensor(values.astype(dtype))


def gamma(shape, alpha, dtype=None, seed=None):
    """Gamma samples of shape parameter ``alpha`` (scale 1)."""
    alpha = check_number("keras.random.gamma", "alpha", alpha, 0.0, min_open=True)
    return _float(_gen(seed, "gamma").gamma(alpha, 1.0, _shape(shape)), dtype)


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Beta samples with parameters ``alpha`` and ``beta``."""
    return _float(_gen(seed, "beta").beta(alpha, beta, _shape(shape)), dtype)


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Binomial counts of ``counts`` trials with success ``probabilities``."""
    draws = _gen(seed, "binomial").binomial(np.asarray(counts, dtype=np.int64),
                                           probabilities, _shape(shape))
    return _float(draws, dtype)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero entries with probability ``rate`` and scale the rest by ``1 / (1 - rate)``;
    gradients flow through the kept ones (:func:`gradkit.ops.dropout`)."""
    return _ops.dropout(inputs, rate, noise_shape, seed=_gen(seed, "dropout"))


def shuffle(x, axis=0, seed=None):
    """``x`` with its slices along ``axis`` in a random order (differentiable)."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    ax = normalize_axis("keras.random.shuffle", axis, x.ndim)
    order = _gen(seed, "shuffle").permutation(x.shape[ax])
    return _ops.getitem(x, (slice(None),) * ax + (order,))


def categorical(logits, num_samples, dtype="int32", seed=None):
    """``num_samples`` class indices per row of ``logits`` ``(batch, classes)``, drawn
    with probabilities ``softmax(logits)`` (the Gumbel-max trick)."""
    z = logits._data if isinstance(logits, Tensor) else np.asarray(logits, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"keras.random.categorical: logits must be (batch, classes), "
                         f"received shape {z.shape}")
    num_samples = check_int("keras.random.categorical", "num_samples", num_samples, minimum=1)
    noise = _gen(seed, "categorical").gumbel(size=(z.shape[0], num_samples, z.shape[1]))
    return Tensor((z[:, None, :] + noise).argmax(-1).astype(dtype))


__getattr__ = module_getattr("random")
