"""gradkit.utils.data: one-hot, standardization, splitting, shuffling, batching."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradkit.utils.data import (
    Standardizer,
    batch_iterator,
    one_hot,
    shuffle,
    standardize,
    to_categorical,
    train_test_split,
)
from gradkit.utils.validation import AxisError

# ------------------------------------------------------------ to_categorical


def test_to_categorical_basic():
    out = to_categorical([2, 0, 1])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])


def test_to_categorical_shapes_and_dtype():
    assert to_categorical(np.zeros((4, 1), int), 3).shape == (4, 3)  # trailing 1 dropped
    assert to_categorical(np.zeros((2, 5), int), 3).shape == (2, 5, 3)
    assert to_categorical(np.array(2), 4).tolist() == [0, 0, 1, 0]
    assert to_categorical([1, 0], 2, dtype="int64").dtype == np.int64
    assert to_categorical(np.array([], dtype=int), 3).shape == (0, 3)
    assert to_categorical(np.array([1.0, 3.0]), 4).argmax(-1).tolist() == [1, 3]
    assert to_categorical(np.array([True, False])).tolist() == [[0, 1], [1, 0]]
    assert one_hot is to_categorical


@given(st.lists(st.integers(0, 9), min_size=1, max_size=50))
@settings(max_examples=50, deadline=None)
def test_to_categorical_inverts_argmax(labels):
    out = to_categorical(labels, 10)
    assert out.argmax(axis=1).tolist() == labels
    assert (out.sum(axis=1) == 1).all()


@pytest.mark.parametrize(
    "y, kwargs, match",
    [
        (
            [0, 3, 10],
            {"num_classes": 10},
            r"label 10 at index 2 is out of range for num_classes=10",
        ),
        ([0, -1, 2], {}, r"label -1 at index 1 is negative"),
        ([[0, 1], [4, 1]], {"num_classes": 3}, r"label 4 at index \(1, 0\) is out of range"),
        ([0.0, 1.5], {}, r"label 1\.5 at index 1 is not an integer"),
        ([0.0, np.nan], {}, r"label nan at index 1 is not an integer"),
        ([], {}, r"cannot infer num_classes from empty labels"),
        ([0, 1], {"num_classes": 0}, r"num_classes must be an integer >= 1, received 0"),
    ],
)
def test_to_categorical_errors(y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        to_categorical(np.asarray(y), **kwargs)


def test_to_categorical_rejects_strings():
    with pytest.raises(TypeError, match="labels must be integers"):
        to_categorical(["cat", "dog"])


# -------------------------------------------------------------- Standardizer


def test_standardizer_fit_on_train_apply_to_test():
    rng = np.random.default_rng(0)
    x_train = rng.normal(5.0, 3.0, size=(1000, 4)).astype(np.float32)
    x_test = rng.normal(5.0, 3.0, size=(200, 4)).astype(np.float32)
    s = Standardizer().fit(x_train)
    z_train = s.transform(x_train)
    assert z_train.dtype == np.float32
    np.testing.assert_allclose(z_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z_train.std(axis=0), 1, atol=1e-5)
    z_test = s.transform(x_test)
    ref = x_train.astype(np.float64)
    np.testing.assert_allclose(z_test, (x_test - ref.mean(0)) / ref.std(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.inverse_transform(z_test), x_test, rtol=1e-5, atol=1e-5)


def test_standardizer_zero_variance_stays_finite():
    x = np.array([[1.0, 7.0], [3.0, 7.0], [5.0, 7.0]])
    z = Standardizer().fit_transform(x)
    assert np.isfinite(z).all()
    np.testing.assert_array_equal(z[:, 1], 0.0)
    # almost-constant float32 data (rounding noise only) must not blow up either
    near = np.full((100, 1), 0.1, np.float32) + np.float32(1e-9) * np.arange(100)[:, None]
    assert np.abs(Standardizer().fit_transform(near)).max() < 1e3


def test_standardizer_images_axis_options():
    x = np.random.default_rng(1).integers(0, 256, (10, 4, 4), dtype=np.uint8)
    per_pixel = Standardizer().fit_transform(x)
    assert per_pixel.dtype == np.float32 and per_pixel.shape == (10, 4, 4)
    np.testing.assert_allclose(per_pixel.mean(axis=0), 0, atol=1e-5)
    glob = Standardizer(axis=None).fit(x)
    assert glob.mean_.shape == (1, 1, 1)
    np.testing.assert_allclose(glob.transform(x).mean(), 0, atol=1e-5)
    assert Standardizer(axis=(0, -1)).fit(x).mean_.shape == (1, 4, 1)


def test_standardizer_errors():
    s = Standardizer()
    with pytest.raises(RuntimeError, match="before fit"):
        s.transform([[1.0]])
    s.fit(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"x has shape \(2, 4\) but .* fitted on data of shape"):
        s.transform(np.ones((2, 4)))
    with pytest.raises(ValueError, match="no samples"):
        Standardizer().fit(np.ones((0, 3)))
    with pytest.raises(AxisError, match="Standardizer.fit: axis 2 is out of range"):
        Standardizer(axis=2).fit(np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"repeated axis in \(0, -2\)"):
        Standardizer(axis=(0, -2)).fit(np.ones((3, 3)))
    assert "fitted" in repr(s)


def test_standardize_function():
    x_train = np.array([[0.0], [2.0]])
    z = standardize(x_train)
    assert z.ravel().tolist() == [-1.0, 1.0]
    z_train, z_test = standardize(x_train, np.array([[4.0]]))
    assert z_test.ravel().tolist() == [3.0]


# ---------------------------------------------------------- train_test_split


def test_split_sizes_and_alignment():
    x = np.arange(100).reshape(50, 2)
    y = np.arange(50)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, seed=0)
    assert len(x_te) == 13 and len(x_tr) == 37  # ceil(0.25 * 50)
    np.testing.assert_array_equal(x_tr[:, 0] // 2, y_tr)
    np.testing.assert_array_equal(x_te[:, 0] // 2, y_te)
    assert sorted(np.concatenate([y_tr, y_te]).tolist()) == list(range(50))


def test_split_int_size_no_shuffle_and_determinism():
    y = np.arange(10)
    tr, te = train_test_split(y, test_size=3, shuffle=False)
    assert tr.tolist() == list(range(7)) and te.tolist() == [7, 8, 9]
    a = train_test_split(y, seed=4)
    b = train_test_split(y, seed=4)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))


def test_split_stratified_keeps_proportions():
    y = np.array([0] * 80 + [1] * 20)
    x = np.arange(100)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, stratify=y, seed=0)
    assert np.bincount(y_te).tolist() == [20, 5]
    assert np.bincount(y_tr).tolist() == [60, 15]
    np.testing.assert_array_equal(y[x_te], y_te)


@given(
    st.lists(st.integers(0, 4), min_size=4, max_size=60),
    st.floats(0.05, 0.95),
    st.integers(0, 2**16),
)
@settings(max_examples=60, deadline=None)
def test_split_stratified_property(labels, frac, seed):
    y = np.array(labels)
    n_test = int(np.ceil(frac * len(y)))
    if not 1 <= n_test <= len(y) - 1:
        return
    y_tr, y_te = train_test_split(y, test_size=frac, stratify=y, seed=seed)
    assert len(y_te) == n_test
    assert sorted(np.concatenate([y_tr, y_te]).tolist()) == sorted(labels)
    expected = np.bincount(y, minlength=5) * n_test / len(y)
    assert (np.abs(np.bincount(y_te, minlength=5) - expected) < 1 + 1e-9).all()


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        ((np.arange(5), np.arange(4)), {}, ValueError, "got lengths 5, 4"),
        ((np.arange(5),), {"test_size": 1.5}, ValueError,
         r"a fractional test_size must be a finite number > 0.0 and < 1.0, received 1.5"),
        ((np.arange(5),), {"test_size": 5}, ValueError, "gives 5 test and 0 training"),
        ((np.arange(5),), {"test_size": 0}, ValueError, "gives 0 test"),
        ((np.arange(5),), {"test_size": "a"}, TypeError, "test_size must be"),
        ((np.arange(5),), {"stratify": [0, 1]}, ValueError, "stratify has length 2"),
        ((np.arange(5),), {"stratify": np.zeros(5), "shuffle": False}, ValueError, "shuffle=True"),
        ((), {}, TypeError, "at least one array"),
        ((np.float64(3.0),), {}, ValueError, "0-d scalar"),
    ],
)
def test_split_errors(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        train_test_split(*args, **kwargs)


# ------------------------------------------------------------------- shuffle


def test_shuffle_keeps_pairs_and_inputs():
    x = np.arange(20)
    y = x * 10
    xs, ys = shuffle(x, y, seed=1)
    np.testing.assert_array_equal(ys, xs * 10)
    assert not np.array_equal(xs, x) and sorted(xs.tolist()) == x.tolist()
    assert x.tolist() == list(range(20))  # input untouched
    single = shuffle(x, seed=1)
    np.testing.assert_array_equal(single, xs)


def test_shuffle_errors():
    with pytest.raises(ValueError, match="got lengths 3, 2"):
        shuffle(np.zeros(3), np.zeros(2))
    with pytest.raises(TypeError, match="seed must be"):
        shuffle(np.zeros(3), seed=1.5)


# ------------------------------------------------------------ batch_iterator


def test_batches_in_order():
    x = np.arange(10).reshape(5, 2)
    y = np.arange(5)
    batches = list(batch_iterator(x, y, batch_size=2))
    assert [b[1].tolist() for b in batches] == [[0, 1], [2, 3], [4]]
    assert all(isinstance(b, tuple) and len(b) == 2 for b in batches)
    np.testing.assert_array_equal(batches[1][0], [[4, 5], [6, 7]])


def test_batches_single_array_drop_last():
    batches = list(batch_iterator(np.arange(7), batch_size=3, drop_last=True))
    assert [b[0].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5]]
    assert list(batch_iterator(np.arange(2), batch_size=3, drop_last=True)) == []
    assert list(batch_iterator(np.arange(0), batch_size=3)) == []


@given(st.integers(0, 40), st.integers(1, 12), st.booleans(), st.booleans())
@settings(max_examples=60, deadline=None)
def test_batches_cover_every_sample_once(n, size, shuf, drop_last):
    x = np.arange(n)
    seen = [b for (b,) in batch_iterator(x, batch_size=size, shuffle=shuf, seed=0,
                                         drop_last=drop_last)]  # fmt: skip
    flat = np.concatenate(seen).tolist() if seen else []
    assert all(len(b) == size for b in seen[:-1])
    expected = n - n % size if drop_last else n
    assert len(flat) == expected and len(set(flat)) == expected


def test_batches_shuffled_reproducibly():
    y = np.arange(30)
    first = [b[0].tolist() for b in batch_iterator(y, batch_size=8, shuffle=True, seed=2)]
    again = [b[0].tolist() for b in batch_iterator(y, batch_size=8, shuffle=True, seed=2)]
    assert first == again
    assert sum(first, []) != list(range(30))


def test_batch_iterator_validates_eagerly():
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, received 0"):
        batch_iterator(np.arange(3), batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an integer >= 1, received 2.0"):
        batch_iterator(np.arange(3), batch_size=2.0)
    with pytest.raises(ValueError, match="got lengths 3, 4"):
        batch_iterator(np.arange(3), np.arange(4))
