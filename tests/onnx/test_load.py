"""ONNX -> gradkit: models exported by PyTorch (and by gradkit) run and train on gradkit."""

import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

import gradkit as gk  # noqa: E402
import gradkit.onnx  # noqa: E402
from gradkit import layers as L  # noqa: E402
from gradkit.models import Input, Model, Sequential  # noqa: E402
from gradkit.onnx import OnnxImportError  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def torch_export(net, x, **kwargs):
    """ONNX bytes from torch.onnx.export (the TorchScript exporter: no extra packages)."""
    f = io.BytesIO()
    net.eval()
    torch.onnx.export(net, x, f, dynamo=False, input_names=["input"], output_names=["out"],
                      dynamic_axes={"input": {0: "batch"}, "out": {0: "batch"}},
                      opset_version=17, **kwargs)
    return f.getvalue()


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.ReLU(),
                                       torch.nn.Linear(16, 8), torch.nn.Tanh(),
                                       torch.nn.Linear(8, 3))

    def forward(self, x):
        return self.net(x)


class SmallCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.c2 = torch.nn.Conv2d(4, 6, 3, stride=2)
        self.pool = torch.nn.AvgPool2d(2, padding=1, count_include_pad=True)
        self.fc = torch.nn.Linear(6 * 2 * 2, 5)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.bn(self.c1(x))), 2, ceil_mode=True)
        x = self.pool(torch.nn.functional.leaky_relu(self.c2(x), 0.1))
        x = x.view(x.size(0), -1)
        return torch.log_softmax(self.fc(x), -1)


def _nontrivial_bn(net):
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)


@pytest.mark.parametrize("make, shape", [(MLP, (12,)), (SmallCNN, (1, 15, 15))],
                         ids=["mlp", "cnn"])
def test_pytorch_model_predicts_like_pytorch(make, shape, tmp_path):
    torch.manual_seed(0)
    net = make()
    _nontrivial_bn(net)
    x = torch.randn(4, *shape)
    path = tmp_path / "net.onnx"
    path.write_bytes(torch_export(net, x))
    model = gk.onnx.load(path)
    with torch.no_grad():
        want = net(x).numpy()
    np.testing.assert_allclose(model.predict(x.numpy(), verbose=0), want, atol=1e-5, rtol=1e-5)
    x2 = torch.randn(7, *shape)  # the batch axis is dynamic
    with torch.no_grad():
        np.testing.assert_allclose(model(x2.numpy()).numpy(), net(x2).numpy(), atol=1e-5,
                                   rtol=1e-5)


@pytest.mark.parametrize("make, shape", [(MLP, (12,)), (SmallCNN, (1, 15, 15))],
                         ids=["mlp", "cnn"])
def test_one_fine_tuning_step_changes_the_weights(make, shape):
    torch.manual_seed(1)
    x = torch.randn(6, *shape)
    model = gk.onnx.load(torch_export(make(), x))
    before = [w.numpy().copy() for w in model.trainable_weights]
    assert before, "the loaded model has trainable weights"
    model.compile(optimizer=gk.optimizers.SGD(0.1), loss="mse")
    y = np.random.default_rng(0).normal(size=(6, 3 if make is MLP else 5)).astype("float32")
    model.fit(x.numpy(), y, epochs=1, batch_size=6, verbose=0)
    after = [w.numpy() for w in model.trainable_weights]
    assert all(not np.array_equal(a, b) for a, b in zip(before, after))


def test_pytorch_style_loop_on_loaded_model():
    model = gk.onnx.load(torch_export(MLP(), torch.randn(2, 12)))
    opt = gk.optimizers.SGD(0.1)
    x = gk.Tensor(np.ones((2, 12), "float32"))
    loss = gk.ops.sum(model(x) ** 2)
    loss.backward()
    assert all(w.grad is not None for w in model.parameters())
    opt.apply_gradients([(w.grad, w) for w in model.parameters()])


def _randomize(model):
    rng = np.random.default_rng(0)
    for w in model.weights:
        w.assign(rng.normal(0, 0.5, w.shape).astype(w.dtype) if "variance" not in w.name
                 else rng.uniform(0.5, 2, w.shape).astype(w.dtype))


def test_gradkit_round_trip(tmp_path):
    inp = Input((8, 8, 3))
    x = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
    x = L.BatchNormalization()(x)
    y = L.MaxPooling2D(2, padding="same")(x)
    y = L.AveragePooling2D(2)(L.Conv2D(4, 1)(y))
    z = L.GlobalMaxPooling2D()(x)
    out = L.Concatenate()([L.Flatten()(y), z])
    out = L.LayerNormalization()(L.Dense(5, activation="gelu")(out))
    model = Model(inp, L.Softmax()(out))
    _randomize(model)
    model.export(tmp_path / "m.onnx")
    back = gk.onnx.load(tmp_path / "m.onnx")
    x = np.random.default_rng(1).normal(size=(3, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-5)


def test_unsupported_op_is_named():
    h = onnx.helper
    node = h.make_node("Det", ["x"], ["y"], name="det")
    graph = h.make_graph([node], "g", [h.make_tensor_value_info("x", 1, [2, 2])],
                         [h.make_tensor_value_info("y", 1, [])])
    with pytest.raises(OnnxImportError, match="Det"):
        gk.onnx.load(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]))


def test_unsupported_attribute_is_named():
    net = torch.nn.Conv2d(4, 4, 3, groups=2)
    with pytest.raises(OnnxImportError, match="group=2"):
        gk.onnx.load(torch_export(net, torch.randn(1, 4, 5, 5))).predict(
            np.zeros((1, 4, 5, 5), "float32"), verbose=0)


def test_loaded_sequential_export_keeps_weights():
    model = Sequential([L.Dense(3, input_shape=(4,))])
    back = gk.onnx.load(gk.onnx.export(model))
    names = sorted(w.name.split("/", 1)[1] for w in back.weights)
    assert names == sorted(w.name for w in model.weights)


def test_gradkit_recurrent_round_trip():
    model = Sequential([L.Embedding(30, 6, input_shape=(5,)), L.LSTM(4, return_sequences=True),
                        L.GRU(3, return_sequences=True, go_backwards=True),
                        L.GRU(3, reset_after=False), L.Dense(2)])
    x = np.random.default_rng(0).integers(0, 30, (3, 5))
    _randomize(model)
    back = gk.onnx.load(gk.onnx.export(model))
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-5)


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
def test_pytorch_recurrent_layers(cls):
    torch.manual_seed(0)
    kwargs = {"nonlinearity": "relu"} if cls == "RNN" else {}
    rnn = getattr(torch.nn, cls)(3, 4, batch_first=True, bidirectional=True, **kwargs)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = rnn

        def forward(self, x):
            return self.rnn(x)[0]

    x = torch.randn(2, 5, 3)
    model = gk.onnx.load(torch_export(Net(), x))
    with torch.no_grad():
        np.testing.assert_allclose(model.predict(x.numpy(), verbose=0), Net()(x).numpy(),
                                   atol=1e-5)


def test_loaded_model_is_not_a_gradkit_model_file(tmp_path):
    back = gk.onnx.load(gk.onnx.export(Sequential([L.Dense(2, input_shape=(3,))])))
    with pytest.raises(NotImplementedError, match="keep the .onnx file"):
        back.save(tmp_path / "m.gradkit")
    back.save_weights(tmp_path / "w.safetensors")  # weights alone save as usual
