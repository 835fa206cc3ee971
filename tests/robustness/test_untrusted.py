"""Untrusted files: model/weights files from strangers are refused before anything runs."""

import json
import os
import pickle
import re
import struct
import zipfile

import numpy as np
import pytest

import gradkit as gk
from gradkit.models import ModelFileError, load_model

pytestmark = pytest.mark.untrusted


class Boom:
    """Unpickling this would run code; a refused file never gets that far."""

    def __reduce__(self):
        return (exec, ("raise SystemExit('pickle executed')",))


@pytest.fixture
def good(tmp_path):
    model = gk.Sequential([gk.layers.Dense(4, activation="relu", input_shape=(3,)),
                           gk.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    path = tmp_path / "good.gradkit"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    return path, members


def write_zip(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_pickle_file_is_refused(tmp_path):
    p = tmp_path / "model.gradkit"
    p.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(ModelFileError, match="pickle"):
        load_model(p)
    with pytest.raises(ModelFileError, match="pickle"):
        gk.Sequential([gk.layers.Dense(2, input_shape=(3,))]).load_weights(p)


def test_pytorch_style_archive_with_pickle_is_refused(tmp_path):
    p = write_zip(tmp_path / "ckpt.pt", {"archive/data.pkl": pickle.dumps(Boom())})
    with pytest.raises(ModelFileError, match="pickle"):
        load_model(p)


def test_unexpected_entry_is_refused(tmp_path, good):
    _, members = good
    p = write_zip(tmp_path / "extra.gradkit", {**members, "payload.py": b"import os"})
    with pytest.raises(ModelFileError, match="unexpected entry 'payload.py'"):
        load_model(p)


def test_path_traversal_entry_is_refused(tmp_path, good):
    _, members = good
    p = write_zip(tmp_path / "trav.gradkit", {**members, "../../evil.txt": b"x"})
    with pytest.raises(ModelFileError, match=r"unexpected entry '\.\./\.\./evil\.txt'"):
        load_model(p)
    assert not (tmp_path.parent.parent / "evil.txt").exists()


def test_shapes_that_do_not_match_the_config_are_refused(tmp_path, good):
    _, members = good
    cfg = json.loads(members["config.json"])
    cfg["model"]["config"]["layers"][0]["config"]["units"] = 5  # file weights stay 3x4
    p = write_zip(tmp_path / "shape.gradkit", {**members, "config.json": json.dumps(cfg)})
    with pytest.raises(ModelFileError, match=r"layer 'dense\w*'.*\(3, 5\).*\(3, 4\)"):
        load_model(p)


def test_unknown_layer_class_is_never_imported(tmp_path, good):
    _, members = good
    cfg = json.loads(members["config.json"])
    cfg["model"]["config"]["layers"][0] = {"class_name": "os.system", "config": {"command": "x"}}
    p = write_zip(tmp_path / "cls.gradkit", {**members, "config.json": json.dumps(cfg)})
    with pytest.raises(ValueError, match="unknown layer class 'os.system'"):
        load_model(p)


def test_safetensors_header_claiming_terabytes_is_refused(tmp_path, good):
    _, members = good
    huge = struct.pack("<Q", 2 ** 42) + b"{}"
    p = write_zip(tmp_path / "huge.gradkit", {**members, "model.safetensors": huge})
    with pytest.raises(ModelFileError, match="header claims"):
        load_model(p)


def test_tensor_claiming_terabytes_is_refused(tmp_path, good):
    _, members = good
    header = json.dumps({"w": {"dtype": "F32", "shape": [2 ** 20, 2 ** 20],
                               "data_offsets": [0, 2 ** 42]}}).encode()
    blob = struct.pack("<Q", len(header)) + header + b"\0" * 16
    p = write_zip(tmp_path / "big.gradkit", {**members, "model.safetensors": blob})
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        load_model(p)


def test_zip_entry_claiming_terabytes_is_refused(tmp_path, good):
    path, members = good
    raw = bytearray(path.read_bytes())
    # Patch the central directory's uncompressed size of model.safetensors to ~4 GB.
    name = b"model.safetensors"
    cd = raw.rfind(b"PK\x01\x02", 0, raw.rfind(name))
    raw[cd + 24:cd + 28] = struct.pack("<I", 0xFFFFFFF0)
    p = tmp_path / "bomb.gradkit"
    p.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="decompression bomb|claims"):
        load_model(p)


def test_truncated_and_corrupt_files_are_refused(tmp_path, good):
    path, _ = good
    data = path.read_bytes()
    (tmp_path / "cut.gradkit").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "cut.gradkit")
    (tmp_path / "noise.gradkit").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelFileError, match="not a gradkit model"):
        load_model(tmp_path / "noise.gradkit")


def test_npz_with_object_arrays_is_not_unpickled(tmp_path):
    p = tmp_path / "w.npz"
    np.savez(p, w=np.array([Boom()], dtype=object))
    model = gk.Sequential([gk.layers.Dense(2, input_shape=(3,))])
    with pytest.raises(ModelFileError):
        model.load_weights(p)


