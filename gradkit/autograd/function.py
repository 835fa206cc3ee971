"""``Function``: the base of every differentiable primitive, and the grad mode.

A primitive is a small class with two methods side by side:

* ``forward(self, *arrays, **kwargs) -> array`` computes the output from raw
  arrays and keeps on ``self`` only what its backward needs;
* ``backward(self, M, g, out, *xs) -> tuple`` returns one gradient per
  positional input (``None`` where no gradient is needed), each shaped like
  that input.

``M`` is the math namespace the backward is written against. For an ordinary
backward pass it is an :class:`ArrayMath` over NumPy (or CuPy) and ``g``,
``out`` and ``xs`` are raw arrays. For ``create_graph=True`` the engine passes
``gradkit.ops`` instead and ``g``, ``out``, ``xs`` are Tensors, so the very
same backward code records a differentiable graph of the gradient. That is
how higher-order gradients come at no extra code per op.
"""

from __future__ import annotations

import threading

import numpy as _numpy

from gradkit import backend as _backend
from gradkit.devices import check_same_device
from gradkit.utils.validation import AxisError

_ndarray = _numpy.ndarray

# ----------------------------------------------------------------- grad mode
class _ThreadState(threading.local):
    """Per-thread autograd state: a ``no_grad`` in one thread leaves the others recording."""

    grad_enabled = True  # class default: every new thread starts with grad mode on


_state = _ThreadState()


def is_grad_enabled() -> bool:
    """True while operations on tensors that require grad are recorded (in this thread)."""
    return _state.grad_enabled


