"""plot_model: the DOT text (snapshot, parsed back), pictures through Graphviz, and without it."""

import os

import pytest
from viz_helpers import canon, functional_model, needs_dot, parse_dot, png_size, save_doc_picture

import gradkit
from gradkit import keras, layers
from gradkit.utils import dot, model_to_dot, plot_model

SNAPSHOT = os.path.join(os.path.dirname(__file__), "snapshots", "functional_model.dot")


def test_functional_model_dot_matches_snapshot():
    with open(SNAPSHOT) as f:
        want = f.read()
    got = model_to_dot(functional_model(), show_shapes=True)
    assert got == want, f"DOT changed; if on purpose, update {SNAPSHOT} with:\n{got}"


def test_functional_dot_parses_back_with_every_layer_and_connection():
    (g,) = parse_dot(model_to_dot(functional_model(), show_shapes=True))
    names = {n.get_name().strip('"') for n in g.get_nodes()} - {"node", "edge"}
    assert names == {"input_0", "input_1", "shared", "block", "merge", "score", "extra"}
    edges = {(e.get_source().strip('"'), e.get_destination().strip('"')) for e in g.get_edges()}
    # the shared layer is one box with two inputs (x, and the nested block's output)
    assert {("input_0", "shared"), ("block", "shared"), ("shared", "block")} <= edges
    assert {("input_1", "merge"), ("shared", "merge"), ("merge", "score"),
            ("shared", "extra")} <= edges


def test_expand_nested_draws_the_inner_layers_in_a_cluster():
    source = model_to_dot(functional_model(), expand_nested=True)
    (g,) = parse_dot(source)
    (cluster,) = g.get_subgraphs()
    assert cluster.get_name().strip('"') == "cluster_block"
    inner = {n.get_name().strip('"') for n in cluster.get_nodes()}
    assert inner == {"block/input", "block/block_in", "block/block_out"}
    assert '"shared" -> "block/input";' in source
    assert '"block/block_out" -> "shared";' in source


def test_sequential_labels_follow_the_flags():
    model = gradkit.Sequential([gradkit.Input(shape=(8,)), layers.Dense(4, name="hid"),
                                layers.Dense(2, name="out")], name="seq")
    plain = model_to_dot(model)
    assert '"hid" [label="hid (Dense)"];' in plain and '"input" -> "hid";' in plain
    rich = model_to_dot(model, show_shapes=True, show_dtype=True, show_layer_names=False,
                        rankdir="LR")
    assert 'rankdir="LR";' in rich
    assert '"out" [label="Dense\\ndtype: float32\\ninput: (None, 4)\\noutput: (None, 2)"];' \
        in rich


def test_keras_name_and_bad_arguments():
    assert keras.utils.plot_model is plot_model
    model = gradkit.Sequential([gradkit.Input(shape=(2,)), layers.Dense(1)])
    with pytest.raises(ValueError, match="rankdir must be one of"):
        model_to_dot(model, rankdir="sideways")
    with pytest.raises(TypeError, match="expected a gradkit Model"):
        model_to_dot(layers.Dense(1))
    with pytest.raises(ValueError, match=r"to_file must end in"):
        plot_model(model, "model.txt")

    class Sub(gradkit.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(1)

        def call(self, x, training=None):
            return self.d(x)

    with pytest.raises(ValueError, match="subclassed"):
        model_to_dot(Sub())


@needs_dot
def test_png_and_svg_through_graphviz(tmp_path):
    model = functional_model()
    png = plot_model(model, tmp_path / "m.png", show_shapes=True, expand_nested=True)
    w, h = png_size(png)
    assert 200 < w < 3000 and 300 < h < 4000, (w, h)
    save_doc_picture(png, "plot_model.png")
    svg = plot_model(model, tmp_path / "m.svg", show_shapes=True)
    text = open(svg).read()
    assert "<svg" in text and "merge (Concatenate)" in text
    assert "shared" in canon(model_to_dot(model))


def test_without_graphviz_writes_dot_and_says_how(tmp_path, monkeypatch):
    monkeypatch.setattr(dot, "dot_binary", lambda: None)
    with pytest.warns(UserWarning, match=r"dot -Tpng .*model\.dot -o .*model\.png"):
        path = plot_model(functional_model(), tmp_path / "model.png")
    assert path == str(tmp_path / "model.dot") and not (tmp_path / "model.png").exists()
    parse_dot(open(path).read())


def test_sequential_inside_sequential_expanded():
    inner = gradkit.Sequential([layers.Dense(6, name="in_a"), layers.Dense(5, name="in_b")],
                               name="inner")
    model = gradkit.Sequential([gradkit.Input(shape=(3,)), inner, layers.Dense(2, name="top")],
                               name="outer")
    source = model_to_dot(model, show_shapes=True, expand_nested=True)
    (g,) = parse_dot(source)
    assert [s.get_name().strip('"') for s in g.get_subgraphs()] == ["cluster_inner"]
    assert '"input" -> "inner/input";' in source and '"inner/input" -> "inner/in_a";' in source
    assert '"inner/in_b" -> "top";' in source
    assert '"inner/in_b" [label="in_b (Dense)\\ninput: (None, 6)\\noutput: (None, 5)"];' in source
    assert '"top" [label="top (Dense)\\ninput: (None, 5)\\noutput: (None, 2)"];' in source
    folded = model_to_dot(model, show_shapes=True)
    assert '"inner" [label="inner (Sequential)\\ninput: (None, 3)\\noutput: (None, 5)"];' in folded
