"""A strict stand-in for CuPy: arrays that live "on a device" and refuse to leak to NumPy.

The test suite runs gradkit on it to prove that every array a tensor, layer, optimizer,
loss or metric touches is made by the array module of its device. A
:class:`StrictArray` wraps a NumPy array but, like ``cupy.ndarray``, refuses implicit
conversion (``numpy.asarray(a)`` raises ``TypeError``), refuses NumPy ufuncs and
functions (``numpy.exp(a)``) and refuses to meet a ``numpy.ndarray`` in an operation.
Only the explicit copies work: :func:`asnumpy`/``a.get()`` to the host, ``asarray`` to
the device. The module itself (``gradkit.testing.strict_device``) is CuPy's namespace:
``xp.zeros``, ``xp.exp``, ``xp.add.at``, ``xp.lib.stride_tricks.as_strided``,
``xp.random.RandomState``, ``xp.cuda.Device``...

Nothing happens at import. :func:`activate` installs the module in
:mod:`gradkit.backend` as the GPU array module (so ``gradkit.device("cuda")`` means this
stand-in) and returns a handle whose ``close()`` restores the previous one::

    from gradkit.testing import strict_device
    with strict_device.activate(), gradkit.device("cuda"):
        model.fit(x, y)          # any leak to NumPy raises TypeError
"""

from __future__ import annotations

import functools
import sys
import types

import numpy as _np

__all__ = ["StrictArray", "activate", "asnumpy"]

_LEAK = ("strict device: implicit conversion of a device array to a NumPy array is not "
         "allowed (CuPy refuses it too); copy explicitly with gradkit.backend.to_numpy(a)")


def _host_operand(where):
    return TypeError(f"strict device: {where} received a numpy.ndarray; device arrays do not "
                     f"mix with host arrays (CuPy raises here too): move it first with "
                     f"xp.asarray(a) or gradkit.devices.place(a, device)")


def _unwrap(x, where):
    """The NumPy array inside ``x`` (recursing into lists/tuples); host arrays are refused."""
    t = type(x)
    if t is StrictArray:
        return x._a
    if t is _np.ndarray:
        raise _host_operand(where)
    if t is tuple or t is list:
        return t(_unwrap(i, where) for i in x)
    return x


def _wrap(r):
    if type(r) is _np.ndarray:
        return StrictArray(r)
    if isinstance(r, _np.generic):  # CuPy's reductions give 0-d device arrays, not scalars
        return StrictArray(_np.asarray(r))
    if type(r) is list:
        return [_wrap(i) for i in r]
    if isinstance(r, tuple):  # namedtuples too (linalg.qr's result)
        return tuple(_wrap(i) for i in r)
    return r


def _call(fn, name, *args, **kwargs):
    a = _unwrap(args, name)
    out = kwargs.get("out")
    k = {key: _unwrap(v, name) for key, v in kwargs.items()}
    r = fn(*a, **k)
    if out is not None and type(out) is StrictArray:
        return out  # in place: the very object passed, as CuPy returns it
    return _wrap(r)


class StrictArray:
    """A device array of the stand-in: a NumPy array inside, no implicit way out."""

    __slots__ = ("_a",)
    __array_ufunc__ = None       # numpy ufuncs refuse us; Python then asks our reflected ops
    __array_priority__ = 100      # cupy.ndarray's

    def __init__(self, a):
        self._a = a

    # ------------------------------------------------ the refusals
    def __array__(self, *args, **kwargs):
        raise TypeError(_LEAK)

    def __array_function__(self, func, types_, args, kwargs):
        raise TypeError(f"strict device: numpy.{func.__name__} called on a device array; use "
                        f"the array module of its device (xp = gradkit.backend."
                        f"get_array_module(a); xp.{func.__name__}(...))")

    # ------------------------------------------------ CuPy's explicit exits
    def get(self):
        """A host copy (``cupy.ndarray.get``)."""
        return self._a.copy()

    @property
    def device(self):
        return _DEVICE0

    def item(self):
        return self._a.item()

    def tolist(self):
        return self._a.tolist()

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __index__(self):
        return self._a.__index__()

    def __bool__(self):
        return bool(self._a)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(v) for v in self._a)

    def __repr__(self):
        return "strict_device." + repr(self._a)

    __hash__ = None

    # ------------------------------------------------ attributes and methods
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: StrictArray(self._a.T))
    real = property(lambda self: StrictArray(self._a.real))

    def __getattr__(self, name):
        if name.startswith("__"):  # no __array_interface__, __array_struct__, buffer...
            raise AttributeError(f"strict device arrays have no {name}")
        attr = getattr(self._a, name)  # AttributeError as NumPy's
        if not callable(attr):
            return _wrap(attr)
        return functools.partial(_call, attr, f"ndarray.{name}")

    def __getitem__(self, idx):
        return _wrap(self._a[_unwrap(idx, "indexing")])

    def __setitem__(self, idx, value):
        self._a[_unwrap(idx, "indexing")] = _unwrap(value, "item assignment")


def _defer(other):
    """CuPy's rule: leave the operation to an operand of higher ``__array_priority__``
    that is not an array (a gradkit Tensor), by returning NotImplemented."""
    return type(other) is not StrictArray and getattr(other, "__array_priority__", 0) > 100


def _binary(name):
    op = getattr(_np.ndarray, name)

    def method(self, other):
        if _defer(other):
            return NotImplemented
        return _wrap(op(self._a, _unwrap(other, f"operator {name}")))

    method.__name__ = name
    return method


