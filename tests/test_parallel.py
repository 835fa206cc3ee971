"""gradkit._parallel: the auto-tuner, the thread pool, chunking, fork safety, settings.

The auto-tuner is driven with fake timings (``record()`` called directly or a fake
clock), never with real ones, so no test here depends on the machine's speed.
"""

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

import gradkit as gk
from gradkit import _parallel as P
from gradkit import optimizers as O

ROOT = Path(__file__).resolve().parents[1]
BIG = 3 * P.MIN_CHUNK + 5          # splits into 2 or 3 chunks, unevenly


@pytest.fixture(autouse=True)
def numpy_kernels():
    """These tests drive the NumPy kernels' chunking (fused loops split at larger sizes,
    see tests/optimizers/test_fused.py)."""
    previous = O.fused.set_enabled(False)
    yield
    O.fused.set_enabled(previous)


@pytest.fixture
def threads():
    """``set_num_threads``, with the setting restored after the test."""
    saved = P.get_num_threads()
    yield P.set_num_threads
    P.set_num_threads(saved)


class Forced(P.ParallelRunner):
    """A runner that always takes one way and remembers the ways it timed."""

    def __init__(self, threaded):
        super().__init__()
        self.threaded = threaded
        self.ways = []

    def choose(self):
        self.count += 1
        return self.threaded

    def record(self, threaded, seconds):
        self.ways.append(threaded)


def _add(c, p, g, slots, scratch):
    p += g


def _run_script(code):
    env = dict(os.environ, PYTHONPATH=str(ROOT), GRADKIT_FUSED="0")   # the NumPy kernels' chunks
    env.pop("GRADKIT_NUM_THREADS", None)
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


# ================================================================ the auto-tuner
def _timed(runner, threaded_s, serial_s, n):
    """``n`` updates through choose()/record() with fixed fake durations; the ways taken."""
    ways = []
    for _ in range(n):
        way = runner.choose()
        runner.record(way, threaded_s if way else serial_s)
        ways.append(way)
    return ways


def test_warmup_then_each_way_timed_once():
    r = P.ParallelRunner(probe=4)
    assert r.choose() is True                  # 1: threaded, starts the pool, not timed
    r.record(True, 100.0)
    assert r.choose() is False                 # 2: serial, not timed
    r.record(False, 100.0)
    assert (r.threaded_time, r.serial_time) == (None, None)
    assert r.choose() is True                  # 3: threaded, timed
    r.record(True, 2.0)
    assert r.choose() is False                 # 4: serial, timed
    r.record(False, 3.0)
    assert (r.threaded_time, r.serial_time) == (2.0, 3.0)


@pytest.mark.parametrize("threaded_s, serial_s, faster", [(1.0, 2.0, True), (2.0, 1.0, False),
                                                          (1.0, 1.0, True)])
def test_picks_the_faster_and_reprobes_the_other_every_probe_updates(threaded_s, serial_s,
                                                                     faster):
    r = P.ParallelRunner(probe=5)
    ways = _timed(r, threaded_s, serial_s, 24)
    assert ways[:4] == [True, False, True, False]
    for count, way in enumerate(ways[4:], start=5):
        # every 5th update re-times the slower way; the others use the faster
        assert way is (not faster if count % 5 == 0 else faster), count
    assert (r.threaded_time, r.serial_time) == pytest.approx((threaded_s, serial_s))


def test_follows_a_change_of_load_through_the_reprobes():
    r = P.ParallelRunner(probe=4)
    assert _timed(r, 1.0, 3.0, 8)[4:] == [True, True, True, False]   # 8 % 4 == 0: re-probe
    # the machine gets busy: threads now cost 5 s, serial still 3 s. The threaded
    # estimate goes 1.0 -> 2.2 -> 3.04 > 3.0: serial from update 11 on; update 12
    # (12 % 4 == 0) re-times the threaded way.
    assert _timed(r, 5.0, 3.0, 4) == [True, True, False, True]       # updates 9..12
    assert r.threaded_time == pytest.approx(0.7 * (0.7 * (0.7 * 1.0 + 1.5) + 1.5) + 1.5)
    assert _timed(r, 5.0, 3.0, 4) == [False, False, False, True]     # updates 13..16
    # the serial estimate is a moving average of its timings: 0.7 old + 0.3 new
    r2 = P.ParallelRunner(probe=100)
    _timed(r2, 1.0, 4.0, 4)
    r2.choose()
    r2.record(False, 2.0)
    assert r2.serial_time == pytest.approx(0.7 * 4.0 + 0.3 * 2.0)


