"""Grad mode and the open-tape stack are per thread (as in PyTorch).

The interleavings are forced with events and barriers, never with sleeps: each
test runs the racing thread exactly inside the other's ``no_grad`` block.
"""

import threading

import numpy as np

import gradkit as gk
from gradkit import layers, losses, optimizers

WAIT = 60  # seconds; only a guard against a hang, never part of what is checked


def _run(target):
    """Start ``target`` in a thread; the returned ``join()`` re-raises its exception."""
    errors = []

    def body():
        try:
            target()
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            errors.append(e)

    t = threading.Thread(target=body, daemon=True)
    t.start()

    def join():
        t.join(WAIT)
        assert not t.is_alive(), "helper thread did not finish"
        if errors:
            raise errors[0]

    return join


def _records():
    """Whether an op on a tensor that requires grad is recorded in the calling thread."""
    x = gk.Tensor(np.ones(2), requires_grad=True)
    return (x * 2.0).requires_grad


def test_no_grad_in_another_thread_leaves_this_one_recording():
    inside, release = threading.Event(), threading.Event()
    seen = {}

    def other():
        with gk.no_grad():
            seen["other"] = (gk.is_grad_enabled(), _records())
            inside.set()
            assert release.wait(WAIT)

    join = _run(other)
    assert inside.wait(WAIT)
    try:
        assert gk.is_grad_enabled()  # the other thread is inside no_grad right now
        assert _records()
    finally:
        release.set()
        join()
    assert seen["other"] == (False, False)


def test_no_grad_here_does_not_reach_another_thread():
    seen = {}

    def other():
        seen["other"] = (gk.is_grad_enabled(), _records())
        with gk.no_grad():
            with gk.enable_grad():
                seen["nested"] = gk.is_grad_enabled()
            seen["restored"] = gk.is_grad_enabled()

    with gk.no_grad():
        join = _run(other)  # a new thread starts with grad mode on
        join()
        assert not gk.is_grad_enabled()
        assert not _records()
    assert gk.is_grad_enabled()
    assert seen == {"other": (True, True), "nested": True, "restored": False}


def test_leaving_no_grad_in_one_thread_restores_only_its_own_mode():
    # A enters no_grad, then B enters no_grad, then A leaves, then B checks: with a
    # global flag A's exit would have restored "on" under B's feet.
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def thread_a():
        with gk.no_grad():
            a_in.set()
            assert b_in.wait(WAIT)
        a_out.set()
        seen["a_after"] = gk.is_grad_enabled()

    def thread_b():
        assert a_in.wait(WAIT)
        with gk.no_grad():
            b_in.set()
            assert a_out.wait(WAIT)
            seen["b_inside"] = (gk.is_grad_enabled(), _records())

    join_a, join_b = _run(thread_a), _run(thread_b)
    join_a()
    join_b()
    assert seen == {"a_after": True, "b_inside": (False, False)}


def test_a_tape_open_in_another_thread_does_not_nest_this_ones():
    # An open outer tape makes gradients differentiable (create_graph); one that is
    # open in another thread must not.
    opened, done = threading.Event(), threading.Event()

    def other():
        with gk.GradientTape():
            opened.set()
            assert done.wait(WAIT)

    join = _run(other)
    assert opened.wait(WAIT)
    try:
        w = gk.Variable(np.array([1.0, 2.0]))
        with gk.GradientTape() as tape:
            y = (w * w).sum()
        g = tape.gradient(y, w)
    finally:
        done.set()
        join()
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    assert not g.requires_grad  # first order only: no graph was built for the gradient


def _model(seed):
    gk.utils.set_random_seed(seed)
    model = gk.models.Sequential([layers.Dense(16, activation="tanh", input_dim=4),
                                  layers.Dense(1)])
    model.build((None, 4))
    return model


def _data(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32)).astype(np.float32)
    return x, y


def _train_step(model, opt, x, y):
    """One manual step; returns the loss and whether every weight got a gradient."""
    model.zero_grad()
    loss = losses.mean_squared_error(y, model(x, training=True)).mean()
    loss.backward()
    ok = all(w.grad is not None for w in model.trainable_weights)
    opt.step()
    return float(loss.item()), ok


def test_training_in_lockstep_with_no_grad_inference_in_another_thread():
    # Each training step runs while the other thread sits inside no_grad (predict_step).
    model = _model(0)
    opt = optimizers.SGD(model.parameters(), lr=0.05)
    x, y = _data(1)
    steps = 30
    inside = threading.Semaphore(0)
    step_done = threading.Semaphore(0)

    def infer():
        for _ in range(steps):
            with gk.no_grad():
                model.predict_on_batch(x[:8])
                inside.release()
                assert step_done.acquire(timeout=WAIT)

    join = _run(infer)
    history = []
    try:
        for _ in range(steps):
            assert inside.acquire(timeout=WAIT)
            loss, ok = _train_step(model, opt, x, y)
            assert ok, "a weight had no gradient: recording was switched off by the other thread"
            history.append(loss)
            step_done.release()
    finally:
        for _ in range(steps):
            step_done.release()
        join()
    assert history[-1] < 0.5 * history[0], history


def test_training_while_another_thread_loops_predict():
    model = _model(2)
    opt = optimizers.SGD(model.parameters(), lr=0.05)
    x, y = _data(3)
    start = threading.Barrier(2)
    stop = threading.Event()
    calls = []

    def infer():
        start.wait(WAIT)
        while not stop.is_set():
            out = model.predict(x[:16], batch_size=8)
            with gk.no_grad():
                model(x[:4])
            calls.append(out.shape)

    join = _run(infer)
    history = []
    try:
        start.wait(WAIT)
        for _ in range(40):
            loss, ok = _train_step(model, opt, x, y)
            assert ok
            history.append(loss)
    finally:
        stop.set()
        join()
    assert history[-1] < 0.5 * history[0], history
    assert set(calls) <= {(16, 1)}


def test_grad_mode_decorator_sets_only_the_calling_threads_mode():
    inside, release = threading.Event(), threading.Event()
    seen = {}

    @gk.no_grad()
    def infer():
        seen["inside"] = gk.is_grad_enabled()
        inside.set()
        assert release.wait(WAIT)

    join = _run(infer)
    assert inside.wait(WAIT)
    try:
        assert gk.is_grad_enabled()
    finally:
        release.set()
        join()
    assert seen == {"inside": False}
