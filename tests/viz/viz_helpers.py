"""Shared by the tests under tests/viz: small models, DOT parsing, headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings

import pytest

import gradkit
from gradkit import layers

DOC_IMG = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "img")

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot is not installed (apt-get install graphviz)")
needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="headless Chromium is not installed (apt-get install chromium)")

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def functional_model():
    """Two inputs, a shared layer, a nested Sequential, a merge and two outputs."""
    x = gradkit.Input(shape=(4,), name="x")
    aux = gradkit.Input(shape=(2,), name="aux")
    shared = layers.Dense(3, activation="relu", name="shared")
    block = gradkit.Sequential([gradkit.Input(shape=(3,)), layers.Dense(5, name="block_in"),
                                layers.Dense(4, name="block_out")], name="block")
    h = shared(x)
    again = shared(block(h))  # the shared layer used a second time
    merged = layers.Concatenate(name="merge")([again, aux])
    y1 = layers.Dense(1, activation="sigmoid", name="score")(merged)
    y2 = layers.Dense(2, name="extra")(h)
    return gradkit.Model([x, aux], [y1, y2], name="demo")


def parse_dot(source):
    """Parse DOT text back with pydot (the `test` extra); the list of graphs."""
    pydot = pytest.importorskip("pydot", reason="pydot (gradkit[test]) parses DOT back")
    with warnings.catch_warnings():  # pyparsing deprecations inside pydot, not ours
        warnings.simplefilter("ignore", DeprecationWarning)
        graphs = pydot.graph_from_dot_data(source)
    assert graphs, f"pydot could not parse:\n{source}"
    return graphs


def canon(source):
    """``dot -Tcanon``: Graphviz's own parser reads the text and writes it back."""
    proc = subprocess.run(["dot", "-Tcanon"], input=source.encode(), capture_output=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def chromium(tmp_path, url, *, screenshot=None, dump_dom=False, size=(1280, 1000),
             extra=(), timeout=90):
    """Run headless Chromium on ``url`` with a fresh profile; the DOM text if ``dump_dom``."""
    args = ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}",
            f"--window-size={size[0]},{size[1]}", *extra]
    if screenshot is not None:
        args.append(f"--screenshot={screenshot}")
    if dump_dom:
        args.append("--dump-dom")
    args.append(url)
    proc = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return proc.stdout.decode(errors="replace")


def save_doc_picture(src, name):
    """Copy a picture to docs/img/ when GRADKIT_WRITE_DOC_IMAGES=1 (refreshing the README)."""
    if os.environ.get("GRADKIT_WRITE_DOC_IMAGES") == "1":
        os.makedirs(DOC_IMG, exist_ok=True)
        shutil.copyfile(src, os.path.join(DOC_IMG, name))