def _inplace(name):
    op = getattr(_np.ndarray, name)

    def method(self, other):
        op(self._a, _unwrap(other, f"operator {name}"))
        return self

    method.__name__ = name
    return method


for _n in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
           "xor", "lshift", "rshift"):
    setattr(StrictArray, f"__{_n}__", _binary(f"__{_n}__"))
    setattr(StrictArray, f"__r{_n}__", _binary(f"__r{_n}__"))
    setattr(StrictArray, f"__i{_n}__", _inplace(f"__i{_n}__"))
for _n in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(StrictArray, f"__{_n}__", _binary(f"__{_n}__"))
for _n in ("neg", "pos", "abs", "invert"):
    setattr(StrictArray, f"__{_n}__",
            (lambda op: lambda self: _wrap(op(self._a)))(getattr(_np.ndarray, f"__{_n}__")))


# ---------------------------------------------------------------- the namespace
class _UFunc:
    """A NumPy ufunc seen through the device: ``xp.add(a, b)``, ``xp.add.at(...)``."""

    def __init__(self, uf):
        self._uf = uf
        self.__name__ = uf.__name__

    def __call__(self, *args, **kwargs):
        return _call(self._uf, self.__name__, *args, **kwargs)

    def __getattr__(self, name):
        attr = getattr(self._uf, name)
        if callable(attr):
            return functools.partial(_call, attr, f"{self.__name__}.{name}")
        return attr


class _Namespace(types.SimpleNamespace):
    """A NumPy (sub)module seen through the device: functions wrapped, types passed."""

    def __init__(self, mod, prefix):
        super().__init__()
        object.__setattr__(self, "_mod", mod)
        object.__setattr__(self, "_prefix", prefix)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        attr = getattr(self._mod, name)
        if isinstance(attr, _np.ufunc):
            out = _UFunc(attr)
        elif isinstance(attr, types.ModuleType):
            out = _Namespace(attr, f"{self._prefix}{name}.")
        elif isinstance(attr, type) or not callable(attr):
            out = attr  # dtypes, scalar types, constants, finfo/iinfo
        else:
            out = functools.partial(_call, attr, self._prefix + name)
        object.__setattr__(self, name, out)
        return out


_numpy_view = _Namespace(_np, "")


def __getattr__(name):  # module-level: xp.exp, xp.zeros, xp.lib.stride_tricks...
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(_numpy_view, name)


ndarray = StrictArray


def asarray(a, dtype=None, order=None):
    """Onto the device (host data is copied, as ``cupy.asarray``)."""
    if type(a) is StrictArray:
        return a if dtype is None or a.dtype == _np.dtype(dtype) else \
            StrictArray(a._a.astype(dtype))
    return StrictArray(_np.array(_unwrap_host(a), dtype=dtype, order=order or "K"))


def array(a, dtype=None, copy=True, order="K"):
    """A device copy of ``a`` (host or device data)."""
    if type(a) is StrictArray:
        return StrictArray(_np.array(a._a, dtype=dtype, copy=copy, order=order))
    return StrictArray(_np.array(_unwrap_host(a), dtype=dtype, order=order))


def _unwrap_host(a):
    if type(a) in (list, tuple):
        return type(a)(_unwrap_host(i) for i in a)
    return a._a if type(a) is StrictArray else a


def asnumpy(a):
    """A host copy of a device array (``cupy.asnumpy``); host data passes as an array."""
    return a._a.copy() if type(a) is StrictArray else _np.asarray(a)


def get_array_module(*args):
    return sys.modules[__name__] if any(type(a) is StrictArray for a in args) else _np


# ---------------------------------------------------------------- cuda and random
class _Device:
    """``cupy.cuda.Device(i)``: one stand-in device; a no-op ``with`` scope."""

    def __init__(self, index=0):
        self.id = int(index)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        pass


_DEVICE0 = _Device(0)


class _Stream:
    null = None

    def synchronize(self):
        pass


_Stream.null = _Stream()
cuda = types.SimpleNamespace(Device=_Device, Stream=_Stream,
                             runtime=types.SimpleNamespace(getDeviceCount=lambda: 1))


class _RandomState:
    """``cupy.random.RandomState``: a device generator with its own stream."""

    def __init__(self, seed=None):
        self._g = _np.random.default_rng(seed)  # 64-bit seeds, as cuRAND takes

    def uniform(self, low=0.0, high=1.0, size=None, dtype=float):
        return StrictArray(_np.asarray(self._g.uniform(low, high, size)).astype(dtype))

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=float):
        return StrictArray(_np.asarray(self._g.normal(loc, scale, size)).astype(dtype))

    def standard_normal(self, size=None, dtype=float):
        return self.normal(0.0, 1.0, size, dtype)

    def random_sample(self, size=None, dtype=float):
        return StrictArray(_np.asarray(self._g.random(size)).astype(dtype))

    def permutation(self, n):
        return StrictArray(self._g.permutation(n))


random = types.SimpleNamespace(RandomState=_RandomState)


# ---------------------------------------------------------------- switching it on
class _Activation:
    """What :func:`activate` returns: ``close()`` (or the end of a ``with``) restores."""

    def __init__(self, previous):
        self._previous = previous

    def close(self):
        from gradkit import backend

        backend.set_gpu_module(self._previous)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def activate():
    """Make this stand-in gradkit's GPU array module (``device('cuda')`` uses it)."""
    from gradkit import backend

    return _Activation(backend.set_gpu_module(sys.modules[__name__]))
