"""A state dict taken from a PyTorch model, loaded into the same model written with
gradkit.nn, gives the same outputs (the same class body builds both)."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit import nn as gnn


def make_cnn(nn):
    class SmallCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(8, 16, 3), nn.ReLU(), nn.AdaptiveAvgPool2d((2, 2)))
            self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.3),
                                            nn.Linear(64, 32), nn.LayerNorm(32), nn.GELU(),
                                            nn.Linear(32, 10))

        def forward(self, x):
            return self.classifier(self.features(x))

    return SmallCNN()


def make_text_model(nn):
    class TextModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(50, 12, padding_idx=0)
            self.lstm = nn.LSTM(12, 16, num_layers=2, batch_first=True, bidirectional=True)
            self.attn = nn.MultiheadAttention(32, 4, batch_first=True)
            self.gru = nn.GRU(32, 8, batch_first=True)
            self.head = nn.Linear(8, 3)

        def forward(self, ids):
            h, _ = self.lstm(self.embed(ids))
            h, _ = self.attn(h, h, h)
            _, last = self.gru(h)
            return self.head(last[0])

    return TextModel()


@pytest.mark.parametrize("make,inputs", [
    (make_cnn, lambda: np.random.default_rng(0).standard_normal((4, 1, 12, 12))
     .astype(np.float32)),
    (make_text_model, lambda: np.random.default_rng(0).integers(0, 50, (3, 7))),
])
def test_torch_state_dict_gives_the_same_outputs(torch, make, inputs):
    tmodel = make(torch.nn)
    # some training-mode steps so the running statistics are not the defaults
    x = inputs()
    tmodel.train()
    with torch.no_grad():
        tmodel(torch.tensor(x))
    tmodel.eval()
    gmodel = make(gnn)
    assert list(gmodel.state_dict()) == list(tmodel.state_dict())
    gmodel.load_state_dict(tmodel.state_dict())
    gmodel.eval()
    with torch.no_grad():
        want = tmodel(torch.tensor(x)).numpy()
    with gradkit.no_grad():
        got = gmodel(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_safetensors_file_saved_by_torch_loads(torch, tmp_path):
    st_torch = pytest.importorskip("safetensors.torch")
    st_numpy = pytest.importorskip("safetensors.numpy")
    tmodel = make_cnn(torch.nn).eval()
    path = tmp_path / "cnn.safetensors"
    st_torch.save_file({k: v.contiguous() for k, v in tmodel.state_dict().items()}, str(path))
    gmodel = make_cnn(gnn)
    gmodel.load_state_dict(st_numpy.load_file(str(path)))
    gmodel.eval()
    x = np.random.default_rng(1).standard_normal((2, 1, 12, 12)).astype(np.float32)
    with torch.no_grad():
        want = tmodel(torch.tensor(x)).numpy()
    np.testing.assert_allclose(gmodel(x).numpy(), want, rtol=1e-4, atol=1e-5)


def test_gradkit_state_dict_loads_into_torch(torch):
    gmodel = make_cnn(gnn).eval()
    tmodel = make_cnn(torch.nn).eval()
    tmodel.load_state_dict({k: torch.tensor(v.numpy()) for k, v in gmodel.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((2, 1, 12, 12)).astype(np.float32)
    with torch.no_grad():
        want = tmodel(torch.tensor(x)).numpy()
    np.testing.assert_allclose(gmodel(x).numpy(), want, rtol=1e-4, atol=1e-5)
