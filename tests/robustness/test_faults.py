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
@pytest.mark.parametrize("sig,reason", [("SIGINT", "Ctrl-C"), ("SIGTERM", "SIGTERM"),
                                        ("SIGHUP", "SIGHUP")])
def test_ctrl_c_or_sigterm_during_fit_stops_at_a_batch_and_the_model_saves(tmp_path, sig,
                                                                           reason):
    path = tmp_path / "after.gradkit"
    proc = spawn("sigint", path)
    wait_for(proc, "started")
    proc.send_signal(getattr(signal, sig))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "saved after 1 epoch(s)" in out
    assert f"interrupted ({reason})" in err and "Traceback" not in err


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


@pytest.mark.fault
def test_sigterm_during_a_checkpoint_leaves_no_temp_file(tmp_path):
    # fit stops at the batch's end (the checkpoint in progress completes) and exits cleanly
    path = tmp_path / "ckpt.gradkit"
    rng = random.Random(2)
    for _ in range(4):
        proc = spawn("checkpoint", path)
        wait_for(proc, "ready")
        time.sleep(rng.uniform(0, 0.3))
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert [p.name for p in tmp_path.iterdir()] == ["ckpt.gradkit"]
        gk.load_model(path)


@pytest.mark.fault
def test_sigterm_during_a_save_outside_fit_finishes_the_file_then_exits(tmp_path):
    # outside fit SIGTERM keeps its default action, but only once the file is complete
    path = tmp_path / "m.gradkit"
    proc = spawn("slowsave", path)
    wait_for(proc, "writing")
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM and "saved" not in out
    assert [p.name for p in tmp_path.iterdir()] == ["m.gradkit"]
    gk.load_model(path)


@pytest.mark.fault
def test_fit_restores_the_signal_handlers_it_found():
    def mine(signum, frame):
        pass

    before = {s: signal.signal(s, mine) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        model = gk.Sequential([gk.layers.Dense(1, input_shape=(2,))])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(np.ones((4, 2), "float32"), np.ones((4, 1), "float32"), verbose=0)
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGHUP) is mine
    finally:
        for s, h in before.items():
            signal.signal(s, h)


@pytest.mark.fault
def test_saved_files_honour_the_umask(tmp_path):
    model = gk.Sequential([gk.layers.Dense(2, input_shape=(3,))])
    old = os.umask(0o077)
    try:
        model.save(tmp_path / "private.gradkit")
        model.save_weights(tmp_path / "private.safetensors")
    finally:
        os.umask(old)
    for name in ("private.gradkit", "private.safetensors"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
    os.umask(0o022)
    try:
        model.save(tmp_path / "shared.gradkit")
    finally:
        os.umask(old)
    assert (tmp_path / "shared.gradkit").stat().st_mode & 0o777 == 0o644


@pytest.mark.fault
def test_save_through_a_symlink_replaces_the_target(tmp_path):
    model = gk.Sequential([gk.layers.Dense(2, input_shape=(3,))])
    (tmp_path / "store").mkdir()
    target = tmp_path / "store" / "real.gradkit"
    model.save(target)
    link = tmp_path / "latest.gradkit"
    link.symlink_to(target)
    model.set_weights([w + 1 for w in model.get_weights()])
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    np.testing.assert_array_equal(gk.load_model(target).get_weights()[0],
                                  model.get_weights()[0])
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["real.gradkit"]
