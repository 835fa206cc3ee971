"""What a user installs: the sdist and the wheel carry LICENSE, py.typed and gradkit.__version__.

The project is copied to a temporary directory and built there with setuptools'
PEP 517 backend (what ``pip wheel`` and ``python -m build`` call), so the
worktree gets no ``build/`` or ``*.egg-info``. The wheel is built twice: from
the source tree and from the unpacked sdist (pip's path for ``pip install
gradkit-X.tar.gz``), so a file lost on the way into the sdist is caught.
"""

import email
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import gradkit

ROOT = Path(__file__).resolve().parents[1]
VERSION = gradkit.__version__

pytestmark = pytest.mark.slow

BUILD = """
import sys
from setuptools import build_meta
kind, out = sys.argv[1], sys.argv[2]
print((build_meta.build_sdist if kind == "sdist" else build_meta.build_wheel)(out))
"""


def _build(kind, source, out):
    run = subprocess.run([sys.executable, "-c", BUILD, kind, str(out)], cwd=source,
                         capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return out / run.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("packaging")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "gradkit", src / "gradkit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp / "dist"
    sdist = _build("sdist", src, dist)
    wheel = _build("wheel", src, dist)
    unpacked = tmp / "unpacked"
    with tarfile.open(sdist) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4
            tar.extractall(unpacked, filter="data")
        else:
            tar.extractall(unpacked)
    (from_sdist,) = unpacked.iterdir()
    wheel_from_sdist = _build("wheel", from_sdist, tmp / "dist2")
    return {"sdist": sdist, "wheel": wheel, "wheel_from_sdist": wheel_from_sdist}


def test_file_names_carry_the_version(artifacts):
    assert artifacts["sdist"].name == f"gradkit-{VERSION}.tar.gz"
    assert artifacts["wheel"].name == f"gradkit-{VERSION}-py3-none-any.whl"
    assert artifacts["wheel_from_sdist"].name == artifacts["wheel"].name


def test_sdist_has_the_license_py_typed_and_the_version(artifacts):
    top = f"gradkit-{VERSION}"
    with tarfile.open(artifacts["sdist"]) as tar:
        names = set(tar.getnames())
        license_text = tar.extractfile(f"{top}/LICENSE").read().decode()
        meta = email.message_from_bytes(tar.extractfile(f"{top}/PKG-INFO").read())
    assert f"{top}/gradkit/py.typed" in names
    assert license_text == (ROOT / "LICENSE").read_text()
    assert meta["Version"] == VERSION and meta["License-Expression"] == "MIT"


@pytest.mark.parametrize("which", ["wheel", "wheel_from_sdist"])
def test_wheel_has_the_license_py_typed_and_the_version(artifacts, which):
    info = f"gradkit-{VERSION}.dist-info"
    with zipfile.ZipFile(artifacts[which]) as whl:
        names = set(whl.namelist())
        license_text = whl.read(f"{info}/licenses/LICENSE").decode()
        meta = email.message_from_bytes(whl.read(f"{info}/METADATA"))
        init = whl.read("gradkit/__init__.py").decode()
    assert "gradkit/py.typed" in names
    assert license_text.startswith("MIT License\n\nCopyright (c) 2026 the gradkit authors\n")
    assert meta["Version"] == VERSION and meta["License-Expression"] == "MIT"
    assert f'__version__ = "{VERSION}"' in init
    assert "Typing :: Typed" in meta.get_all("Classifier")
    # only the package goes in: no tests, benchmarks or examples
    assert {n.split("/")[0] for n in names} == {"gradkit", info}
