"""gradkit.utils.data in this process: datasets, samplers, collation and DataLoader's rules
(order, seeded shuffles, drop_last, batch samplers, set_epoch), checked against NumPy and
against torch.utils.data where PyTorch is installed."""

import collections

import numpy as np
import pytest

import gradkit as gk
from gradkit.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    numpy_collate,
    random_split,
)

X = np.arange(30, dtype=np.float32).reshape(10, 3)
Y = np.arange(10, dtype=np.int64)


def labels(loader):
    return [yb.tolist() for _, yb in loader]


# ------------------------------------------------------------------ datasets
def test_tensor_dataset_rows_and_length_checks():
    ds = TensorDataset(X, gk.Tensor(Y))
    x3, y3 = ds[3]
    assert len(ds) == 10 and x3.tolist() == [9.0, 10.0, 11.0] and y3.item() == 3
    with pytest.raises(ValueError, match="same length"):
        TensorDataset(X, Y[:4])
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(np.float32(1.0))


def test_subset_concat_chain():
    ds = TensorDataset(Y)
    sub = Subset(ds, [7, 2])
    assert len(sub) == 2 and sub[0][0] == 7
    cat = ConcatDataset([ds, sub])
    assert len(cat) == 12 and cat[10][0] == 7 and cat[-1][0] == 2
    assert (ds + sub)[11][0] == 2
    with pytest.raises(IndexError):
        cat[12]

    class Stream(IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

    assert list(Stream(2) + Stream(3)) == [0, 1, 0, 1, 2]
    with pytest.raises(TypeError, match="ChainDataset"):
        ConcatDataset([Stream(2)])
    assert list(ChainDataset([Stream(1)])) == [0]


def test_random_split_counts_fractions_and_seed():
    ds = TensorDataset(np.arange(11))
    a, b = random_split(ds, [8, 3], generator=0)
    assert sorted(a.indices + b.indices) == list(range(11))
    assert a.indices == random_split(ds, [8, 3], generator=0)[0].indices
    # fractions: floors 3, 3, 4 and the 1 left over goes to the first split (PyTorch)
    parts = random_split(ds, [0.3, 0.3, 0.4], generator=1)
    assert [len(p) for p in parts] == [4, 3, 4]
    with pytest.raises(ValueError, match="sum to 10"):
        random_split(ds, [5, 5])


def test_random_split_fraction_sizes_match_torch():
    torch = pytest.importorskip("torch")
    for n, fractions in [(11, [0.3, 0.3, 0.4]), (7, [0.5, 0.5]), (10, [0.1, 0.2, 0.7])]:
        ours = [len(p) for p in random_split(TensorDataset(np.arange(n)), fractions, 0)]
        theirs = [len(p) for p in torch.utils.data.random_split(range(n), fractions)]
        assert ours == theirs


# ------------------------------------------------------------------ samplers
def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    s = RandomSampler(range(6), generator=3)
    first, second = list(s), list(s)
    assert sorted(first) == list(range(6)) and first != second  # a new order per epoch
    again = RandomSampler(range(6), generator=3)
    assert [list(again), list(again)] == [first, second]  # the same stream of orders
    assert len(RandomSampler(range(3), num_samples=7)) == 7
    assert sorted(RandomSampler(range(3), num_samples=7, generator=0))[:6] == [0, 0, 1, 1, 2, 2]
    assert sorted(SubsetRandomSampler([4, 8, 9], generator=0)) == [4, 8, 9]
    assert set(WeightedRandomSampler([0, 0, 3.0], 4, generator=0)) == {2}
    assert list(BatchSampler(range(5), 2, drop_last=True)) == [[0, 1], [2, 3]]
    assert len(BatchSampler(range(5), 2, drop_last=False)) == 3
    with pytest.raises(ValueError, match="distinct"):
        WeightedRandomSampler([1.0, 0.0], 2, replacement=False)


def test_global_seed_governs_unseeded_shuffles():
    loader = DataLoader(TensorDataset(X, Y), batch_size=4, shuffle=True)
    gk.random.seed(5)
    a = labels(loader)
    gk.random.seed(5)
    assert labels(loader) == a
    assert sorted(sum(a, [])) == list(range(10))


# ------------------------------------------------------------------ collation
def test_default_collate_nested_structures():
    Pair = collections.namedtuple("Pair", "left right")
    samples = [{"img": np.full((2, 2), i, np.uint8), "meta": (i, float(i), f"s{i}"),
                "pair": Pair(gk.Tensor(np.ones(3) * i), [True, i])} for i in range(3)]
    batch = default_collate(samples)
    assert isinstance(batch["img"], gk.Tensor) and batch["img"].shape == (3, 2, 2)
    assert batch["img"].dtype == np.uint8
    ints, floats, strings = batch["meta"]  # tuples collate into a list, as in PyTorch
    assert ints.dtype == np.int64 and ints.tolist() == [0, 1, 2]
    assert floats.dtype == np.float64 and strings == ["s0", "s1", "s2"]
    assert isinstance(batch["pair"], Pair) and batch["pair"].left.shape == (3, 3)
    flags, counts = batch["pair"].right
    assert flags.dtype == np.bool_ and counts.tolist() == [0, 1, 2]
    as_numpy = numpy_collate(samples)
    assert isinstance(as_numpy["img"], np.ndarray)
    np.testing.assert_array_equal(as_numpy["img"], batch["img"].numpy())


def test_default_collate_matches_torch():
    torch = pytest.importorskip("torch")
    samples = [(np.full(2, i, np.float32), i, {"w": 0.5 * i}) for i in range(4)]
    ours, theirs = default_collate(samples), torch.utils.data.default_collate(samples)
    assert type(ours) is type(theirs) is list
    for a, b in zip([ours[0], ours[1], ours[2]["w"]], [theirs[0], theirs[1], theirs[2]["w"]]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert str(a.numpy().dtype) == str(b.dtype).replace("torch.", "")


def test_default_collate_errors_name_the_place():
    with pytest.raises(ValueError, match=r"\['x'\].*\(3,\) in sample 0, \(4,\) in sample 1"):
        default_collate([{"x": np.zeros(3)}, {"x": np.zeros(4)}])
    with pytest.raises(TypeError, match="cannot batch a object"):
        default_collate([object(), object()])


# ------------------------------------------------------------------ DataLoader
def test_order_drop_last_and_length():
    ds = TensorDataset(X, Y)
    assert labels(DataLoader(ds, batch_size=4)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    dropped = DataLoader(ds, batch_size=4, drop_last=True)
    assert labels(dropped) == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(dropped) == 2
    assert len(DataLoader(ds, batch_size=4)) == 3
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    np.testing.assert_array_equal(xb.numpy(), X[:4])


def test_shuffle_is_a_seeded_permutation_per_epoch():
    ds = TensorDataset(X, Y)
    loader = DataLoader(ds, batch_size=3, shuffle=True, generator=7)
    e1, e2 = sum(labels(loader), []), sum(labels(loader), [])
    assert sorted(e1) == sorted(e2) == list(range(10)) and e1 != e2
    twin = DataLoader(ds, batch_size=3, shuffle=True, generator=7)
    assert [sum(labels(twin), []), sum(labels(twin), [])] == [e1, e2]


def test_sampler_batch_sampler_and_no_batching():
    ds = TensorDataset(X, Y)
    assert labels(DataLoader(ds, batch_size=2, sampler=[9, 8, 1])) == [[9, 8], [1]]
    assert labels(DataLoader(ds, batch_sampler=[[3], [0, 5, 6]])) == [[3], [0, 5, 6]]
    one = list(DataLoader(ds, batch_size=None))
    assert len(one) == 10 and one[2][1] == 2 and one[2][0].shape == (3,)


def test_set_epoch_reaches_the_sampler():
    class EpochSampler:
        def __init__(self):
            self.epoch = 0

        def set_epoch(self, epoch):
            self.epoch = epoch

        def __iter__(self):
            return iter([self.epoch % 10])

        def __len__(self):
            return 1

    sampler = EpochSampler()
    loader = DataLoader(TensorDataset(X, Y), sampler=sampler)
    loader.set_epoch(4)
    assert labels(loader) == [[4]]


def test_iterable_dataset_batches():
    class Stream(IterableDataset):
        def __iter__(self):
            return ((np.float32(i), i) for i in range(7))

    assert labels(DataLoader(Stream(), batch_size=3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert labels(DataLoader(Stream(), batch_size=3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="IterableDataset"):
        DataLoader(Stream(), shuffle=True)
    with pytest.raises(TypeError):
        len(DataLoader(Stream()))


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_sampler": [[0]], "batch_size": 2}, "mutually exclusive"),
    ({"sampler": [0], "shuffle": True}, "mutually exclusive"),
    ({"prefetch_factor": 2}, "num_workers > 0"),
    ({"persistent_workers": True}, "num_workers > 0"),
    ({"batch_size": 0}, "batch_size"),
    ({"num_workers": -1}, "num_workers"),
    ({"batch_size": None, "drop_last": True}, "drop_last"),
])
def test_argument_rules(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(TensorDataset(X, Y), **kwargs)


def test_worker_init_fn_without_workers_is_accepted_as_in_torch():
    calls = []
    loader = DataLoader(TensorDataset(X, Y), batch_size=5, worker_init_fn=calls.append)
    assert labels(loader) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]] and calls == []


def test_pin_memory_is_accepted_and_changes_nothing():
    ds = TensorDataset(X, Y)
    assert labels(DataLoader(ds, batch_size=4, pin_memory=True)) == labels(DataLoader(ds, 4))


def test_map_dataset_subclass_and_custom_collate():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return i * i

    loader = DataLoader(Squares(), batch_size=2, collate_fn=lambda b: sum(b))
    assert list(loader) == [1, 13, 16]
