"""gradkit.data.Dataset, the tf.data-style pipeline: every transformation against a NumPy
reference, and TensorFlow's documented semantics (shuffle buffers, cardinality, repeat,
take/skip with -1, TensorFlow's dtype defaults for Python numbers)."""

import threading

import numpy as np
import pytest

import gradkit as tf  # the spelling TensorFlow programs use
from gradkit.data import AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset, TensorSpec

X = np.arange(24, dtype=np.float32).reshape(12, 2)
Y = np.arange(12, dtype=np.int64)


def numpy_batches(a, size, drop=False):
    stop = len(a) - len(a) % size if drop else len(a)
    return [a[i:i + size] for i in range(0, stop, size)]


def values(ds):
    return [np.asarray(e).tolist() for e in ds.as_numpy_iterator()]


def test_reachable_as_tf_data():
    assert tf.data.Dataset is Dataset and tf.data.AUTOTUNE == tf.data.experimental.AUTOTUNE
    assert tf.data.experimental.cardinality(Dataset.range(3)).item() == 3


def test_slices_batch_and_iteration_types():
    ds = Dataset.from_tensor_slices((X, Y)).batch(5)
    got = list(ds)
    assert all(isinstance(x, tf.Tensor) and isinstance(y, tf.Tensor) for x, y in got)
    for (x, y), xr, yr in zip(ds.as_numpy_iterator(), numpy_batches(X, 5), numpy_batches(Y, 5)):
        np.testing.assert_array_equal(x, xr)
        np.testing.assert_array_equal(y, yr)
    assert [len(y) for _, y in Dataset.from_tensor_slices((X, Y)).batch(5, True)] == [5, 5]
    assert Dataset.from_tensor_slices(X).batch(5).cardinality().item() == 3
    assert len(Dataset.from_tensor_slices(X).batch(5, drop_remainder=True)) == 2


def test_dict_elements_and_python_number_dtypes():
    ds = Dataset.from_tensor_slices({"a": [1.5, 2.5], "b": [[1, 2], [3, 4]]})
    first = next(ds.as_numpy_iterator())
    assert first["a"].dtype == np.float32 and first["b"].dtype == np.int32  # TF's defaults
    mapped = ds.map(lambda e: {"s": e["a"] + 1.0})
    assert [e["s"].item() for e in mapped.as_numpy_iterator()] == [2.5, 3.5]
    with pytest.raises(ValueError, match="same first dimension"):
        Dataset.from_tensor_slices((X, Y[:3]))


def test_shuffle_is_a_permutation_with_tensorflow_buffer_semantics():
    n, k = 50, 8
    order = [int(v) for v in Dataset.range(n).shuffle(k, seed=3).as_numpy_iterator()]
    assert sorted(order) == list(range(n))
    # a buffer of k elements: output i can only be one of the first i + k inputs
    assert all(v < i + k for i, v in enumerate(order))
    assert values(Dataset.range(10).shuffle(1)) == list(range(10))  # buffer 1: no change


def test_shuffle_seeds_and_reshuffle_each_iteration():
    def two_epochs(ds):
        return values(ds), values(ds)

    a1, a2 = two_epochs(Dataset.range(20).shuffle(20, seed=1))
    b1, b2 = two_epochs(Dataset.range(20).shuffle(20, seed=1))
    assert (a1, a2) == (b1, b2) and a1 != a2  # reproducible, new order each epoch
    c1, c2 = two_epochs(Dataset.range(20).shuffle(20, seed=1, reshuffle_each_iteration=False))
    assert c1 == c2 and sorted(c1) == list(range(20))
    tf.random.seed(9)
    d1 = values(Dataset.range(20).shuffle(20))
    tf.random.seed(9)
    assert values(Dataset.range(20).shuffle(20)) == d1  # the global seed governs seed=None


@pytest.mark.parametrize("calls", [None, 1, 3, AUTOTUNE])
def test_map_equals_numpy_with_any_parallelism(calls):
    threads = set()

    def f(x, y):
        threads.add(threading.current_thread().name)
        return x * 2.0 + 1.0, y

    ds = Dataset.from_tensor_slices((X, Y)).map(f, num_parallel_calls=calls).batch(4)
    got = np.concatenate([x for x, _ in ds.as_numpy_iterator()])
    np.testing.assert_allclose(got, X * 2.0 + 1.0)
    if calls not in (None, 1):
        assert all(name.startswith("gradkit-data-map") for name in threads)


def test_filter_take_skip_repeat_against_python():
    r = list(range(10))
    assert values(Dataset.range(10).filter(lambda v: v > 3)) == [v for v in r if v > 3]
    assert values(Dataset.range(10).take(3)) == r[:3]
    assert values(Dataset.range(10).take(-1)) == r
    assert values(Dataset.range(10).skip(7)) == r[7:]
    assert values(Dataset.range(10).skip(-1)) == []
    assert values(Dataset.range(3).repeat(2)) == [0, 1, 2] * 2
    assert values(Dataset.range(3).repeat().take(7)) == ([0, 1, 2] * 3)[:7]


