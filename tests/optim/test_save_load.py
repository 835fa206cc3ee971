"""gradkit.save / gradkit.load: round trips, interop with the safetensors package, refusals.

Files are safetensors with a JSON structure; crafted files must be refused with a
SafetensorsError (a ValueError) that says what is wrong, before a large allocation.
"""

import json
import os
import pickle
import struct
import tracemalloc

import numpy as np
import pytest

import gradkit as gk
from gradkit.devices import DeviceError
from gradkit.models.safetensors import SafetensorsError

DTYPES = [np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.float16, np.uint32, np.int32,
          np.float32, np.uint64, np.int64, np.float64]


def sample(dtype, shape=(2, 3)):
    a = np.arange(int(np.prod(shape))).reshape(shape) - 2
    return (a % 2 == 0) if dtype is np.bool_ else a.astype(dtype)


def round_trip(obj, tmp_path, name="obj.gk"):
    path = tmp_path / name
    gk.save(obj, path)
    return gk.load(path)


def assert_same_tree(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same_tree(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_tree(x, y)
    elif isinstance(a, gk.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_tensors_and_arrays_of_every_dtype(dtype, tmp_path):
    obj = {"tensor": gk.Tensor(sample(dtype)), "array": sample(dtype, (4,)),
           "scalar": sample(dtype, (1,))[0], "empty": sample(dtype, (0, 3)),
           "0-d": gk.Tensor(sample(dtype, (1,)).reshape(()))}
    assert_same_tree(round_trip(obj, tmp_path), obj)


def test_nested_state_dicts_keep_their_types(tmp_path):
    w = gk.Variable(np.linspace(0, 1, 6).reshape(2, 3), name="dense/kernel")
    frozen = gk.Variable(np.ones(2, np.float32), trainable=False, name=None)
    obj = {
        "epoch": 7, "loss": 0.125, "name": "run-é", "done": False, "none": None,
        "inf": float("inf"), "nan": float("nan"), "big": 2 ** 70, "neg": -3,
        "betas": (0.9, 0.999), "milestones": [3, [4, 5], (6,)],
        "state": {0: {"step": 3.0, "exp_avg": np.ones(3)}, 1: {}},
        "mixed keys": {1: "one", "1": "string one", 2.5: "float", False: "bool", None: "none"},
        "grad": gk.Tensor(np.ones(3), requires_grad=True),
        "variables": [w, frozen], "deep": [[[[{"x": [np.float64(1.5)]}]]]],
    }
    back = round_trip(obj, tmp_path)
    assert_same_tree(back, obj)
    v = back["variables"][0]
    assert isinstance(v, gk.Variable) and v.name == "dense/kernel" and v.trainable
    assert back["variables"][1].trainable is False and back["variables"][1].name is None


def test_an_object_saved_twice_loads_as_one(tmp_path):
    w = gk.Variable(np.ones(3))
    a = np.zeros(2)
    back = round_trip({"model": {"w": w}, "tied": w, "arrays": [a, a]}, tmp_path)
    assert back["model"]["w"] is back["tied"]
    assert back["arrays"][0] is back["arrays"][1]


def test_a_bare_tensor_list_or_number(tmp_path):
    t = gk.Tensor(np.arange(5.0))
    assert_same_tree(round_trip(t, tmp_path, "t"), t)
    assert_same_tree(round_trip([t, 3], tmp_path, "l"), [t, 3])
    assert round_trip(42, tmp_path, "n") == 42


def test_file_objects(tmp_path):
    import io

    buf = io.BytesIO()
    gk.save({"a": np.arange(3)}, buf)
    buf.seek(0)
    np.testing.assert_array_equal(gk.load(buf)["a"], np.arange(3))


def test_optimizer_state_dict_round_trip(tmp_path):
    params = [gk.Variable(np.ones((2, 2))), gk.Variable(np.zeros(3))]
    opt = gk.optim.Adam([{"params": params[:1]}, {"params": params[1:], "lr": 0.5}],
                        amsgrad=True)
    for p in params:
        p.grad = gk.Tensor(np.full(p.shape, 0.3))
    opt.step()
    sd = opt.state_dict()
    back = round_trip(sd, tmp_path)
    assert_same_tree(back, sd)
    assert isinstance(back["param_groups"][0]["betas"], tuple)


def test_flat_state_dict_is_readable_by_safetensors(tmp_path):
    from safetensors.numpy import load_file

    sd = {"fc.weight": gk.Tensor(np.eye(3, dtype=np.float32)), "fc.bias": np.arange(3.0)}
    gk.save(sd, tmp_path / "m.safetensors")
    raw = load_file(str(tmp_path / "m.safetensors"))
    assert sorted(raw) == ["fc.bias", "fc.weight"]
    np.testing.assert_array_equal(raw["fc.weight"], np.eye(3, dtype=np.float32))
    assert_same_tree(gk.load(tmp_path / "m.safetensors"), sd)


def test_a_file_from_safetensors_torch_loads_into_the_same_arrays(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(0)
    sd = {"0.weight": torch.randn(4, 3, generator=g), "0.bias": torch.randn(4, generator=g),
          "2.weight": torch.randn(2, 4, dtype=torch.float64, generator=g),
          "steps": torch.arange(5), "mask": torch.tensor([True, False]),
          "half": torch.randn(3, generator=g).half()}
    save_file(sd, str(tmp_path / "torch.safetensors"))
    back = gk.load(tmp_path / "torch.safetensors")
    assert sorted(back) == sorted(sd)
    for name, t in sd.items():
        assert isinstance(back[name], gk.Tensor)
        assert back[name].dtype == t.numpy().dtype
        np.testing.assert_array_equal(back[name].numpy(), t.numpy())


def test_map_location(tmp_path):
    gk.save({"a": gk.Tensor(np.ones(2))}, tmp_path / "f")
    assert gk.load(tmp_path / "f", map_location="cpu")["a"].numpy().sum() == 2
    assert gk.load(tmp_path / "f", weights_only=False)["a"].numpy().sum() == 2
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(DeviceError, match="gradkit\\[gpu\\]"):
            gk.load(tmp_path / "f", map_location="cuda")


# ---------------------------------------------------------------- what save refuses
class Thing:
    pass


@pytest.mark.parametrize("obj, words", [
    ({"model": Thing()}, r"obj\['model'\], a Thing"),
    ([1, {2}], r"obj\[1\], a set"),
    ({"f": lambda: 0}, "function"),
    ({("a", 1): 2}, "key of type tuple"),
    ({"c": np.ones(2, np.complex128)}, "complex128"),
    ({"o": np.array([None, 1], dtype=object)}, "object"),
])
def test_save_refuses_what_it_cannot_write_without_touching_the_file(obj, words, tmp_path):
    path = tmp_path / "keep"
    gk.save({"old": 1}, path)
    with pytest.raises(TypeError, match=words):
        gk.save(obj, path)
    assert gk.load(path) == {"old": 1}
    assert os.listdir(tmp_path) == ["keep"]        # no temporary file left behind


def test_save_refuses_absurd_nesting():
    deep = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(ValueError, match="nested more than"):
        gk.save(deep, "/nonexistent/never-written")


# ---------------------------------------------------------------- crafted files
def craft(header, data=b""):
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def gk_header(structure, tensors=None, version="1"):
    header = dict(tensors or {})
    header["__metadata__"] = {"format": "gradkit.save", "version": version,
                              "gradkit.structure": structure if isinstance(structure, str)
                              else json.dumps(structure)}
    return header


F64 = {"x": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}}
CRAFTED = {
    "empty file": (b"", "too short"),
    "header beyond the file": (struct.pack("<Q", 10 ** 6) + b"{}", "header claims"),
    "header of absurd size": (struct.pack("<Q", 2 ** 63) + b"{}", "header claims"),
    "header not JSON": (struct.pack("<Q", 5) + b"{nope", "not valid JSON"),
    "header not an object": (craft([1, 2]), "JSON object"),
    "data beyond the file": (craft({"x": {"dtype": "F64", "shape": [4],
                                          "data_offsets": [0, 32]}}, b"\0" * 16),
                             "truncated or corrupt"),
    "absurd shape": (craft({"x": {"dtype": "F64", "shape": [2 ** 40, 2 ** 40],
                                  "data_offsets": [0, 16]}}, b"\0" * 16), "claims bytes"),
    "negative shape": (craft({"x": {"dtype": "F64", "shape": [-2],
                                    "data_offsets": [0, 16]}}, b"\0" * 16), "invalid shape"),
    "unknown dtype": (craft({"x": {"dtype": "C128", "shape": [1], "data_offsets": [0, 16]}},
                            b"\0" * 16), "unsupported dtype"),
    "overlapping tensors": (craft({"x": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]},
                                   "y": {"dtype": "F64", "shape": [2], "data_offsets": [8, 24]}},
                                  b"\0" * 24), "overlapping"),
    "structure not JSON": (craft(gk_header("{[", F64), b"\0" * 16), "structure is not valid"),
    "unknown node": (craft(gk_header({"pickle": "x"}, F64), b"\0" * 16), "unexpected"),
    "missing tensor": (craft(gk_header({"ndarray": "y"}, F64), b"\0" * 16), "does not hold"),
    "unreferenced tensor": (craft(gk_header([1], F64), b"\0" * 16), "not referenced"),
    "bad dict entry": (craft(gk_header({"dict": [[1, 2, 3]]}, F64), b"\0" * 16),
                       "key, value"),
    "unhashable dict key": (craft(gk_header({"dict": [[[1], {"ndarray": "x"}]]}, F64),
                                  b"\0" * 16), "key, value"),
    "bad tensor node": (craft(gk_header({"tensor": "x", "requires_grad": "yes"}, F64),
                              b"\0" * 16), "malformed tensor"),
    "int tensor needing grad": (craft(gk_header(
        {"tensor": "x", "requires_grad": True},
        {"x": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}}), b"\0" * 16),
        "cannot require gradients"),
    "deep structure": (craft(gk_header("[" * 5000 + "]" * 5000, {})), "nested|valid JSON"),
    "other version": (craft(gk_header([], {}, version="99")), "version '99'"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_files_are_refused_before_allocating(case, tmp_path):
    payload, words = CRAFTED[case]
    path = tmp_path / "crafted"
    path.write_bytes(payload)
    tracemalloc.start()
    try:
        with pytest.raises(SafetensorsError) as info:
            gk.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    import re

    assert re.search(words, str(info.value)), str(info.value)
    assert "crafted" in str(info.value)              # names the file
    assert peak < 4 * 1024 * 1024                    # nothing near the claimed sizes


def test_a_pickle_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"w": Evil()}))
    with pytest.raises(SafetensorsError, match="pickle"):
        gk.load(path)
    assert not marker.exists()


