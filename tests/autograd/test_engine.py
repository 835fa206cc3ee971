"""The engine's contract: both front ends, graph hygiene, errors, higher order."""

import gc
from pathlib import Path

import numpy as np
import pytest

import gradkit as gk
from gradkit.testing import gradcheck


def leaf(a, dtype="float64"):
    return gk.Tensor(np.asarray(a, dtype=dtype), requires_grad=True)


# ------------------------------------------------------------------ backward()
def test_backward_accumulates_and_zero_grad_resets():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 3, 4 + 3])
    x.zero_grad()
    assert x.grad is None


def test_shared_subexpression_gradients_add_up():
    x = leaf([3.0])
    y = x * x
    z = y + y * x  # x^2 + x^3 -> 2x + 3x^2
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 * 3 + 3 * 9])


def test_two_leaves_never_share_a_grad_buffer():
    a, b = leaf([1.0]), leaf([2.0])
    (a + b).sum().backward()
    a.grad._data += 10
    assert b.grad.item() == 1.0


def test_nonscalar_backward_needs_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"shape \(2,\) needs an upstream gradient"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2, 20])


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point.*int64"):
        gk.Tensor([1, 2], requires_grad=True)
    t = gk.Tensor([1, 2])
    with gk.GradientTape() as tape, pytest.raises(TypeError, match="int64"):
        tape.watch(t)


def test_backward_without_grad_says_why():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (gk.Tensor([1.0]) * 2).sum().backward()


def test_second_backward_through_released_graph_raises():
    x = leaf([1.0, 2.0])
    y = gk.exp(x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = leaf([1.0, 2.0])
    y = gk.exp(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]))


def test_inplace_change_before_backward_is_detected():
    w = gk.Variable(np.array([1.0, 2.0]), name="w")
    loss = (w * w).sum()
    w.assign_sub(np.array([0.5, 0.5]))
    with pytest.raises(RuntimeError, match="'w'.*changed in place"):
        loss.backward()


def test_data_augmented_assignment_is_detected():
    x = leaf([1.0, 2.0])
    y = gk.sigmoid(x)
    loss = (y * x).sum()
    x.data += 1  # NumPy in place, then the property setter: counted as a change
    with pytest.raises(RuntimeError, match="changed in place"):
        loss.backward()


def test_no_grad_and_detach_record_nothing():
    x = leaf([1.0])
    with gk.no_grad():
        y = x * 2
    assert not y.requires_grad and y.is_leaf
    z = x.detach() * 2
    assert not z.requires_grad


def test_long_chain_does_not_recurse():
    x = leaf([1.0])
    y = x
    for _ in range(100_000):
        y = y + 1e-6
    y.sum().backward()
    assert x.grad.item() == 1.0


def test_memory_stays_flat_over_10000_steps():
    import tracemalloc

    rng = np.random.default_rng(0)
    X = gk.Tensor(rng.normal(size=(16, 8)).astype("float32"))
    Y = gk.Tensor(rng.normal(size=(16, 1)).astype("float32"))
    w1 = gk.Variable(rng.normal(size=(8, 16)) * 0.1, dtype="float32")
    w2 = gk.Variable(rng.normal(size=(16, 1)) * 0.1, dtype="float32")

    def step():
        loss = gk.mean_squared_error(gk.relu(X @ w1) @ w2, Y)
        loss.backward()
        for w in (w1, w2):
            w.assign_sub(0.01 * w.grad.numpy())
            w.grad = None

    for _ in range(200):
        step()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(10_000):
        step()
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert grown < 256 * 1024, f"memory grew by {grown} bytes over 10,000 steps"


def test_graph_keeps_no_reference_cycle():
    import weakref

    x = leaf(np.ones(1000))
    y = gk.tanh(x * 2)
    ref = weakref.ref(y)
    y.sum().backward()
    del y
    assert ref() is None  # freed by reference counting alone, no gc needed


