"""gradkit's benchmark suite: Fashion-MNIST training and inference against its peers.

    python benchmarks/run.py [--workloads mlp,cnn,xor,predict] [--epochs-mlp 5]
                             [--epochs-cnn 2] [--max-batches N | --quick | --smoke]
                             [--contenders gradkit-fit,gradkit-fit-numpy,gradkit-loop,
                                           pytorch,keras-jax,numpy]

Every contender runs in its own worker process (``benchmarks/workers.py``), so
its peak RSS is its own; this parent drives the workers over pipes and
interleaves them epoch by epoch (A epoch 1, B epoch 1, ..., A epoch 2, ...; the
starting contender rotates each round) so that machine drift hits all alike.
Writes ``benchmarks/results/latest.json`` and ``latest.md`` (``smoke.*`` with
``--smoke``) and prints the targets table. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import select
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workers as W  # noqa: E402

CONTENDERS = ["gradkit-fit", "gradkit-fit-numpy", "gradkit-loop", "pytorch", "keras-jax", "numpy"]
GRADKIT = ("gradkit-fit", "gradkit-fit-numpy", "gradkit-loop")
PEERS = ("pytorch", "keras-jax", "numpy")
WORKLOADS = ["mlp", "cnn", "xor", "predict"]
LABEL = {"gradkit-fit": "gradkit fit (Keras API)", "gradkit-loop": "gradkit loop (PyTorch style)",
         "gradkit-fit-numpy": "gradkit fit, NumPy only (GRADKIT_FUSED=0)",
         "pytorch": "PyTorch CPU", "keras-jax": "Keras 3 / JAX", "numpy": "hand-fused NumPy",
         "blas-floor": "BLAS floor (GEMMs only)"}
SETUP_TIMEOUT = 900.0
STEP_TIMEOUT = 3600.0


# ----------------------------------------------------------------- workers
class WorkerFailed(RuntimeError):
    pass


class Worker:
    """One worker process: JSON lines in on stdin, out on stdout, stderr to a log file."""

    def __init__(self, workload, name, cfg, logdir, threads=None, machine_blas=False):
        self.name = name
        self.log_path = Path(logdir) / f"{workload}-{name}.log"
        self.log = open(self.log_path, "w")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if not machine_blas:  # fair: no contender runs on forced old BLAS kernels
            for var in BLAS_OVERRIDES:
                env.pop(var, None)
        if threads:
            env.update(thread_env(threads))
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "workers.py"), json.dumps(cfg)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
            bufsize=1, env=env, cwd=str(HERE.parent))

    def tail(self, n=15):
        self.log.flush()
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def recv(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise WorkerFailed(f"{self.name}: no reply within {timeout:.0f} s")
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait(timeout=10)
            raise WorkerFailed(f"{self.name}: worker exited (code {code}) without a reply\n"
                               f"{self.tail()}")
        return json.loads(line)

    def ask(self, timeout=STEP_TIMEOUT, **msg):
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise WorkerFailed(f"{self.name}: worker is gone ({e})\n{self.tail()}") from e
        rep = self.recv(timeout)
        if not rep.get("ok"):
            raise WorkerFailed(f"{self.name}: {rep.get('error') or rep}")
        return rep

    def close(self):
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write('{"cmd": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.log.close()


#: set on this project's machines, they force NumPy's OpenBLAS onto its Haswell kernels
#: (GEMMs 3-4x slower than a user's machine would run); PyTorch is not affected
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def thread_env(n):
    """Environment that caps every library's compute threads at ``n`` (``--threads``)."""
    return {"OMP_NUM_THREADS": str(n), "OPENBLAS_NUM_THREADS": str(n),
            "MKL_NUM_THREADS": str(n), "GRADKIT_NUM_THREADS": str(n),
            "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen="
                          f"{'false' if n == 1 else 'true'} intra_op_parallelism_threads={n}"
                          ).strip()}


# ----------------------------------------------------------------- one workload
def med(xs):
    return statistics.median(xs) if xs else None


