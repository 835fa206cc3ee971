"""Slow: a real TensorBoard server and the HTML report, each opened in headless Chromium."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from viz_helpers import chromium, needs_chromium, png_size, save_doc_picture

import gradkit
from gradkit import layers

pytestmark = [pytest.mark.slow, needs_chromium]
SERVER_START_LIMIT = 90  # seconds to wait for TensorBoard to answer (it answers in a few)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def train_with_tensorboard(log_dir, epochs=12):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype("float32")
    y = (x[:, 0] * x[:, 1] > 0).astype("int64")
    gradkit.random.seed(0)
    model = gradkit.Sequential([gradkit.Input(shape=(4,)),
                                layers.Dense(16, activation="tanh", name="hidden"),
                                layers.Dense(2, activation="softmax", name="out")])
    model.compile(optimizer=gradkit.optimizers.Adam(learning_rate=0.02),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    cb = gradkit.callbacks.TensorBoard(log_dir, histogram_freq=1)
    return model.fit(x, y, epochs=epochs, batch_size=32, validation_split=0.2, verbose=0,
                     callbacks=[cb])


@pytest.fixture
def tensorboard_server(tmp_path):
    pytest.importorskip("tensorboard", reason="gradkit[tensorboard] is not installed")
    runs = tmp_path / "runs"
    train_with_tensorboard(runs / "mlp")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(runs), "--host", "127.0.0.1",
         "--port", str(port), "--reload_interval", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_LIMIT
        tags = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                tags = get_json(f"{base}/data/plugin/scalars/tags")
                if tags.get("mlp/train"):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert server.poll() is None, server.stderr.read().decode()[-2000:]
        assert tags and tags.get("mlp/train"), f"TensorBoard did not serve the run: {tags}"
        yield base, tags
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_tensorboard_serves_the_run_and_chromium_shows_it(tensorboard_server, tmp_path):
    base, tags = tensorboard_server
    assert set(tags["mlp/train"]) == {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"}
    assert set(tags["mlp/validation"]) == {"epoch_loss", "epoch_accuracy"}
    points = get_json(f"{base}/data/plugin/scalars/scalars?run=mlp/train&tag=epoch_loss")
    assert [p[1] for p in points] == list(range(12))  # [wall_time, step, value] per epoch
    hist_tags = get_json(f"{base}/data/plugin/histograms/tags")["mlp/train"]
    assert {"hidden/kernel", "hidden/kernel/gradient", "out/bias/gradient"} <= set(hist_tags)

    # the Time Series page lists tags in its DOM (the older Scalars page hides them in shadow
    # DOM, but draws its charts as SVG, which headless Chromium renders reliably: the picture)
    url = f"{base}/?darkMode=false&tagFilter=epoch_#timeseries"
    dom = chromium(tmp_path, url, dump_dom=True, extra=["--virtual-time-budget=20000"])
    for tag in ("epoch_loss", "epoch_accuracy", "epoch_learning_rate", "mlp/train",
                "mlp/validation"):
        assert tag in dom, f"{tag} not on TensorBoard's page"
    shot = tmp_path / "tensorboard.png"
    chromium(tmp_path, f"{base}/?darkMode=false#scalars&tagFilter=epoch_", screenshot=shot,
             size=(1400, 1000),
             extra=["--virtual-time-budget=30000"])
    assert png_size(shot) == (1400, 1000) and shot.stat().st_size > 20_000  # not blank
    save_doc_picture(shot, "tensorboard.png")


def test_report_opens_offline_in_chromium(tmp_path):
    pytest.importorskip("matplotlib", reason="the curves are drawn by matplotlib (gradkit[plot])")
    from test_viz_dashboard import trained_classifier

    from gradkit.plot import training_dashboard

    model, history, x, y = trained_classifier()
    page = training_dashboard(history, tmp_path / "report.html", model, x, y,
                              class_names=["left", "middle", "right"], num_samples=12)
    # no network at all: a proxy that does not exist makes any fetch fail
    offline = ["--proxy-server=127.0.0.1:9", "--virtual-time-budget=5000"]
    dom = chromium(tmp_path, f"file://{page}", dump_dom=True, extra=offline)
    for heading in ("Training curves", "Confusion matrix", "Sample predictions", "Model graph"):
        assert f"<h2>{heading}</h2>" in dom
    assert "db_out (Dense)" in dom and "predicted" in dom
    shot = tmp_path / "report.png"
    chromium(tmp_path, f"file://{page}", screenshot=shot, size=(1200, 1500), extra=offline)
    assert png_size(shot) == (1200, 1500) and shot.stat().st_size > 20_000
    save_doc_picture(shot, "report.png")
