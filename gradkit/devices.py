"""Devices by name: ``gradkit.device("cpu" | "cuda" | "cuda:N")``.

A :class:`Device` names where arrays live; its array module (NumPy on the CPU, CuPy
on a GPU, from :mod:`gradkit.backend`) creates them. ``with gradkit.device("cuda"):``
makes a device the default for the current thread. Asking for a GPU where CuPy is
missing is an error that says how to install it, never a silent fall-back to the CPU.
"""

from __future__ import annotations

import threading

import numpy

from gradkit import backend


class DeviceError(RuntimeError):
    """A device that does not exist here, or arrays on two devices meeting in one op."""


_TYPES = ("cpu", "cuda")
_local = threading.local()


class Device:
    """A place for arrays: ``type`` is ``"cpu"`` or ``"cuda"``, ``index`` the GPU number.

    Also a context manager making itself the thread's default device.

    Example::

        d = gradkit.device("cuda:1")    # d.type == "cuda", d.index == 1
        with gradkit.device("cpu"):
            x = gradkit.zeros(3)
    """

    __slots__ = ("type", "index", "_saved")

    def __init__(self, spec="cpu", index=None):
        if isinstance(spec, Device):
            spec, index = spec.type, spec.index if index is None else index
        if not isinstance(spec, str):
            raise TypeError(f"device: expected a name such as 'cpu', 'cuda' or 'cuda:0', "
                            f"received {type(spec).__name__}")
        kind, _, num = spec.strip().lower().partition(":")
        if kind not in _TYPES:
            raise ValueError(f"device: unknown device type {spec!r}; gradkit knows 'cpu' and "
                             f"'cuda' (optionally 'cuda:N')")
        if num:
            if not num.isdigit() or (index is not None and int(num) != index):
                raise ValueError(f"device: bad device index in {spec!r}; write 'cuda:0', "
                                 f"'cuda:1', ...")
            index = int(num)
        if index is not None and (isinstance(index, bool) or not isinstance(index, int)
                                  or index < 0):
            raise ValueError(f"device: index must be a non-negative int, received {index!r}")
        if kind == "cpu" and index not in (None, 0):
            raise ValueError(f"device: the CPU has no index {index}; use 'cpu'")
        self.type = kind
        self.index = (index or 0) if kind == "cuda" else None
        self._saved = []

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = Device(other)
            except (TypeError, ValueError):
                return False
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __enter__(self):
        self._saved.append(getattr(_local, "default", None))
        _local.default = self
        return self

    def __exit__(self, *exc):
        _local.default = self._saved.pop()
        return False


CPU = Device("cpu")


def device(spec="cpu", index=None) -> Device:
    """``gradkit.device("cuda:0")``: a :class:`Device` (also a ``with`` scope)."""
    return Device(spec, index)


_UNSET = object()
_env_default = _UNSET  # GRADKIT_DEVICE, read on first use


def _process_default():
    """``GRADKIT_DEVICE`` (read once, on first use), else the CPU."""
    global _env_default
    if _env_default is _UNSET:
        import os

        spec = os.environ.get("GRADKIT_DEVICE", "").strip()
        try:
            _env_default = Device(spec) if spec else CPU
        except ValueError as e:
            raise ValueError(f"GRADKIT_DEVICE={spec!r} is not a device name: {e}") from None
    return _env_default


def default_device() -> Device:
    """The current thread's default device: the innermost ``with gradkit.device(...)``,
    else ``GRADKIT_DEVICE`` (``cpu``, ``cuda``, ``cuda:N``), else the CPU."""
    return getattr(_local, "default", None) or _process_default()


def as_device(spec=None) -> Device:
    """A Device from a name, a Device or None (the default device)."""
    return default_device() if spec is None else spec if isinstance(spec, Device) else Device(spec)


def array_module(dev):
    """The array module that creates arrays on ``dev``: numpy, or cupy for a GPU.

    Raises:
        DeviceError: a GPU was asked for and CuPy (or a GPU) is not available.
    """
    dev = as_device(dev)
    if dev.type == "cpu":
        import numpy

        return numpy
    cp = backend.cupy_module()
    if cp is None:
        raise DeviceError(f"device '{dev}' needs CuPy and a CUDA GPU, and CuPy is not "
                          f"available here: install gradkit[gpu] (pip install cupy-cuda12x), "
                          f"or use device 'cpu'")
    return cp


