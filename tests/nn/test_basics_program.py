"""Issue 12's end-to-end check: a program written the way PyTorch's "Basics" tutorial
writes its own (an ``nn.Module`` with ``__init__``/``forward``, ``nn.Sequential``,
``CrossEntropyLoss``, ``SGD``, a ``DataLoader`` over Fashion-MNIST, a train loop, a test
loop, ``save(model.state_dict())`` then load) runs with ``torch`` bound to gradkit, and
reaches the accuracy real PyTorch reaches on the same program (within 1 point).

The program text is run twice: with ``torch`` = PyTorch and with ``torch`` = gradkit.
The two start from the same weights (PyTorch's, copied with ``load_state_dict``) and
see the same batches (no shuffling), so they differ only by floating-point rounding.
torchvision is not installed here, so PyTorch's data comes from the same IDX arrays in a
``TensorDataset``; gradkit's from ``gradkit.datasets.FashionMNIST`` + ``ToTensor``.
"""

import numpy as np
import pytest

torch_real = pytest.importorskip("torch")

TORCH_IMPORTS = '''
import torch
from torch import nn
from torch.utils.data import DataLoader
'''
GRADKIT_IMPORTS = '''
import gradkit as torch
from gradkit import nn
from gradkit.utils.data import DataLoader
'''
PROGRAM = '''
class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        return self.linear_relu_stack(x)

model = NeuralNetwork()
model.load_state_dict(start)              # the same starting weights in both runs
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
train_loader = DataLoader(training_data, batch_size=64)
test_loader = DataLoader(test_data, batch_size=256)

def train(dataloader, model, loss_fn, optimizer):
    model.train()
    for X, y in dataloader:
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

def test(dataloader, model, loss_fn):
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            pred = model(X)
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
            total += len(y)
    return correct / total

for epoch in range(2):
    train(train_loader, model, loss_fn, optimizer)
accuracy = test(test_loader, model, loss_fn)
torch.save(model.state_dict(), path)
again = NeuralNetwork()
again.load_state_dict(torch.load(path))
reloaded = test(test_loader, again, loss_fn)
'''

N_TRAIN, N_TEST = 6000, 2000


@pytest.fixture(scope="module")
def fashion():
    from gradkit.datasets import fashion_mnist

    try:
        (x, y), (xt, yt) = fashion_mnist.load_data(download=False)
    except Exception as exc:  # noqa: BLE001 - no files: say why
        pytest.skip(f"Fashion-MNIST not found ({exc}); apt-get install dataset-fashion-mnist")
    return x[:N_TRAIN], y[:N_TRAIN], xt[:N_TEST], yt[:N_TEST]


def test_basics_program_runs_on_gradkit_and_matches_pytorch(fashion, tmp_path):
    import gradkit
    from gradkit.datasets import FashionMNIST, transforms
    from gradkit.utils.data import Subset

    x, y, xt, yt = fashion
    torch_real.manual_seed(0)
    ref_start = {k: v for k, v in torch_real.nn.Sequential(  # PyTorch's initial weights
        torch_real.nn.Linear(784, 128), torch_real.nn.ReLU(),
        torch_real.nn.Linear(128, 10)).state_dict().items()}
    start = {f"linear_relu_stack.{k}": v for k, v in ref_start.items()}

    def as_tensors(a, b):
        return torch_real.utils.data.TensorDataset(
            torch_real.tensor(a[:, None] / np.float32(255.0), dtype=torch_real.float32),
            torch_real.tensor(b, dtype=torch_real.int64))

    theirs = {"training_data": as_tensors(x, y), "test_data": as_tensors(xt, yt),
              "start": start, "path": str(tmp_path / "torch.pth")}
    exec(TORCH_IMPORTS + PROGRAM, theirs)  # noqa: S102 - our own program text

    train = Subset(FashionMNIST(None, train=True, transform=transforms.ToTensor()),
                   range(N_TRAIN))
    test = Subset(FashionMNIST(None, train=False, transform=transforms.ToTensor()),
                  range(N_TEST))
    ours = {"training_data": train, "test_data": test, "path": str(tmp_path / "gradkit.pth"),
            "start": {k: v.numpy() for k, v in start.items()}}
    exec(GRADKIT_IMPORTS + PROGRAM, ours)  # noqa: S102 - the same text, imports swapped
    assert ours["torch"] is gradkit

    print(f"basics program test accuracy: gradkit {ours['accuracy']:.4f}, "
          f"PyTorch {theirs['accuracy']:.4f}")
    assert theirs["accuracy"] > 0.70, theirs["accuracy"]
    assert abs(ours["accuracy"] - theirs["accuracy"]) <= 0.01, (ours["accuracy"],
                                                                theirs["accuracy"])
    assert ours["reloaded"] == ours["accuracy"]  # the saved state dict gives the same model
    with open(ours["path"], "rb") as f:  # gradkit.save wrote safetensors, not a pickle
        assert f.read(9)[8:9] == b"{"
