"""Programs written the way the Keras 3 guides write them, run on gradkit with only the
import changed: a training loop from scratch with keras.ops and a GradientTape, and a
subclassed layer that draws noise with keras.random and a SeedGenerator."""

from __future__ import annotations

import numpy as np

import gradkit as tf
from gradkit import keras
from gradkit.keras import layers, ops, random


def _blobs(n=240, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0.0], [-2.0, 1.0], [0.0, -2.5]])
    y = rng.integers(0, 3, n)
    return (centers[y] + rng.standard_normal((n, 2)) * 0.6).astype("float32"), y


class NoisyDense(layers.Layer):
    """Dense with Gaussian noise on its inputs while training, from its own seed stream."""

    def __init__(self, units, stddev=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.stddev, self.seed = units, stddev, seed
        self.seed_generator = random.SeedGenerator(seed)

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="glorot_uniform", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, x, training=None):
        if training:
            x = ops.add(x, random.normal(ops.shape(x), stddev=self.stddev,
                                         seed=self.seed_generator))
        return ops.add(ops.matmul(x, self.w), self.b)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "stddev": self.stddev,
                "seed": self.seed}


def test_training_loop_from_scratch_with_ops():
    keras.utils.set_random_seed(1)
    x, y = _blobs()
    inputs = keras.Input(shape=(2,))
    h = NoisyDense(16, seed=3)(inputs)
    h = layers.Activation("relu")(h)
    model = keras.Model(inputs, layers.Dense(3)(h))
    optimizer = keras.optimizers.Adam(learning_rate=0.05)
    accuracy = keras.metrics.SparseCategoricalAccuracy()
    losses = []
    for epoch in range(4):
        order = ops.convert_to_numpy(random.shuffle(ops.arange(len(x)), seed=epoch))
        for start in range(0, len(x), 32):
            idx = order[start:start + 32]
            with tf.GradientTape() as tape:
                logits = model(x[idx], training=True)
                loss = ops.mean(ops.sparse_categorical_crossentropy(y[idx], logits,
                                                                    from_logits=True))
            grads = tape.gradient(loss, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
            accuracy.update_state(y[idx], logits)
            losses.append(float(ops.convert_to_numpy(loss)))
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    preds = ops.argmax(model(x, training=False), axis=-1)
    assert float(ops.mean(ops.cast(ops.equal(preds, y), "float32"))) > 0.9
    assert float(accuracy.result()) > 0.7


def test_noise_is_off_at_inference_and_repeatable_per_seed():
    x, _ = _blobs(8)
    layer = NoisyDense(4, seed=5)
    a = ops.convert_to_numpy(layer(x))
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x)), a)
    noisy = ops.convert_to_numpy(layer(x, training=True))
    assert not np.allclose(noisy, a)
    twin = NoisyDense.from_config(layer.get_config())
    twin(x)
    twin.set_weights(layer.get_weights())
    np.testing.assert_array_equal(ops.convert_to_numpy(twin(x, training=True)), noisy)