def test_a_torch_save_file_is_refused_with_the_way_out(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(SafetensorsError, match="torch.save.*save_file"):
        gk.load(path)
    with open(path, "rb") as f:
        with pytest.raises(SafetensorsError, match="never unpickles"):
            gk.load(f)


def test_saved_files_hold_no_pickle(tmp_path):
    gk.save({"a": [1, (2, 3)], "t": gk.Tensor(np.ones(2))}, tmp_path / "f")
    raw = (tmp_path / "f").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert header["__metadata__"]["format"] == "gradkit.save"
    assert b"\x80\x04" not in raw[:2] and b"pickle" not in raw


def test_a_safetensors_header_length_starting_with_0x80_is_not_taken_for_a_pickle(tmp_path):
    """The first byte of a safetensors file is the low byte of its header length: 0x80
    there is a 128-byte (or 384, 640...) header, not pickle's magic."""
    import json
    import struct

    import gradkit

    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})
    header = header.ljust(0x180)  # safetensors pads headers with spaces
    blob = struct.pack("<Q", len(header)) + header.encode() + np.arange(2, dtype="<f4").tobytes()
    assert blob[:1] == b"\x80"
    path = tmp_path / "w.safetensors"
    path.write_bytes(blob)
    for src in (path, __import__("io").BytesIO(blob)):
        got = gradkit.load(src)
        np.testing.assert_array_equal(np.asarray(got["w"]), [0.0, 1.0])
