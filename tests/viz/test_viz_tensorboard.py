"""SummaryWriter and the TensorBoard callback, read back with TensorBoard's own EventAccumulator."""

import os
import sys

import numpy as np
import pytest

import gradkit
from gradkit import layers
from gradkit.utils.png import decode_png
from gradkit.utils.tensorboard import SummaryWriter

ea_mod = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="the tensorboard package (gradkit[tensorboard]) is not installed")
ALL = {"scalars": 0, "histograms": 0, "images": 0, "tensors": 0}


def read(run_dir):
    return ea_mod.EventAccumulator(str(run_dir), size_guidance=ALL).Reload()


def test_scalars_come_back_with_their_steps_and_values(tmp_path):
    values = {0: 1.5, 1: 0.25, 7: -3.0, 10: 1e-3}
    with SummaryWriter(tmp_path) as w:
        for step, v in values.items():
            w.add_scalar("loss/train", v, step)
        w.add_scalar("tensor_value", gradkit.Tensor(np.array([2.5])), 3)
    ea = read(tmp_path)
    assert [(e.step, e.value) for e in ea.Scalars("loss/train")] == \
        [(s, pytest.approx(v, rel=1e-7)) for s, v in values.items()]
    assert [(e.step, e.value) for e in ea.Scalars("tensor_value")] == [(3, 2.5)]


def test_histogram_matches_numpy(tmp_path):
    data = np.random.default_rng(1).normal(size=(40, 25))
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("weights", data, 4, bins=12)
        w.add_histogram("weights", gradkit.Tensor(data * 2), 5, bins=12)
    (h4, h5) = read(tmp_path).Histograms("weights")
    assert (h4.step, h5.step) == (4, 5)
    counts, edges = np.histogram(data, bins=12)
    v = h4.histogram_value
    assert v.num == data.size and v.min == data.min() and v.max == data.max()
    assert v.sum == pytest.approx(data.sum()) and v.sum_squares == pytest.approx((data**2).sum())
    assert list(v.bucket) == counts.tolist() and list(v.bucket_limit) == pytest.approx(edges[1:])
    assert h5.histogram_value.max == pytest.approx(2 * data.max())


def test_images_come_back_pixel_for_pixel(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 256, size=(3, 6, 5)).astype(np.uint8)  # CHW
    gray = np.linspace(0, 1, 12).reshape(3, 4)
    with SummaryWriter(tmp_path) as w:
        w.add_image("rgb", rgb, 2)
        w.add_image("gray", gray, 9, dataformats="HW")
    ea = read(tmp_path)
    (im,) = ea.Images("rgb")
    assert (im.step, im.width, im.height) == (2, 5, 6)
    np.testing.assert_array_equal(decode_png(im.encoded_image_string), rgb.transpose(1, 2, 0))
    (g,) = ea.Images("gray")
    got = decode_png(g.encoded_image_string).reshape(3, 4)
    np.testing.assert_array_equal(got, (gray * 255 + 0.5).astype(np.uint8))


def test_text_scalars_group_and_graph(tmp_path):
    model = gradkit.Sequential([gradkit.Input(shape=(4,)), layers.Dense(3, name="tb_hidden"),
                                layers.Dense(1, name="tb_out")], name="tb_seq")
    with SummaryWriter(tmp_path) as w:
        w.add_text("notes", "lr **0.1**", 6)
        w.add_scalars("acc", {"train": 0.8, "val": 0.7}, 2)
        w.add_graph(model)
    ea = read(tmp_path)
    (t,) = ea.Tensors("notes")
    assert t.step == 6 and t.tensor_proto.string_val == [b"lr **0.1**"]
    for run, value in (("acc_train", 0.8), ("acc_val", 0.7)):
        (e,) = read(tmp_path / run).Scalars("acc")
        assert (e.step, e.value) == (2, pytest.approx(value))
    nodes = {n.name: (n.op, list(n.input)) for n in ea.Graph().node}
    assert nodes == {"input": ("InputLayer", []), "tb_hidden": ("Dense", ["input"]),
                     "tb_out": ("Dense", ["tb_hidden"])}


def test_writer_errors(tmp_path):
    w = SummaryWriter(tmp_path)
    with pytest.raises(ValueError, match="single number"):
        w.add_scalar("x", [1.0, 2.0])
    with pytest.raises(ValueError, match="global_step must be an integer >= 0"):
        w.add_scalar("x", 1.0, -1)
    with pytest.raises(ValueError, match="dataformats='CHW' needs a 3-D image"):
        w.add_image("im", np.zeros((4, 4)))
    with pytest.raises(ValueError, match="no finite number"):
        w.add_histogram("h", [np.nan])
    w.close()
    with pytest.raises(RuntimeError, match="is closed"):
        w.add_scalar("x", 1.0)
    with pytest.raises(ValueError, match="comment only names the default log_dir"):
        SummaryWriter(tmp_path, comment="_x")


