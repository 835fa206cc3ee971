"""Faults: kills mid-save, full disks, Ctrl-C, divergence, resume after a crash."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import gradkit as gk
from gradkit import callbacks

CHILD = Path(__file__).with_name("_child.py")
ROOT = Path(__file__).resolve().parents[2]


def spawn(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, str(CHILD), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for(proc, word, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if word in line:
            return
        if not line and proc.poll() is not None:
            raise AssertionError(f"child exited early: {proc.stderr.read()}")
    raise AssertionError(f"child never printed {word!r}")


def kill_at_random(kind, path, rounds, max_delay):
    rng = random.Random(1)
    proc = None
    for _ in range(rounds):
        proc = spawn(kind, path)
        wait_for(proc, "ready")
        time.sleep(rng.uniform(0, max_delay))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        model = gk.load_model(path)  # always loadable, never half-written
        leftovers = [p for p in Path(path).parent.iterdir() if p.name.endswith(".part")]
        for p in leftovers:  # a killed writer may leave its temp file; never the target
            p.unlink()
        yield model


@pytest.mark.fault
def test_sigkill_during_save_leaves_a_loadable_file(tmp_path):
    path = tmp_path / "model.gradkit"
    ref = None
    for model in kill_at_random("save", path, rounds=12, max_delay=0.3):
        ws = model.get_weights()
        if ref is None:
            from tests.robustness._child import small_model

            ref = small_model().get_weights()
        offset = ws[0][0, 0] - ref[0][0, 0]
        assert offset in (0.0, 1.0)  # one of the two complete states, nothing between
        for w, r in zip(ws, ref):
            np.testing.assert_array_equal(w, r + offset)


@pytest.mark.fault
def test_sigkill_during_checkpoint_leaves_a_loadable_file(tmp_path):
    path = tmp_path / "ckpt.gradkit"
    for model in kill_at_random("checkpoint", path, rounds=8, max_delay=0.5):
        assert model.optimizer is not None and np.isfinite(model.get_weights()[0]).all()


@pytest.mark.fault
def test_disk_full_while_saving_keeps_the_previous_file(tmp_path, monkeypatch):
    from gradkit.models import saving

    model = gk.Sequential([gk.layers.Dense(3, input_shape=(2,))])
    path = tmp_path / "m.gradkit"
    model.save(path)
    before = path.read_bytes()
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(saving.os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match=r"cannot save to .*m\.gradkit.*No space left.*unchanged"):
        model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.gradkit"]


@pytest.mark.fault
def test_permission_error_while_saving_is_clear(tmp_path, monkeypatch):
    from gradkit.models import saving

    model = gk.Sequential([gk.layers.Dense(3, input_shape=(2,))])
    path = tmp_path / "m.gradkit"
    model.save(path)
    before = path.read_bytes()

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(saving.tempfile, "mkstemp", denied)
    with pytest.raises(OSError, match=r"cannot save to .*Permission denied.*unchanged"):
        model.save(path)
    assert path.read_bytes() == before


@pytest.mark.fault
def test_ctrl_c_during_fit_stops_at_a_batch_and_the_model_saves(tmp_path):
    path = tmp_path / "after.gradkit"
    proc = spawn("sigint", path)
    wait_for(proc, "started")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "saved after 1 epoch(s)" in out
    assert "interrupted (Ctrl-C)" in err and "Traceback" not in err


@pytest.mark.fault
def test_divergence_is_stopped_by_terminate_on_nan():
    model = gk.Sequential([gk.layers.Dense(8, activation="relu", input_shape=(4,)),
                           gk.layers.Dense(1)])
    model.compile(optimizer=gk.optimizers.SGD(learning_rate=1e6), loss="mse")
    x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32") * 100
    stop = callbacks.TerminateOnNaN()
    with pytest.warns(RuntimeWarning):
        hist = model.fit(x, x[:, :1] * 3, epochs=20, batch_size=16, verbose=0,
                         callbacks=[stop])
    assert len(hist.epoch) == 1 and "epoch 1, batch" in stop.message


@pytest.mark.fault
def test_divergence_without_terminate_warns_once():
    import warnings

    model = gk.Sequential([gk.layers.Dense(1, input_shape=(4,))])
    model.compile(optimizer=gk.optimizers.SGD(learning_rate=1e6), loss="mse")
    x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32") * 100
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        model.fit(x, x[:, :1], epochs=3, batch_size=16, verbose=0)
    assert len([w for w in rec if "the loss became" in str(w.message)]) == 1


@pytest.mark.fault
def test_resume_after_a_crash_matches_an_uninterrupted_run(tmp_path):
    from tests.robustness._child import data, small_model

    path = tmp_path / "ckpt.gradkit"
    proc = spawn("die", path, 2)
    wait_for(proc, "checkpointed")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    x, y = data()
    resumed = gk.load_model(path)
    resumed.fit(x, y, epochs=4, initial_epoch=2, batch_size=64, verbose=0)
    straight = small_model(seed=5)
    straight.fit(x, y, epochs=4, batch_size=64, verbose=0)
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        assert np.array_equal(a, b)