def test_run_times_the_update_with_the_injected_clock(threads):
    threads(2)
    durations = iter([7.0, 9.0, 2.0, 3.0, 4.0])     # the 5 updates' fake durations
    now = [0.0]
    pending = []

    def clock():                                  # start: now; end: now + next duration
        if pending:
            now[0] += pending.pop()
        else:
            pending.append(next(durations))
        return now[0]

    r = P.ParallelRunner(probe=100, clock=clock)
    p, g = np.zeros(BIG, np.float32), np.ones(BIG, np.float32)
    for _ in range(4):
        r.run(_add, None, [(0, p, g, [], [])])
    assert (r.threaded_time, r.serial_time) == (2.0, 3.0)  # updates 3 and 4; 1, 2 untimed
    r.run(_add, None, [(0, p, g, [], [])])
    # the 5th update took the faster (threaded) way and was folded into its estimate
    assert r.threaded_time == pytest.approx(0.7 * 2.0 + 0.3 * 4.0) and r.serial_time == 3.0
    assert r.count == 5
    np.testing.assert_array_equal(p, np.full(BIG, 5.0, np.float32))


def test_no_tuning_when_threads_cannot_help(threads):
    p, g = np.zeros(BIG), np.ones(BIG)
    small = np.zeros(10)
    threads(1)                                    # one thread: never split, never timed
    r = P.ParallelRunner()
    r.run(_add, None, [(0, p, g, [], [])])
    assert r.count == 0 and r._views == {}
    threads(3)                                    # only small parameters: nothing to split
    r.run(_add, None, [(1, small, np.ones(10), [], [])])
    assert r.count == 0
    r.run(_add, None, [(0, p, g, [], [])])        # a large parameter: chosen and timed
    assert r.count == 1
    g2 = np.ones((BIG, 2))[:, 0]                  # a strided gradient: updated whole
    r.run(_add, None, [(0, p, g2, [], [])])
    assert r.count == 1
    np.testing.assert_array_equal(p, np.full(BIG, 3.0))


@pytest.mark.parametrize("probe", [1, 0, 2.5])
def test_probe_is_validated(probe):
    with pytest.raises(TypeError if isinstance(probe, float) else ValueError, match="probe"):
        P.ParallelRunner(probe=probe)


# ================================================================ pool and chunks
def test_threaded_run_really_uses_a_worker(threads):
    """Each chunk waits for the other one: only two threads running at once get through."""
    threads(2)
    barrier = threading.Barrier(2, timeout=60)
    seen = set()

    def kernel(c, p, g, slots, scratch):
        seen.add(threading.get_ident())
        barrier.wait()
        p += g

    p, g = np.zeros(2 * P.MIN_CHUNK), np.ones(2 * P.MIN_CHUNK)
    r = Forced(True)
    r.run(kernel, None, [(0, p, g, [], [])])
    assert len(seen) == 2 and threading.get_ident() in seen
    assert r.ways == [True]
    np.testing.assert_array_equal(p, g)


def test_an_error_in_a_worker_reaches_the_caller(threads):
    threads(2)
    barrier = threading.Barrier(2, timeout=60)

    def kernel(c, p, g, slots, scratch):
        barrier.wait()                            # both chunks run, on two threads
        if threading.current_thread() is not threading.main_thread():
            raise FloatingPointError("from the worker")

    a = np.zeros(2 * P.MIN_CHUNK)
    with pytest.raises(FloatingPointError, match="from the worker"):
        Forced(True).run(kernel, None, [(0, a, a, [], [])])


