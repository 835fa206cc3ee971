"""fit/evaluate/predict on a DataLoader, a gradkit.data.Dataset and a PyDataset/Sequence reach
exactly the weights, losses and outputs that arrays give with the same batches."""

import numpy as np
import pytest

import gradkit as gk
from gradkit.data import Dataset
from gradkit.utils import PyDataset, Sequence
from gradkit.utils.data import DataLoader, TensorDataset

RNG = np.random.default_rng(0)
X = RNG.normal(size=(36, 3)).astype(np.float32)
Y = (X.sum(1) > 0).astype(np.int64)
W = np.linspace(0.5, 2.0, 36)
B = 8


def model():
    gk.utils.set_random_seed(1)
    m = gk.Sequential([gk.layers.Dense(4, activation="relu", input_shape=(3,)),
                       gk.layers.Dense(2, activation="softmax")])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


class Slices(PyDataset):
    def __init__(self, with_weights=False, **kwargs):
        super().__init__(**kwargs)
        self.with_weights, self.begun, self.ended = with_weights, 0, 0

    def __len__(self):
        return -(-len(X) // B)

    def __getitem__(self, i):
        s = slice(i * B, (i + 1) * B)
        return (X[s], Y[s], W[s]) if self.with_weights else (X[s], Y[s])

    def on_epoch_begin(self):
        self.begun += 1

    def on_epoch_end(self):
        self.ended += 1


class OldSequence(Sequence):
    def __len__(self):
        return -(-len(X) // B)

    def __getitem__(self, i):
        return X[i * B:(i + 1) * B], Y[i * B:(i + 1) * B]


def reference(epochs=2, sample_weight=None):
    m = model()
    m.fit(X, Y, batch_size=B, epochs=epochs, shuffle=False, verbose=0,
          sample_weight=sample_weight)
    return m


def assert_same_weights(a, b):
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(wa.numpy(), wb.numpy())


INPUTS = {
    "DataLoader": lambda: DataLoader(TensorDataset(X, Y), batch_size=B),
    "DataLoader with workers": lambda: DataLoader(TensorDataset(X, Y), batch_size=B,
                                                  num_workers=2),
    "gradkit.data.Dataset": lambda: Dataset.from_tensor_slices((X, Y)).batch(B).prefetch(2),
    "PyDataset": lambda: Slices(),
    "PyDataset with processes": lambda: Slices(workers=2, use_multiprocessing=True),
    "Sequence": lambda: OldSequence(),
}


@pytest.mark.parametrize("kind", list(INPUTS))
def test_fit_evaluate_predict_match_arrays(kind):
    ref = reference()
    m = model()
    history = m.fit(INPUTS[kind](), epochs=2, verbose=0)
    assert_same_weights(ref, m)
    assert len(history.history["loss"]) == 2
    expected = ref.evaluate(X, Y, batch_size=B, verbose=0)
    np.testing.assert_allclose(m.evaluate(INPUTS[kind](), verbose=0), expected, rtol=1e-6)
    np.testing.assert_allclose(m.predict(INPUTS[kind]()), ref.predict(X), rtol=1e-6)


def test_float64_batches_are_cast_like_arrays():
    ref = reference()
    m = model()
    m.fit(DataLoader(TensorDataset(X.astype(np.float64), Y), batch_size=B), epochs=2, verbose=0)
    assert_same_weights(ref, m)


def test_sample_weights_from_batches():
    ref = reference(sample_weight=W)
    m = model()
    m.fit(Slices(with_weights=True), epochs=2, verbose=0)
    assert_same_weights(ref, m)
    m2 = model()
    m2.fit(Dataset.from_tensor_slices((X, Y, W)).batch(B), epochs=2, verbose=0)
    assert_same_weights(ref, m2)


def test_py_dataset_epoch_hooks():
    ds = Slices()
    model().fit(ds, epochs=3, verbose=0)
    assert ds.begun == ds.ended == 3


def test_steps_per_epoch_continues_across_epochs():
    """Keras: with steps_per_epoch the iterator carries on; 2 epochs of 2 steps on a
    repeated dataset are the first 4 batches, as one epoch of 4 steps."""
    a = model()
    a.fit(Dataset.from_tensor_slices((X, Y)).batch(B).repeat(), steps_per_epoch=4, epochs=1,
          verbose=0)
    b = model()
    b.fit(Dataset.from_tensor_slices((X, Y)).batch(B).repeat(), steps_per_epoch=2, epochs=2,
          verbose=0)
    assert_same_weights(a, b)
    c = model()  # 5 batches a pass: epoch 2 ends when they are used up (Keras), then restarts
    c.fit(DataLoader(TensorDataset(X, Y), batch_size=B), steps_per_epoch=3, epochs=2,
          verbose=0)
    d = model()
    d.fit(X[:24], Y[:24], batch_size=B, epochs=1, shuffle=False, verbose=0)
    d.fit(X[24:], Y[24:], batch_size=B, epochs=1, shuffle=False, verbose=0)
    assert_same_weights(c, d)
    c.fit(DataLoader(TensorDataset(X, Y), batch_size=B), steps_per_epoch=3, epochs=1,
          verbose=0)
    d.fit(X[:24], Y[:24], batch_size=B, epochs=1, shuffle=False, verbose=0)
    assert_same_weights(c, d)


def test_fit_calls_the_loaders_set_epoch():
    class Recorder:
        def __init__(self):
            self.epochs = []

        def set_epoch(self, epoch):
            self.epochs.append(epoch)

        def __iter__(self):
            return iter(range(len(X)))

        def __len__(self):
            return len(X)

    sampler = Recorder()
    model().fit(DataLoader(TensorDataset(X, Y), batch_size=B, sampler=sampler), epochs=3,
                verbose=0)
    assert sampler.epochs == [0, 1, 2]


def test_validation_data_may_be_a_dataset():
    m = model()
    val = Dataset.from_tensor_slices((X, Y)).batch(B)
    history = m.fit(DataLoader(TensorDataset(X, Y), batch_size=B), epochs=1, verbose=0,
                    validation_data=val)
    np.testing.assert_allclose(history.history["val_loss"][0], m.evaluate(val, verbose=0)[0],
                               rtol=1e-6)


@pytest.mark.parametrize("make", [lambda: DataLoader(TensorDataset(X, Y)),
                                  lambda: Dataset.from_tensor_slices((X, Y)).batch(4),
                                  lambda: Slices()])
def test_a_separate_y_is_refused(make):
    with pytest.raises(ValueError, match="y must be None.*Put the targets in the dataset"):
        model().fit(make(), Y, verbose=0)
    with pytest.raises(ValueError, match="y must be None"):
        model().evaluate(make(), Y, verbose=0)