def test_cardinality_as_documented():
    r = Dataset.range(42)
    assert r.cardinality().item() == 42
    assert r.repeat().cardinality().item() == INFINITE_CARDINALITY
    assert r.repeat().take(5).cardinality().item() == 5
    assert r.filter(lambda v: v > 1).cardinality().item() == UNKNOWN_CARDINALITY
    assert r.batch(5).cardinality().item() == 9
    assert r.skip(40).repeat(3).cardinality().item() == 6
    assert r.concatenate(r.take(2)).cardinality().item() == 44
    assert Dataset.zip((r, r.take(7))).cardinality().item() == 7
    with pytest.raises(TypeError, match="infinite"):
        len(r.repeat())
    with pytest.raises(TypeError, match="unknown"):
        len(r.filter(lambda v: v > 1))


def test_unbatch_zip_concatenate_enumerate_shard():
    ds = Dataset.from_tensor_slices((X, Y))
    again = ds.batch(5).unbatch()
    for (a, b), (c, d) in zip(ds.as_numpy_iterator(), again.as_numpy_iterator()):
        np.testing.assert_array_equal(a, c)
        assert b == d
    assert values(Dataset.range(2).concatenate(Dataset.range(5, 7))) == [0, 1, 5, 6]
    pairs = list(Dataset.zip(Dataset.range(3), Dataset.range(10, 20)).as_numpy_iterator())
    assert [(int(a), int(b)) for a, b in pairs] == [(0, 10), (1, 11), (2, 12)]
    named = next(Dataset.zip({"a": Dataset.range(2), "b": Dataset.range(2)})
                 .as_numpy_iterator())
    assert set(named) == {"a", "b"}
    assert [int(i) for i, _ in Dataset.range(5, 8).enumerate().as_numpy_iterator()] == [0, 1, 2]
    assert values(Dataset.range(10).shard(3, 1)) == [1, 4, 7]
    total = Dataset.range(5).reduce(np.int64(0), lambda s, v: s + v)
    assert int(total.item()) == 10


def test_prefetch_loads_on_a_background_thread():
    threads = []
    ds = Dataset.range(6).map(lambda v: threads.append(threading.current_thread()) or v)
    assert values(ds.prefetch(2)) == list(range(6))
    assert {t.name for t in threads} == {"gradkit-data-prefetch"}
    assert values(ds.prefetch(AUTOTUNE)) == list(range(6))


def test_prefetch_passes_errors_and_stops_when_abandoned():
    def boom(v):
        if int(v) == 3:
            raise ValueError("element 3 is bad")
        return v

    it = iter(Dataset.range(6).map(boom).prefetch(1))
    assert [int(next(it)) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="element 3 is bad"):
        next(it)
    before = set(threading.enumerate())
    endless = iter(Dataset.range(10).repeat().prefetch(2))
    next(endless)
    (thread,) = [t for t in threading.enumerate() if t not in before]
    assert thread.name == "gradkit-data-prefetch"
    del endless  # a loop left early: the thread must end, not fill its queue forever
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_cache_reads_the_source_once():
    calls = []

    def gen():
        calls.append(1)
        yield from range(4)

    ds = Dataset.from_generator(gen, output_signature=TensorSpec((), "int64")).cache()
    assert values(ds) == values(ds) == [0, 1, 2, 3] and len(calls) == 1
    partial = Dataset.from_generator(gen, output_types="int64").cache()
    next(iter(partial))
    assert values(partial) == [0, 1, 2, 3] and len(calls) == 3  # a partial pass cached nothing
    with pytest.raises(NotImplementedError, match="filename"):
        Dataset.range(2).cache("/tmp/x")


def test_from_generator_signature_and_errors():
    ds = Dataset.from_generator(lambda n: ((np.ones(2) * i, i) for i in range(n)), args=(3,),
                                output_signature=(TensorSpec((2,), "float32"),
                                                  TensorSpec((), "int32")))
    x, y = next(ds.as_numpy_iterator())
    assert x.dtype == np.float32 and y.dtype == np.int32
    assert len(values(ds.map(lambda a, b: b))) == 3
    bad = Dataset.from_generator(lambda: iter([np.ones(3)]),
                                 output_signature=TensorSpec((2,), "float32"))
    with pytest.raises(ValueError, match=r"shape \(3,\).*\(2,\)"):
        list(bad)
    with pytest.raises(TypeError, match="callable"):
        Dataset.from_generator(iter([1, 2]))


def test_custom_loop_with_gradient_tape():
    tf.random.seed(0)
    w = tf.Variable(np.zeros((2, 1), np.float32))
    ds = Dataset.from_tensor_slices((X / 24.0, Y.astype(np.float32)[:, None] / 12.0)).batch(4)
    losses = []
    for _ in range(20):
        for xb, yb in ds:
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(tf.matmul(xb, w) - yb))
            (g,) = tape.gradient(loss, [w])
            w.assign_sub(0.5 * g)
            losses.append(loss.item())
    assert losses[-1] < losses[0] / 10