# ------------------------------------------------------------------ GradientTape
def test_tape_watches_variables_and_returns_structure():
    w = gk.Variable(np.array([1.0, 2.0]))
    b = gk.Variable(np.array(0.5))
    frozen = gk.Variable(np.array(3.0), trainable=False)
    with gk.GradientTape() as tape:
        loss = (w * w).sum() + b * 3 + frozen
    grads = tape.gradient(loss, {"w": w, "b": b, "frozen": frozen})
    assert set(grads) == {"w", "b", "frozen"}
    np.testing.assert_allclose(grads["w"].numpy(), [2, 4])
    assert grads["b"].item() == 3
    assert grads["frozen"] is None
    with gk.GradientTape() as tape:
        loss = (w * 2).sum()
    g = tape.gradient(loss, (w, b))
    assert isinstance(g, tuple) and g[1] is None
    assert w.grad is None  # tapes leave .grad alone


def test_tape_watch_constant_and_unconnected_zero():
    x = gk.Tensor([2.0])
    y = gk.Tensor([5.0])
    with gk.GradientTape() as tape:
        tape.watch(x)
        out = x ** 2
    gx, gy = tape.gradient(out, [x, y], unconnected_gradients="zero")
    assert gx.item() == 4.0 and gy.item() == 0.0
    assert not x.requires_grad  # watching ends with the tape


def test_nonpersistent_tape_once_persistent_many():
    x = gk.Variable(np.array([1.0]))
    with gk.GradientTape() as tape:
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(y, x)
    with gk.GradientTape(persistent=True) as tape:
        y = x * x
        z = y * x
    assert tape.gradient(y, x).item() == 2.0
    assert tape.gradient(z, x).item() == 3.0


def test_tape_nonscalar_target_is_summed():
    x = gk.Variable(np.array([1.0, 2.0]))
    with gk.GradientTape() as tape:
        y = x * 3
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [3, 3])


def test_tape_and_backward_agree():
    rng = np.random.default_rng(1)
    w = gk.Variable(rng.normal(size=(4, 3)))
    x = gk.Tensor(rng.normal(size=(5, 4)))
    with gk.GradientTape() as tape:
        loss = gk.log_softmax(x @ w).sum()
    g_tape = tape.gradient(loss, w).numpy()
    gk.log_softmax(x @ w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), g_tape)


# ------------------------------------------------------------------ higher order
def test_second_derivative_of_cube():
    x = gk.Variable(np.array([2.0, -1.0]))
    with gk.GradientTape() as outer:
        with gk.GradientTape() as inner:
            y = (x ** 3).sum()
        dy = inner.gradient(y, x)
    d2 = outer.gradient(dy, x)
    np.testing.assert_allclose(dy.numpy(), 3 * np.array([4.0, 1.0]))
    np.testing.assert_allclose(d2.numpy(), [12.0, -6.0])
    f = lambda t: (t ** 3).sum()  # noqa: E731
    np.testing.assert_allclose(gk.grad(lambda t: gk.grad(f)(t).sum())(gk.Tensor([2.0])).numpy(),
                               [12.0])


def test_hessian_vector_product_of_mlp_matches_finite_differences():
    rng = np.random.default_rng(0)
    X = gk.Tensor(rng.normal(size=(6, 3)))
    Y = gk.Tensor(rng.integers(0, 2, size=(6, 1)).astype(float))
    w1 = rng.normal(size=(3, 4))
    w2 = rng.normal(size=(4, 1))
    v1, v2 = rng.normal(size=w1.shape), rng.normal(size=w2.shape)

    def loss_fn(a, b):
        return gk.mean_squared_error(gk.sigmoid(gk.tanh(X @ a) @ b), Y)

    def grads(a, b):
        a, b = leaf(a), leaf(b)
        loss_fn(a, b).backward(create_graph=True)
        return a, b

    a, b = grads(w1, w2)
    ga, gb = a.grad, b.grad
    dot = (ga * gk.Tensor(v1)).sum() + (gb * gk.Tensor(v2)).sum()
    a.grad = b.grad = None
    dot.backward()
    hvp = [a.grad.numpy(), b.grad.numpy()]
    eps = 1e-5

    def flat_grad(da, db):
        x, y = grads(w1 + da, w2 + db)
        return x.grad.numpy(), y.grad.numpy()

    plus, minus = flat_grad(eps * v1, eps * v2), flat_grad(-eps * v1, -eps * v2)
    for h, p, m in zip(hvp, plus, minus):
        np.testing.assert_allclose(h, (p - m) / (2 * eps), rtol=1e-5, atol=1e-8)


