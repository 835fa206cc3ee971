"""Shared fixtures of the gradkit.nn tests: seeding and PyTorch."""

from __future__ import annotations

import pytest

import gradkit


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same global random state."""
    gradkit.random.seed(0)
    yield


@pytest.fixture
def torch():
    """PyTorch on the CPU (the reference every module and loss is compared with)."""
    t = pytest.importorskip("torch")
    t.set_num_threads(1)
    t.manual_seed(0)
    return t