def run_workload(workload, names, args, logdir):
    """Start the workers, interleave their epochs, evaluate; returns the workload's results."""
    base = {"workload": workload, "batch_size": args.batch_size, "seed": args.seed,
            "max_batches": args.max_batches, "eval_limit": args.eval_limit,
            "synthetic": args.synthetic_data, "xor_steps": args.xor_steps,
            "xor_train_steps": args.xor_train_steps, "predict_batch": args.predict_batch,
            "predict_limit": args.predict_limit, "warmup_batches": 1 if args.smoke else 2,
            "torch_threads": args.threads or 2,
            "epochs": args.epochs_mlp if workload == "mlp" else args.epochs_cnn}
    res = {n: {"status": "pending"} for n in names}
    print(f"\n== {workload}: starting {', '.join(names)}", flush=True)
    workers = {n: Worker(workload, n, dict(base, contender=n), logdir, args.threads,
                         args.machine_blas) for n in names}
    active = []
    try:
        for n, w in workers.items():
            try:
                rep = w.recv(SETUP_TIMEOUT)
            except WorkerFailed as e:
                rep = {"ok": False, "error": str(e)}
            if rep.get("ready"):
                res[n].update(status="ok", info=rep.get("info", {}))
                active.append(n)
            elif "skip" in rep:
                res[n].update(status="skipped", note=rep["skip"])
                print(f"   {n}: skipped: {rep['skip']}", flush=True)
            else:
                res[n].update(status="failed", note=_short(rep.get("error")))
                print(f"   {n}: FAILED at set-up:\n{rep.get('error')}\n{w.tail()}", flush=True)

        if workload == "predict":
            keys = ["mlp", "cnn"]
            rounds = args.predict_rounds
        elif workload == "xor":
            keys, rounds = [None], args.xor_rounds
        else:
            keys = [None]
            rounds = args.epochs_mlp if workload == "mlp" else args.epochs_cnn
        for n in active:
            res[n]["runs"] = {k or "train": [] for k in keys
                              if not k or k in W.CONTENDERS[n].predict_models}
        for r in range(rounds):
            order = active[r % len(active):] + active[:r % len(active)] if active else []
            line = []
            for key in keys:
                for n in order:
                    if n not in active:
                        continue
                    if key and key not in W.CONTENDERS[n].predict_models:
                        continue
                    if args.settle:
                        # Let the previous library's worker threads stop spinning (OpenMP,
                        # XLA and OpenBLAS pools busy-wait after their work), so they don't
                        # take the second core from this contender.
                        time.sleep(args.settle)
                    try:
                        rep = workers[n].ask(cmd="epoch", model=key)
                    except WorkerFailed as e:
                        _fail(res, active, n, e)
                        continue
                    res[n]["runs"][key or "train"].append(
                        {"wall": rep["wall"], "cpu": rep["cpu"]})
                    line.append(f"{n}{'/' + key if key else ''} {_fmt(rep['wall'])}")
            unit = {"xor": "round", "predict": "round"}.get(workload, "epoch")
            print(f"   {unit} {r + 1}/{rounds}: " + ", ".join(line), flush=True)

        for n in list(active):
            try:
                rep = workers[n].ask(cmd="eval")
                rep.pop("ok", None)
                res[n]["eval"] = rep
                rep = workers[n].ask(cmd="rss")
                res[n]["peak_rss_mb"] = rep["rss_mb"]
                res[n]["process_cpu_s"] = rep["cpu_s"]
            except WorkerFailed as e:
                _fail(res, active, n, e)
    finally:
        for w in workers.values():
            w.close()
    for n in active:
        for key, runs in res[n].get("runs", {}).items():
            res[n].setdefault("median_s", {})[key] = med([x["wall"] for x in runs])
            res[n].setdefault("median_cpu_s", {})[key] = med([x["cpu"] for x in runs])
    return res


def _fail(res, active, n, err):
    print(f"   {n}: FAILED: {err}", flush=True)
    res[n].update(status="failed", note=_short(str(err)))
    active.remove(n)


def _short(text, n=300):
    text = (text or "").strip()
    last = text.splitlines()[-1] if text else ""
    return last[:n]


def _fmt(s):
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} us"


# ----------------------------------------------------------------- summary
def median_of(res, n, key="train", what="median_s"):
    r = res.get(n, {})
    if r.get("status") != "ok":
        return None
    return r.get(what, {}).get(key)


def cpu_median_of(res, n, key="train"):
    return median_of(res, n, key, "median_cpu_s")


def ratio(a, b):
    return a / b if a is not None and b else None


