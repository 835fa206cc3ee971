"""The backend seam and its process set-up."""

import os
import subprocess
import sys

import numpy as np

import gradkit as gk
from gradkit import backend


def test_numpy_is_the_array_module_without_cupy():
    assert backend.get_array_module(np.zeros(2)) is np
    assert backend.to_numpy(np.ones(2)).tolist() == [1.0, 1.0]
    assert gk.Tensor([1.0]).numpy().dtype == np.float32


def test_malloc_tuning_can_be_turned_off():
    code = "import gradkit.backend as b; print(b.MALLOC_TUNED)"
    env = dict(os.environ, GRADKIT_MALLOC_TUNING="0")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip() == "False", out.stderr
    if sys.platform.startswith("linux"):
        assert isinstance(backend.MALLOC_TUNED, bool)