def test_create_graph_through_softmax_cross_entropy_gradchecks():
    rng = np.random.default_rng(3)
    labels = np.array([0, 2, 1])

    def grad_of_loss(logits):
        return gk.grad(lambda z: gk.softmax_cross_entropy(z, labels))(logits)

    gradcheck(grad_of_loss, rng.normal(size=(3, 4)))


# ------------------------------------------------------------------ functional
def test_value_and_grad_argnums():
    f = lambda a, b: (a * b * b).sum()  # noqa: E731
    v, (ga, gb) = gk.value_and_grad(f, argnums=(0, 1))(np.array([2.0]), np.array([3.0]))
    assert v.item() == 18.0 and ga.item() == 9.0 and gb.item() == 12.0
    assert not v.requires_grad


def test_grad_leaves_caller_tensor_untouched():
    x = leaf([1.0, 2.0])
    g = gk.grad(lambda t: (t * t).sum())(x)
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    assert x.grad is None


# ------------------------------------------------------------------ Tensor basics
def test_tensor_defaults_and_numpy_interop():
    t = gk.Tensor([[1.0, 2.0]])
    assert t.dtype == np.float32 and t.shape == (1, 2) and t.ndim == 2
    assert gk.Tensor(np.zeros(2)).dtype == np.float64  # arrays keep their dtype
    assert gk.Tensor([1, 2]).dtype == np.int64
    assert np.asarray(t).dtype == np.float32
    x = leaf([1.0, 2.0])
    y = np.array([3.0, 4.0]) * x  # NumPy on the left still records
    assert isinstance(y, gk.Tensor) and y.requires_grad
    assert (x > 1.5).dtype == np.bool_ and not (x > 1.5).requires_grad


def test_tensor_refuses_non_numbers():
    for bad in (np.array(["a"]), np.array([1 + 2j]), np.array([object()])):
        with pytest.raises(TypeError, match="Tensor cannot hold"):
            gk.Tensor(bad)


def test_python_scalars_keep_float32():
    x = gk.Tensor(np.ones(3, dtype="float32"), requires_grad=True)
    y = (2.5 * x + 1) ** 2 / 3.0 - 0.5
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_variable_assign_family():
    v = gk.Variable(np.zeros(3), name="v")
    buf = v._data
    v.assign([1.0, 2.0, 3.0]).assign_add(1.0).assign_sub(np.array([0.5, 0.5, 0.5]))
    np.testing.assert_allclose(v.numpy(), [1.5, 2.5, 3.5])
    assert v._data is buf and v._version == 3
    with pytest.raises(ValueError, match=r"shape \(2,\).*\(3,\)"):
        v.assign([1.0, 2.0])


# ------------------------------------------------------------------ backend seam
def test_ops_take_their_array_module_from_inputs():
    """No op module calls numpy directly on tensor data: the CuPy seam stays clean."""
    import ast

    ops_dir = Path(gk.__file__).parent / "ops"
    allowed = {"dtype", "result_type", "iinfo", "finfo", "ndindex", "prod"}
    for path in ops_dir.glob("*.py"):
        calls = set()
        for node in ast.walk(ast.parse(path.read_text())):
            f = getattr(node, "func", None)
            if isinstance(node, ast.Call) and isinstance(f, ast.Attribute) and \
                    isinstance(f.value, ast.Name) and f.value.id in ("np", "numpy"):
                calls.add(f.attr)
        assert calls <= allowed, f"{path.name} calls numpy directly: {calls - allowed}"


def test_softmax_cross_entropy_reusing_probs_matches():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(6, 4)) * 30
    labels = rng.integers(0, 4, 6)
    onehot = np.eye(4)[labels]
    for target in (labels, onehot):
        a, b = leaf(z), leaf(z)
        la = gk.softmax_cross_entropy(a, target, reduction="none")
        lb = gk.softmax_cross_entropy(b, target, reduction="none", probs=gk.softmax(b).numpy())
        np.testing.assert_allclose(lb.numpy(), la.numpy(), rtol=1e-12, atol=1e-12)
        la.sum().backward()
        lb.sum().backward()
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-12, atol=1e-12)