class _GradMode:
    """Context manager and decorator that sets whether ops are recorded in this thread."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __enter__(self):
        self.prev = _state.grad_enabled
        _state.grad_enabled = self.enabled
        return self

    def __exit__(self, *exc):
        _state.grad_enabled = self.prev
        return False

    def __call__(self, fn):
        import functools

        enabled = self.enabled

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with _GradMode(enabled):
                return fn(*a, **k)

        return wrapper


def no_grad():
    """Don't record operations (inference, weight updates) in the calling thread.

    Grad mode is per thread (as in PyTorch): other threads keep recording.

    Example::

        with gradkit.no_grad():
            y = model(x)          # no graph is kept
    """
    return _GradMode(False)


def enable_grad():
    """Record operations again inside a ``no_grad`` block."""
    return _GradMode(True)


# ------------------------------------------------------------- array math
class ArrayMath:
    """The array namespace a backward pass computes with: a fixed list of ``xp`` functions
    plus a few helpers NumPy lacks.

    Only the names in :attr:`NAMES` and the helpers below exist: each has a
    differentiable twin of the same name and meaning in :mod:`gradkit.ops`, so
    a backward written against ``M`` works at every order. A name missing here
    is an ``AttributeError`` (no silent fall-through to NumPy); to use a new
    one, add it to ``NAMES`` and give ``gradkit.ops`` its twin.
    """

    #: functions taken from the array module as they are (NumPy's names and arguments)
    NAMES = ("abs", "add", "broadcast_to", "clip", "concatenate", "cos", "cumsum", "divide",
             "einsum", "exp", "log", "matmul", "maximum", "minimum", "multiply", "negative",
             "ones_like", "power", "reshape", "sign", "sin", "sqrt", "stack", "subtract",
             "swapaxes", "tanh", "transpose", "where", "zeros_like")
    #: the helpers written below (``gradkit.ops`` has the same names)
    HELPERS = ("erf", "log_softmax", "scatter_add", "sigmoid", "softmax")

    graph = False  # True only for the gradkit.ops namespace (create_graph)

    def __init__(self, xp):
        self.xp = xp
        for name in self.NAMES:
            setattr(self, name, getattr(xp, name))  # plain attributes: a dict hit per lookup

    def __getattr__(self, name):  # reached only for names that are not there
        raise AttributeError(
            f"ArrayMath has no {name!r}: a backward may use only ArrayMath.NAMES and "
            f"ArrayMath.HELPERS, which gradkit.ops mirrors for higher-order gradients; add "
            f"{name!r} to both, or compute on the arrays without M")

    def sigmoid(self, x):
        xp = self.xp
        # e^min(x,0) / (1 + e^-|x|): exact in both tails, never overflows, and no
        # boolean-mask select (np.where), which costs more than the exps themselves.
        if x.ndim == 0:  # NumPy gives 0-d results as scalars, which can't take out=
            return self.sigmoid(x.reshape(1)).reshape(())
        num = xp.minimum(x, 0)
        xp.exp(num, out=num)
        den = xp.abs(x)
        xp.negative(den, out=den)
        xp.exp(den, out=den)
        den += 1.0
        num /= den
        return num

    def softmax(self, x, axis=-1):
        e = self.xp.exp(x - x.max(axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        return e

    def log_softmax(self, x, axis=-1):
        s = x - x.max(axis=axis, keepdims=True)
        return s - self.xp.log(self.xp.exp(s).sum(axis=axis, keepdims=True))

    def erf(self, x):
        from gradkit.ops.activation import _erf  # the accurate one, beside the Erf op

        return _erf(x)

    def scatter_add(self, shape, index, g):
        """Zeros of ``shape`` with ``g`` added at ``index`` (repeats accumulate)."""
        out = self.xp.zeros(shape, dtype=g.dtype)
        self.xp.add.at(out, index, g)
        return out


_maths: dict = {}


def array_math(xp) -> ArrayMath:
    """The cached :class:`ArrayMath` of array module ``xp``."""
    m = _maths.get(xp)
    if m is None:
        m = _maths[xp] = ArrayMath(xp)
    return m


def unbroadcast(g, shape):
    """Sum ``g`` down to ``shape``: the gradient side of NumPy broadcasting.

    Works on arrays and on Tensors alike (it only uses ``.sum``/``.reshape``).
    """
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    if lead > 0 and gshape[lead:] == shape:  # only leading axes were added (a bias)
        return g.sum(axis=tuple(range(lead)))
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and gshape[i + lead] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


# ---------------------------------------------------------------- Function
class OpError(ValueError):
    """A ValueError raised by an op about its inputs; the message names the op."""


class Function:
    """Base class of differentiable primitives; see the module docstring.

    ``Op.apply(*args, **kwargs)`` runs ``forward`` on the arrays inside the
    Tensor arguments (other arguments pass through as constants) and, when
    grad mode is on and an input requires grad, links the output into the
    graph. During ``forward``, ``self.needs`` tells which inputs need a
    gradient, so work and memory for the others can be skipped.
    """

    #: set False on ops whose backward is not written with ``M`` (no create_graph)
    higher_order = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if isinstance(cls.__dict__.get("forward"), staticmethod):  # PyTorch style
            from gradkit.autograd.custom import ctx_apply

            cls.apply = classmethod(ctx_apply)

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = _new(cls)
        # One pass over the arguments (a plain loop: cheaper than three comprehensions on
        # the handful of arguments an op has): the arrays forward receives and, when
        # recording, which inputs need a gradient and their versions now.
        arrays = []
        needs = versions = None
        if _state.grad_enabled:
            needs, versions = [], []
            for a in args:
                if isinstance(a, Tensor):
                    arrays.append(a._data)
                    needs.append(a.requires_grad)
                    versions.append(a._version)
                else:
                    arrays.append(a)
                    needs.append(False)
                    versions.append(0)
            if True not in needs:
                needs = None
        else:
            for a in args:
                arrays.append(a._data if isinstance(a, Tensor) else a)
        ctx.needs = needs
        if _backend._cupy is not None:  # arrays of two devices can meet only once a GPU is in
            arrays = check_same_device(cls.__name__.lower(), args, arrays)
        try:
            out = ctx.forward(*arrays, **kwargs)
        except (OpError, AxisError):
            raise
        except ValueError as e:  # NumPy's own words, with the op and shapes added
            shapes = " and ".join(str(getattr(a, "shape", "scalar")) for a in arrays)
            raise OpError(f"{cls.__name__.lower()}: invalid input shapes {shapes}: {e}") from e
        if type(out) is not _ndarray and not _backend.is_array(out):
            out = _numpy.asarray(out)  # host: NumPy reductions return scalars, not 0-d arrays
        if needs is None:
            return _make(out, False, None)
        ctx.parents = args
        ctx.inputs = arrays  # what backward receives, without re-reading each parent
        ctx.versions = versions
        ctx.released = False
        return _make(out, True, ctx)

    def forward(self, *xs, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, M, g, out, *xs):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def name(self) -> str:
        return type(self).__name__.lower()

    def release(self):
        """Drop what forward saved; a later backward through here is an error."""
        d = self.__dict__
        self.__dict__ = {"needs": d["needs"], "parents": d["parents"],
                         "versions": d["versions"], "released": True}


from gradkit.tensor import Tensor  # noqa: E402  (Tensor needs this module first)

_new = object.__new__
_make = Tensor._make
