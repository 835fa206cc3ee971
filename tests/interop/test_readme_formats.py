"""The README's "Other formats" example runs as written."""

import os
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("h5py")

README = Path(__file__).resolve().parents[2] / "README.md"


def test_other_formats_example_runs(tmp_path, monkeypatch):
    code = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
                if "model.export(" in b)
    monkeypatch.chdir(tmp_path)
    env = {}
    exec(compile(code, "README:formats", "exec"), env)
    x = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    want = env["model"].predict(x, verbose=0)
    np.testing.assert_allclose(env["keras_model"].predict(x, verbose=0), want, atol=1e-6)
    # the ONNX model is NHWC in, like the gradkit model it came from
    np.testing.assert_allclose(env["back"].predict(x, verbose=0), want, atol=1e-5)
    assert os.path.exists("cnn.onnx") and os.path.exists("cnn.keras")