def summarize(results, args):
    """Ratios, accuracy gaps, BLAS floor, prediction agreement; then the targets."""
    summary = {}
    for wl in ("mlp", "cnn", "xor"):
        res = results.get(wl)
        if not res:
            continue
        s = summary[wl] = {"ratios": {}, "cpu_ratios": {}}
        for g in GRADKIT:
            for p in PEERS:
                v = ratio(median_of(res, g), median_of(res, p))
                if v is not None:
                    s["ratios"][f"{g}/{p}"] = v
                    s["cpu_ratios"][f"{g}/{p}"] = ratio(cpu_median_of(res, g),
                                                        cpu_median_of(res, p))
        if wl in ("mlp", "cnn"):
            acc = {n: r["eval"]["accuracy"] for n, r in res.items()
                   if r.get("status") == "ok" and "accuracy" in r.get("eval", {})}
            s["accuracy"] = acc
            rss = {n: r["peak_rss_mb"] for n, r in res.items() if "peak_rss_mb" in r}
            s["peak_rss_mb"] = rss
        if wl == "mlp":
            fit, loop = median_of(res, "gradkit-fit"), median_of(res, "gradkit-loop")
            v = ratio(fit, loop)
            if v is not None:
                s["ratios"]["gradkit-fit/gradkit-loop"] = v
                s["cpu_ratios"]["gradkit-fit/gradkit-loop"] = ratio(
                    cpu_median_of(res, "gradkit-fit"), cpu_median_of(res, "gradkit-loop"))
            walls = [x["wall"] for x in res.get("gradkit-fit", {}).get("runs", {}).get(
                "train", [])]
            if walls and fit:  # how far the slowest/fastest fit epoch is from the median
                s["fit_epoch_spread"] = max(abs(w - fit) / fit for w in walls)
            if fit and median_of(res, "blas-floor"):
                s["blas_floor_ratio"] = fit / median_of(res, "blas-floor")
        if wl == "mlp" and median_of(res, "blas-floor") is not None:
            floor = median_of(res, "blas-floor")
            s["blas_floor"] = {"seconds": floor, "share_of": {
                n: floor / median_of(res, n) for n in ("gradkit-fit", "gradkit-loop", "numpy")
                if median_of(res, n)}}
        if wl == "xor":
            s["solved"] = {n: r["eval"]["solved"] for n, r in res.items()
                           if r.get("status") == "ok" and "solved" in r.get("eval", {})}
    if "predict" in results:
        res = results["predict"]
        for m in ("mlp", "cnn"):
            s = summary[f"predict_{m}"] = {"ratios": {}, "cpu_ratios": {}, "agreement": {}}
            g = median_of(res, "gradkit-fit", m)
            for p in PEERS:
                v = ratio(g, median_of(res, p, m))
                if v is not None:
                    s["ratios"][f"gradkit-fit/{p}"] = v
                    s["cpu_ratios"][f"gradkit-fit/{p}"] = ratio(
                        cpu_median_of(res, "gradkit-fit", m), cpu_median_of(res, p, m))
            ref = res.get("gradkit-fit", {}).get("eval", {}).get("classes", {}).get(m)
            for n, r in res.items():
                cls = r.get("eval", {}).get("classes", {}).get(m)
                if ref and cls:
                    s["agreement"][n] = sum(a == b for a, b in zip(ref, cls)) / len(ref)
    return summary


