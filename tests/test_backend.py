"""The backend seam and its process set-up."""

import os
import subprocess
import sys

import numpy as np
import pytest

import gradkit as gk
from gradkit import backend


def test_numpy_is_the_array_module_without_cupy():
    assert backend.get_array_module(np.zeros(2)) is np
    assert backend.to_numpy(np.ones(2)).tolist() == [1.0, 1.0]
    assert gk.Tensor([1.0]).numpy().dtype == np.float32


_RSS_PROGRAM = """
import sys
if sys.argv[1] == "gradkit":
    import gradkit
    if sys.argv[2] == "fit":  # a fit runs and ends before the host allocates
        import numpy as np
        m = gradkit.Sequential([gradkit.layers.Dense(2, input_shape=(3,))])
        m.compile(optimizer="sgd", loss="mse")
        m.fit(np.ones((8, 3), "float32"), np.ones((8, 2), "float32"), verbose=0)
import numpy as np

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024

before = rss()
blocks = [np.ones(1 << 19) for _ in range(100)]  # 100 x 4 MiB
del blocks
print(rss() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc on Linux")
@pytest.mark.parametrize("after", ["import", "fit"])
def test_importing_gradkit_leaves_the_host_malloc_alone(after):
    # 400 MiB allocated in 4 MiB blocks and freed: without gradkit glibc returns it all; an
    # import that raised the mmap/trim thresholds kept ~300 MB resident
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, GRADKIT_MALLOC_TUNING="1")
    kept = int(subprocess.run([sys.executable, "-c", _RSS_PROGRAM, "gradkit", after],
                              capture_output=True, text=True, env=env, cwd=root,
                              check=True).stdout)
    assert kept < 64, f"{kept} MB still resident after freeing 400 MiB"


def test_malloc_scope_nests_and_restores(monkeypatch):
    from gradkit import _malloc

    calls = []

    class FakeLibc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return 1

        def malloc_trim(self, pad):
            calls.append(("trim", pad))

    monkeypatch.setattr(_malloc, "_libc", FakeLibc())
    monkeypatch.setenv("GRADKIT_MALLOC_TUNING", "1")
    with _malloc.tuned():
        with _malloc.tuned():
            assert len(calls) == 2  # set once, by the outer scope
        assert len(calls) == 2
    assert calls[2:] == [(-3, 128 * 1024), (-1, 128 * 1024), ("trim", 0)]
    calls.clear()
    monkeypatch.setenv("GRADKIT_MALLOC_TUNING", "0")
    with _malloc.tuned():
        pass
    assert calls == []
