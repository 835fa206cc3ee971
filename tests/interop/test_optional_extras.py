"""A missing optional package raises one line naming the gradkit extra that installs it."""

import sys

import pytest

import gradkit.onnx
from gradkit.layers import Dense
from gradkit.models import Sequential
from gradkit.utils.optional import require


def test_require_names_the_extra():
    with pytest.raises(ImportError, match=r"install gradkit\[onnx\] \(pip install"):
        require("no_such_module_for_gradkit", "onnx", "ONNX export")


@pytest.mark.parametrize("module, extra, call", [
    ("onnx", "onnx", lambda tmp: gradkit.onnx.export(Sequential([Dense(2, input_shape=(3,))]))),
    ("h5py", "keras", lambda tmp: Sequential([Dense(2, input_shape=(3,))]).save(
        tmp / "m.keras", format="keras")),
])
def test_missing_package_message(module, extra, call, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(ImportError) as e:
        call(tmp_path)
    assert f"install gradkit[{extra}]" in str(e.value)
    assert "\n" not in str(e.value)
