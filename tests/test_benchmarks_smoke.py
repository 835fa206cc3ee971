"""Smoke test of the benchmark suite: ``benchmarks/run.py --smoke`` end to end, in seconds.

Runs every workload with 2 batches per epoch in worker processes, and checks that
``smoke.json`` and ``smoke.md`` are written and well formed. JAX is replaced by a
stub that fails to import, so the Keras-JAX contender always takes the "not
installed" path (and the test stays fast); PyTorch runs when it is installed.
``--threads 1`` keeps multi-threaded BLAS from thrashing on a busy CI machine.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "benchmarks" / "run.py"
sys.path.insert(0, str(ROOT / "benchmarks"))

import workers  # noqa: E402


def _run_smoke(tmp_path):
    stubs = tmp_path / "stubs" / "jax"
    stubs.mkdir(parents=True)
    (stubs / "__init__.py").write_text("raise ImportError('jax is stubbed out by the test')\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(tmp_path / "stubs"), str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH")
                                                else []))
    cmd = [sys.executable, str(RUN), "--smoke", "--threads", "1", "--out", str(tmp_path / "out"),
           "--contenders", "gradkit-fit,gradkit-fit-numpy,gradkit-loop,pytorch,keras-jax,numpy"]
    if not workers.data_available():
        cmd.append("--synthetic-data")
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, tmp_path / "out"


def _tables(md):
    """The Markdown tables: lists of rows, each row a list of cells."""
    tables, cur = [], None
    for line in md.splitlines():
        if line.startswith("|"):
            assert line.endswith("|"), line
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cur is None:
                cur = []
                tables.append(cur)
            cur.append(cells)
        else:
            cur = None
    return tables


def test_suite_smoke(tmp_path):
    proc, out = _run_smoke(tmp_path)
    report = json.loads((out / "smoke.json").read_text())
    md = (out / "smoke.md").read_text()
    have_torch = importlib.util.find_spec("torch") is not None

    meta = report["meta"]
    assert meta["smoke"] is True
    assert meta["machine"]["cores"] >= 1 and meta["machine"]["cpu"]
    assert set(report["results"]) == {"mlp", "cnn", "xor", "predict"}

    for wl, res in report["results"].items():
        assert res["keras-jax"]["status"] == "skipped", res["keras-jax"]
        assert "not installed" in res["keras-jax"]["note"]
        assert res["gradkit-fit"]["status"] == "ok", res["gradkit-fit"]
        if wl in ("mlp", "cnn"):  # gradkit[fast] benchmarked both ways
            assert res["gradkit-fit-numpy"]["status"] == "ok", res["gradkit-fit-numpy"]
        assert res["pytorch"]["status"] == ("ok" if have_torch else "skipped")
        for name, r in res.items():
            assert r["status"] in ("ok", "skipped"), (wl, name, r)
            if r["status"] != "ok":
                continue
            for key, t in r["median_s"].items():
                assert t is not None and t > 0 and math.isfinite(t), (wl, name, key)
            if wl != "predict":
                assert r["peak_rss_mb"] > 10
            if wl == "mlp":     # two epochs, each timed on its own
                assert len(r["runs"]["train"]) == 2, (name, r["runs"])
    assert "blas-floor" in report["results"]["mlp"]
    assert 0 < report["summary"]["mlp"]["blas_floor"]["seconds"]
    for wl in ("mlp", "cnn"):
        for name, acc in report["summary"][wl]["accuracy"].items():
            assert 0.0 <= acc <= 1.0, (wl, name)
    # identical weights everywhere: the peers predict the same classes as gradkit
    for m in ("mlp", "cnn"):
        for name, agree in report["summary"][f"predict_{m}"]["agreement"].items():
            assert agree >= 0.99, (m, name, agree)

    rows = report["targets"]
    # the performance issue's table: 3 MLP peers + BLAS floor + fit/loop, accuracy; CNN
    # epoch + accuracy; XOR loop + train_on_batch; predict MLP + CNN; peak RSS; and the
    # NumPy-only path's MLP epoch, CNN epoch and peak RSS
    assert len(rows) == 16
    assert sum("NumPy only" in r["measure"] for r in rows) == 3
    assert "removed for every contender" in meta["blas_env"]
    assert "gradkit-fit" in meta["blas_kernels"]
    for row in rows:
        assert row["result"] in ("PASS", "MISS", "n/a"), row
        assert (row["value"] is None) == (row["result"] == "n/a"), row
    if have_torch:
        assert all(r["result"] != "n/a" for r in rows if "Keras" not in r["measure"])
    # numba is loaded only where the loops are on: the NumPy-only worker stays smaller
    if importlib.util.find_spec("numba") is not None:
        rss = report["summary"]["mlp"]["peak_rss_mb"]
        assert rss["gradkit-fit-numpy"] < rss["gradkit-fit"], rss

    assert md.startswith("# gradkit benchmark results")
    assert "SMOKE" in md and "load average" in md
    tables = _tables(md)
    assert len(tables) == 5     # targets, mlp, cnn, xor, predict
    assert tables[0][0] == ["measure", "value", "target", "result", "same ratio by CPU time"]
    assert len(tables[0]) == 2 + len(rows)
    for table in tables:
        assert set(table[1]) == {"---"}
        assert all(len(row) == len(table[0]) for row in table), table
    assert "PASS" in proc.stdout or "MISS" in proc.stdout
