"""No NumPy call on tensor data outside the array-module seam (a static check).

In the modules that touch tensor data (ops, layers, optimizers, losses, metrics,
initializers, models), every ``np.xxx(...)`` / ``numpy.xxx(...)`` call must be one that
cannot touch an array (dtype arithmetic, scalar types) or carry a ``# host:`` comment on
its line saying why its data is host data (the caller's lists, a dummy input, a config
value). Everything else goes through ``xp = get_array_module(x)``. backend.py, the
strict stand-in and the host-side I/O modules (data pipeline, saving, datasets, plots,
CLI, utils) are not checked: host arrays are their business.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "gradkit"
CHECKED = ["tensor.py", "creation.py", "devices.py", "losses.py", "metrics.py",
           "initializers.py", "regularizers.py", "activations.py", "mixed_precision.py",
           "amp.py", "autograd", "ops", "layers", "optimizers", "models/model.py",
           "models/sequential.py", "models/functional.py"]
NUMPY_NAMES = {"np", "numpy", "_np", "_numpy"}
# calls that never touch array data
SAFE = {"dtype", "result_type", "promote_types", "iinfo", "finfo", "issubdtype", "isscalar",
        "broadcast_shapes", "can_cast", "float16", "float32", "float64", "int8", "int16",
        "int32", "int64", "uint8", "bool_", "errstate"}


def _files():
    for name in CHECKED:
        path = ROOT / name
        if path.is_dir():
            yield from sorted(path.glob("*.py"))
        elif path.exists():
            yield path


def _numpy_calls(path):
    src = path.read_text()
    lines = src.splitlines()
    tree = ast.parse(src)
    exempt = set()  # a def/class line with "# host:" covers its whole body
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and \
                "# host:" in lines[node.lineno - 1]:
            exempt.update(range(node.lineno, node.end_lineno + 1))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        chain, f = [], node.func
        while isinstance(f, ast.Attribute):
            chain.append(f.attr)
            f = f.value
        if not (isinstance(f, ast.Name) and f.id in NUMPY_NAMES and chain):
            continue
        name = ".".join(reversed(chain))
        if name in SAFE or node.lineno in exempt or "# host:" in lines[node.lineno - 1]:
            continue
        yield f"{path.name}:{node.lineno}: {f.id}.{name}(...)"


def test_the_checker_sees_numpy_calls(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy as np\nx = np.zeros(3)\ny = np.dtype('f')\n"
                   "z = np.asarray([1])  # host: a literal\nw = np.linalg.norm(x)\n")
    assert [c.split(": ", 1)[1] for c in _numpy_calls(bad)] == ["np.zeros(...)",
                                                                "np.linalg.norm(...)"]


@pytest.mark.parametrize("path", list(_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_numpy_call_on_tensor_data(path):
    found = list(_numpy_calls(path))
    assert not found, ("NumPy called outside the array-module seam (use xp = "
                       "gradkit.backend.get_array_module(x), or mark host data with a "
                       "'# host: why' comment):\n" + "\n".join(found))