def test_dataset_cache_never_unpickles(tmp_path, monkeypatch):
    """A pickle planted where an IDX file should be is rejected as corrupt data."""
    from gradkit.datasets import DatasetError, mnist

    d = tmp_path / "mnist"
    d.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (d / name).write_bytes(pickle.dumps(Boom()))
    with pytest.raises(DatasetError):
        mnist.load_data(path=d, download=False)


def test_a_good_file_still_loads(good):
    path, _ = good
    model = load_model(path)
    assert model.predict(np.ones((2, 3), "float32")).shape == (2, 2)


# ---------------------------------------------------------------- metrics.json beside a model
@pytest.fixture(scope="module")
def moons_run(tmp_path_factory):
    from gradkit.cli import main

    out = tmp_path_factory.mktemp("run") / "moons"
    assert main(["train", "--dataset", "moons", "--samples", "60", "--epochs", "1", "--out",
                 str(out)]) == 0
    return out


@pytest.mark.parametrize("text,message", [
    ('{"dataset": "moons", "seed": 1e400}', r"seed = inf, expected an integer"),
    ('{"dataset": "moons", "seed": "3"}', r"seed = '3', expected an integer"),
    ('{"dataset": "moons", "toy_samples": 1000000000000}', r"toy_samples = 1000000000000"),
    ('{"dataset": "moons", "toy_noise": -1}', r"toy_noise = -1, expected a number"),
    ('{"dataset": ["moons"]}', r"dataset = \['moons'\], expected one of"),
    ("[" * 100000 + "]" * 100000, r"not valid JSON"),
    ("[1, 2]", r"holds list, expected a JSON object"),
])
def test_gradkit_evaluate_validates_metrics_json(moons_run, text, message, capsys,
                                                 tmp_path):
    import shutil

    from gradkit.cli import EXIT_RUNTIME, main

    run = tmp_path / "run"
    shutil.copytree(moons_run, run)
    (run / "metrics.json").write_text(text)
    assert main(["evaluate", str(run)]) == EXIT_RUNTIME
    err = capsys.readouterr().err
    assert "metrics.json' beside the model" in err and "fix or delete it" in err
    assert re.search(message, err), err


def test_gradkit_evaluate_refuses_a_fifo_as_metrics_json(moons_run, capsys, tmp_path):
    import shutil

    from gradkit.cli import EXIT_RUNTIME, main

    run = tmp_path / "run"
    shutil.copytree(moons_run, run)
    (run / "metrics.json").unlink()
    os.mkfifo(run / "metrics.json")
    assert main(["evaluate", str(run)]) == EXIT_RUNTIME
    assert "is not a regular file" in capsys.readouterr().err


