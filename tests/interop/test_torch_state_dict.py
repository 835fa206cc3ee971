"""PyTorch state dicts stored with safetensors (F32, F16, BF16) load into gradkit models."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

from gradkit import layers as L  # noqa: E402
from gradkit.models import ModelFileError, Sequential  # noqa: E402
from gradkit.models import safetensors as st  # noqa: E402
from gradkit.models.torch_state_dict import load_torch_state_dict  # noqa: E402

pytestmark = pytest.mark.torch


def test_bf16_and_f16_tensors_load(tmp_path):
    values = torch.tensor([1.0, -2.5, 3.140625, 1e-3, float("inf"), -0.0])
    path = tmp_path / "t.safetensors"
    safetensors_torch.save_file({"b": values.to(torch.bfloat16), "h": values.half()}, path)
    arrays, _ = st.loads(path.read_bytes())
    assert arrays["b"].dtype == np.float32  # widened, exactly
    np.testing.assert_array_equal(arrays["b"], values.to(torch.bfloat16).float().numpy())
    assert arrays["h"].dtype == np.float16
    np.testing.assert_array_equal(arrays["h"], values.half().numpy())


def test_bf16_bits_widen_exactly():
    bits = np.array([0x3F80, 0xC020, 0x7F80, 0x7FC0, 0x0001], dtype=np.uint16)
    got = st.bfloat16_to_float32(bits)
    want = torch.from_numpy(bits.view(np.int16)).view(torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(got, want)


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3)
        self.bn = torch.nn.BatchNorm2d(3)
        self.fc = torch.nn.Linear(3 * 4 * 4, 5)
        self.ln = torch.nn.LayerNorm(5)

    def forward(self, x):  # NCHW
        x = self.bn(self.conv(x))
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # flatten channels-last, as gradkit
        return self.ln(self.fc(x))


def _gradkit_net():
    return Sequential([L.Conv2D(3, 3, input_shape=(6, 6, 2)),
                       L.BatchNormalization(epsilon=1e-5), L.Flatten(), L.Dense(5),
                       L.LayerNormalization(epsilon=1e-5)])


@pytest.mark.parametrize("dtype, atol", [(torch.float32, 1e-5), (torch.float16, 1e-5),
                                         (torch.bfloat16, 1e-5)])
def test_state_dict_file_loads_into_keras_style_layers(dtype, atol, tmp_path):
    torch.manual_seed(0)
    net = TorchNet().eval()
    with torch.no_grad():
        net.bn.running_mean.normal_()
        net.bn.running_var.uniform_(0.5, 2.0)
        for p in net.parameters():  # values exact in the stored dtype
            p.copy_(p.to(dtype).float())
        net.bn.running_mean.copy_(net.bn.running_mean.to(dtype).float())
        net.bn.running_var.copy_(net.bn.running_var.to(dtype).float())
    path = tmp_path / "net.safetensors"
    safetensors_torch.save_file({k: v.to(dtype) if v.is_floating_point() else v
                                 for k, v in net.state_dict().items()}, path)
    model = _gradkit_net()
    load_torch_state_dict(model, path, mapping={model.layers[0].name: "conv",
                                                model.layers[1].name: "bn",
                                                model.layers[3].name: "fc",
                                                model.layers[4].name: "ln"})
    x = torch.randn(3, 2, 6, 6)
    with torch.no_grad():
        want = net(x).numpy()
    got = model.predict(x.permute(0, 2, 3, 1).numpy(), verbose=0)
    np.testing.assert_allclose(got, want, atol=atol, rtol=1e-5)


def test_recurrent_state_dicts_in_order():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, batch_first=True)
    gru = torch.nn.GRU(4, 2, batch_first=True)
    sd = {**{f"0.{k}": v for k, v in lstm.state_dict().items()},
          **{f"1.{k}": v for k, v in gru.state_dict().items()}}
    model = Sequential([L.LSTM(4, return_sequences=True, input_shape=(5, 3)),
                        L.GRU(2, return_sequences=True)])
    load_torch_state_dict(model, sd)  # modules matched in order: "0", "1"
    x = torch.randn(2, 5, 3)
    with torch.no_grad():
        want = gru(lstm(x)[0])[0].numpy()
    np.testing.assert_allclose(model.predict(x.numpy(), verbose=0), want, atol=1e-5)


def test_mismatches_are_refused_before_assigning():
    model = Sequential([L.Dense(3, input_shape=(4,)), L.Dense(2)])
    before = model.get_weights()
    good = torch.nn.Linear(4, 3).state_dict()
    bad = torch.nn.Linear(5, 2).state_dict()
    sd = {**{f"0.{k}": v for k, v in good.items()}, **{f"1.{k}": v for k, v in bad.items()}}
    with pytest.raises(ModelFileError, match=r"module '1'.*\(3, 2\).*\(5, 2\)"):
        load_torch_state_dict(model, sd)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # nothing assigned
    with pytest.raises(ModelFileError, match="1 modules with tensors"):
        load_torch_state_dict(model, {f"0.{k}": v for k, v in good.items()})
    extra = {**{f"0.{k}": v for k, v in good.items()}, "0.scale": torch.ones(3),
             **{f"1.{k}": v for k, v in torch.nn.Linear(3, 2).state_dict().items()}}
    with pytest.raises(ModelFileError, match=r"\['scale'\] have no place"):
        load_torch_state_dict(model, extra)