def targets(summary, args):
    rows = []

    def add(name, value, target, ok, fmt, cpu=None):
        rows.append({"measure": name, "value": value, "target": target,
                     "shown": "n/a" if value is None else fmt(value),
                     "result": "n/a" if value is None else ("PASS" if ok(value) else "MISS"),
                     "cpu_value": cpu, "cpu_shown": "" if cpu is None else fmt(cpu)})

    def r(x):
        return f"{x:.2f}"

    def pts(x):
        return f"{x:+.2f} pt"

    mlp, cnn, xor = summary.get("mlp", {}), summary.get("cnn", {}), summary.get("xor", {})
    if mlp:
        for p, t in (("pytorch", 0.60), ("keras-jax", 1.00), ("numpy", 1.10)):
            add(f"MLP epoch (fit): gradkit / {LABEL[p]}", mlp["ratios"].get(f"gradkit-fit/{p}"),
                f"<= {t:.2f}", lambda v, t=t: v <= t, r,
                mlp["cpu_ratios"].get(f"gradkit-fit/{p}"))
        acc = mlp.get("accuracy", {})
        gap = _gap(acc, "gradkit-fit", "pytorch")
        add(f"MLP test accuracy after {args.epochs_mlp} epochs: gradkit - PyTorch", gap,
            "within 1 pt", lambda v: abs(v) <= 1.0, pts)
        floor = mlp.get("blas_floor_ratio")
        if floor is not None:
            add("MLP epoch (fit): gradkit / the epoch's GEMMs alone (BLAS floor)", floor,
                "<= 1.35", lambda v: v <= 1.35, r)
        loop = mlp["ratios"].get("gradkit-fit/gradkit-loop")
        spread = mlp.get("fit_epoch_spread")
        add("MLP epoch (fit): gradkit fit / gradkit loop, every fit epoch within 15% of its "
            "median" + ("" if spread is None else f" (max {spread:.0%})"), loop,
            "<= 1.05 and 15%", lambda v: v <= 1.05 and (spread is None or spread <= 0.15), r,
            mlp["cpu_ratios"].get("gradkit-fit/gradkit-loop"))
    if cnn:
        add("CNN epoch (fit): gradkit / PyTorch CPU", cnn["ratios"].get("gradkit-fit/pytorch"),
            "<= 0.60", lambda v: v <= 0.60, r, cnn["cpu_ratios"].get("gradkit-fit/pytorch"))
        if "gradkit-fit-numpy/pytorch" in cnn["ratios"]:
            add("CNN epoch (fit, NumPy only): gradkit / PyTorch CPU",
                cnn["ratios"].get("gradkit-fit-numpy/pytorch"), "<= 0.60",
                lambda v: v <= 0.60, r, cnn["cpu_ratios"].get("gradkit-fit-numpy/pytorch"))
        gap = _gap(cnn.get("accuracy", {}), "gradkit-fit", "pytorch")
        add(f"CNN test accuracy after {args.epochs_cnn} epochs: gradkit - PyTorch", gap,
            "within 1 pt", lambda v: abs(v) <= 1.0, pts)
    if xor:
        solved = xor.get("solved", {}).get("gradkit-loop")
        add("XOR step (loop): gradkit / PyTorch CPU" + (" [XOR NOT solved]" if solved is False
                                                        else ""),
            xor["ratios"].get("gradkit-loop/pytorch"), "<= 0.30 and solved",
            lambda v: v <= 0.30 and solved, r, xor["cpu_ratios"].get("gradkit-loop/pytorch"))
        add("XOR step (fit's train_on_batch): gradkit / PyTorch CPU",
            xor["ratios"].get("gradkit-fit/pytorch"), "<= 0.50", lambda v: v <= 0.50, r,
            xor["cpu_ratios"].get("gradkit-fit/pytorch"))
    for m, t in (("mlp", 0.55), ("cnn", 1.00)):
        s = summary.get(f"predict_{m}")
        if s:
            add(f"predict {m.upper()} on the test images: gradkit / PyTorch CPU",
                s["ratios"].get("gradkit-fit/pytorch"), f"<= {t:.2f}", lambda v, t=t: v <= t, r,
                s["cpu_ratios"].get("gradkit-fit/pytorch"))
    if mlp:
        rss = mlp.get("peak_rss_mb", {})
        add("peak RSS, MLP training: gradkit fit / PyTorch CPU",
            ratio(rss.get("gradkit-fit"), rss.get("pytorch")), "<= 0.60", lambda v: v <= 0.60, r)
        # gradkit[fast] both ways: the same two rows for the NumPy-only path (no numba loaded)
        if "gradkit-fit-numpy" in rss:
            add("MLP epoch (fit, NumPy only): gradkit / PyTorch CPU",
                mlp["ratios"].get("gradkit-fit-numpy/pytorch"), "<= 0.60",
                lambda v: v <= 0.60, r, mlp["cpu_ratios"].get("gradkit-fit-numpy/pytorch"))
            add("peak RSS, MLP training: gradkit fit (NumPy only) / PyTorch CPU",
                ratio(rss.get("gradkit-fit-numpy"), rss.get("pytorch")), "<= 0.60",
                lambda v: v <= 0.60, r)
    return rows


