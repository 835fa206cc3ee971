"""Worker processes: DataLoader(num_workers=k) and PyDataset(workers=k) really load in other
processes, give the batches a single process gives, surface a worker's error with its
traceback, and never hang when a loop is left early. Tiny data and two workers: the
machine is small."""

import gc
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import gradkit as gk
from gradkit.utils import PyDataset
from gradkit.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info


class Rows(Dataset):
    """Sample i: (row i, the pid that loaded it, a draw from gradkit's generator)."""

    def __init__(self, n=12, fail_at=None, exit_at=None):
        self.n, self.fail_at, self.exit_at = n, fail_at, exit_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise KeyError(f"no sample {i} here")
        if i == self.exit_at:
            os._exit(7)
        return np.full(2, i, np.float32), os.getpid(), gk.random.generator().integers(1 << 30)


class Shards(IterableDataset):
    """0..n-1, each worker reading its own share (get_worker_info)."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))


def rows(loader):
    return [xb.numpy()[:, 0].astype(int).tolist() for xb, _, _ in loader]


def test_workers_are_other_processes_and_give_the_same_batches():
    kwargs = {"batch_size": 3, "shuffle": True}
    plain = DataLoader(Rows(), generator=4, **kwargs)
    workers = DataLoader(Rows(), generator=4, num_workers=2, prefetch_factor=1, **kwargs)
    for _ in range(2):  # two epochs: the orders stay in step
        assert rows(plain) == rows(workers)
    pids = {p for _, pid, _ in workers for p in pid.tolist()}
    assert len(pids) == 2 and os.getpid() not in pids
    assert {p for _, pid, _ in plain for p in pid.tolist()} == {os.getpid()}


def test_workers_are_seeded_differently_and_reproducibly():
    def draws(seed):
        loader = DataLoader(Rows(4), batch_size=1, num_workers=2, generator=seed)
        return [int(d.item()) for _, _, d in loader]

    a = draws(1)
    assert a == draws(1) and a != draws(2)
    assert a[0] != a[1]  # worker 0 and worker 1 draw from different streams


def test_worker_error_comes_back_with_its_traceback():
    loader = DataLoader(Rows(fail_at=4), batch_size=2, num_workers=2)
    with pytest.raises(KeyError) as info:
        list(loader)
    text = str(info.value)
    assert "Caught KeyError in DataLoader worker" in text
    assert "Original traceback" in text and "__getitem__" in text
    assert "no sample 4 here" in text and "\n" in text  # real lines, not a repr


def test_a_dead_worker_is_reported():
    with pytest.raises(RuntimeError, match="exited unexpectedly with exit code 7"):
        list(DataLoader(Rows(exit_at=0), batch_size=2, num_workers=2))


def test_unpicklable_batch_is_an_error_not_a_hang():
    loader = DataLoader(Rows(4), batch_size=2, num_workers=1, collate_fn=lambda b: lambda: b)
    with pytest.raises(Exception, match="pickle"):
        next(iter(loader))


def _gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_leaving_an_epoch_early_stops_the_workers():
    it = iter(DataLoader(Rows(40), batch_size=2, num_workers=2))
    next(it)
    pids = it._pool.pids
    del it
    gc.collect()
    assert all(_gone(pid) for pid in pids)


def test_persistent_workers_live_across_epochs():
    loader = DataLoader(Rows(6), batch_size=2, num_workers=2, persistent_workers=True)
    first = {p for _, pid, _ in loader for p in pid.tolist()}
    next(iter(loader))  # an epoch abandoned after one batch...
    second = {p for _, pid, _ in loader for p in pid.tolist()}
    assert first == second  # ...and the next full one runs on the same processes
    assert rows(loader) == [[0, 1], [2, 3], [4, 5]]
    pids = loader._pool.pids
    loader.close()
    assert all(_gone(pid) for pid in pids)


def test_iterable_dataset_sharded_by_worker_info_and_worker_init_fn():
    seen = []
    loader = DataLoader(Shards(9), batch_size=2, num_workers=2,
                        worker_init_fn=lambda worker_id: seen.append(worker_id))
    batches = [b.tolist() for b in loader]
    # worker 0 reads 0,2,4,6,8 and worker 1 reads 1,3,5,7; batches alternate workers
    assert batches == [[0, 2], [1, 3], [4, 6], [5, 7], [8]]
    assert seen == []  # worker_init_fn ran in the workers, not here
    assert [b.tolist() for b in DataLoader(Shards(9), batch_size=2)] == \
        [[0, 1], [2, 3], [4, 5], [6, 7], [8]]


def test_worker_init_fn_error_surfaces():
    def bad_init(worker_id):
        raise ValueError(f"init failed in {worker_id}")

    with pytest.raises(ValueError, match="init failed in"):
        list(DataLoader(Rows(4), batch_size=2, num_workers=1, worker_init_fn=bad_init))


def test_timeout_raises():
    class Stuck(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            import time
            time.sleep(30)

    with pytest.raises(RuntimeError, match="timed out after 0.2 seconds"):
        next(iter(DataLoader(Stuck(), num_workers=1, timeout=0.2)))


def test_no_hang_at_interpreter_exit_after_leaving_loops(tmp_path):
    script = tmp_path / "leave.py"
    script.write_text(textwrap.dedent("""
        import numpy as np
        from gradkit.utils.data import DataLoader, TensorDataset
        ds = TensorDataset(np.arange(100.0))
        for persistent in (False, True):
            loader = DataLoader(ds, batch_size=2, num_workers=2,
                                persistent_workers=persistent)
            for (xb,) in loader:
                break
        keep = iter(DataLoader(ds, batch_size=2, num_workers=2))
        next(keep)
        print("done")
    """))
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, PYTHONPATH=str(root)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done"


# ------------------------------------------------------------------ PyDataset
class Batches(PyDataset):
    def __init__(self, n=5, fail_at=None, **kwargs):
        super().__init__(**kwargs)
        self.n, self.fail_at = n, fail_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise IndexError(f"batch {i} is broken")
        return np.full((2, 1), i, np.float32), np.array([os.getpid()] * 2)


@pytest.mark.parametrize("kwargs", [{"workers": 2}, {"workers": 2, "use_multiprocessing": True},
                                    {"workers": 1, "use_multiprocessing": True}])
def test_py_dataset_workers_same_batches(kwargs):
    got = list(Batches(**kwargs, max_queue_size=2))
    assert [int(x[0, 0]) for x, _ in got] == [0, 1, 2, 3, 4]
    pids = {int(p[0]) for _, p in got}
    if kwargs.get("use_multiprocessing"):
        assert os.getpid() not in pids and len(pids) == kwargs["workers"]
    else:
        assert pids == {os.getpid()}  # threads


@pytest.mark.parametrize("multi", [False, True])
def test_py_dataset_worker_error(multi):
    with pytest.raises(IndexError, match=r"(?s)Caught IndexError in Batches worker.*batch 3 "
                                         "is broken"):
        list(Batches(fail_at=3, workers=2, use_multiprocessing=multi))


def test_py_dataset_arguments():
    with pytest.raises(ValueError, match="workers"):
        Batches(workers=-1)
    with pytest.raises(TypeError, match="use_multiprocessing"):
        Batches(use_multiprocessing="yes")

    class NoInit(PyDataset):  # Keras lets a subclass skip super().__init__()
        def __len__(self):
            return 1

        def __getitem__(self, i):
            return i

    assert NoInit().workers == 1 and list(NoInit()) == [0]


def test_spawned_workers_give_the_same_batches():
    """Without fork (macOS, Windows, Python 3.14's default) the dataset is pickled over."""
    from gradkit.utils.data import TensorDataset

    ds = TensorDataset(np.arange(6.0))
    loader = DataLoader(ds, batch_size=4, num_workers=1, multiprocessing_context="spawn")
    assert [b.tolist() for (b,) in loader] == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0]]


def test_keras_utils_names():
    from gradkit import keras

    assert keras.utils.PyDataset is PyDataset and issubclass(keras.utils.Sequence, PyDataset)
