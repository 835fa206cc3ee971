"""gradkit.device: names, equality, the per-thread default scope, the error without CuPy."""

import threading

import numpy as np
import pytest

from gradkit import backend
from gradkit.devices import (
    CPU,
    Device,
    DeviceError,
    array_module,
    as_device,
    default_device,
    device,
    place,
)


@pytest.mark.parametrize("spec, kind, index, text", [
    ("cpu", "cpu", None, "cpu"), ("CUDA", "cuda", 0, "cuda:0"), ("cuda:3", "cuda", 3, "cuda:3")])
def test_names(spec, kind, index, text):
    d = device(spec)
    assert (d.type, d.index, str(d)) == (kind, index, text)
    assert d == text and d == Device(d) and hash(d) == hash(Device(text))


@pytest.mark.parametrize("spec, err", [("tpu", ValueError), ("cuda:x", ValueError),
                                       ("cpu:1", ValueError), (3, TypeError)])
def test_bad_names(spec, err):
    with pytest.raises(err, match="device"):
        device(spec)


def test_default_scope_is_per_thread_and_nests():
    seen = []
    with device("cuda:1"):
        assert default_device() == "cuda:1"
        with device("cpu"):
            assert default_device() is not None and default_device() == "cpu"
        t = threading.Thread(target=lambda: seen.append(default_device()))
        t.start()
        t.join()
        assert as_device(None) == "cuda:1"
    assert default_device() is CPU and seen == [CPU]


def test_cpu_placement_and_missing_gpu():
    a = np.arange(3.0)
    assert place(a, "cpu") is a and array_module("cpu") is np
    if backend.cupy_module() is None:
        with pytest.raises(DeviceError, match=r"gradkit\[gpu\]"):
            array_module("cuda")
