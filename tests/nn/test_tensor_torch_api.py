"""PyTorch's tensor creation functions, math names and tensor methods on gradkit
(``import gradkit as torch``), checked against PyTorch where they compute."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit as gk
from gradkit.devices import DeviceError
from tests.nn.reference import check_output_and_grad

A = np.random.default_rng(0).standard_normal((3, 4))


def test_creation_functions_take_torch_and_numpy_forms():
    assert gk.zeros(2, 3).shape == (2, 3) and gk.zeros((2, 3)).shape == (2, 3)
    assert gk.zeros((2, 3), "float64").dtype == np.float64  # NumPy style still works
    x = gk.ones(2, dtype=gk.double, requires_grad=True, device="cpu")
    assert x.dtype == np.float64 and x.requires_grad
    assert gk.empty(4).shape == (4,) and gk.full((2,), 7.0).numpy().tolist() == [7.0, 7.0]
    assert gk.arange(5).dtype == np.int64 and gk.arange(0.0, 1.0, 0.25).dtype == np.float32
    np.testing.assert_allclose(gk.linspace(-1, 1, 5).numpy(), [-1, -0.5, 0, 0.5, 1])
    assert gk.linspace(0, 1, 3).dtype == np.float32
    assert gk.eye(3, dtype=gk.long).dtype == np.int64
    assert gk.randn((), dtype=gk.float).shape == ()
    assert gk.rand(2, 5).numpy().min() >= 0 and gk.rand(2, 5).numpy().max() < 1
    r = gk.randint(0, 10, (1000,))
    assert r.dtype == np.int64 and r.numpy().min() >= 0 and r.numpy().max() == 9
    assert gk.randint(3, (4,)).numpy().max() < 3
    assert sorted(gk.randperm(6).numpy().tolist()) == list(range(6))
    like = gk.tensor(A)
    assert gk.zeros_like(like).dtype == np.float64 and gk.ones_like(like, dtype=gk.float32).dtype \
        == np.float32
    assert gk.full_like(like, 2.0).numpy().sum() == 24 and gk.randn_like(like).shape == (3, 4)
    assert gk.rand_like(like).dtype == np.float64 and gk.empty_like(like).shape == (3, 4)
    with pytest.raises(TypeError, match="sizes must be integers"):
        gk.zeros(2.5)


def test_device_names_on_creation():
    assert gk.tensor([1.0], device="cpu").numpy().tolist() == [1.0]
    assert gk.zeros(2, device=gk.device("cpu")).shape == (2,)
    if gk.backend.cupy_module() is None:
        with pytest.raises(DeviceError, match="gradkit\\[gpu\\]"):
            gk.zeros(2, device="cuda")
        with pytest.raises(DeviceError, match="CuPy"):
            gk.randn(2, device="cuda:0")


def test_manual_seed_repeats_draws():
    gk.manual_seed(3)
    a = gk.randn(4).numpy()
    gk.manual_seed(3)
    np.testing.assert_array_equal(gk.randn(4).numpy(), a)


def test_tensor_copies_its_data_and_from_numpy_shares():
    arr = np.zeros(3, np.float32)
    t, f = gk.tensor(arr), gk.from_numpy(arr)
    arr[0] = 5
    assert t.numpy()[0] == 0 and f.numpy()[0] == 5
    assert gk.is_tensor(t) and not gk.is_tensor(arr) and gk.numel(gk.zeros(2, 3)) == 6


FUNCS = [
    ("sin", lambda m, x: m.sin(x)), ("cos", lambda m, x: m.cos(x)),
    ("pow", lambda m, x: m.pow(x, 2)), ("clamp", lambda m, x: m.clamp(x, -0.5, 0.5)),
    ("sum_dim", lambda m, x: m.sum(x, dim=1)), ("sum_keep", lambda m, x: m.sum(x, dim=0,
                                                                               keepdim=True)),
    ("mean_dim", lambda m, x: m.mean(x, dim=-1)),
    ("max_values", lambda m, x: m.max(x, dim=1)[0]),
    ("max_values_keep", lambda m, x: m.max(x, dim=0, keepdim=True).values),
    ("min_values", lambda m, x: m.min(x, dim=1).values), ("max_all", lambda m, x: m.max(x)),
    ("maximum", lambda m, x: m.max(x, m.zeros_like(x))),
    ("cat", lambda m, x: m.cat([x, x * 2], dim=1)), ("stack", lambda m, x: m.stack([x, x],
                                                                                 dim=2)),
    ("flatten", lambda m, x: m.flatten(m.stack([x, x]), 1)),
    ("mm", lambda m, x: m.mm(x, x.t())), ("bmm", lambda m, x: m.bmm(m.stack([x, x]),
                                                                    m.stack([x.t(), x.t()]))),
    ("softmax", lambda m, x: m.softmax(x, dim=0)), ("log_softmax", lambda m, x:
                                                    m.log_softmax(x, dim=1)),
    ("transpose", lambda m, x: m.transpose(x, 0, 1)), ("unsqueeze", lambda m, x:
                                                       m.unsqueeze(x, 1)),
    ("squeeze", lambda m, x: m.squeeze(m.unsqueeze(x, 0), dim=0)),
    ("methods", lambda m, x: x.view(4, 3).permute(1, 0).reshape(-1).unsqueeze(0).pow(2)
     .sum(dim=1, keepdim=True)),
    ("methods2", lambda m, x: x.t().abs().sin().clamp(min=0.1).mean(dim=0)),
    ("methods3", lambda m, x: x.transpose(0, 1).flatten().cos().neg().add(1).mul(x.sum())),
    ("methods4", lambda m, x: x.expand(2, 3, 4).masked_fill(m.zeros_like(x) == 0, 1.0) * x),
    ("clone", lambda m, x: x.clone() * 3), ("max_method", lambda m, x: x.max(dim=1)[0]),
]


@pytest.mark.parametrize("fn", [f for _, f in FUNCS], ids=[n for n, _ in FUNCS])
def test_math_matches_torch(torch, fn):
    tx = torch.tensor(A, requires_grad=True)
    gx = gk.tensor(A, requires_grad=True)
    t_out, g_out = fn(torch, tx), fn(gk, gx)
    check_output_and_grad(torch, t_out, g_out, tx, gx)


def test_max_dim_returns_indices_and_numpy_form_returns_values(torch):
    a = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]])
    values, indices = gk.max(gk.tensor(a), dim=1)
    assert values.numpy().tolist() == [3.0, 2.0] and indices.numpy().tolist() == [1, 0]
    assert indices.dtype == np.int64
    assert gk.max(gk.tensor(a), 1).numpy().tolist() == [3.0, 2.0]  # gradkit's NumPy form
    assert gk.sum(gk.tensor(a), 0, True).shape == (1, 3)
    assert gk.tensor(a).argmax(dim=1, keepdim=True).numpy().tolist() == [[1], [0]]
    assert gk.argmax(gk.tensor(a), dim=0).numpy().tolist() == [1, 0, 0]
    assert gk.argmin(a).numpy().tolist() == [0, 2]  # TensorFlow's default: the last axis
    with pytest.raises(TypeError, match="not both"):
        gk.sum(gk.tensor(a), axis=0, dim=0)


def test_tensor_methods_of_shape_and_dtype():
    x = gk.tensor(A)
    assert x.size() == (3, 4) and x.size(-1) == 4 and x.size == 12 and x.dim() == 2
    assert x.numel() == 12 and x.float().dtype == np.float32 and x.long().dtype == np.int64
    assert x.double().dtype == np.float64 and x.int().dtype == np.int32
    assert x.bool().dtype == np.bool_ and x.half().dtype == np.float16
    assert x.contiguous() is x and x.tolist() == A.tolist() and x[0, 0].item() == A[0, 0]
    assert x.type_as(gk.zeros(1)).dtype == np.float32


def test_in_place_updates_under_no_grad_as_in_the_tutorials():
    w = gk.randn(3, requires_grad=True)
    (w * w).sum().backward()
    before, grad = w.numpy().copy(), w.grad.numpy().copy()
    version = w._version
    with gk.no_grad():
        w -= 0.1 * w.grad
    np.testing.assert_allclose(w.numpy(), before - 0.1 * grad)
    assert w.requires_grad and w.is_leaf and w._version > version
    w.grad.zero_()
    assert (w.grad.numpy() == 0).all()
    with pytest.raises(RuntimeError, match="no_grad"):
        w -= 1.0
    with pytest.raises(RuntimeError, match="no_grad"):
        w.zero_()
    with gk.no_grad():
        w.fill_(2.0).add_(1.0).mul_(2.0).sub_(1.0).div_(5.0)
        assert w.numpy().tolist() == [1.0, 1.0, 1.0]
        w.copy_(gk.tensor([1.0, 2.0, 3.0]))
        w[w > 1.5] = 0.0
        assert w.numpy().tolist() == [1.0, 0.0, 0.0]
        w.clamp_(0.5, 0.8)
        np.testing.assert_allclose(w.numpy(), [0.8, 0.5, 0.5])


def test_augmented_assignment_on_recorded_tensors_stays_out_of_place():
    w = gk.tensor([1.0, 2.0], requires_grad=True)
    h = w * 2
    h += 1  # a non-leaf in a graph: the same value, bound out of place
    h.sum().backward()
    assert w.grad.numpy().tolist() == [2.0, 2.0]
    x = gk.zeros(2)
    x += 3  # plain tensors change in place
    assert x.numpy().tolist() == [3.0, 3.0]
    total = gk.zeros(())
    total += (w * w).sum()  # accumulating a recorded loss keeps its graph
    assert total.requires_grad
    with pytest.raises(RuntimeError, match="gradient would be lost"):
        x[0] = w.sum()


def test_in_place_change_of_a_saved_tensor_is_detected():
    x = gk.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    z = y * y
    with gk.no_grad():
        y.mul_(3.0)
    with pytest.raises(RuntimeError, match="changed in place"):
        z.sum().backward()


def test_type_casts_like_pytorch():
    import gradkit as gk

    t = gk.tensor([1, 0, 1]) == 1
    assert t.type(gk.float).dtype == np.float32 and float(t.type(gk.float).sum()) == 2.0
    assert gk.tensor([1.5]).type() == "float32"
