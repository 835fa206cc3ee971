"""gradkit.distributed under real ``mpirun`` (Open MPI): collectives, the three front
ends' equivalence with one process, faults that end the job, checkpoints across world
sizes, and the world of one without MPI."""

import importlib.util
import time

import numpy as np
import pytest

import gradkit as gk
import gradkit.distributed as dist
from tests.distributed.mpi_helpers import PROGRAMS, check, needs_mpi, run_mpi


def _load_program(name):
    spec = importlib.util.spec_from_file_location(f"_prog_{name}", PROGRAMS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_world_of_one_without_mpirun():
    assert dist.init() == 1
    assert (dist.rank(), dist.world_size(), dist.local_rank()) == (0, 1, 0)
    assert dist.is_main_process() and not dist.launched_by_mpi()
    a = np.arange(3.0)
    assert dist.all_reduce(a, op="mean") is a and (a == np.arange(3.0)).all()
    assert [p.tolist() for p in dist.all_gather(a)] == [a.tolist()]
    dist.barrier()
    with pytest.raises(ValueError, match="op"):
        dist.all_reduce(a, op="prod")
    with pytest.raises(TypeError, match="Tensor or a NumPy array"):
        dist.all_reduce([1, 2])


def test_sampler_shards_are_disjoint_equal_and_reshuffled():
    data = list(range(10))
    shards = [list(dist.DistributedSampler(data, num_replicas=3, rank=r, seed=4))
              for r in range(3)]
    assert all(len(s) == 4 for s in shards)               # 10 padded to 12
    assert sorted(set(sum(shards, []))) == data and len(sum(shards, [])) == 12
    s = dist.DistributedSampler(data, num_replicas=3, rank=0, seed=4)
    first = list(s)
    s.set_epoch(1)
    assert list(s) != first and list(s) == list(s)
    s = dist.DistributedSampler(data, num_replicas=3, rank=2, shuffle=False, drop_last=True)
    assert list(s) == [2, 5, 8]
    with pytest.raises(ValueError, match="rank 3"):
        dist.DistributedSampler(data, num_replicas=3, rank=3)


def test_post_accumulate_grad_hook():
    w = gk.Variable(np.ones(3))
    seen = []
    h = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    (w * w).sum().backward()
    assert len(seen) == 1 and (seen[0] == 2).all()
    h.remove()
    (w * 3).sum().backward()
    assert len(seen) == 1
    with pytest.raises(RuntimeError, match="leaf"):
        (w * 2).register_post_accumulate_grad_hook(print)


@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_collectives(n):
    out = check(run_mpi(n, "collectives.py")).stdout
    assert f"collectives ok on {n} ranks" in out


@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_n_ranks_equal_one_process(n, tmp_path):
    """N processes with per-rank batches of B/N reach one process's weights with batch B:
    float64 to 1e-10, float32 to 1e-6, for SGD, Adam and RMSprop, in all three styles."""
    out = tmp_path / "res.npz"
    check(run_mpi(n, "equivalence.py", out, timeout=300))
    got = np.load(out)
    ref = _load_program("equivalence").all_results()
    assert set(got.files) == set(ref)
    for key, want in ref.items():
        tol = 1e-10 if "float64" in key else 1e-6
        np.testing.assert_allclose(got[key], want, rtol=tol, atol=tol, err_msg=key)


@needs_mpi
@pytest.mark.parametrize("mode, words", [
    ("raise", "rank 1/2 raised ValueError"),
    ("kill", None),
    ("hang", "did not finish within 3 s"),
])
def test_a_failing_rank_ends_the_job(mode, words):
    t0 = time.monotonic()
    proc = run_mpi(2, "faults.py", mode, timeout=90)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert time.monotonic() - t0 < 90
    if words:
        assert words in proc.stderr, proc.stderr
    if mode == "kill":
        assert "signal 9" in proc.stdout + proc.stderr or "Killed" in proc.stdout + proc.stderr


@needs_mpi
def test_checkpoint_resumes_under_another_world_size(tmp_path):
    ckpt = tmp_path / "ckpt.gk"
    out = check(run_mpi(2, "checkpoint.py", "train", ckpt, tmp_path / "log.csv")).stdout
    assert out.count("Epoch 2/2") == 1, out  # only rank 0 reports
    assert ckpt.exists()
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 3  # header + 2 epochs
    check(run_mpi(4, "checkpoint.py", "resume", ckpt, tmp_path / "four.npz"))
    prog = _load_program("checkpoint")
    ref = prog.resume(str(ckpt))
    got = np.load(tmp_path / "four.npz")
    for i, w in enumerate(ref):
        np.testing.assert_allclose(got[str(i)], w, rtol=1e-10, atol=1e-12)


@needs_mpi
def test_batchnorm_statistics_averaged_and_validation_global(tmp_path):
    check(run_mpi(2, "batchnorm.py", tmp_path / "bn.npz"))
    got = np.load(tmp_path / "bn.npz")
    np.testing.assert_allclose(got["rank0"], got["rank1"], rtol=0, atol=0)
    np.testing.assert_allclose(got["val_loss_ranks"], got["val_loss_ranks"][0])
    # the validation loss reduced over both ranks' halves equals evaluate() in one process
    np.testing.assert_allclose(got["val_loss_ranks"][0], got["evaluate_one"], rtol=1e-10)


def test_timeout_argument_checked():
    with pytest.raises(ValueError, match="timeout"):
        dist.init(timeout=-1)


def _cli(args, env, timeout=300):
    import subprocess
    import sys

    from tests.distributed.mpi_helpers import ROOT

    return subprocess.run([sys.executable, "-m", "gradkit", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_cli_nproc_without_mpirun_says_how(tmp_path):
    from tests.distributed.mpi_helpers import mpi_env

    env = mpi_env(PATH=str(tmp_path))  # no mpirun on PATH
    proc = _cli(["train", "--nproc", "2", "--dataset", "xor", "--out", str(tmp_path / "r")], env)
    assert proc.returncode != 0
    assert "mpirun" in proc.stderr and "openmpi-bin" in proc.stderr
    assert not (tmp_path / "r" / "model.gradkit").exists()


@needs_mpi
@pytest.mark.slow
def test_cli_nproc_2_trains_fashion_mnist_to_the_one_process_accuracy(tmp_path):
    """The MLP on Fashion-MNIST (20,000 training images, one epoch) with 2 processes
    reaches the 1-process test accuracy within 1 point; only rank 0 reports.

    Plain SGD: the two runs differ only by float32 rounding (the gradient sums are
    ordered differently), which SGD keeps at ~1e-7 in the weights. RMSprop early in
    training divides near-zero gradients by their own size, so a rounding-level
    difference can flip an update's sign: its weights drift apart by ~1e-2 in one epoch
    and the test accuracy by ~2 points either way (measured), as two single-process runs
    with different BLAS builds would."""
    import json

    from gradkit.datasets import fashion_mnist
    from tests.distributed.mpi_helpers import mpi_env

    try:
        fashion_mnist.load_data(download=False)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Fashion-MNIST files not found ({exc}); apt-get install dataset-fashion-mnist")
    acc = {}
    for n in (1, 2):
        out = tmp_path / f"n{n}"
        proc = _cli(["train", "--nproc", str(n), "--dataset", "fashion-mnist", "--model", "mlp",
                     "--epochs", "1", "--limit", "20000", "--batch-size", "64", "--optimizer",
                     "sgd", "--lr", "0.1", "--verbose", "0", "--no-tensorboard", "--out",
                     str(out)], mpi_env())
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.count("test accuracy:") == 1, proc.stdout
        acc[n] = json.loads((out / "metrics.json").read_text())["test_accuracy"]
    assert acc[1] > 0.75
    assert abs(acc[2] - acc[1]) <= 0.01, acc