_GPU_DEVICES: dict = {}


def device_of(array) -> Device:
    """The device an array lives on (host data, scalars included, is on the CPU)."""
    if not backend.is_device_array(array):
        return CPU
    index = int(array.device.id)
    dev = _GPU_DEVICES.get(index)
    if dev is None:
        dev = _GPU_DEVICES[index] = Device("cuda", index)
    return dev


def using(dev):
    """A ``with`` scope in which the array module of ``dev`` allocates on ``dev``
    (``cupy.cuda.Device(i)`` for a GPU; nothing to do for the CPU)."""
    dev = as_device(dev)
    if dev.type == "cpu":
        import contextlib

        return contextlib.nullcontext()
    return array_module(dev).cuda.Device(dev.index)


def place(array, dev=None):
    """``array`` on ``dev`` (copied when it lives elsewhere; the same object when not).

    Host data that is not an array yet (lists, scalars) becomes one on ``dev``.
    """
    dev = as_device(dev)
    xp = array_module(dev)
    if backend.is_array(array) and device_of(array) == dev:
        return array
    if dev.type == "cpu":
        return backend.to_numpy(array)
    with xp.cuda.Device(dev.index):
        if backend.is_device_array(array):  # another GPU: copy through the peer
            return array.copy()
        return xp.asarray(array)


def check_same_device(op, args, arrays):
    """The arrays of an op's arguments, checked to share one device.

    ``args`` are the op's arguments, ``arrays`` the same with Tensors unwrapped. Two
    Tensors (or GPU arrays) on different devices are a :class:`DeviceError` naming both,
    never a silent copy (PyTorch's rule). Scalars go anywhere, and a plain NumPy array
    passed as a constant is copied to the tensors' GPU (TensorFlow converts constants
    so). ``op`` names the operation. Returns ``arrays``, with such constants moved.
    """
    first, constants = None, False
    for t, a in zip(args, arrays):
        if backend.is_device_array(a):
            dev = device_of(a)
        elif type(a) is numpy.ndarray:
            if not hasattr(t, "_data"):  # not a Tensor: a host constant
                constants = True
                continue
            dev = CPU
        else:
            continue
        if first is None:
            first = dev
        elif dev != first:
            raise DeviceError(
                f"{op}: expected all tensors on the same device, found {first} and {dev}; "
                f"move one with .to('{first}') (or .to('{dev}')) first")
    if constants and first is not None and first.type != "cpu":
        return [place(a, first) if type(a) is numpy.ndarray else a for a in arrays]
    return arrays


def rng(seed=None, dev=None, *, owner="gradkit.devices.rng"):
    """The random generator for drawing on ``dev`` (the default device when None).

    On the CPU it is :func:`gradkit.random.rng(seed) <gradkit.random.rng>` itself. On a
    GPU it is a new generator of the array module (``random.RandomState``) seeded with
    one draw from that host generator, so each device draw is a function of the host
    stream: ``gradkit.random.seed(s)`` makes GPU runs repeat, and a checkpoint that
    saves the host state resumes them bit for bit.
    """
    from gradkit import random as R

    dev = as_device(dev)
    host = R.rng(seed, owner=owner)
    if dev.type == "cpu":
        return host
    xp = array_module(dev)
    with xp.cuda.Device(dev.index):
        return _DeviceGenerator(xp.random.RandomState(int(host.integers(2 ** 63))))


class _DeviceGenerator:
    """A GPU ``RandomState`` with the method names of ``numpy.random.Generator``, so one
    drawing code serves both devices."""

    __slots__ = ("_rs",)

    def __init__(self, rs):
        self._rs = rs

    def random(self, size=None, dtype=numpy.float64):
        return self._rs.random_sample(size=size, dtype=dtype)

    def uniform(self, low=0.0, high=1.0, size=None):
        return self._rs.uniform(low, high, size)

    def normal(self, loc=0.0, scale=1.0, size=None):
        return self._rs.normal(loc, scale, size)

    def standard_normal(self, size=None, dtype=numpy.float64):
        return self._rs.standard_normal(size=size, dtype=dtype)

    def permutation(self, n):
        return self._rs.permutation(n)
