"""Every row of the op table through every check it takes part in.

One test per check and sample: float64 gradcheck, second-order gradcheck
(``create_graph``), values and gradients against PyTorch in float64 and float32, the
Hessian-vector product against PyTorch; and one test per op for the forward pass against
the NumPy reference over all its samples. Test ids are ``<op>-<sample>``; the table is in
``op_table.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.ops import checks
from tests.ops.inputs import make_inputs
from tests.ops.op_table import GRAD, GRAD2, NUMPY, OPS, TORCH, TORCH32, TORCH_GRAD2


def _cases(check):
    return [pytest.param(row, sample, id=f"{row.name}-{sample.id}".rstrip("-"))
            for row in OPS for sample in row.samples if check in row.checks(sample)]


def _bind(row, sample, fn):
    return lambda *xs: fn(*xs, **sample.kwargs)


def _squared(row, fn):
    """Second order of an op linear in its inputs: check it on ``op(x * x)``."""
    if row.grad2 != "square":
        return fn
    return lambda *xs: fn(*[x * x if _is_float(x) else x for x in xs])


def _is_float(x):
    """A gradkit or torch tensor of a floating dtype."""
    return x.is_floating_point() if hasattr(x, "is_floating_point") else x.dtype.kind == "f"


def _tol(row, check):
    rtol, atol = row.tol.get(check, (None, None))
    return {k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None}


@pytest.mark.parametrize("row, sample", _cases(GRAD))
def test_gradcheck(row, sample):
    checks.check_grad(_bind(row, sample, row.op), make_inputs(sample.inputs), **_tol(row, GRAD))


@pytest.mark.parametrize("row, sample", _cases(GRAD2))
def test_second_order_gradcheck(row, sample):
    checks.check_grad2(_squared(row, _bind(row, sample, row.op)), make_inputs(sample.inputs),
                       **_tol(row, GRAD2))


@pytest.mark.torch
@pytest.mark.parametrize("row, sample", _cases(TORCH))
def test_matches_torch_float64(row, sample):
    checks.check_torch(_bind(row, sample, row.op), _bind(row, sample, row.twin),
                       make_inputs(sample.inputs), **_tol(row, TORCH))


@pytest.mark.torch
@pytest.mark.parametrize("row, sample", _cases(TORCH32))
def test_matches_torch_float32(row, sample):
    checks.check_torch(_bind(row, sample, row.op), _bind(row, sample, row.twin),
                       make_inputs(sample.inputs), dtype=np.float32, **_tol(row, TORCH32))


@pytest.mark.torch
@pytest.mark.parametrize("row, sample", _cases(TORCH_GRAD2))
def test_second_order_matches_torch(row, sample):
    checks.check_torch_grad2(_squared(row, _bind(row, sample, row.op)),
                             _squared(row, _bind(row, sample, row.twin)),
                             make_inputs(sample.inputs), **_tol(row, TORCH_GRAD2))


@pytest.mark.parametrize("row", [r for r in OPS if any(NUMPY in r.checks(s) for s in r.samples)],
                         ids=lambda r: r.name)
def test_forward_matches_numpy(row):
    """One test per op over all its samples (cheap checks: one item each would cost more
    in pytest than in NumPy); a failure names the sample."""
    for sample in row.samples:
        if NUMPY not in row.checks(sample):
            continue
        try:
            checks.check_numpy(_bind(row, sample, row.op), _bind(row, sample, row.ref),
                               make_inputs(sample.inputs), **_tol(row, NUMPY))
        except AssertionError as e:
            raise AssertionError(f"{row.name}, sample {sample.id!r}: {e}") from None


def test_every_row_is_checked_against_a_reference():
    """A row with neither a NumPy reference nor a PyTorch twin checks only itself."""
    lonely = [r.name for r in OPS if r.ref is None and r.twin is None]
    assert not lonely, f"rows without any reference: {lonely}"
    for row in OPS:
        assert row.samples, f"{row.name}: no samples"
        ids = [s.id for s in row.samples]
        assert len(set(ids)) == len(ids), f"{row.name}: repeated sample ids"
        assert any(GRAD in row.checks(s) for s in row.samples), f"{row.name}: no gradcheck"