def test_chunk_views_are_cached_and_follow_the_arrays(threads):
    threads(3)
    p, v, s = np.zeros(BIG), np.zeros(BIG), np.zeros(BIG)
    slots, scratch = [v], [s]
    r = Forced(False)
    r.run(_add, None, [(0, p, np.ones(BIG), slots, scratch)])
    views = r._views[0][4]
    assert [(lo, hi) for lo, hi, *_ in views] == [(0, BIG // 3), (BIG // 3, 2 * BIG // 3),
                                                 (2 * BIG // 3, BIG)]
    assert all(np.shares_memory(pv, p) and np.shares_memory(sv[0], v)
               and np.shares_memory(tv[0], s) for _, _, pv, sv, tv in views)
    r.run(_add, None, [(0, p, np.ones(BIG), slots, scratch)])
    assert r._views[0][4] is views                # reused
    threads(2)
    r.run(_add, None, [(0, p, np.ones(BIG), slots, scratch)])
    assert len(r._views[0][4]) == 2               # re-cut for the new thread count
    p2 = np.zeros(BIG)                            # the parameter's array was replaced
    r.run(_add, None, [(0, p2, np.ones(BIG), slots, scratch)])
    assert all(np.shares_memory(pv, p2) for _, _, pv, _, _ in r._views[0][4])
    np.testing.assert_array_equal(p, np.full(BIG, 3.0))
    np.testing.assert_array_equal(p2, np.ones(BIG))
    strided = np.zeros((BIG, 2))[:, 0]            # contiguous p but strided state: whole
    r.run(_add, None, [(1, np.zeros(BIG), np.ones(BIG), [strided], [np.zeros(BIG)])])
    assert r._views[1][4] is None


OPTIMIZERS = {
    "sgd": lambda ps: O.SGD(ps, lr=0.1),
    "sgd-nesterov-wd": lambda ps: O.SGD(ps, lr=0.1, momentum=0.9, nesterov=True,
                                        weight_decay=0.01),
    "adagrad-clipvalue": lambda ps: O.Adagrad(ps, lr=0.1, clipvalue=0.5),
    "rmsprop": lambda ps: O.RMSprop(ps),
    "rmsprop-centered-momentum-clipnorm": lambda ps: O.RMSprop(ps, centered=True, momentum=0.3,
                                                               clipnorm=100.0),
    "adam-amsgrad-l2": lambda ps: O.Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.1,
                                         decoupled_weight_decay=False),
    "adamw-global-clipnorm": lambda ps: O.AdamW(ps, global_clipnorm=300.0),
    "nadam": lambda ps: O.Nadam(ps),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_threaded_and_serial_updates_are_bit_identical(name, threads):
    """Large parameters split over 2 and 3 threads give the serial bits, for every optimizer."""
    rng = np.random.default_rng(0)
    shapes = [(300, 700), (BIG,), (7,)]
    w0 = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(4)]
    grads[1][0] = np.asfortranarray(grads[1][0])   # a non-contiguous gradient: updated whole
    grads[2][1] = grads[2][1].astype(np.float64)   # cast into the private buffer
    results = {}
    for n in (1, 2, 3):
        threads(n)
        ws = [gk.Variable(w.copy()) for w in w0]
        opt = OPTIMIZERS[name](ws)
        opt._runner = runner = Forced(n > 1)
        for gs in grads:
            for w, g in zip(ws, gs):
                w.grad = gk.Tensor(g)
            opt.step()
        assert runner.ways == ([True] * 4 if n > 1 else [])   # the threaded way ran
        results[n] = [w.numpy() for w in ws]
    for n in (2, 3):
        for a, b in zip(results[1], results[n]):
            assert np.array_equal(a, b), f"{name}: {n} threads differ from serial"
    assert not np.array_equal(results[1][0], w0[0])


# ================================================================ process-wide effects
def test_import_starts_no_thread_and_registers_no_fork_hook():
    out = json.loads(_run_script("""
        import json, os, threading
        hooks = []
        _register = os.register_at_fork
        def spy(**kw):
            hooks.extend(getattr(f, "__module__", "") for f in kw.values())
            return _register(**kw)
        os.register_at_fork = spy
        import numpy as np
        import gradkit as gk
        from gradkit import optimizers as O
        def ours():
            return [threading.active_count(), sum(m.startswith("gradkit") for m in hooks)]
        out = {"import": ours()}
        O.set_num_threads(2)
        w = gk.Variable(np.ones(1 << 18, np.float32))
        opt = O.Adam([w])
        out["built"] = ours()
        w.grad = gk.Tensor(np.ones(1 << 18, np.float32))
        opt.step()                   # the first update of a large parameter runs threaded
        out["stepped"] = ours()
        print(json.dumps(out))
    """))
    assert out["import"] == [1, 0]
    assert out["built"] == [1, 0]
    assert out["stepped"] == [2, 1]          # one worker, one hook: the checks above can see


def test_a_forked_child_starts_its_own_pool():
    out = _run_script("""
        import os, threading
        import numpy as np
        import gradkit as gk
        from gradkit import _parallel as P, optimizers as O

        class Threaded(P.ParallelRunner):
            def choose(self):
                return True

        P.set_num_threads(2)
        rng = np.random.default_rng(0)
        w = gk.Variable(rng.standard_normal(1 << 18).astype(np.float32))
        opt = O.Adam([w], lr=0.1)
        opt._runner = Threaded()
        w.grad = gk.Tensor(rng.standard_normal(1 << 18).astype(np.float32))
        opt.step()                               # starts the parent's pool
        assert P._pool is not None
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                opt.step()
                # both chunks wait for each other: a worker of the child's own pool must run
                barrier = threading.Barrier(2, timeout=30)
                seen = set()
                def kernel(c, p, g, slots, scratch):
                    seen.add(threading.get_ident())
                    barrier.wait()
                a = np.zeros(2 * P.MIN_CHUNK)
                Threaded().run(kernel, None, [(0, a, a, [], [])])
                with os.fdopen(write, "wb") as f:
                    f.write(bytes([len(seen)]) + w.numpy().tobytes())
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        data = b""
        while chunk := os.read(read, 1 << 20):
            data += chunk
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        opt.step()                               # the same update in the parent
        assert data[0] == 2, data[0]
        assert data[1:] == w.numpy().tobytes()
        print("ok")
    """)
    assert out.strip() == "ok"


# ================================================================ settings
@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-2, ValueError), (2.0, TypeError),
                                      ("2", TypeError), (True, TypeError), (None, TypeError)])
