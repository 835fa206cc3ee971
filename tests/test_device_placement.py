"""Tensor.device/.to/.cpu/.cuda, Layer/Model.to, the default device and mixing devices,
on the strict stand-in GPU (gradkit.testing.strict_device)."""

import numpy as np
import pytest

import gradkit as gk
from gradkit import devices
from gradkit.devices import DeviceError
from gradkit.layers import Dense
from gradkit.models import Sequential


def test_tensor_to_and_back_is_differentiable(strict_gpu):
    x = gk.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert x.device == "cpu"
    y = x.cuda()
    assert y.device == "cuda:0" and type(y.data) is strict_gpu.StrictArray
    assert y.to("cuda") is y and y.cpu().device == "cpu"
    (y * y).sum().backward()
    assert x.grad.device == "cpu"
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])
    h = y.to(gk.float64)
    assert h.dtype == np.float64 and h.device == "cuda:0"
    assert isinstance(y.numpy(), np.ndarray) and "device='cuda:0'" in repr(y)


def test_mixing_devices_names_both(strict_gpu):
    a, b = gk.ones(3), gk.ones(3, device="cuda")
    with pytest.raises(DeviceError, match=r"add: .*cpu and cuda:0|cuda:0 and cpu"):
        _ = a + b
    with pytest.raises(DeviceError, match="matmul"):
        _ = gk.ones((2, 2), device="cuda") @ gk.ones((2, 2))


def test_default_device_scope_and_creation(strict_gpu):
    with gk.device("cuda"):
        for t in (gk.zeros(2), gk.ones(2), gk.full((2,), 3.0), gk.arange(3), gk.eye(2),
                  gk.Tensor([1.0]), gk.random.normal((2,)), gk.random.uniform((2,))):
            assert t.device == "cuda:0"
        assert gk.zeros(2, device="cpu").device == "cpu"
    assert gk.zeros(2).device == "cpu"


def test_gradkit_device_env(strict_gpu, monkeypatch):
    monkeypatch.setenv("GRADKIT_DEVICE", "cuda")
    monkeypatch.setattr(devices, "_env_default", devices._UNSET)
    assert gk.zeros(1).device == "cuda:0"
    with gk.device("cpu"):
        assert gk.zeros(1).device == "cpu"
    monkeypatch.setenv("GRADKIT_DEVICE", "tpu")
    monkeypatch.setattr(devices, "_env_default", devices._UNSET)
    with pytest.raises(ValueError, match="GRADKIT_DEVICE='tpu'"):
        devices.default_device()
    monkeypatch.setattr(devices, "_env_default", devices._UNSET)


def test_seeded_device_draws_repeat(strict_gpu):
    with gk.device("cuda"):
        gk.random.seed(3)
        a = gk.random.normal((4,)).numpy()
        gk.random.seed(3)
        b = gk.random.normal((4,)).numpy()
    np.testing.assert_array_equal(a, b)


def _trained(device_after_first_fit):
    gk.random.seed(0)
    x = gk.random.generator().standard_normal((64, 5)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("int64")
    model = Sequential([Dense(8, activation="relu"), Dense(2)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    model.to(device_after_first_fit)
    hist = model.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
    return model, hist.history


def test_model_to_moves_weights_and_optimizer_state(strict_gpu):
    on_gpu, h_gpu = _trained("cuda")
    on_cpu, h_cpu = _trained("cpu")
    assert all(w.device == "cuda:0" for w in on_gpu.weights)
    rec = on_gpu.optimizer._order[0]
    assert all(devices.device_of(s) == "cuda:0" for s in rec.slots)
    # the stand-in computes with NumPy: the same numbers on both devices
    for a, b in zip(on_gpu.get_weights(), on_cpu.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h_gpu["loss"], h_cpu["loss"], rtol=1e-6)
    assert h_gpu["accuracy"] == h_cpu["accuracy"]
    pred = on_gpu.predict(np.ones((3, 5), "float32"), verbose=0)
    assert isinstance(pred, np.ndarray) and pred.shape == (3, 2)


def test_layer_built_in_scope_lives_there(strict_gpu):
    layer = Dense(3)
    with gk.device("cuda"):
        out = layer(np.ones((2, 4), "float32"))
    assert out.device == "cuda:0" and layer.kernel.device == "cuda:0"
    assert layer(np.ones((2, 4), "float32")).device == "cuda:0"  # host input follows it
    with pytest.raises(DeviceError):
        layer(gk.ones((2, 4)))


def test_readme_gpu_block_runs_on_the_stand_in(strict_gpu):
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S)
                if 'gradkit.device("cuda")' in b)
    rng = np.random.default_rng(0)
    env = {"x_train": rng.random((64, 784), dtype=np.float32),
           "y_train": rng.integers(0, 10, 64), "x_test": rng.random((8, 784), dtype=np.float32)}
    exec(compile(code, "README:gpu", "exec"), env)
    assert env["probs"].shape == (8, 10) and env["t"].device == "cuda:0"
    assert all(w.device == "cpu" for w in env["model"].weights)
