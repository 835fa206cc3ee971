"""``ArrayMath``, the namespace backward passes compute with, and its twin ``gradkit.ops``.

A backward is written once against ``M``: ``ArrayMath`` (raw arrays) for an
ordinary backward, ``gradkit.ops`` (Tensors) under ``create_graph``. So every
``M.<name>`` a backward uses must exist in both, or the op silently works at
first order only.
"""

import ast
from pathlib import Path

import numpy as np
import pytest

import gradkit
from gradkit import ops
from gradkit.autograd.function import ArrayMath, Function, array_math

ROOT = Path(gradkit.__file__).parent


def _backward_uses():
    """{(file, class, name)} for every ``M.<name>`` in a ``backward`` under gradkit/ops."""
    uses = set()
    for path in sorted((ROOT / "ops").glob("*.py")):
        for cls in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(cls, ast.ClassDef):
                continue
            for fn in cls.body:
                if not (isinstance(fn, ast.FunctionDef) and fn.name == "backward"):
                    continue
                m = fn.args.args[1].arg  # backward(self, M, g, out, *xs)
                for node in ast.walk(fn):
                    if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                            and node.value.id == m):
                        uses.add((path.name, cls.name, node.attr))
    return uses


USES = sorted(_backward_uses())


def test_the_scan_sees_the_backwards():
    names = {n for _, _, n in USES}
    # a scan that found nothing would make the next test pass vacuously
    assert {"where", "exp", "graph", "sqrt", "swapaxes"} <= names, names
    assert {c for _, c, _ in USES} >= {"Normalize", "ClippedReLU", "Power", "Std"}


@pytest.mark.parametrize("where, cls, name", USES, ids=[f"{c}.{n}" for _, c, n in USES])
def test_every_name_a_backward_uses_exists_in_both_namespaces(where, cls, name):
    m = ArrayMath(np)
    assert hasattr(m, name), f"{where}: {cls}.backward uses M.{name}, which ArrayMath lacks"
    assert hasattr(ops, name), (f"{where}: {cls}.backward uses M.{name}, which gradkit.ops "
                                "lacks: create_graph through it would fail")


@pytest.mark.parametrize("name", ArrayMath.NAMES + ArrayMath.HELPERS)
def test_every_array_math_name_has_a_gradkit_ops_twin(name):
    assert callable(getattr(array_math(np), name))
    assert callable(getattr(ops, name)), name


def test_unknown_names_raise_instead_of_falling_through_to_numpy():
    m = array_math(np)
    assert hasattr(np, "greater") and hasattr(np, "empty_like")
    for name in ("greater", "empty_like", "no_such_function"):
        with pytest.raises(AttributeError, match=f"ArrayMath has no '{name}'"):
            getattr(m, name)
    assert not hasattr(m, "greater")


def test_graph_flags_tell_the_two_namespaces_apart():
    assert array_math(np).graph is False
    assert ops.graph is True
    assert array_math(np) is array_math(np)  # one per array module


def test_helpers_compute_what_their_ops_twins_compute():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)) * 5
    m = array_math(np)
    for name in ("sigmoid", "softmax", "log_softmax", "erf"):
        np.testing.assert_allclose(getattr(m, name)(x), getattr(ops, name)(x).numpy(),
                                   rtol=1e-12, atol=1e-14, err_msg=name)
    idx = (np.array([0, 2, 0]),)
    g = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(m.scatter_add((4,), idx, g),
                                  ops.scatter_add((4,), idx, gradkit.Tensor(g)).numpy())


def _subclasses(cls):
    seen, todo = [], [cls]
    while todo:
        for sub in todo.pop().__subclasses__():
            seen.append(sub)
            todo.append(sub)
    return seen


def test_every_primitive_lives_in_gradkit_ops():
    import gradkit.layers  # noqa: F401 - import every layer module before looking

    outside = [f"{c.__module__}.{c.__qualname__}" for c in _subclasses(Function)
               if c.__module__.startswith("gradkit.")
               and not c.__module__.startswith("gradkit.ops")]
    assert outside == []
