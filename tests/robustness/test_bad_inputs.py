"""The catalogue of bad inputs: each must raise the exact error type, naming the culprit."""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

import gradkit as gk
from gradkit import layers
from gradkit.datasets import DatasetError, read_idx, write_idx

pytestmark = pytest.mark.bad_input
MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"


def built(layer, shape):
    layer(np.zeros(shape, "float32"))
    return layer


def compiled(loss="sparse_categorical_crossentropy", out=3, act="softmax", metrics=None):
    model = gk.Sequential([layers.Dense(8, activation="relu", input_shape=(4,)),
                           layers.Dense(out, activation=act)])
    model.compile(optimizer="sgd", loss=loss, metrics=metrics)
    return model


X = np.random.default_rng(0).normal(size=(20, 4)).astype("float32")
Y = np.random.default_rng(1).integers(0, 3, size=20)

# (id, callable, exception type, regex the message must match)
CASES = [
    # ---- shapes into every layer type
    ("dense-needs-flatten", lambda: built(layers.Dense(10), (2, 784))(np.zeros((2, 28, 28))),
     ValueError, r"Dense 'dense\w*' expected input with last axis 784, received shape "
                 r"\(2, 28, 28\); add a Flatten"),
    ("dense-wrong-features", lambda: built(layers.Dense(3), (2, 4))(np.zeros((2, 5))),
     ValueError, r"Dense .*last axis 4.*\(2, 5\)"),
    ("dense-rank-1", lambda: layers.Dense(3)(np.zeros(4)), ValueError, r"Dense .*\(4,\)"),
    ("conv2d-no-channel-axis", lambda: layers.Conv2D(4, 3)(np.zeros((2, 28, 28))),
     ValueError, r"Conv2D .*4 axes.*\(2, 28, 28\).*channel axis"),
    ("conv2d-channels", lambda: built(layers.Conv2D(4, 3), (1, 8, 8, 1))(np.zeros((1, 8, 8, 3))),
     ValueError, r"Conv2D .*\b1\b.*\(1, 8, 8, 3\)"),
    ("maxpool-rank", lambda: layers.MaxPooling2D()(np.zeros((2, 8, 8))), ValueError,
     r"MaxPooling2D .*\(2, 8, 8\)"),
    ("avgpool-rank", lambda: layers.AveragePooling2D()(np.zeros((8, 8))), ValueError,
     r"AveragePooling2D .*\(8, 8\)"),
    ("global-pool-rank", lambda: layers.GlobalAveragePooling2D()(np.zeros((2, 8))), ValueError,
     r"GlobalAveragePooling2D .*\(2, 8\)"),
    ("batchnorm-features", lambda: built(layers.BatchNormalization(), (4, 3))(np.zeros((4, 5))),
     ValueError, r"BatchNormalization .*\b3\b.*\(4, 5\)"),
    ("layernorm-features", lambda: built(layers.LayerNormalization(), (4, 3))(np.zeros((4, 6))),
     ValueError, r"LayerNormalization .*\b3\b.*\(4, 6\)"),
    ("embedding-index-range", lambda: layers.Embedding(10, 4)(np.array([[1, 12]])),
     ValueError, r"Embedding .*12.*10"),
    ("embedding-float-index", lambda: layers.Embedding(10, 4)(np.array([[1.5, 2.0]])),
     TypeError, r"Embedding .*integer indices.*1\.5"),
    ("rnn-rank", lambda: layers.SimpleRNN(4)(np.zeros((2, 5))), ValueError,
     r"SimpleRNN .*\(2, 5\)"),
    ("lstm-features", lambda: built(layers.LSTM(4), (2, 5, 3))(np.zeros((2, 5, 7))),
     ValueError, r"LSTM .*\b3\b.*\(2, 5, 7\)"),
    ("add-shapes", lambda: layers.Add()([np.zeros((2, 3)), np.zeros((2, 4))]), ValueError,
     r"Add .*\(2, 3\).*\(2, 4\)"),
    ("concatenate-shapes", lambda: layers.Concatenate()([np.zeros((2, 3)), np.zeros((3, 3))]),
     ValueError, r"Concatenate .*\(2, 3\).*\(3, 3\)"),
    ("reshape-size", lambda: layers.Reshape((5, 5))(np.zeros((2, 24))), ValueError,
     r"Reshape .*24.*\(5, 5\)"),
    ("dropout-rate", lambda: layers.Dropout(1.5), ValueError, r"Dropout.*rate.*1\.5"),
    ("dense-units", lambda: layers.Dense(0), ValueError, r"Dense.*units.*0"),
    ("weights-wrong-shape", lambda: built(layers.Dense(3), (1, 4)).set_weights(
        [np.zeros((5, 3)), np.zeros(3)]), ValueError, r"Dense .*\(4, 3\).*\(5, 3\)"),
    # ---- dtypes
    ("strings-into-layer", lambda: layers.Dense(2)(np.array([["a", "b"]])), TypeError,
     r"Dense .*<U1.*strings"),
    ("complex-into-layer", lambda: layers.Dense(2)(np.ones((1, 2), complex)), TypeError,
     r"Dense .*complex"),
    ("strings-into-fit", lambda: compiled().fit(np.array([["a"] * 4] * 20), Y, verbose=0),
     TypeError, r"fit: x has dtype <U1 \(strings\)"),
    ("objects-into-fit", lambda: compiled().fit(np.array([[object()] * 4] * 20), Y, verbose=0),
     TypeError, r"fit: x has dtype object \(Python objects\)"),
    ("complex-into-fit", lambda: compiled().fit(X.astype(complex), Y, verbose=0), TypeError,
     r"fit: x .*complex"),
    ("strings-into-tensor", lambda: gk.Tensor(["a", "b"]), TypeError, r"strings.*<U1"),
    # ---- fit arguments
    ("fit-lengths", lambda: compiled().fit(X, Y[:15], verbose=0), ValueError,
     r"x and y have different numbers of samples: x has 20, y has 15"),
    ("fit-batch-size-0", lambda: compiled().fit(X, Y, batch_size=0, verbose=0), ValueError,
     r"batch_size must be an integer >= 1, received 0"),
    ("fit-batch-size-negative", lambda: compiled().fit(X, Y, batch_size=-8, verbose=0),
     ValueError, r"batch_size .* received -8"),
    ("fit-epochs-negative", lambda: compiled().fit(X, Y, epochs=-1, verbose=0), ValueError,
     r"epochs must be an integer >= 0, received -1"),
    ("fit-validation-split", lambda: compiled().fit(X, Y, validation_split=1.5, verbose=0),
     ValueError, r"validation_split must be a finite number >= 0 and < 1, received 1\.5"),
    ("fit-nan", lambda: compiled().fit(np.where(np.arange(80).reshape(20, 4) == 9, np.nan, X),
                                        Y, verbose=0),
     ValueError, r"x contains nan at index \(2, 1\)"),
    ("fit-inf-targets", lambda: compiled("mse", 1, None).fit(X, np.full((20, 1), np.inf),
                                                            verbose=0),
     ValueError, r"y contains inf at index \(0, 0\)"),
    ("fit-empty", lambda: compiled().fit(X[:0], Y[:0], verbose=0), ValueError,
     r"x is empty \(shape \(0, 4\)\)"),
    ("fit-before-compile", lambda: gk.Sequential([layers.Dense(2, input_shape=(4,))]).fit(
        X, Y, verbose=0), RuntimeError, r"must be compiled before fit"),
    # compile() without a loss is allowed (add_loss terms, a custom train_step, as in
    # Keras 3); fit then says there is nothing to minimize
    ("fit-without-any-loss", lambda: gk.Sequential([layers.Dense(2)]).compile("sgd").fit(
        X, Y, verbose=0), ValueError, r"no loss to compute"),
    ("predict-empty-model", lambda: gk.Sequential().predict(X), RuntimeError,
     r"has no layers"),
    ("summary-before-build", lambda: gk.Sequential([layers.Dense(2)]).summary(), ValueError,
     r"not built yet"),
    # ---- labels
    ("sparse-label-out-of-range", lambda: compiled().fit(X, np.full(20, 3), verbose=0),
     ValueError, r"label 3 is out of range for 3 classes"),
    ("sparse-label-negative", lambda: compiled().fit(X, np.full(20, -1), verbose=0), ValueError,
     r"label -1 is out of range"),
    ("one-hot-width", lambda: compiled("categorical_crossentropy").fit(X, np.eye(4)[Y % 4],
                                                                      verbose=0),
     ValueError, r"\b4\b.*\b3\b|\b3\b.*\b4\b"),
    ("to-categorical-range", lambda: gk.utils.to_categorical([0, 5], num_classes=3),
     ValueError, r"5"),
    # ---- unknown names list the valid ones
    ("unknown-optimizer", lambda: compiled().compile(optimizer="adamm", loss="mse"),
     ValueError, r"adamm.*adam"),
    ("unknown-loss", lambda: compiled().compile(optimizer="sgd", loss="crossentropy2"),
     ValueError, r"crossentropy2.*mean_squared_error"),
    ("unknown-metric", lambda: compiled(metrics=["acuracy"]), ValueError,
     r"acuracy.*accuracy"),
    ("unknown-activation", lambda: layers.Dense(2, activation="relux"), ValueError,
     r"relux.*relu"),
    ("unknown-initializer", lambda: layers.Dense(2, kernel_initializer="glorot")(
        np.zeros((1, 3))), ValueError, r"glorot.*glorot_uniform"),
    ("bad-learning-rate", lambda: gk.optimizers.SGD(learning_rate=-1), ValueError,
     r"SGD: learning_rate must be a finite number >= 0, received -1"),
    # ---- engine
    ("matmul-shapes", lambda: gk.matmul(np.zeros((2, 3)), np.zeros((4, 5))), ValueError,
     r"matmul: shapes \(2, 3\) and \(4, 5\)"),
    ("add-shapes-op", lambda: gk.add(np.zeros((2, 3)), np.zeros(4)), ValueError,
     r"add.*\(2, 3\).*\(4,\)"),
    ("backward-non-scalar", lambda: (gk.Tensor([1.0, 2.0], requires_grad=True) * 2).backward(),
     RuntimeError, r"shape \(2,\) needs an upstream gradient"),
    ("int-requires-grad", lambda: gk.Tensor([1, 2], requires_grad=True), TypeError,
     r"floating-point.*int64"),
    ("variable-assign-shape", lambda: gk.Variable(np.zeros(3), name="v").assign(np.zeros(2)),
     ValueError, r"Variable \(tensor 'v'\)\.assign.*\(2,\).*\(3,\)"),
    # ---- fit's inputs (issue 18): the finite check runs after the float32 cast; a given y
    # with an iterable of batches is refused, not ignored
    ("fit-float64-overflows-float32",
     lambda: compiled().fit(np.full((4, 4), 1e300), Y[:4], verbose=0), ValueError,
     r"x contains inf at index \(0, 0\) once cast to float32"),
    ("fit-y-with-batch-iterable",
     lambda: compiled().fit(iter([(X, Y)]), Y, verbose=0), ValueError,
     r"y must be None when x is an iterable of batches"),
    ("fit-ragged-rows", lambda: compiled().fit([[1.0, 2.0], [3.0]], [0, 1], verbose=0),
     ValueError, r"list of rows of different lengths"),

]


