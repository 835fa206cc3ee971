"""gradkit.plot.graph: every op and leaf drawn, and the gradient norm on every edge is right."""

import numpy as np
import pytest
from viz_helpers import canon, needs_dot, parse_dot, png_size, save_doc_picture

import gradkit
from gradkit.plot import graph
from gradkit.utils import dot

X = np.array([[1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0]])
YT = np.array([[1.0], [1.0], [0.0]])


def mlp_431(seed=0):
    """The tutorials' 4-3-1 sigmoid network and E = sum((yp - yt)^2), plus the hand backprop."""
    rng = np.random.default_rng(seed)
    init = [rng.uniform(-1, 1, s) for s in ((4, 3), (3,), (3, 1), (1,))]
    w = [gradkit.Variable(p.copy(), name=n) for p, n in zip(init, ("W_h", "b_h", "W_o", "b_o"))]
    x, yt = gradkit.Tensor(X, name="x"), gradkit.Tensor(YT, name="yt")
    z_h = gradkit.matmul(x, w[0])
    h = gradkit.sigmoid(z_h + w[1])
    yp = gradkit.sigmoid(gradkit.matmul(h, w[2]) + w[3])
    e = gradkit.reduce_sum(gradkit.pow(yp - yt, 2))
    # by hand: delta_o = dE/d(pre-activation of the output), delta_h likewise for the hidden
    hp = 1 / (1 + np.exp(-(X @ init[0] + init[1])))
    ypp = 1 / (1 + np.exp(-(hp @ init[2] + init[3])))
    delta_o = 2 * (ypp - YT) * ypp * (1 - ypp)
    delta_h = (delta_o @ init[2].T) * hp * (1 - hp)
    hand = {"W_h": X.T @ delta_h, "b_h": delta_h.sum(0), "W_o": hp.T @ delta_o,
            "b_o": delta_o.sum(0), "z_h": delta_h, "h": delta_o @ init[2].T,
            "yp": 2 * (ypp - YT)}
    return e, w, {"z_h": z_h, "h": h, "yp": yp}, hand


def test_every_op_and_leaf_is_drawn_with_name_and_shape():
    e, w, _, _ = mlp_431()
    d = graph(e)
    (g,) = parse_dot(d.source)
    labels = [n.get("label").strip('"') for n in g.get_nodes() if n.get("label")]
    ops = [lab for lab in labels if "\\n" not in lab]
    assert ops == ["matmul (3, 3)", "add (3, 3)", "sigmoid (3, 3)", "matmul (3, 1)",
                   "add (3, 1)", "sigmoid (3, 1)", "subtract (3, 1)", "power (3, 1)", "sum ()"]
    leaves = sorted(lab.split("\\n")[0] + " " + lab.split("\\n")[1] for lab in labels
                    if "\\n" in lab)
    assert leaves == ["W_h (4, 3)", "W_o (3, 1)", "b_h (3,)", "b_o (1,)", "x (3, 4)",
                      "yt (3, 1)"]
    assert len(g.get_edges()) == 14 and d.source.count("|g|") == 12  # x and yt need none


def test_edge_gradients_equal_the_hand_written_backprop():
    e, w, inner, hand = mlp_431()
    e.backward(retain_graph=True)
    d = graph(e)
    assert d.note == ""
    for v in w:
        (norm,) = d.grads_from(v)
        np.testing.assert_allclose(norm, np.linalg.norm(hand[v.name]), rtol=1e-12)
        np.testing.assert_allclose(norm, np.linalg.norm(v.grad.numpy()), rtol=1e-12)
        assert f".grad norm {np.linalg.norm(v.grad.numpy()):.3g}" in d.source
    for name in ("z_h", "h", "yp"):  # inner edges: dE/d(that tensor) through its one consumer
        (norm,) = d.grads_from(inner[name])
        np.testing.assert_allclose(norm, np.linalg.norm(hand[name]), rtol=1e-12)


def test_a_tensor_used_twice_gets_one_edge_per_use():
    x = gradkit.Variable(np.array([1.0, -2.0, 3.0]), name="x")
    y = gradkit.reduce_sum(x * x + 3.0 * x)
    d = graph(y)
    # x*x uses x twice (each edge carries g * x), 3*x once (3 * g); g = 1
    assert sorted(d.grads_from(x)) == pytest.approx(sorted(
        [np.linalg.norm([1.0, -2.0, 3.0])] * 2 + [np.linalg.norm([3.0] * 3)]))
    assert x.grad is None  # drawing computes gradients without touching .grad


def test_after_a_plain_backward_the_drawing_says_why_no_gradients():
    e, w, _, _ = mlp_431()
    e.backward()
    d = graph(e)
    assert "retain_graph=True" in d.note and d.edge_grads == {}
    assert "|g|" not in d.source and "retain_graph=True" in d.source  # the caption
    assert ".grad norm" in d.source  # the leaves' .grad is still shown
    with pytest.raises(ValueError, match="retain_graph=True"):
        graph(e, grads=True)


def test_bad_arguments():
    with pytest.raises(TypeError, match="expected a gradkit Tensor"):
        graph(np.ones(3))
    e, *_ = mlp_431()
    with pytest.raises(ValueError, match="grads must be one of"):
        graph(e, grads="yes")
    with pytest.raises(ValueError, match="max_nodes=5"):
        graph(e, max_nodes=5)
    assert graph(e, grads=False).edge_grads == {}


@needs_dot
def test_png_of_plausible_size(tmp_path):
    e, *_ = mlp_431()
    d = graph(e, tmp_path / "g.png", rankdir="LR")
    w, h = png_size(d.path)
    assert "t0 -> t" in canon(d.source)  # Graphviz's own parser reads it back
    assert 800 < w < 6000 and 150 < h < 2000, (w, h)
    save_doc_picture(d.path, "autodiff_graph.png")
    assert "<svg" in d._repr_svg_()


def test_without_graphviz_it_writes_dot(tmp_path, monkeypatch):
    monkeypatch.setattr(dot, "dot_binary", lambda: None)
    e, *_ = mlp_431()
    with pytest.warns(UserWarning, match="apt-get install graphviz"):
        d = graph(e, tmp_path / "g.svg")
    assert d.path.endswith("g.dot") and open(d.path).read() == d.source
    assert d._repr_svg_() is None