# ---------------------------------------------------------------- issue 18: model files
@pytest.fixture
def trained(tmp_path):
    model = gk.Sequential([gk.layers.Dense(4, activation="relu", input_shape=(3,)),
                           gk.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((8, 3), "float32"), np.ones((8, 2), "float32"), verbose=0)
    path = tmp_path / "trained.gradkit"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def with_rng_state(members, state):
    meta = json.loads(members["metadata.json"])
    meta["rng_state"] = state
    return {**members, "metadata.json": json.dumps(meta)}


@pytest.mark.parametrize("change", ["even-inc", "huge", "string", "missing-key"])
def test_crafted_rng_state_is_refused(tmp_path, trained, change):
    state = json.loads(trained["metadata.json"])["rng_state"]
    if change == "even-inc":  # state 0, inc 0: every later draw would be 0
        state["state"] = {"state": 0, "inc": 0}
    elif change == "huge":    # escaped as OverflowError
        state["state"]["state"] = 2 ** 200
    elif change == "string":
        state["uinteger"] = "7"
    else:
        del state["has_uint32"]
    p = write_zip(tmp_path / "rng.gradkit", with_rng_state(trained, state))
    before = gk.random.get_state()
    with pytest.raises(ModelFileError, match=r"rng\.gradkit.*rng_state is not a valid"):
        load_model(p)
    assert gk.random.get_state() == before


def test_only_resuming_training_restores_the_saved_generator(tmp_path, trained):
    p = write_zip(tmp_path / "m.gradkit", trained)
    saved = json.loads(trained["metadata.json"])["rng_state"]
    gk.random.seed(123)
    load_model(p, compile=False)
    assert gk.random.get_state() != saved
    load_model(p)  # compile=True with optimizer state: resuming
    assert gk.random.get_state() == saved


def test_config_with_huge_units_is_refused_before_allocating(tmp_path, good):
    import tracemalloc

    _, members = good
    cfg = json.loads(members["config.json"])
    cfg["model"]["config"]["layers"][0]["config"]["units"] = 10 ** 8
    p = write_zip(tmp_path / "big.gradkit", {**members, "config.json": json.dumps(cfg)})
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=r"shape \(3, 100000000\).*does not hold.*"
                                                 r"Nothing was allocated"):
            load_model(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2 ** 20


def with_optimizer_meta(members, **changes):
    from gradkit.models import safetensors as st

    arrays, meta = st.loads(members["optimizer.safetensors"])
    extra = json.loads(meta["meta"])
    extra.update(changes)
    meta["meta"] = json.dumps(extra)
    return {**members, "optimizer.safetensors": st.dumps(arrays, meta)}


@pytest.mark.parametrize("iterations", [-1, 10 ** 400, "3", 2.5, True])
def test_bad_optimizer_step_count_is_refused_on_load(tmp_path, trained, iterations):
    p = write_zip(tmp_path / "opt.gradkit", with_optimizer_meta(trained, iterations=iterations))
    with pytest.raises(ModelFileError, match=r"opt\.gradkit.*step count must be an integer"):
        load_model(p)


def test_optimizer_state_for_a_missing_parameter_is_refused(tmp_path, trained):
    from gradkit.models import safetensors as st

    arrays, meta = st.loads(trained["optimizer.safetensors"])
    index = json.loads(meta["index"])
    key = next(iter(index))
    index[key] = [99, index[key][1]]
    meta["index"] = json.dumps(index)
    p = write_zip(tmp_path / "opt.gradkit",
                  {**trained, "optimizer.safetensors": st.dumps(arrays, meta)})
    with pytest.raises(ModelFileError, match=r"parameter 99; the model has 4"):
        load_model(p)


@pytest.mark.parametrize("damage", ["deep-json", "bad-deflate", "version-type", "meta-list",
                                    "layer-config-type"])
def test_every_damage_is_a_model_file_error_naming_the_file(tmp_path, good, damage):
    path, members = good
    p = tmp_path / "damaged.gradkit"
    if damage == "deep-json":
        write_zip(p, {**members, "config.json": "[" * 100000 + "]" * 100000})
    elif damage == "bad-deflate":
        with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in members.items():
                z.writestr(name, data)
        raw = bytearray(p.read_bytes())
        at = raw.find(b"PK\x03\x04", raw.find(b"config.json") - 40)
        start = at + 30 + len("metadata.json")  # inside the first entry's deflate stream
        raw[start:start + 40] = bytes(40)
        p.write_bytes(bytes(raw))
    elif damage == "version-type":
        meta = json.loads(members["metadata.json"])
        meta["format_version"] = "1"
        write_zip(p, {**members, "metadata.json": json.dumps(meta)})
    elif damage == "meta-list":
        write_zip(p, {**members, "metadata.json": "[]"})
    else:
        cfg = json.loads(members["config.json"])
        cfg["model"]["config"]["layers"][0]["config"]["units"] = "four"
        write_zip(p, {**members, "config.json": json.dumps(cfg)})
    with pytest.raises(ModelFileError, match=r"damaged\.gradkit"):
        load_model(p)


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "fifo", "directory"])
def test_non_regular_files_are_refused(tmp_path, special):
    if special == "fifo":
        special = tmp_path / "pipe.gradkit"
        os.mkfifo(special)  # opening it would block forever
    elif special == "directory":
        special = tmp_path
    elif not os.path.exists(special):
        pytest.skip(f"{special} is absent")
    with pytest.raises(ModelFileError, match="must be a regular file"):
        load_model(special)
    with pytest.raises(ModelFileError, match="must be a regular file"):
        gk.Sequential([gk.layers.Dense(2, input_shape=(3,))]).load_weights(special)


# ---------------------------------------------------------------- .npy given to gradkit predict
def _npy(header: dict, payload=b"", pad_to=None):
    text = repr(header).encode()
    total = pad_to or (10 + len(text) + 1 + 63) // 64 * 64
    text += b" " * (total - 10 - len(text) - 1) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + payload


@pytest.mark.parametrize("blob,message", [
    (_npy({"descr": "<f4", "fortran_order": False, "shape": (10 ** 12, 784)}, b"\0" * 64),
     r"header says float32 of shape \(1000000000000, 784\).*truncated or corrupt"),
    (_npy({"descr": "<f4", "fortran_order": False, "shape": (2,)}, b"\0" * 8,
          pad_to=65000), r"header larger than 10,000 bytes"),
    (_npy({"descr": "|O", "fortran_order": False, "shape": (1,)}, b"\0" * 8),
     r"pickled Python objects"),
])
def test_gradkit_predict_checks_npy_headers(tmp_path, blob, message, capsys):
    from gradkit.cli import EXIT_RUNTIME, main

    model = gk.Sequential([gk.layers.Dense(10, activation="softmax", input_shape=(784,))])
    model.save(tmp_path / "m.gradkit")
    (tmp_path / "x.npy").write_bytes(blob)
    assert main(["predict", str(tmp_path / "m.gradkit"), str(tmp_path / "x.npy")]) == \
        EXIT_RUNTIME
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert "MemoryError" not in err and "report" not in err
