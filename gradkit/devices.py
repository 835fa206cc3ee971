"""Devices by name: ``gradkit.device("cpu" | "cuda" | "cuda:N")``.

A :class:`Device` names where arrays live; its array module (NumPy on the CPU, CuPy
on a GPU, from :mod:`gradkit.backend`) creates them. ``with gradkit.device("cuda"):``
makes a device the default for the current thread. Asking for a GPU where CuPy is
missing is an error that says how to install it, never a silent fall-back to the CPU.
"""

from __future__ import annotations

import threading

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


def default_device() -> Device:
    """The current thread's default device (``with gradkit.device(...)``), else the CPU."""
    return getattr(_local, "default", None) or CPU


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


def device_of(array) -> Device:
    """The device an array lives on."""
    dev = getattr(array, "device", None)
    if backend.get_array_module(array).__name__ == "numpy" or dev is None:
        return CPU
    return Device("cuda", int(getattr(dev, "id", 0)))  # pragma: no cover - GPU only


def place(array, dev=None):
    """``array`` on ``dev`` (copied when it lives elsewhere; the same object when not)."""
    dev = as_device(dev)
    xp = array_module(dev)
    if device_of(array) == dev:
        return array
    if dev.type == "cpu":
        return backend.to_numpy(array)
    with xp.cuda.Device(dev.index):  # pragma: no cover - GPU only
        return xp.asarray(array)
