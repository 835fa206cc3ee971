"""Weight initializers (Keras's ``keras.initializers``): ``init(shape, dtype) -> array``.

Arrays are made on the default device (``with gradkit.device(...)``; a layer's
``add_weight`` opens its device's scope) by that device's array module. Every
random initializer draws from :func:`gradkit.random.generator` (on a GPU, from a
device generator seeded from it: :func:`gradkit.devices.rng`), so
``gradkit.random.seed(s)`` (or ``gradkit.utils.set_random_seed``) makes
initial weights repeat. An initializer built with its own ``seed=`` instead
uses a private generator seeded afresh on every call, so it returns the same
values each time (as a seeded Keras 3 initializer does).

Example::

    from gradkit import initializers

    init = initializers.get("glorot_uniform")
    w = init((784, 128))                 # float32 NumPy array
    layer_w = gradkit.Variable(init((3, 3, 16, 32)))

Fans (as Keras computes them): a dense kernel ``(in, out)`` has
``fan_in = in`` and ``fan_out = out``; a convolution kernel
``(*spatial, in, out)`` multiplies both by the receptive field size
``prod(spatial)``; a 1-D shape ``(n,)`` has ``fan_in = fan_out = n``; a scalar
shape has both equal to 1.
"""

from __future__ import annotations

import math

import numpy as np

from gradkit import devices as _devices
from gradkit.utils.config import Configurable
from gradkit.utils.registry import Registry, as_is
from gradkit.utils.validation import check_choice, check_int, check_number

__all__ = [
    "INITIALIZERS", "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform",
    "Identity",
    "Initializer", "LecunNormal", "LecunUniform", "Ones", "Orthogonal", "RandomNormal",
    "RandomUniform", "TruncatedNormal", "VarianceScaling", "Zeros", "compute_fans",
    "deserialize", "get", "register_serializable", "serialize",
]

# stddev of a standard normal truncated to [-2, 2] (Keras's correction constant)
_TRUNCATED_STD = 0.87962566103423978


def compute_fans(shape):
    """``(fan_in, fan_out)`` of a weight shape, as Keras computes them.

    Args:
        shape: the weight's shape.

    Returns:
        A tuple of two ints.

    Example::

        compute_fans((3, 3, 16, 32))   # (144, 288)
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(n) for n in shape)


def _xp():
    """The array module of the default device, which initial values are made on."""
    return _devices.array_module(_devices.default_device())


def _float_dtype(dtype, who):
    dt = np.dtype(dtype if dtype is not None else "float32")
    if dt.kind != "f":
        raise ValueError(f"{who}: random initial values need a floating dtype, got {dt}")
    return dt


class Initializer(Configurable):
    """Base class: ``init(shape, dtype="float32")`` returns a new NumPy array.

    Subclasses implement ``__call__`` and ``get_config``.
    """

    def __call__(self, shape, dtype="float32"):  # pragma: no cover - abstract
        raise NotImplementedError


class _Random(Initializer):
    """An initializer that draws random numbers (global generator or its own seed).

    Subclasses implement ``_sample(rng, shape)``, returning float64 samples;
    ``__call__`` checks the dtype and casts to it.
    """

    def __init__(self, seed=None):
        self.seed = None if seed is None else check_int(type(self).__name__, "seed", seed)

    def _rng(self):
        # looked up on every call: gradkit.random.seed() replaces the global generator
        return _devices.rng(self.seed, owner=type(self).__name__)

    def __call__(self, shape, dtype="float32"):
        dt = _float_dtype(dtype, type(self).__name__)
        return self._sample(self._rng(), _shape(shape)).astype(dt)

    def _sample(self, rng, shape):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self):
        return {"seed": self.seed}


class _Normal(_Random):
    """A normal draw with a ``mean`` and ``stddev`` (RandomNormal, TruncatedNormal)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        owner = type(self).__name__
        self.mean = check_number(owner, "mean", mean)
        self.stddev = check_number(owner, "stddev", stddev, 0)
        super().__init__(seed)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


def _truncated_normal(rng, shape, mean, stddev):
    """Normal samples with everything beyond 2 standard deviations drawn again."""
    z = rng.standard_normal(shape)
    xp = _xp()
    bad = xp.abs(z) > 2.0
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = xp.abs(z) > 2.0
    return z * stddev + mean


class Zeros(Initializer):
    """All zeros.

    Example::

        Zeros()((2, 3))   # float32 zeros
    """

    def __call__(self, shape, dtype="float32"):
        return _xp().zeros(_shape(shape), dtype=dtype or "float32")


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype="float32"):
        return _xp().ones(_shape(shape), dtype=dtype or "float32")


