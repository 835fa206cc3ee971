"""Per-step overhead (XOR 2-3-1 sigmoid net) and large-matmul overhead, against peers.

    python benchmarks/bench_core.py [--repeats 30]

Prints gradkit's full-batch XOR training step (forward, MSE, backward, SGD
update) beside PyTorch CPU's for the same step, and a 2048x2048 matmul
through gradkit beside the bare NumPy call. Targets: XOR ratio <= 0.25,
matmul overhead <= 5%.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fmt_time, interleaved, machine, median  # noqa: E402

import gradkit as gk  # noqa: E402

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
Y = np.array([[0], [1], [1], [0]], np.float32)
LR = 0.5


def init(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(2, 3)).astype(np.float32), np.zeros(3, np.float32),
            rng.normal(size=(3, 1)).astype(np.float32), np.zeros(1, np.float32)]


def gradkit_xor():
    params = [gk.Variable(a) for a in init()]
    w1, b1, w2, b2 = params
    opt = gk.optimizers.SGD(params, lr=LR)
    x, y = gk.Tensor(X), gk.Tensor(Y)

    def step():
        opt.zero_grad()
        out = gk.sigmoid(gk.sigmoid(x @ w1 + b1) @ w2 + b2)
        loss = gk.mean_squared_error(out, y)
        loss.backward()
        opt.step()
        return loss

    def predict():
        with gk.no_grad():
            return gk.sigmoid(gk.sigmoid(x @ w1 + b1) @ w2 + b2).numpy()

    return step, predict


def torch_xor(torch):
    params = [torch.tensor(a, requires_grad=True) for a in init()]
    w1, b1, w2, b2 = params
    opt = torch.optim.SGD(params, lr=LR)
    x, y = torch.tensor(X), torch.tensor(Y)

    def step():
        opt.zero_grad()
        out = torch.sigmoid(torch.sigmoid(x @ w1 + b1) @ w2 + b2)
        loss = torch.nn.functional.mse_loss(out, y)
        loss.backward()
        opt.step()
        return loss

    return step


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args(argv)
    print(f"machine: {machine()}")
    try:
        import torch

        torch.set_num_threads(2)
    except ImportError:
        torch = None
        print("PyTorch not installed: its column is skipped")

    g_step, g_predict = gradkit_xor()
    contenders = {"gradkit": g_step}
    if torch is not None:
        contenders["pytorch"] = torch_xor(torch)
    times = interleaved(contenders, repeats=args.repeats, inner=200, warmup=200)
    for _ in range(3000):
        g_step()
    solved = bool(((g_predict() > 0.5) == (Y > 0.5)).all())
    print("\nXOR 2-3-1 training step (full batch, MSE, SGD)")
    g = median(times["gradkit"])
    print(f"  gradkit  {fmt_time(g)}/step   XOR solved after 3000+ steps: {solved}")
    result = {"xor_step_gradkit_s": g, "xor_solved": solved}
    if "pytorch" in times:
        t = median(times["pytorch"])
        print(f"  pytorch  {fmt_time(t)}/step")
        print(f"  ratio gradkit/pytorch = {g / t:.3f}  (target <= 0.25)")
        result.update(xor_step_pytorch_s=t, xor_ratio=g / t)

    rng = np.random.default_rng(0)
    a = rng.normal(size=(2048, 2048)).astype(np.float32)
    b = rng.normal(size=(2048, 2048)).astype(np.float32)
    ta, tb = gk.Tensor(a), gk.Tensor(b)
    mm = interleaved({"numpy": lambda: a @ b, "gradkit": lambda: ta @ tb},
                     repeats=max(5, args.repeats // 3), warmup=2)
    n, gm = median(mm["numpy"]), median(mm["gradkit"])
    print("\n2048x2048 float32 matmul")
    print(f"  numpy    {fmt_time(n)}  ({2 * 2048 ** 3 / n / 1e9:.0f} GFLOP/s)")
    print(f"  gradkit  {fmt_time(gm)}  overhead {100 * (gm / n - 1):+.1f}%  (target <= +5%)")
    result.update(matmul_numpy_s=n, matmul_gradkit_s=gm)
    return result


if __name__ == "__main__":
    main()
