"""Fixtures for the op-specific tests: input builders, gradcheck wrappers, PyTorch diffs.

The helpers live in importable modules (``inputs``: specs to arrays; ``checks``: the
checks); the fixtures expose them to tests that are not table-driven. Specs are described
in :mod:`tests.ops.inputs`.
"""

from __future__ import annotations

import pytest

from tests.ops import checks
from tests.ops.inputs import make_inputs


@pytest.fixture(scope="session")
def make():
    """``make(specs, seed=0) -> list of arrays``."""
    return make_inputs


@pytest.fixture(scope="session")
def grad_ok():
    """``grad_ok(fn, arrays)``: float64 gradcheck."""
    return checks.check_grad


@pytest.fixture(scope="session")
def grad2_ok():
    """``grad2_ok(fn, arrays)``: gradcheck of the create_graph gradient."""
    return checks.check_grad2


@pytest.fixture(scope="session")
def torch_ok():
    """``torch_ok(fn, tfn, arrays, dtype=float64)``: values and grads equal PyTorch's."""
    checks.import_torch()
    return checks.check_torch


@pytest.fixture(scope="session")
def torch():
    """The torch module, or skip the test (saying how to install it)."""
    return checks.import_torch()