class Constant(Initializer):
    """A constant (a scalar, or an array that broadcasts to the shape).

    Args:
        value: the value to fill with.

    Example::

        Constant(0.1)((3,))   # [0.1, 0.1, 0.1]
    """

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype="float32"):
        shape = _shape(shape)
        xp = _xp()
        v = xp.asarray(self.value, dtype=dtype or "float32")
        try:
            return xp.array(xp.broadcast_to(v, shape))
        except ValueError:
            raise ValueError(f"Constant: a value of shape {v.shape} does not broadcast to the "
                             f"weight shape {shape}") from None

    def get_config(self):
        v = self.value
        return {"value": v.tolist() if isinstance(v, np.ndarray) else v}


class RandomUniform(_Random):
    """Uniform samples in ``[minval, maxval)``.

    Args:
        minval: lower bound (default -0.05).
        maxval: upper bound (default 0.05).
        seed: optional int (see the module docstring).
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        minval = check_number("RandomUniform", "minval", minval)
        maxval = check_number("RandomUniform", "maxval", maxval, minval, min_open=True)
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def _sample(self, rng, shape):
        return rng.uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class RandomNormal(_Normal):
    """Normal samples with the given mean and standard deviation.

    Args:
        mean: default 0.
        stddev: default 0.05.
        seed: optional int.
    """

    def _sample(self, rng, shape):
        return rng.normal(self.mean, self.stddev, shape)


class TruncatedNormal(_Normal):
    """Normal samples, those more than 2 ``stddev`` from the mean drawn again.

    ``stddev`` is that of the normal before truncation (as in Keras), so the
    samples' actual standard deviation is about ``0.88 * stddev``.

    Args:
        mean: default 0.
        stddev: default 0.05.
        seed: optional int.
    """

    def _sample(self, rng, shape):
        return _truncated_normal(rng, shape, self.mean, self.stddev)


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


class VarianceScaling(_Random):
    """Samples whose variance is ``scale / n``, ``n`` a fan of the shape.

    ``n`` is ``fan_in``, ``fan_out`` or their average (``mode``). With
    ``distribution="truncated_normal"`` samples are drawn from a normal
    truncated at 2 standard deviations whose stddev is
    ``sqrt(scale / n) / 0.8796...`` (so the truncated samples have the
    intended variance); ``"untruncated_normal"`` uses ``sqrt(scale / n)``;
    ``"uniform"`` draws from ``[-limit, limit]`` with ``limit = sqrt(3 scale / n)``.

    Args:
        scale: positive scaling factor.
        mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``.
        distribution: ``"truncated_normal"``, ``"untruncated_normal"`` or
            ``"uniform"`` (``"normal"`` means truncated, as in Keras).
        seed: optional int.

    Example::

        he = VarianceScaling(2.0, "fan_in", "truncated_normal")
        w = he((256, 128))      # std ~ sqrt(2 / 256)
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        owner = type(self).__name__
        self.scale = check_number(owner, "scale", scale, 0, min_open=True)
        self.mode = check_choice(owner, "mode", str(mode).lower(), _MODES)
        distribution = str(distribution).lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        self.distribution = check_choice(owner, "distribution", distribution, _DISTRIBUTIONS)
        super().__init__(seed)

    def _variance(self, shape):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
        return self.scale / max(1.0, n[self.mode])

    def _sample(self, rng, shape):
        var = self._variance(shape)
        if self.distribution == "truncated_normal":
            return _truncated_normal(rng, shape, 0.0, math.sqrt(var) / _TRUNCATED_STD)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(var), shape)
        limit = math.sqrt(3.0 * var)
        return rng.uniform(-limit, limit, shape)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                **super().get_config()}


class _Preset(VarianceScaling):
    """A VarianceScaling with fixed arguments; its config is just the seed."""

    preset: tuple = ()

    def __init__(self, seed=None):
        super().__init__(*self.preset, seed=seed)

    def get_config(self):
        return {"seed": self.seed}


def _preset(name, scale, mode, distribution, family):
    """The ``_Preset`` subclass ``name``: ``VarianceScaling(scale, mode, distribution)``."""
    k, fan = (2 * scale, "(fan_in + fan_out)") if mode == "fan_avg" else (scale, mode)
    if distribution == "uniform":
        law = f"``U(-limit, limit)``, ``limit = sqrt({3 * k:g} / {fan})``"
    else:
        law = f"truncated normal, std ``sqrt({k:g} / {fan})``"
    doc = f"""{family}: {law}.

    Args:
        seed: optional int.
    """
    attrs = {"preset": (scale, mode, distribution), "__doc__": doc, "__module__": __name__,
             "__qualname__": name}
    return type(name, (_Preset,), attrs)


