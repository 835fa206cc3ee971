"""Check gradkit on a CUDA GPU against the CPU, and time it: one script to run once.

    python benchmarks/gpu_check.py [--out gpu_check.json] [--epochs 1] [--n-train 60000]
    python benchmarks/gpu_check.py --dry-run     # on the strict stand-in, small, no CUDA

1. CuPy: ``cupy-cuda12x`` is pip-installed when it is missing (not with ``--dry-run``,
   which runs on :mod:`gradkit.testing.strict_device` instead of a GPU).
2. The op table (tests/ops/op_table.py): every row's float samples run on the CPU and on
   the GPU in float32; values and input gradients must agree (rtol 1e-4, atol 1e-5).
3. The tutorials' MLP (Dense(512, relu) -> Dense(10, softmax), RMSprop, batch 128) and
   the benchmark CNN (Conv 32 -> pool -> Conv 64 -> pool -> Dense 10, Adam) train on
   Fashion-MNIST on both devices from the same seed; test accuracies must be within 1
   point. Epoch times are printed side by side, with PyTorch CUDA's when torch is there.
4. Everything goes to a JSON file (``--out``); the exit status is 1 when a check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "ops"))


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="gpu_check.json", help="where the JSON report goes")
    p.add_argument("--epochs", type=int, default=1, help="epochs per model and device")
    p.add_argument("--n-train", type=int, default=60000, help="training images used")
    p.add_argument("--dry-run", action="store_true",
                   help="use the strict stand-in instead of CUDA, with a small subset")
    return p.parse_args(argv)


def ensure_cupy(dry_run):
    """The GPU array module: CuPy (installed with pip when missing), or the stand-in."""
    if dry_run:
        from gradkit.testing import strict_device

        strict_device.activate()
        return "strict stand-in"
    try:
        import cupy  # noqa: F401
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "cupy-cuda12x"])
    import cupy

    return f"cupy {cupy.__version__}, {cupy.cuda.runtime.getDeviceProperties(0)['name']}"


# ---------------------------------------------------------------- the op table
def _grads(row, sample, arrays, device):
    """Output and input gradients of one op sample on ``device`` (as NumPy arrays)."""
    import gradkit as gk
    from gradkit.devices import place

    leaves = [gk.Tensor(a, device=device, requires_grad=a.dtype.kind == "f")
              if isinstance(a, np.ndarray) else a for a in arrays]
    def on_device(v):  # float constants among the keywords (batch_norm's moving stats)
        if isinstance(v, tuple):
            return tuple(on_device(i) for i in v)
        return place(v.copy(), device) if isinstance(v, np.ndarray) and v.dtype.kind == "f" \
            else v

    kwargs = {k: on_device(v) for k, v in sample.kwargs.items()}
    out = row.op(*leaves, **kwargs)
    outs = out if isinstance(out, (list, tuple)) else [out]
    total = None
    for o in outs:
        if o.requires_grad:
            s = (o * gk.Tensor(np.linspace(0.5, 1.5, o.size, dtype=o.dtype).reshape(o.shape),
                               device=device)).sum()
            total = s if total is None else total + s
    if total is not None:
        total.backward()
    grads = [t.grad.numpy() if hasattr(t, "grad") and t.grad is not None else None
             for t in leaves]
    return [o.numpy() for o in outs], grads


def check_op_table(rtol=1e-4, atol=1e-5):
    """Every float sample of the op table, CPU vs GPU in float32: a list of failures."""
    from inputs import make_inputs
    from op_table import OPS

    ran, failures = 0, []
    for row in OPS:
        for sample in row.samples:
            arrays = [a.astype(np.float32) if a.dtype.kind == "f" else a
                      for a in make_inputs(sample.inputs)]
            try:
                cpu = _grads(row, sample, arrays, "cpu")
            except Exception:  # noqa: BLE001 - a sample meant to raise; not a device check
                continue
            ran += 1
            try:
                gpu = _grads(row, sample, arrays, "cuda")
                for a, b in zip(cpu[0] + cpu[1], gpu[0] + gpu[1]):
                    if a is not None or b is not None:
                        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)
            except Exception as e:  # noqa: BLE001 - reported, not raised
                failures.append(f"{row.name}[{sample.id}]: {type(e).__name__}: "
                                f"{str(e).strip().splitlines()[0][:200]}")
    return ran, failures


# ---------------------------------------------------------------- training
def fashion(n_train, n_test):
    import gradkit as gk

    (xt, yt), (xs, ys) = gk.datasets.fashion_mnist.load_data()
    return ((xt[:n_train, ..., None].astype("float32") / 255, yt[:n_train]),
            (xs[:n_test, ..., None].astype("float32") / 255, ys[:n_test]))


def mlp():
    from gradkit.layers import Dense, Flatten
    from gradkit.models import Sequential

    return Sequential([Flatten(), Dense(512, activation="relu"),
                       Dense(10, activation="softmax")]), "rmsprop"


def cnn():
    from gradkit.layers import Conv2D, Dense, Flatten, MaxPooling2D
    from gradkit.models import Sequential

    return Sequential([Conv2D(32, 3, activation="relu"), MaxPooling2D(2),
                       Conv2D(64, 3, activation="relu"), MaxPooling2D(2), Flatten(),
                       Dense(10, activation="softmax")]), "adam"


def train(build, device, data, epochs):
    """Seconds per epoch and test accuracy of one model trained on ``device``."""
    import gradkit as gk

    (xt, yt), (xs, ys) = data
    gk.random.seed(0)
    with gk.device(device):
        model, optimizer = build()
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        model.fit(xt[:256], yt[:256], epochs=1, batch_size=128, verbose=0)  # warm-up
        gk.random.seed(0)
        model, optimizer = build()
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        t = time.perf_counter()
        model.fit(xt, yt, epochs=epochs, batch_size=128, verbose=0)
        secs = (time.perf_counter() - t) / epochs
        acc = model.evaluate(xs, ys, batch_size=512, verbose=0)[1]
    return secs, acc


def torch_epoch(kind, data, epochs):  # pragma: no cover - needs torch with CUDA
    """PyTorch CUDA's seconds per epoch for the same model, or None without it."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    nn = torch.nn
    (xt, yt), _ = data
    x = torch.tensor(xt).permute(0, 3, 1, 2).cuda()
    y = torch.tensor(yt).long().cuda()
    if kind == "mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
        opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    else:
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(1600, 10))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model = model.cuda()
    loss_fn = nn.CrossEntropyLoss()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(epochs):
        for i in range(0, len(x), 128):
            opt.zero_grad()
            loss_fn(model(x[i:i + 128]), y[i:i + 128]).backward()
            opt.step()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / epochs


