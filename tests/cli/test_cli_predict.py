"""gradkit/cli/predict.py: ``gradkit predict`` on IDX, .npy and PNG files, and bad input files."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
from cli_helpers import assert_one_error_line, needs_fashion, run_main

import gradkit as gk
from gradkit import cli
from gradkit.datasets import write_idx
from gradkit.utils import png


def test_predict_points_from_npy(moons_run, tmp_path):
    out, _ = moons_run
    points = np.array([[-1.0, 0.2], [2.0, -0.3], [0.0, 1.0]], dtype=np.float32)
    np.save(tmp_path / "points.npy", points)
    code, text, stderr = run_main(["predict", out / "model.gradkit", tmp_path / "points.npy"])
    assert code == 0, stderr
    lines = text.strip().splitlines()
    assert lines[0] == "index\tclass\tprobability"
    rows = [line.split("\t") for line in lines[1:]]
    assert [r[0] for r in rows] == ["0", "1", "2"]
    p1 = gk.load_model(out / "model.gradkit").predict(points)[:, 0]
    assert [int(r[1]) for r in rows] == [int(p >= 0.5) for p in p1]
    for r, p in zip(rows, p1):
        assert float(r[2]) == pytest.approx(max(p, 1 - p), abs=1e-4)


@needs_fashion
def test_predict_idx_npy_and_png_agree(fashion_run, tmp_path):
    out, _ = fashion_run
    model_path = out / "model.gradkit"
    x, y = gk.datasets.fashion_mnist.load_test_data()
    images = x[:6]
    write_idx(tmp_path / "six.idx.gz", images)
    write_idx(tmp_path / "six.idx", images, gzip=False)
    np.save(tmp_path / "six.npy", images)
    np.save(tmp_path / "one.npy", images[2].astype(np.float32) / 255)

    results = {}
    for name in ("six.idx.gz", "six.idx", "six.npy"):
        code, text, stderr = run_main(["predict", model_path, tmp_path / name])
        assert code == 0, stderr
        lines = text.strip().splitlines()
        assert lines[0] == "index\tclass\tname\tprobability"
        assert len(lines) == 7
        results[name] = [line.split("\t") for line in lines[1:]]
    assert results["six.idx.gz"] == results["six.idx"] == results["six.npy"]
    names = gk.datasets.fashion_mnist.CLASS_NAMES
    model = gk.load_model(model_path)
    probs = model.predict(images.reshape(6, 784).astype(np.float32) / 255)
    for i, (index, cls, name, p) in enumerate(results["six.npy"]):
        assert int(index) == i and int(cls) == probs[i].argmax()
        assert name == names[int(cls)]
        assert float(p) == pytest.approx(probs[i].max(), abs=1e-4)

    np.save(tmp_path / "six255.npy", images.astype(np.float32))  # floats, but 0-255
    code, text, stderr = run_main(["predict", model_path, tmp_path / "six255.npy"])
    assert code == 0 and "taken as 0-255 pixels" in stderr
    assert [line.split("\t") for line in text.strip().splitlines()[1:]] == results["six.npy"]

    code, text, _ = run_main(["predict", model_path, tmp_path / "one.npy"])
    assert code == 0 and text.strip().splitlines()[1].split("\t")[1:] == results["six.npy"][2][1:]

    # a PNG of the same image, black on white and three times larger: inverted and resized back
    big = np.kron(255 - images[2], np.ones((3, 3), np.uint8))
    png.write_png(tmp_path / "item.png", big)
    code, text, stderr = run_main(["predict", model_path, tmp_path / "item.png"])
    assert code == 0, stderr
    assert "inverted" in stderr and "resized 84x84 -> 28x28" in stderr
    row = text.strip().splitlines()[1].split("\t")
    assert row[:3] == ["0", *results["six.npy"][2][1:3]]
    assert float(row[3]) == pytest.approx(float(results["six.npy"][2][3]), abs=2e-3)

    code, text, _ = run_main(["predict", model_path, tmp_path / "six.npy", "--class-names",
                              "none", "--limit", "2"])
    assert code == 0 and text.strip().splitlines()[0] == "index\tclass\tprobability"
    assert len(text.strip().splitlines()) == 3


def test_png_options_invert_and_batch_size(tiny_model, tmp_path):
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255  # white on black, as MNIST
    png.write_png(tmp_path / "digit.png", digit)
    model = gk.load_model(tiny_model)
    outputs = {}
    for invert in ("auto", "no", "yes"):
        code, text, stderr = run_main(["predict", tiny_model, tmp_path / "digit.png",
                                       "--invert", invert, "--batch-size", "1"])
        assert code == 0, stderr
        outputs[invert] = text.strip().splitlines()[1].split("\t")
    assert outputs["auto"] == outputs["no"]  # a dark background is left alone
    flipped = model.predict((255 - digit).reshape(1, 784).astype(np.float32) / 255)[0]
    assert int(outputs["yes"][1]) == flipped.argmax()
    assert float(outputs["yes"][2]) == pytest.approx(flipped.max(), abs=1e-4)


@pytest.mark.bad_input
@pytest.mark.parametrize("model, sample, option, status, message", [
    ("tiny", (2, 784), ["--invert", "yes"], cli.EXIT_USAGE, "--invert applies to PNG images only"),
    ("moons", (1, 2), ["--class-names", "fashion-mnist"], cli.EXIT_RUNTIME,
     "needs a model with 10 outputs, this one has 1"),
])
def test_options_that_cannot_apply_are_refused(tiny_model, moons_run, tmp_path, model, sample,
                                               option, status, message):
    path = tiny_model if model == "tiny" else moons_run[0]
    np.save(tmp_path / "x.npy", np.zeros(sample, np.float32))
    code, stdout, stderr = run_main(["predict", path, tmp_path / "x.npy", *option])
    assert code == status and stdout == ""
    assert message in assert_one_error_line(stderr)


@pytest.mark.bad_input
def test_wrong_input_shapes(tiny_model, moons_run, tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros((3, 5), np.float32))
    code, _, stderr = run_main(["predict", tiny_model, tmp_path / "wrong.npy"])
    assert code == cli.EXIT_RUNTIME
    line = assert_one_error_line(stderr)
    assert "shape (3, 5)" in line and "(784,)" in line
    # a 28x28 picture for a model of 2-D points
    out, _ = moons_run
    png.write_png(tmp_path / "digit.png", np.zeros((28, 28), np.uint8))
    code, _, stderr = run_main(["predict", out / "model.gradkit", tmp_path / "digit.png"])
    assert code == cli.EXIT_RUNTIME
    assert "not grayscale images" in assert_one_error_line(stderr)


@pytest.mark.untrusted
def test_pickled_npy_is_refused(tiny_model, tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"evil": 1}, None], dtype=object), allow_pickle=True)
    code, stdout, stderr = run_main(["predict", tiny_model, path])
    assert code == cli.EXIT_RUNTIME
    assert "pickled" in assert_one_error_line(stderr)
    assert stdout == ""


@pytest.mark.untrusted
def test_bad_input_files(tiny_model, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    good = png.encode_png(np.zeros((28, 28), np.uint8))
    (tmp_path / "cut.png").write_bytes(good[:40])
    (tmp_path / "cut.idx").write_bytes(b"\x00\x00\x08\x03" + struct.pack(">III", 5, 28, 28))
    (tmp_path / "a-directory").mkdir()
    os.mkfifo(tmp_path / "a-fifo")  # opening it for reading must not wait for a writer
    huge = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    (tmp_path / "huge.png").write_bytes(good[:8] + good[8:16] + huge + struct.pack(
        ">I", zlib.crc32(b"IHDR" + huge)) + good[33:])
    cases = {"notes.txt": "not an IDX, .npy or PNG file", "cut.png": "cut.png",
             "cut.idx": "cut.idx", "missing.npy": "no input file",
             "a-directory": "is a directory, not an input file",
             "a-fifo": "is a FIFO, not an input file", "huge.png": "too large"}
    for name, pattern in cases.items():
        code, _, stderr = run_main(["predict", tiny_model, tmp_path / name])
        assert code == cli.EXIT_RUNTIME, name
        assert pattern in assert_one_error_line(stderr), name
