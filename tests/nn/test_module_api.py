"""One layer hierarchy: gradkit.nn.Module is a Layer; Keras layers have the Module API;
Modules train under ``fit`` and round-trip through ``model.save``."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import gradkit as gk
import gradkit.nn.functional as F
from gradkit import layers, nn


@gk.layers.register_serializable(package="tests_nn")
class TwoLayerNet(nn.Module):
    def __init__(self, hidden=16):
        super().__init__()
        self.hidden = hidden
        self.fc1 = nn.Linear(2, hidden)
        self.drop = nn.Dropout(0.1)
        self.fc2 = nn.Linear(hidden, 3)

    def forward(self, x):
        return self.fc2(self.drop(F.relu(self.fc1(x))))

    def get_config(self):
        return {"hidden": self.hidden}


def blobs(n=300):
    rng = np.random.default_rng(0)
    centers = np.array([[0, 3], [3, -2], [-3, -2]], np.float32)
    y = rng.integers(0, 3, n)
    return (centers[y] + rng.normal(0, 0.7, (n, 2))).astype(np.float32), y


def test_imports_and_one_hierarchy():
    import gradkit.nn.functional as F2

    assert F2 is F and issubclass(nn.Module, layers.Layer)
    assert gk.nn.relu is gk.ops.relu and gk.nn.softmax_cross_entropy is gk.ops.softmax_cross_entropy


def test_attribute_assignment_registers_parameters_children_and_buffers():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(gk.ones(3))
            self.blocks = nn.ModuleList([nn.Linear(3, 3) for _ in range(2)])
            self.heads = nn.ModuleDict({"a": nn.Linear(3, 1)})
            self.register_buffer("steps", gk.zeros((), dtype=gk.int64))
            self.register_buffer("scratch", gk.zeros(2), persistent=False)
            self.frozen = nn.Parameter(gk.zeros(2), requires_grad=False)

        def forward(self, x):
            for b in self.blocks:
                x = b(x) * self.scale
            return self.heads["a"](x)

    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
                     "blocks.1.bias", "heads.a.weight", "heads.a.bias"]
    assert list(net.state_dict()) == ["scale", "steps", "frozen", "blocks.0.weight",
                                      "blocks.0.bias", "blocks.1.weight", "blocks.1.bias",
                                      "heads.a.weight", "heads.a.bias"]
    assert [n for n, _ in net.named_buffers()] == ["steps", "frozen"]
    assert [n for n, _ in net.named_modules()] == ["", "blocks", "blocks.0", "blocks.1",
                                                   "heads", "heads.a"]
    assert [n for n, _ in net.named_children()] == ["blocks", "heads"]
    assert net.get_submodule("blocks.1") is net.blocks[1]
    assert net(gk.randn(4, 3)).shape == (4, 1)
    clone = copy.deepcopy(net)
    assert list(clone.state_dict()) == list(net.state_dict())
    assert clone.blocks[0].weight is not net.blocks[0].weight
    # replacing a parameter keeps one entry under that name
    net.scale = nn.Parameter(gk.full((3,), 2.0))
    assert [n for n, _ in net.named_parameters()].count("scale") == 1
    assert net.state_dict()["scale"].numpy().tolist() == [2.0, 2.0, 2.0]


def test_keras_layers_have_the_module_api():
    model = gk.Sequential([layers.Dense(4, input_shape=(3,)), layers.BatchNormalization(),
                           layers.Dense(2)])
    assert [n for n, _ in model.named_parameters()] == ["0.kernel", "0.bias", "1.gamma",
                                                        "1.beta", "2.kernel", "2.bias"]
    state = model.state_dict()
    assert list(state) == ["0.kernel", "0.bias", "1.gamma", "1.beta", "1.moving_mean",
                           "1.moving_variance", "2.kernel", "2.bias"]
    twin = gk.Sequential([layers.Dense(4, input_shape=(3,)), layers.BatchNormalization(),
                          layers.Dense(2)])
    twin.load_state_dict(copy.deepcopy(state))
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_array_equal(twin.predict(x), model.predict(x))
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Dense", "BatchNormalization", "Dense", "Sequential"]
    assert len(model.children()) == 3 and len(model.modules()) == 4
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    model.requires_grad_(True)
    model.eval()
    assert not any(m.training for m in model.modules())


def test_load_state_dict_names_missing_and_unexpected_keys():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    state = net.state_dict()
    del state["2.bias"]
    state["3.weight"] = gk.zeros(1)
    with pytest.raises(RuntimeError, match=r"missing key\(s\): '2.bias'.*unexpected key\(s\): "
                                           r"'3.weight'"):
        net.load_state_dict(state)
    result = net.load_state_dict(state, strict=False)
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == ["3.weight"]
    with pytest.raises(RuntimeError, match=r"size mismatch for '0.weight'.*\(4, 3\).*\(3, 4\)"):
        net.load_state_dict({"0.weight": np.zeros((3, 4))}, strict=False)
    with pytest.raises(NotImplementedError, match="assign"):
        net.load_state_dict(net.state_dict(), assign=True)


def test_linear_init_follows_pytorch_bounds():
    lin = nn.Linear(50, 20)
    w, b = lin.weight.numpy(), lin.bias.numpy()
    bound = 1 / math.sqrt(50)  # kaiming_uniform(a=sqrt(5)) gives the same bound as the bias
    assert w.shape == (20, 50) and np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound
    gk.manual_seed(7)
    a = nn.Linear(4, 4).weight.numpy()
    gk.manual_seed(7)
    np.testing.assert_array_equal(nn.Linear(4, 4).weight.numpy(), a)


def test_module_trains_under_fit_and_round_trips_model_save(tmp_path):
    x, y = blobs()
    model = gk.Sequential([TwoLayerNet()])
    model.compile(optimizer="adam", loss=gk.losses.SparseCategoricalCrossentropy(
        from_logits=True), metrics=["accuracy"])
    hist = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert hist.history["accuracy"][-1] > 0.9
    net = model.layers[0]
    assert net.training  # fit's training=True left the module's own mode as it was
    model.save(tmp_path / "net.gradkit")
    again = gk.load_model(tmp_path / "net.gradkit")
    assert isinstance(again.layers[0], TwoLayerNet)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


def test_builtin_modules_in_keras_sequential_fit_and_save(tmp_path):
    x, y = blobs()
    model = gk.Sequential([nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.1),
                           nn.Linear(16, 3)])
    model.compile(optimizer="adam",
                  loss=gk.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    assert int(model.layers[1].num_batches_tracked.item()) == 5 * math.ceil(300 / 32)
    model.save(tmp_path / "seq.gradkit")
    again = gk.load_model(tmp_path / "seq.gradkit")
    assert [type(m).__name__ for m in again.layers] == ["Linear", "BatchNorm1d", "ReLU",
                                                        "Dropout", "Linear"]
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert list(again.state_dict()) == list(model.state_dict())


def test_nested_nn_sequential_round_trips(tmp_path):
    model = gk.Sequential([nn.Sequential(nn.Linear(2, 3), nn.Tanh()),
                           nn.Linear(3, 1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).standard_normal((8, 2)).astype(np.float32)
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    model.save(tmp_path / "nested.gradkit")
    again = gk.load_model(tmp_path / "nested.gradkit")
    assert list(again.state_dict()) == ["0.0.weight", "0.0.bias", "1.weight", "1.bias"]
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert again.layers[0][0].out_features == 3 and len(again.layers[0]) == 2


def test_keras_training_flag_switches_module_mode_for_the_call():
    x = gk.ones(1000, 10)
    drop = nn.Dropout(0.5)
    assert (drop(x, training=False).numpy() == 1).all()
    assert drop.training  # restored after the call
    drop.eval()
    assert (drop(x).numpy() == 1).all()
    assert (drop(x, training=True).numpy() == 0).any()
    assert not drop.training


def test_module_without_forward_says_so():
    class Empty(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match="Empty must define forward"):
        Empty()(gk.zeros(2))


def test_sequential_from_an_ordered_dict_and_slicing():
    from collections import OrderedDict

    net = nn.Sequential(OrderedDict([("fc", nn.Linear(3, 4)), ("act", nn.ReLU()),
                                     ("out", nn.Linear(4, 1))]))
    assert list(net.state_dict()) == ["fc.weight", "fc.bias", "out.weight", "out.bias"]
    assert net(gk.zeros(2, 3)).shape == (2, 1)
    head = net[:2]
    assert isinstance(head, nn.Sequential) and head(gk.zeros(2, 3)).shape == (2, 4)
    assert net[0] is head[0] and len(net) == 3


def test_repr_is_pytorch_shaped():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(16, 2))
    text = repr(net)
    assert text.startswith("Sequential(\n  (0): Conv2d(1, 4, kernel_size=(3, 3)")
    assert "(3): Linear(in_features=16, out_features=2, bias=True)" in text


def test_unsupported_arguments_raise():
    for make, name in [(lambda: nn.Conv2d(2, 2, 3, groups=2), "groups"),
                       (lambda: nn.MaxPool2d(2, ceil_mode=True), "ceil_mode"),
                       (lambda: nn.AvgPool2d(3, padding=1), "count_include_pad"),
                       (lambda: nn.Embedding(5, 2, max_norm=1.0), "max_norm"),
                       (lambda: nn.LSTM(3, 4, proj_size=2), "proj_size"),
                       (lambda: nn.MultiheadAttention(4, 2, kdim=3), "kdim"),
                       (lambda: nn.Linear(2, 2, device="cuda"), "device")]:
        with pytest.raises(NotImplementedError, match=name):
            make()


def test_clip_grad_norm_and_vector_round_trip():
    net = nn.Linear(3, 2)
    (net(gk.ones(4, 3)) * 100).sum().backward()
    total = nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    assert total.item() > 1.0
    flat = nn.utils.parameters_to_vector([p.grad for p in net.parameters()])
    assert abs(float(np.linalg.norm(flat.numpy())) - 1.0) < 1e-4
    vec = nn.utils.parameters_to_vector(net.parameters())
    nn.utils.vector_to_parameters(vec * 0 + 1, net.parameters())
    assert all((p.numpy() == 1).all() for p in net.parameters())


def test_init_functions_match_their_distributions():
    w = gk.zeros(400, 300)
    nn.init.xavier_uniform_(w)
    assert abs(w.numpy().max() - math.sqrt(6 / 700)) < 1e-3
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2 / 400)) < 2e-3
    nn.init.trunc_normal_(w, std=1.0, a=-0.5, b=0.5)
    assert np.abs(w.numpy()).max() <= 0.5
    nn.init.orthogonal_(w)
    np.testing.assert_allclose(w.numpy().T @ w.numpy(), np.eye(300), atol=1e-5)
    nn.init.constant_(w, 0.25)
    assert (w.numpy() == 0.25).all()
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