@pytest.mark.parametrize("fn,exc,pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


# ---- files: truncated and corrupt IDX/gzip, a directory with a file missing
@pytest.fixture
def idx_dir(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "data"
    d.mkdir()
    for prefix, n in (("train", 20), ("t10k", 10)):
        write_idx(d / f"{prefix}-images-idx3-ubyte.gz",
                  rng.integers(0, 255, (n, 28, 28), dtype=np.uint8))
        write_idx(d / f"{prefix}-labels-idx1-ubyte.gz",
                  rng.integers(0, 10, n, dtype=np.uint8))
    return d


def test_truncated_idx(idx_dir):
    p = idx_dir / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(p.read_bytes())
    p.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte\.gz.*truncated"):
        read_idx(p)


def test_corrupt_gzip(idx_dir):
    p = idx_dir / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    data[-5] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte\.gz"):
        read_idx(p)


def test_bad_magic(tmp_path):
    p = tmp_path / "x-idx1-ubyte"
    p.write_bytes(b"\x12\x34\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(DatasetError, match=r"x-idx1-ubyte.*magic"):
        read_idx(p)


def test_dataset_dir_with_a_file_missing(idx_dir):
    from gradkit.datasets import fashion_mnist

    (idx_dir / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte"):
        fashion_mnist.load_data(path=idx_dir, download=False)


@pytest.mark.skipif(not MNIST.exists(), reason="shared MNIST test set absent")
def test_real_mnist_truncated_copy(tmp_path):
    src = MNIST / "t10k-images-idx3-ubyte.gz"
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    dst.write_bytes(dst.read_bytes()[:50_000])
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte\.gz"):
        read_idx(dst)


def test_fit_accepts_a_list_of_rows():
    # fit(list_of_rows, labels) used to fail with "too many values to unpack"
    model = compiled()
    rows = X.tolist()
    hist = model.fit(rows, Y.tolist(), epochs=2, batch_size=8, verbose=0)
    assert len(hist.history["loss"]) == 2
    assert model.predict(rows[:3]).shape == (3, 3)
    assert np.isfinite(model.evaluate(rows, list(Y), verbose=0))


# ---- images (issue 18): one pixel limit from the header, for every reader, before decoding
def _png_header_only(width, height):
    import struct
    import zlib

    from gradkit.utils import png

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + \
            struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return png.SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


@pytest.mark.parametrize("use_matplotlib", [False, True, None])
@pytest.mark.parametrize("size", [(8192, 8192), (20000, 1000)])
def test_huge_png_is_refused_from_its_header_by_every_reader(tmp_path, size, use_matplotlib):
    from gradkit.utils import image, png

    path = tmp_path / "huge.png"
    path.write_bytes(_png_header_only(*size))  # ~100 bytes claiming millions of pixels
    with pytest.raises(png.PNGError, match=rf"{size[0]}x{size[1]} pixels is too large"):
        image.read_gray(path, use_matplotlib=use_matplotlib)
    with pytest.raises(png.PNGError, match="too large"):
        png.read_png(path)
    assert image.MAX_IMAGE_PIXELS == png.MAX_PIXELS <= 1 << 22