def _kernels(results):
    """``contender: library/kernel`` for every worker that reported its BLAS (threadpoolctl)."""
    seen = {}
    for res in results.values():
        for n, r in res.items():
            for lib in r.get("info", {}).get("blas", []) or []:
                seen.setdefault(n, set()).add(f"{lib.get('internal_api')}/"
                                              f"{lib.get('architecture')}")
    return "; ".join(f"{n} {', '.join(sorted(k))}" for n, k in sorted(seen.items()))


def _gap(acc, a, b):
    if a in acc and b in acc:
        return 100.0 * (acc[a] - acc[b])
    return None


# ----------------------------------------------------------------- machine
def machine_info():
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for pkg in ("numpy", "torch", "jax", "jaxlib", "keras"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    blas = None
    try:
        import numpy as np

        blas = np.__config__.CONFIG["Build Dependencies"]["blas"]["name"]
    except Exception:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "blas": blas, "versions": versions,
            "gradkit_commit": W._git_rev()}


# ----------------------------------------------------------------- reports
def mode_text(args):
    if args.smoke:
        return f"SMOKE (tiny: {args.max_batches} batches per epoch; numbers meaningless)"
    if args.max_batches:
        return (f"preliminary: {args.max_batches} batches per epoch (of 469), accuracies are "
                "after that many steps")
    return "full epochs"


def write_markdown(path, report):
    meta, results, summary = report["meta"], report["results"], report["summary"]
    m = meta["machine"]
    v = m["versions"]
    L = ["# gradkit benchmark results", "",
         f"- date: {meta['date']}",
         f"- mode: {meta['mode']}",
         f"- command: `{meta['command']}`",
         f"- machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, NumPy "
         f"{v.get('numpy')} ({m.get('blas') or 'BLAS ?'}), torch {v.get('torch') or '-'}, "
         f"jax {v.get('jax') or '-'}, keras {v.get('keras') or '-'}; gradkit "
         f"{m['gradkit_commit']}",
         f"- threads: {meta['threads']}",
         f"- BLAS environment: {meta.get('blas_env', '?')}; kernels seen (threadpoolctl): "
         f"{meta.get('blas_kernels') or '?'}",
         f"- load average (1/5/15 min) at start {meta['load_start']}, at end {meta['load_end']}",
         f"- wall time of the run: {meta['elapsed_s']:.0f} s", ""]
    L += ["## Targets (ratios from this run)", "",
          "| measure | value | target | result | same ratio by CPU time |",
          "|---|---|---|---|---|"]
    for t in report["targets"]:
        L.append(f"| {t['measure']} | {t['shown']} | {t['target']} | {t['result']} | "
                 f"{t['cpu_shown']} |")
    L += ["", "Results are judged on wall time; the last column divides the CPU seconds "
          "(all threads) instead, which other processes on the machine disturb less."]
    for wl, title in (("mlp", f"MLP: Dense(512, relu) -> Dense(10), RMSprop, batch "
                              f"{meta['args']['batch_size']}, {meta['args']['epochs_mlp']} epochs"),
                      ("cnn", f"CNN: Conv(32)-Pool-Conv(64)-Pool-Dense(10), Adam, batch "
                              f"{meta['args']['batch_size']}, {meta['args']['epochs_cnn']} epochs"),
                      ("xor", "XOR 2-3-1 sigmoid, full batch, SGD 0.5, MSE: time per step")):
        res = results.get(wl)
        if not res:
            continue
        s = summary.get(wl, {})
        unit = "step" if wl == "xor" else "epoch"
        L += ["", f"## {title}", "",
              f"| contender | median {unit} | CPU s per {unit} | gradkit fit / this | "
              f"gradkit loop / this | {'solved' if wl == 'xor' else 'test accuracy'} | "
              "peak RSS |", "|---|---|---|---|---|---|---|"]
        gf, gl = median_of(res, "gradkit-fit"), median_of(res, "gradkit-loop")
        for n, r in res.items():
            if r.get("status") != "ok":
                L.append(f"| {LABEL.get(n, n)} | {r.get('status')}: {r.get('note', '')} "
                         "| | | | | |")
                continue
            t = median_of(res, n)
            ev = r.get("eval", {})
            if wl == "xor":
                quality = "yes" if ev.get("solved") else "NO"
            elif "accuracy" in ev:
                quality = f"{100 * ev['accuracy']:.2f}%"
            else:
                quality = ""
            cpu = r.get("median_cpu_s", {}).get("train")
            L.append(f"| {LABEL.get(n, n)} | {_fmt(t)} | {_fmt(cpu)} | {_r(ratio(gf, t))} | "
                     f"{_r(ratio(gl, t))} | {quality} | {r.get('peak_rss_mb', 0):.0f} MB |")
        if wl == "mlp" and "blas_floor" in s:
            bf = s["blas_floor"]
            shares = ", ".join(f"{100 * v:.0f}% of {LABEL[k]}'s epoch"
                               for k, v in bf["share_of"].items())
            L += ["", f"BLAS floor = {_fmt(bf['seconds'])} per epoch = {shares} "
                      "(the epoch's exact GEMMs replayed bare, interleaved with the epochs)."]
    if "predict" in results:
        res = results["predict"]
        L += ["", f"## predict on the test images (batch {meta['args']['predict_batch']})", "",
              "| contender | MLP median | gradkit / this | agreement | CNN median | "
              "gradkit / this | agreement |", "|---|---|---|---|---|---|---|"]
        for n, r in res.items():
            if r.get("status") != "ok":
                L.append(f"| {LABEL.get(n, n)} | {r.get('status')}: {r.get('note', '')} "
                         "| | | | | |")
                continue
            cells = []
            for m in ("mlp", "cnn"):
                t = median_of(res, n, m)
                agree = summary[f"predict_{m}"]["agreement"].get(n)
                cells += [_fmt(t), _r(ratio(median_of(res, "gradkit-fit", m), t)),
                          "" if agree is None else f"{100 * agree:.2f}%"]
            L.append(f"| {LABEL.get(n, n)} | " + " | ".join(cells) + " |")
    notes = [f"{LABEL.get(n, n)} ({wl}): {r['status']}: {r.get('note', '')}"
             for wl, res in results.items() for n, r in res.items() if r.get("status") != "ok"]
    if notes:
        L += ["", "## Skipped or failed", ""] + [f"- {x}" for x in notes]
    L += ["", "Ratios are of medians measured in this run; 'agreement' is the share of test "
          "images given the same class as gradkit (same weights everywhere). Method: "
          "benchmarks/README.md.", ""]
    _atomic_write(path, "\n".join(L))