def main(argv=None):
    args = parse(argv)
    n_train = min(args.n_train, 512) if args.dry_run else args.n_train
    n_test = 256 if args.dry_run else 10000
    report = {"backend": ensure_cupy(args.dry_run), "dry_run": args.dry_run}
    ran, failures = check_op_table()
    report["op_table"] = {"samples": ran, "failures": failures}
    print(f"op table: {ran} samples CPU vs GPU, {len(failures)} failed")
    for f in failures:
        print("  ", f)
    data = fashion(n_train, n_test)
    ok = not failures
    for name, build in (("mlp", mlp), ("cnn", cnn)):
        cpu_s, cpu_acc = train(build, "cpu", data, args.epochs)
        gpu_s, gpu_acc = train(build, "cuda", data, args.epochs)
        torch_s = None if args.dry_run else torch_epoch(name, data, args.epochs)
        close = abs(cpu_acc - gpu_acc) <= 0.01
        ok &= close or args.dry_run  # a few hundred images: accuracy is noise there
        report[name] = {"cpu_epoch_s": cpu_s, "gpu_epoch_s": gpu_s, "torch_cuda_epoch_s": torch_s,
                        "speedup": cpu_s / gpu_s, "cpu_accuracy": cpu_acc,
                        "gpu_accuracy": gpu_acc, "accuracy_within_1_point": close}
        torch_txt = f", PyTorch CUDA {torch_s:.2f} s" if torch_s else ""
        print(f"{name}: epoch CPU {cpu_s:.2f} s, GPU {gpu_s:.2f} s ({cpu_s / gpu_s:.1f}x)"
              f"{torch_txt}; accuracy CPU {cpu_acc:.4f}, GPU {gpu_acc:.4f}"
              f"{'' if close else '  <- more than 1 point apart'}")
    report["ok"] = bool(ok)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(f"report: {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
