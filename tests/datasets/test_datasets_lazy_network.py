"""``import gradkit`` loads no network or TLS module: they are imported when a download starts."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Every module here was loaded by ``import gradkit`` before downloads imported them lazily
# (urllib.parse is not listed: NumPy itself imports it).
NETWORK_MODULES = ["http", "http.client", "ssl", "_ssl", "socket", "_socket", "selectors", "email",
                   "email.parser", "urllib.request", "urllib.error", "urllib.response"]

PROGRAM = """
import json, sys
{statement}
print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))
"""


def _loaded_after(statement):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = PROGRAM.format(statement=statement, modules=NETWORK_MODULES)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_import_gradkit_loads_no_network_module():
    assert _loaded_after("import gradkit\nimport gradkit.datasets.mnist") == []


def test_a_download_attempt_loads_them(tmp_path):
    # the check above is meaningful only if these are the modules a download needs
    statement = """
from gradkit.datasets import _files
spec = _files.DatasetSpec("x", "X", (_files.FileSpec("a", "a-idx1-ubyte", "0" * 64),))
try:
    _files.locate(spec, mirrors=["http://127.0.0.1:9"], quiet=True, timeout=2)
except Exception:
    pass
"""
    env_statement = (f"import os\nos.environ['XDG_CACHE_HOME'] = {str(tmp_path)!r}\n"
                     "os.environ['GRADKIT_ALLOW_HTTP_LOCALHOST'] = '1'\n"
                     f"os.environ.pop('GRADKIT_DATA', None)\n") + statement
    loaded = _loaded_after(env_statement)
    assert {"http.client", "urllib.request", "socket"} <= set(loaded)