def test_set_num_threads_validates(bad, exc, threads):
    before = P.get_num_threads()
    with pytest.raises(exc, match="set_num_threads: n must be an integer >= 1"):
        O.set_num_threads(bad)
    assert P.get_num_threads() == before


def test_set_num_threads_replaces_the_pool(threads):
    threads(3)
    assert O.get_num_threads() == 3 and O.set_num_threads is P.set_num_threads
    threads(np.int64(2))
    assert O.get_num_threads() == 2
    a = np.zeros(2 * P.MIN_CHUNK)
    Forced(True).run(_add, None, [(0, a, np.ones_like(a), [], [])])
    old = P._pool
    workers = [t for t in threading.enumerate() if t.name.startswith("gradkit-update-")]
    assert old is not None and len(workers) >= old.n == 1
    threads(3)
    assert P._pool is None
    for t in workers:
        t.join(timeout=60)                        # the old workers were told to stop
    assert not any(t.is_alive() for t in workers)
    Forced(True).run(_add, None, [(0, a, np.ones_like(a), [], [])])
    assert P._pool.n == 2
    np.testing.assert_array_equal(a, np.full_like(a, 2.0))


@pytest.mark.parametrize("env, expected", [("3", 3), (" 1 ", 1), ("", None)])
def test_default_threads_from_the_environment(env, expected, monkeypatch):
    monkeypatch.setenv("GRADKIT_NUM_THREADS", env)
    monkeypatch.setattr(P, "_num_threads", None)
    n = P.get_num_threads()
    assert n == expected if expected is not None else 1 <= n <= 4


@pytest.mark.parametrize("env", ["0", "-1", "two", "2.5"])
def test_bad_environment_value_is_refused(env, monkeypatch):
    monkeypatch.setenv("GRADKIT_NUM_THREADS", env)
    monkeypatch.setattr(P, "_num_threads", None)
    with pytest.raises(ValueError, match="GRADKIT_NUM_THREADS"):
        P.get_num_threads()