def test_default_log_dir_is_under_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with SummaryWriter(comment="_demo") as w:
        w.add_scalar("a", 1.0)
    assert w.log_dir.startswith("runs" + os.sep) and w.log_dir.endswith("_demo")
    assert os.listdir(w.log_dir)[0].startswith("events.out.tfevents.")


def test_without_tensorboard_a_one_line_install_hint(monkeypatch, tmp_path):
    from gradkit.utils.tensorboard import available

    assert available()
    monkeypatch.setitem(sys.modules, "tensorboard.compat.proto", None)
    assert not available()
    with pytest.raises(ImportError, match=r"install gradkit\[tensorboard\]"):
        SummaryWriter(tmp_path)
    with pytest.raises(ImportError, match=r"install gradkit\[tensorboard\]"):
        gradkit.callbacks.TensorBoard(tmp_path).on_train_begin()


def _trained(tmp_path, **kwargs):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 4)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    gradkit.random.seed(0)
    model = gradkit.Sequential([gradkit.Input(shape=(4,)), layers.Dense(3, activation="tanh"),
                                layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=gradkit.optimizers.SGD(learning_rate=0.5), loss="binary_crossentropy",
                  metrics=["accuracy"])
    cb = gradkit.callbacks.TensorBoard(tmp_path, **kwargs)
    history = model.fit(x[:36], y[:36], epochs=3, batch_size=36, shuffle=False, verbose=0,
                        validation_data=(x[36:], y[36:]), callbacks=[cb])
    return model, history, cb


def test_callback_writes_keras_layout_with_the_history_values(tmp_path):
    model, history, cb = _trained(tmp_path, histogram_freq=1)
    train, val = read(tmp_path / "train"), read(tmp_path / "validation")
    for key in ("loss", "accuracy"):
        got = [(e.step, e.value) for e in train.Scalars(f"epoch_{key}")]
        assert got == [(i, pytest.approx(v, rel=1e-6)) for i, v in
                       enumerate(history.history[key])]
        got = [(e.step, e.value) for e in val.Scalars(f"epoch_{key}")]
        assert got == [(i, pytest.approx(v, rel=1e-6)) for i, v in
                       enumerate(history.history[f"val_{key}"])]
    assert [e.value for e in train.Scalars("epoch_learning_rate")] == [0.5] * 3
    assert train.Graph() is not None
    # weights after the last epoch are the model's; one batch an epoch with SGD means the
    # last epoch's gradient is (weights before - weights after) / learning rate
    for w in model.weights:
        hist = train.Histograms(w.name)
        assert [h.step for h in hist] == [0, 1, 2]
        assert hist[2].histogram_value.sum == pytest.approx(w.numpy().sum(), rel=1e-6)
        (g2,) = [h for h in train.Histograms(f"{w.name}/gradient") if h.step == 2]
        step = (hist[1].histogram_value.sum - hist[2].histogram_value.sum) / 0.5
        assert g2.histogram_value.sum == pytest.approx(step, rel=1e-4, abs=1e-6)
        assert g2.histogram_value.num == w.numpy().size
    assert "apply_gradients" not in vars(model.optimizer)  # the watch is removed


def test_callback_batch_updates_and_images(tmp_path):
    _trained(tmp_path, histogram_freq=2, write_images=True, update_freq="batch",
                             write_graph=False)
    train = read(tmp_path / "train")
    assert [e.step for e in train.Scalars("batch_loss")] == [1, 2, 3]
    tags = train.Tags()["histograms"]
    assert len(tags) == 8 and all([h.step for h in train.Histograms(t)] == [0, 2] for t in tags)
    kernels = train.Tags()["images"]
    assert len(kernels) == 2 and all(t.endswith("kernel/image") for t in kernels)
    assert train.Tags()["graph"] is False


def test_callback_arguments():
    with pytest.raises(ValueError, match="update_freq must be"):
        gradkit.callbacks.TensorBoard("logs", update_freq="sometimes")
    with pytest.raises(ValueError, match="set histogram_freq >= 1"):
        gradkit.callbacks.TensorBoard("logs", write_images=True)
    with pytest.raises(ValueError, match="histogram_freq must be an integer >= 0"):
        gradkit.callbacks.TensorBoard("logs", histogram_freq=-1)
    with pytest.raises(NotImplementedError, match="profile_batch=5 is not supported"):
        gradkit.callbacks.TensorBoard("logs", profile_batch=5)
    gradkit.callbacks.TensorBoard("logs", profile_batch=0, embeddings_freq=0)  # Keras defaults
    assert gradkit.keras.callbacks.TensorBoard is gradkit.callbacks.TensorBoard
