"""Crafted ONNX files are refused with a clear error before anything is allocated."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import gradkit as gk  # noqa: E402
import gradkit.onnx  # noqa: E402
from gradkit.onnx import OnnxFileError  # noqa: E402

pytestmark = pytest.mark.untrusted
h = onnx.helper
F = onnx.TensorProto.FLOAT


def model(nodes, inits=(), inputs=("x",), output="y"):
    graph = h.make_graph(list(nodes), "g", [h.make_tensor_value_info(i, F, [None, 2])
                                           for i in inputs],
                         [h.make_tensor_value_info(output, F, [None, 2])],
                         initializer=list(inits))
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])


def external(name, location, dims=(2, 2), offset=0, length=None):
    t = onnx.TensorProto()
    t.name, t.data_type = name, F
    t.dims.extend(dims)
    t.data_location = onnx.TensorProto.EXTERNAL
    for k, v in {"location": location, "offset": str(offset),
                 **({"length": str(length)} if length is not None else {})}.items():
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def save(tmp_path, proto, name="m.onnx"):
    path = tmp_path / name
    path.write_bytes(proto.SerializeToString())
    return path


def test_a_valid_external_initializer_loads(tmp_path):
    w = np.arange(4, dtype=np.float32).reshape(2, 2)
    (tmp_path / "w.bin").write_bytes(w.tobytes())
    path = save(tmp_path, model([h.make_node("MatMul", ["x", "w"], ["y"])],
                                [external("w", "w.bin")]))
    m = gk.onnx.load(path)
    np.testing.assert_allclose(m.predict(np.eye(2, dtype=np.float32), verbose=0), w)


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "sub/../../x.bin"])
def test_external_data_outside_the_folder(tmp_path, location):
    sub = tmp_path / "model"
    sub.mkdir()
    (tmp_path / "secret.bin").write_bytes(b"\0" * 16)
    path = save(sub, model([h.make_node("MatMul", ["x", "w"], ["y"])],
                           [external("w", location)]))
    with pytest.raises(OnnxFileError, match="outside|relative path"):
        gk.onnx.load(path)


def test_external_data_through_a_symlink_out(tmp_path):
    sub = tmp_path / "model"
    sub.mkdir()
    (tmp_path / "secret.bin").write_bytes(b"\0" * 16)
    (sub / "w.bin").symlink_to(tmp_path / "secret.bin")
    path = save(sub, model([h.make_node("MatMul", ["x", "w"], ["y"])],
                           [external("w", "w.bin")]))
    with pytest.raises(OnnxFileError, match="outside the model's folder"):
        gk.onnx.load(path)


def test_external_data_claiming_more_than_the_file(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"\0" * 16)
    path = save(tmp_path, model([h.make_node("MatMul", ["x", "w"], ["y"])],
                                [external("w", "w.bin", dims=(1000, 1000))]))
    with pytest.raises(OnnxFileError, match="need 4,000,000 bytes.*16-byte file"):
        gk.onnx.load(path)


def test_huge_initializer_claimed(tmp_path):
    t = onnx.TensorProto()
    t.name, t.data_type = "w", F
    t.dims.extend([2, 2])
    t.raw_data = b"\0" * 16
    t.dims[:] = [1 << 20, 1 << 20]  # a trillion floats "stored" in 16 bytes
    path = save(tmp_path, model([h.make_node("MatMul", ["x", "w"], ["y"])], [t]))
    with pytest.raises(OnnxFileError, match="claim 1,099,511,627,776 values"):
        gk.onnx.load(path)


def test_initializer_with_fewer_bytes_than_its_dims(tmp_path):
    t = h.make_tensor("w", F, [4, 4], np.zeros(16, np.float32).tobytes(), raw=True)
    t.raw_data = t.raw_data[:8]
    with pytest.raises(OnnxFileError, match="need 64 bytes"):
        gk.onnx.load(model([h.make_node("MatMul", ["x", "w"], ["y"])], [t]))


def test_cycle_is_refused():
    nodes = [h.make_node("Add", ["x", "b"], ["a"], name="n1"),
             h.make_node("Relu", ["a"], ["b"], name="n2"),
             h.make_node("Identity", ["a"], ["y"], name="n3")]
    with pytest.raises(OnnxFileError, match="cycle through nodes"):
        gk.onnx.load(model(nodes))


def test_undefined_and_twice_defined_names():
    with pytest.raises(OnnxFileError, match="reads 'ghost'"):
        gk.onnx.load(model([h.make_node("Add", ["x", "ghost"], ["y"], name="n")]))
    twice = [h.make_node("Relu", ["x"], ["y"]), h.make_node("Tanh", ["x"], ["y"])]
    with pytest.raises(OnnxFileError, match="defined twice"):
        gk.onnx.load(model(twice))


def test_not_onnx_and_subgraphs(tmp_path):
    p = tmp_path / "junk.onnx"
    p.write_bytes(b"\xff\xfe not a protobuf" * 10)
    with pytest.raises(OnnxFileError, match="not an ONNX model"):
        gk.onnx.load(p)
    branch = h.make_graph([h.make_node("Identity", ["x"], ["z"])], "b", [],
                          [h.make_tensor_value_info("z", F, None)])
    node = h.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)
    with pytest.raises(gk.onnx.OnnxImportError, match="If"):
        gk.onnx.load(model([node], inputs=("x", "c")))
