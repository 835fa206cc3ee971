"""Mixed precision: Keras's dtype policies and PyTorch's ``autocast``.

``set_global_policy("mixed_float16")`` (or ``"mixed_bfloat16"``) makes layers created
afterwards keep float32 weights ("master weights") and compute in the lower precision:
inside a layer's call, :func:`autocast` is on, and the ops that dominate the cost
(``dense``, ``matmul``, ``conv1d``/``conv2d``) take their inputs and weights in the
compute dtype; softmax, losses and normalisation stay in float32. Under
``mixed_float16``, ``Model.compile`` adds dynamic loss scaling
(:class:`gradkit.amp.LossScale`): steps whose gradients overflow are skipped and
``fit`` reports them in the logs as ``skipped_steps``.

On a GPU (CuPy) float16 is a real cast. On NumPy, which has no fast float16 matmul and
no bfloat16, both are emulated: values are rounded to the compute dtype's precision and
held in float32 (see :mod:`gradkit.ops.precision`; bfloat16 rounding is bit-exact with
``ml_dtypes``, which gradkit does not need). Results are those of the lower precision;
speed is float32's.

Example::

    gradkit.mixed_precision.set_global_policy("mixed_float16")
    model = Sequential([Dense(512, activation="relu"), Dense(10, activation="softmax")])

    with gradkit.autocast("cpu", dtype="bfloat16"):   # PyTorch style
        logits = model(x)
"""

from __future__ import annotations

import threading

import numpy as np

from gradkit.utils.validation import check_choice

__all__ = ["Policy", "autocast", "autocast_dtype", "global_policy", "lower",
           "set_global_policy"]

_POLICIES = ("float32", "float64", "float16", "bfloat16", "mixed_float16", "mixed_bfloat16")
_LOW = ("float16", "bfloat16")


class Policy:
    """A dtype policy (Keras's ``keras.DTypePolicy``): ``compute_dtype`` and ``variable_dtype``.

    Args:
        name: ``"float32"``, ``"float64"``, ``"mixed_float16"`` (float16 compute, float32
            variables) or ``"mixed_bfloat16"``. ``"float16"``/``"bfloat16"`` (variables in
            the low precision too) are accepted by name only for Keras compatibility and
            raise NotImplementedError: train those with a mixed policy.
    """

    def __init__(self, name="float32"):
        if isinstance(name, Policy):
            name = name.name
        name = check_choice("Policy", "name", name, _POLICIES)
        if name in _LOW:
            raise NotImplementedError(
                f"Policy {name!r}: low-precision variables are not implemented; use "
                f"'mixed_{name}' (float32 master weights, {name} compute)")
        self.name = name
        low = name.partition("mixed_")[2]
        self.compute_dtype = low or name
        self.variable_dtype = "float32" if low else name

    @property
    def is_mixed(self):
        return self.compute_dtype != self.variable_dtype

    def get_config(self):
        return {"name": self.name}

    def __eq__(self, other):
        return isinstance(other, Policy) and other.name == self.name

    __hash__ = object.__hash__

    def __repr__(self):
        return f'<Policy "{self.name}">'


_global = Policy("float32")


def set_global_policy(policy):
    """Set the policy of layers created from now on (``keras.mixed_precision``'s function)."""
    global _global
    _global = Policy(policy)


def global_policy() -> Policy:
    """The policy new layers take (float32 unless :func:`set_global_policy` changed it)."""
    return _global


# ---------------------------------------------------------------- autocast
_state = threading.local()


def autocast_dtype():
    """The compute dtype of the innermost active :class:`autocast` in this thread, or None."""
    return getattr(_state, "dtype", None)


class autocast:  # noqa: N801 - PyTorch's spelling
    """Run the costly ops (dense, matmul, convolutions) in a lower precision (PyTorch's
    ``torch.autocast``); per thread, nestable, also a decorator.

    Args:
        device_type: ``"cuda"`` or ``"cpu"`` (PyTorch's first argument; it picks the
            default ``dtype``: float16 for cuda, bfloat16 for cpu, as PyTorch does).
        dtype: ``"float16"`` or ``"bfloat16"``.
        enabled: False makes the block run in full precision.
        cache_enabled: PyTorch's weight-cast cache; not implemented (must be None).

    Example::

        with gradkit.autocast("cpu", dtype="bfloat16"):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
    """

    def __init__(self, device_type="cuda", dtype=None, enabled=True, cache_enabled=None):
        check_choice("autocast", "device_type", str(device_type).partition(":")[0],
                     ("cuda", "cpu"))
        if cache_enabled is not None:
            raise NotImplementedError("autocast: cache_enabled is not implemented; leave it "
                                      "None")
        if dtype is None:
            dtype = "float16" if str(device_type).startswith("cuda") else "bfloat16"
        self.dtype = check_choice("autocast", "dtype", np.dtype(dtype).name
                                  if dtype != "bfloat16" else dtype, _LOW)
        self.enabled = bool(enabled)

    def __enter__(self):
        self._prev = autocast_dtype()
        _state.dtype = self.dtype if self.enabled else None
        return self

    def __exit__(self, *exc):
        _state.dtype = self._prev
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with autocast(dtype=self.dtype, enabled=self.enabled):
                return fn(*a, **k)

        return wrapper


def lower(*tensors):
    """The tensors as an autocast op takes them: float ones in the compute dtype.

    A real cast to float16 on a GPU; rounding to the compute precision (dtype kept) on
    NumPy and for bfloat16. Not under autocast: the tensors as they are.
    """
    dt = autocast_dtype()
    if dt is None:
        return tensors
    from gradkit import ops
    from gradkit.backend import is_device_array
    from gradkit.ops.precision import RoundTo
    from gradkit.tensor import Tensor

    out = []
    for t in tensors:
        if isinstance(t, Tensor) and t.dtype.kind == "f" and t.dtype != dt:
            t = ops.cast(t, dt) if dt == "float16" and is_device_array(t._data) \
                else RoundTo.apply(t, dt)
        out.append(t)
    return out


def loss_scale_for(model):
    """A dynamic :class:`~gradkit.amp.LossScale` for a model with ``mixed_float16`` layers
    (Keras's compile wraps the optimizer in a LossScaleOptimizer then), else None."""
    if any(getattr(layer, "_autocast", None) == "float16"
           for layer in model._flatten_layers()):
        from gradkit.amp import LossScale

        return LossScale(init_scale=2.0 ** 15)
    return None


_warned_float16 = False


def warn_float16_without_policy(weights):
    """Warn once per process when float16 weights are trained without a mixed policy."""
    global _warned_float16
    if not _warned_float16 and any(w.dtype == np.float16 for w in weights):
        import warnings

        _warned_float16 = True
        warnings.warn("fit: the model has float16 weights and no mixed precision policy; "
                      "float16 weights lose small updates and float16 gradients underflow. "
                      "Use gradkit.mixed_precision.set_global_policy('mixed_float16') "
                      "(float32 weights, float16 compute, loss scaling) instead",
                      RuntimeWarning, stacklevel=3)


def upcast(x):
    """``x`` in float32 when autocast is on and it is float16 (softmax, norms, losses)."""
    if autocast_dtype() is not None and getattr(x, "dtype", None) == np.float16:
        from gradkit import ops

        return ops.cast(x, "float32")
    return x


def __getattr__(name):  # keras.mixed_precision.LossScaleOptimizer, without an import cycle
    if name == "LossScaleOptimizer":
        from gradkit.amp import LossScaleOptimizer

        return LossScaleOptimizer
    raise AttributeError(f"module 'gradkit.mixed_precision' has no attribute {name!r}")