def _r(x):
    return "" if x is None else f"{x:.2f}"


def _atomic_write(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def print_targets(rows):
    w = max([len(t["measure"]) for t in rows] + [10])
    print(f"\n{'measure':<{w}}  {'value':>10}  {'target':<20} {'result':<6}  by CPU time")
    for t in rows:
        print(f"{t['measure']:<{w}}  {t['shown']:>10}  {t['target']:<20} {t['result']:<6}  "
              f"{t['cpu_shown']}")


# ----------------------------------------------------------------- main
def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma-separated subset of mlp,cnn,xor,predict")
    ap.add_argument("--contenders", default=",".join(CONTENDERS),
                    help=f"comma-separated subset of {','.join(CONTENDERS)}")
    ap.add_argument("--epochs-mlp", type=int, default=5)
    ap.add_argument("--epochs-cnn", type=int, default=2)
    ap.add_argument("--max-batches", type=int, default=None,
                    help="batches per training epoch (default: all 469)")
    ap.add_argument("--quick", action="store_true", help="--max-batches 100")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny run to check the suite: 2 batches per epoch, 2 MLP epochs, 1 CNN "
                         "epoch, few XOR steps, "
                         "256 test images; writes smoke.json/smoke.md")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--xor-rounds", type=int, default=25)
    ap.add_argument("--xor-steps", type=int, default=200, help="XOR steps per timed block")
    ap.add_argument("--xor-train-steps", type=int, default=3000,
                    help="XOR steps in all before the solved check")
    ap.add_argument("--predict-rounds", type=int, default=7)
    ap.add_argument("--predict-batch", type=int, default=1024)
    ap.add_argument("--predict-limit", type=int, default=None,
                    help="predict on the first N test images (default all 10,000)")
    ap.add_argument("--eval-limit", type=int, default=None,
                    help="test accuracy on the first N test images (default all)")
    ap.add_argument("--no-blas-floor", action="store_true")
    ap.add_argument("--synthetic-data", action="store_true",
                    help="random images instead of Fashion-MNIST (no dataset on the machine)")
    ap.add_argument("--threads", type=int, default=None,
                    help="cap every library at N compute threads (OpenBLAS, OpenMP, XLA, "
                         "gradkit's optimizer pool, torch.set_num_threads); default: the "
                         "libraries' own defaults and torch.set_num_threads(2)")
    ap.add_argument("--settle", type=float, default=0.5,
                    help="seconds to pause before each contender's turn (spinning thread "
                         "pools of the previous one go idle)")
    ap.add_argument("--machine-blas", action="store_true",
                    help="keep this machine's OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE for every "
                         "contender (default: removed for all, the fair table)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(HERE / "results"), help="directory for the reports")
    args = ap.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        ap.error("--threads must be >= 1")
    if args.quick and args.max_batches is None:
        args.max_batches = 100
    if args.smoke:
        args.max_batches = args.max_batches or 2
        args.epochs_mlp, args.epochs_cnn = 2, 1   # 2: fit's epoch-by-epoch gate runs
        args.xor_rounds, args.xor_steps, args.xor_train_steps = 2, 20, 200
        args.predict_rounds, args.predict_limit = 1, args.predict_limit or 256
        args.eval_limit = args.eval_limit or 256
    for name in ("epochs_mlp", "epochs_cnn", "xor_rounds", "xor_steps", "predict_rounds",
                 "batch_size", "predict_batch"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    args.workloads = _pick(ap, args.workloads, WORKLOADS, "workload")
    args.contenders = _pick(ap, args.contenders, CONTENDERS, "contender")
    return args


def _pick(ap, text, allowed, what):
    chosen = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in chosen if x not in allowed]
    if bad or not chosen:
        ap.error(f"unknown {what}(s) {bad}; choose from {','.join(allowed)}")
    return [x for x in allowed if x in chosen]


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    t0 = time.time()
    load_start = os.getloadavg()
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, "
          f"versions {info['versions']}; load average {load_start}")
    print(f"mode: {mode_text(args)}")
    if not args.synthetic_data and not W.data_available():
        print("note: Fashion-MNIST files not found locally; workers fall back to gradkit's "
              "loader (which downloads)")
    results = {}
    with tempfile.TemporaryDirectory(prefix="gradkit-bench-") as logdir:
        for wl in args.workloads:
            names = [n for n in args.contenders if wl in W.CONTENDERS[n].models]
            if wl == "mlp" and "gradkit-fit" in names and not args.no_blas_floor:
                names.append("blas-floor")
            results[wl] = run_workload(wl, names, args, logdir)
    summary = summarize(results, args)
    rows = targets(summary, args)
    report = {
        "meta": {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                 "mode": mode_text(args), "smoke": args.smoke,
                 "threads": (f"capped at {args.threads} for every library (--threads)"
                             if args.threads else "the libraries' defaults (NumPy's OpenBLAS "
                             "and XLA: all cores), torch.set_num_threads(2)"),
                 "blas_env": ("this machine's OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE kept "
                              "(--machine-blas)" if args.machine_blas else
                              "fair: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed for "
                              "every contender"),
                 "blas_kernels": _kernels(results),
                 "command": " ".join(["python", "benchmarks/run.py"] + (
                     sys.argv[1:] if argv is None else list(argv))),
                 "args": {k: v for k, v in vars(args).items()},
                 "machine": info, "load_start": [round(x, 2) for x in load_start],
                 "load_end": [round(x, 2) for x in os.getloadavg()],
                 "elapsed_s": time.time() - t0},
        "results": results, "summary": summary, "targets": rows}
    # predicted classes are bulky: keep only a digest in the JSON
    for r in results.get("predict", {}).values():
        cls = r.get("eval", {}).pop("classes", None)
        if cls:
            r["eval"]["n_predicted"] = {m: len(c) for m, c in cls.items()}
    out = Path(args.out)
    stem = "smoke" if args.smoke else "latest"
    _atomic_write(out / f"{stem}.json", json.dumps(report, indent=1, default=float) + "\n")
    write_markdown(out / f"{stem}.md", report)
    print_targets(rows)
    print(f"\nwrote {out / (stem + '.json')} and {out / (stem + '.md')} "
          f"({time.time() - t0:.0f} s)")
    return report


if __name__ == "__main__":
    main()
