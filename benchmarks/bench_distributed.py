"""Data-parallel scaling: epoch time of the MLP and the CNN on 1 and 2 MPI processes.

    python benchmarks/bench_distributed.py                 # MLP + CNN, 1 and 2 ranks
    python benchmarks/bench_distributed.py --nprocs 1,2,4 --limit 20000 --models mlp

Every rank runs with ONE BLAS thread (so a 2-core machine measures the scaling, not two
ranks fighting over threads), and with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE removed (these
machines set them, forcing old GEMM kernels). Each run trains one warm-up epoch and then
times ``--epochs`` epochs of ``fit`` (global batch 128, Fashion-MNIST, or random images
with ``--synthetic-data``); the time inside the gradient allreduce is measured on every
rank. Prints a table: epoch time (median), speed-up and efficiency (T1 / (N * TN)), the
allreduce's share of the epoch, and bytes each rank sends per step; writes
``results/distributed.json``. Not a test (the machines are shared and noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _worker(model_kind, limit, epochs, synthetic):
    import numpy as np

    import gradkit as gk
    import gradkit.distributed as dist
    from gradkit.distributed import data_parallel as DP

    dist.init()
    if synthetic:
        r = np.random.default_rng(0)
        x, y = r.random((limit, 28, 28), dtype=np.float32), r.integers(0, 10, limit)
    else:
        from gradkit.datasets import fashion_mnist

        (x, y), _ = fashion_mnist.load_data(download=False)
        x, y = (x[:limit] / 255.0).astype("float32"), y[:limit]
    L = gk.layers
    gk.random.seed(0)
    if model_kind == "mlp":
        x = x.reshape(len(x), 784)
        model = gk.Sequential([L.Dense(512, activation="relu", input_shape=(784,)),
                               L.Dense(10, activation="softmax")])
        model.compile("rmsprop", "sparse_categorical_crossentropy")
    else:
        x = x.reshape(len(x), 28, 28, 1)
        model = gk.Sequential([L.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
                               L.MaxPooling2D(2), L.Conv2D(64, 3, activation="relu"),
                               L.MaxPooling2D(2), L.Flatten(),
                               L.Dense(10, activation="softmax")])
        model.compile(gk.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    spent = [0.0]
    original = DP.FitSync.reduce

    def timed(self, grads, params):
        t = time.perf_counter()
        out = original(self, grads, params)
        spent[0] += time.perf_counter() - t
        return out

    DP.FitSync.reduce = timed
    model.fit(x, y, batch_size=128, epochs=1, verbose=0)  # warm-up
    times, shares = [], []
    for _ in range(epochs):
        spent[0] = 0.0
        dist.barrier()
        t = time.perf_counter()
        model.fit(x, y, batch_size=128, epochs=1, verbose=0)
        dist.barrier()
        times.append(time.perf_counter() - t)
        shares.append(spent[0] / times[-1])
    nbytes = sum(w._data.nbytes for w in model.trainable_weights)
    if dist.is_main_process():
        from threadpoolctl import threadpool_info

        blas = [{k: i.get(k) for k in ("internal_api", "architecture", "num_threads")}
                for i in threadpool_info()]
        print("RESULT " + json.dumps({"times": times, "allreduce_share": shares,
                                      "grad_bytes": nbytes, "blas": blas}), flush=True)


def _run(nproc, model_kind, args):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE",
                                                             "OPENBLAS_L2_SIZE")}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT),
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl="self,vader", OMPI_MCA_rmaps_base_oversubscribe="1")
    cmd = [sys.executable, __file__, "--worker", model_kind, "--limit", str(args.limit),
           "--epochs", str(args.epochs)] + (["--synthetic-data"] if args.synthetic_data else [])
    if nproc > 1:
        cmd = ["mpirun", "-n", str(nproc)] + cmd
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--models", default="mlp,cnn")
    p.add_argument("--nprocs", default="1,2")
    p.add_argument("--limit", type=int, default=20000, help="training images (default 20000)")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs (median reported)")
    p.add_argument("--synthetic-data", action="store_true")
    args = p.parse_args()
    if args.worker:
        return _worker(args.worker, args.limit, args.epochs, args.synthetic_data)
    import statistics

    report = {"limit": args.limit, "batch": 128, "runs": {}}
    rows = ["| model | ranks | epoch s (median) | speed-up | efficiency | allreduce share "
            "| bytes/step/rank |", "|---|---|---|---|---|---|---|"]
    for kind in args.models.split(","):
        base = None
        for n in map(int, args.nprocs.split(",")):
            res = _run(n, kind, args)
            med = statistics.median(res["times"])
            base = base or med
            share = statistics.median(res["allreduce_share"])
            sent = 0 if n == 1 else res["grad_bytes"]
            report["runs"][f"{kind}-{n}"] = res
            rows.append(f"| {kind} | {n} | {med:.3f} | {base / med:.2f}x | "
                        f"{base / (n * med):.0%} | {share:.1%} | {sent / 1e6:.2f} MB |")
    print("\n".join(rows))
    print("BLAS:", report["runs"][next(iter(report["runs"]))]["blas"])
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "distributed.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
