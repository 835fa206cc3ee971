"""Example 000 draws the autodiff graph of its 4-3-1 network."""

import subprocess
import sys
from pathlib import Path

import pytest
from viz_helpers import parse_dot

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_example_000_draws_its_graph(tmp_path):
    target = tmp_path / "graph.dot"
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "000_mlp_three_levels.py"),
                           "--quick", "--out", str(tmp_path), "--graph", str(target)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "equals the hand-written backprop's" in proc.stdout
    (g,) = parse_dot(target.read_text())
    labels = " ".join(n.get("label") or "" for n in g.get_nodes())
    for name in ("W_h", "b_h", "W_o", "b_o", "matmul (3, 3)", "sigmoid (3, 1)", "sum ()"):
        assert name in labels
    assert sum("|g|" in (e.get("label") or "") for e in g.get_edges()) == 12