# Keras's named VarianceScaling presets: class name, VarianceScaling's arguments, family.
_PRESETS = (
    ("GlorotUniform", 1.0, "fan_avg", "uniform", "Glorot/Xavier uniform"),
    ("GlorotNormal", 1.0, "fan_avg", "truncated_normal", "Glorot/Xavier normal"),
    ("HeUniform", 2.0, "fan_in", "uniform", "He uniform"),
    ("HeNormal", 2.0, "fan_in", "truncated_normal", "He normal"),
    ("LecunUniform", 1.0, "fan_in", "uniform", "LeCun uniform"),
    ("LecunNormal", 1.0, "fan_in", "truncated_normal", "LeCun normal (pairs with SELU)"),
)
GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal = (
    _preset(*row) for row in _PRESETS)


class Orthogonal(_Random):
    """A (semi-)orthogonal matrix times ``gain``, from the QR decomposition of a normal draw.

    The shape is flattened to ``(prod(shape[:-1]), shape[-1])``: its columns
    (or rows, when there are fewer rows than columns) are orthonormal.

    Args:
        gain: multiplier.
        seed: optional int.

    Example::

        q = Orthogonal()((64, 64))
        np.allclose(q.T @ q, np.eye(64), atol=1e-5)   # True
    """

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = check_number("Orthogonal", "gain", gain)

    def _sample(self, rng, shape):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: needs a shape with at least 2 axes, got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        xp = _xp()
        q, r = xp.linalg.qr(a)
        d = xp.sign(xp.diag(r))
        q = q * xp.where(d == 0, 1.0, d)  # unique decomposition: uniformly distributed q
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape)

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only; rectangular is fine).

    Args:
        gain: multiplier.
    """

    def __init__(self, gain=1.0):
        self.gain = check_number("Identity", "gain", gain)

    def __call__(self, shape, dtype="float32"):
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError(f"Identity: needs a 2-D shape, got {shape}")
        return (self.gain * _xp().eye(*shape)).astype(dtype or "float32")

    def get_config(self):
        return {"gain": self.gain}


# ------------------------------------------------------------------ lookup
INITIALIZERS = Registry("initializer", Initializer, module="gradkit.initializers", none=None,
                        from_function=as_is)
"""The initializer registry (see :mod:`gradkit.utils.registry`)."""

for _cls, _names in (
        (Zeros, ("zeros", "zero")), (Ones, ("ones", "one")), (Constant, ("constant",)),
        (RandomUniform, ("random_uniform", "uniform")),
        (RandomNormal, ("random_normal", "normal")), (TruncatedNormal, ("truncated_normal",)),
        (VarianceScaling, ("variance_scaling",)),
        (GlorotUniform, ("glorot_uniform", "xavier_uniform")),
        (GlorotNormal, ("glorot_normal", "xavier_normal")), (HeUniform, ("he_uniform",)),
        (HeNormal, ("he_normal",)), (LecunUniform, ("lecun_uniform",)),
        (LecunNormal, ("lecun_normal",)), (Orthogonal, ("orthogonal",)),
        (Identity, ("identity",))):
    INITIALIZERS.register(*_names)(_cls)
register_serializable = INITIALIZERS.register_serializable


def serialize(initializer):
    """An initializer as ``{"class_name": ..., "config": {...}}`` (a function: its name).

    Args:
        initializer: an :class:`Initializer` (or a registered function).

    Returns:
        A JSON-able value for :func:`deserialize` / :func:`get`.
    """
    return INITIALIZERS.serialize(initializer)


def deserialize(config, custom_objects=None):
    """Rebuild an initializer from :func:`serialize`'s dict.

    Args:
        config: ``{"class_name": "HeNormal", "config": {"seed": None}}``.
        custom_objects: optional ``{name: class}`` for unregistered classes.

    Returns:
        An :class:`Initializer`.
    """
    return INITIALIZERS.deserialize(config, custom_objects)


def get(identifier, custom_objects=None):
    """Resolve an initializer given by name, config, class, instance or callable.

    Args:
        identifier: a name (``"glorot_uniform"``, ``"he_normal"``, ``"zeros"``,
            ... or a class name; case-insensitive), a dict from
            :func:`serialize`, an :class:`Initializer` subclass or instance, or
            any callable ``(shape, dtype) -> array`` (returned unchanged).
            ``None`` gives ``None``.
        custom_objects: optional ``{name: class or function}``.

    Returns:
        A callable initializer (or None).

    Raises:
        ValueError: for an unknown name; the message lists the valid names.

    Example::

        initializers.get("he_normal")((128, 64)).std()   # ~ sqrt(2 / 128)
    """
    return INITIALIZERS.get(identifier, custom_objects)
