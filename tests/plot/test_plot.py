"""Headless rendering tests for gradkit.plot."""

import os

os.environ["MPLBACKEND"] = "Agg"

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("matplotlib")

from gradkit.plot import (  # noqa: E402
    ACTIVATIONS,
    get_activation,
    numerical_derivative,
    plot_activation,
    plot_decision_boundary,
    plot_history,
    plot_images,
    plot_probabilities,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_bytes=5_000):
    assert path.exists(), path
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > min_bytes, len(data)
    leftovers = [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []  # atomic write cleaned up after itself


def labelled_lines(ax):
    return [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]


@pytest.fixture
def history():
    rng = np.random.default_rng(0)
    epochs = np.arange(10)
    loss = 1.2 * np.exp(-epochs / 3) + 0.2
    val_loss = loss + 0.05 + 0.02 * np.maximum(0, epochs - 5) ** 1.5
    acc = 1 - 0.6 * np.exp(-epochs / 3)
    return {
        "loss": list(loss),
        "accuracy": list(acc),
        "val_loss": list(val_loss + rng.normal(0, 1e-3, 10)),
        "val_accuracy": list(acc - 0.03),
    }


@pytest.fixture
def moons():
    rng = np.random.default_rng(1)
    t = rng.uniform(0, np.pi, 100)
    x = np.r_[np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)]]
    x = x + rng.normal(0, 0.1, x.shape)
    y = np.r_[np.zeros(100), np.ones(100)].astype(int)
    return x, y


def smooth_binary(points):
    return 1.0 / (1.0 + np.exp(-4.0 * (0.25 - points[:, 1] + 0.5 * np.sin(2 * points[:, 0]))))


# ------------------------------------------------------------------- history
def test_plot_history_dict(tmp_path, history):
    path = tmp_path / "nested" / "dir" / "history.png"
    fig = plot_history(history, save=path)
    assert_png(path)
    assert len(fig.axes) == 2
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_title() == "Loss" and acc_ax.get_title() == "Accuracy"
    assert fig.get_suptitle() == "Training history"
    for ax in fig.axes:
        train, val, best = labelled_lines(ax)
        assert train.get_label() == "train" and train.get_linestyle() == "-"
        assert train.get_marker() == "o"
        assert val.get_label() == "validation" and val.get_linestyle() == "--"
        assert list(train.get_xdata()) == list(range(1, 11))  # epochs start at 1
        assert best.get_label().startswith("best: ")
        assert ax.get_legend() is not None
    # loss: best is the minimum; accuracy: the maximum
    val_loss = np.asarray(history["val_loss"])
    assert labelled_lines(loss_ax)[2].get_xdata()[0] == np.argmin(val_loss) + 1
    assert labelled_lines(acc_ax)[2].get_xdata()[0] == np.argmax(history["val_accuracy"]) + 1


def test_plot_history_keras_like_object_and_metric_selection(history):
    class History:
        def __init__(self, h):
            self.history = h
            self.epoch = list(range(len(h["loss"])))

    fig = plot_history(History(history), metrics=["accuracy"])
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "Accuracy"


def test_plot_history_loss_first_and_without_validation():
    fig = plot_history({"accuracy": [0.5, 0.7, 0.8], "loss": [1.0, 0.6, 0.5]})
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "Accuracy"]
    lines = labelled_lines(fig.axes[0])
    assert [ln.get_label() for ln in lines] == ["train"]


def test_plot_history_grid_layout_removes_unused_axes():
    h = {k: [1.0, 0.5] for k in ["loss", "a", "b", "c", "d"]}
    fig = plot_history(h)
    assert len(fig.axes) == 5


def test_plot_history_errors(history):
    with pytest.raises(KeyError, match="plot_history.*'f1'"):
        plot_history(history, metrics=["f1"])
    with pytest.raises(ValueError, match="empty"):
        plot_history({})
    with pytest.raises(TypeError, match="plot_history"):
        plot_history([1, 2, 3])
    with pytest.raises(ValueError, match=r"1-D.*\(2, 2\)"):
        plot_history({"loss": np.zeros((2, 2))})


# ---------------------------------------------------------- decision boundary
def test_plot_decision_boundary_binary(tmp_path, moons):
    x, y = moons
    seen = []

    def predict(points):
        seen.append((points.dtype, points.shape))
        return smooth_binary(points)[:, None]  # (n, 1) output

    path = tmp_path / "boundary.png"
    fig = plot_decision_boundary(predict, x, y, resolution=60, save=path, title="Moons")
    assert_png(path)
    assert seen[0] == (np.float32, (3600, 2))
    main, cbar = fig.axes  # plot + colorbar
    assert main.get_title() == "Moons"
    assert cbar.get_ylabel() == "P(class 1)"
    # filled contour + the 0.5 contour line, then one scatter per class
    from matplotlib.collections import PathCollection
    from matplotlib.contour import ContourSet

    contours = [c for c in main.collections if isinstance(c, ContourSet)]
    assert len(contours) == 2
    assert list(contours[1].levels) == [0.5]
    scatters = [c for c in main.collections if type(c) is PathCollection]
    assert len(scatters) == 2
    assert [t.get_text() for t in main.get_legend().get_texts()] == ["class 0", "class 1"]
    assert any(t.get_text().startswith("accuracy ") for t in main.texts)


def test_plot_decision_boundary_multiclass(tmp_path):
    rng = np.random.default_rng(2)
    centers = np.array([[0.0, 0.0], [3.0, 0.0], [1.5, 2.5]])
    x = np.concatenate([c + rng.normal(0, 0.5, (40, 2)) for c in centers])
    y = np.eye(3)[np.repeat(np.arange(3), 40)]  # one-hot labels are accepted

    def predict(points):
        d = -((points[:, None, :] - centers[None]) ** 2).sum(-1)
        e = np.exp(d - d.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    path = tmp_path / "multi.png"
    fig = plot_decision_boundary(predict, x, y, resolution=80, save=path)
    assert_png(path)
    assert len(fig.axes) == 1  # no colorbar for multi-class
    ax = fig.axes[0]
    assert ax.get_title() == "Decision boundary"
    assert len(ax.get_legend().get_texts()) == 3
    expected = np.mean(predict(x).argmax(1) == y.argmax(1))
    assert [t.get_text() for t in ax.texts] == [f"accuracy {expected:.1%}"]


def test_plot_decision_boundary_two_column_probabilities_is_binary(moons):
    x, y = moons

    def predict(points):
        p = smooth_binary(points)
        return np.c_[1 - p, p]

    fig = plot_decision_boundary(predict, x, y, resolution=30)
    assert len(fig.axes) == 2  # treated as binary: colorbar present


def test_plot_decision_boundary_errors(moons):
    x, y = moons
    with pytest.raises(
        ValueError, match=r"plot_decision_boundary: x must have shape \(n, 2\).*\(200, 3\)"
    ):
        plot_decision_boundary(smooth_binary, np.zeros((200, 3)), y)
    with pytest.raises(ValueError, match=r"plot_decision_boundary: y .*\(5,\)"):
        plot_decision_boundary(smooth_binary, x, y[:5])
    with pytest.raises(ValueError, match=r"predict_fn .*got shape \(7,\)"):
        plot_decision_boundary(lambda p: np.zeros(7), x, y, resolution=10)
    with pytest.raises(TypeError, match="callable"):
        plot_decision_boundary("model", x, y)


# -------------------------------------------------------------------- images
def digits(n=12, shape=(28, 28)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    out = np.zeros((n, *shape))
    for i in range(n):
        out[i] = np.exp(-((np.hypot(yy - shape[0] / 2, xx - shape[1] / 2) - 4 - i % 6) ** 2) / 4)
    return out


def test_plot_images_titles_and_colors(tmp_path):
    from matplotlib.colors import to_hex

    images = digits(12)[..., None]  # (n, 28, 28, 1)
    labels = np.arange(12) % 10
    probs = np.full((12, 10), 0.02)
    preds = labels.copy()
    preds[[2, 7]] = 9
    probs[np.arange(12), preds] = 0.82
    path = tmp_path / "images.png"
    fig = plot_images(images, labels=labels, probabilities=probs, ncols=6, save=path)
    assert_png(path)
    assert len(fig.axes) == 12
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "0 (82%)"
    assert titles[2] == "9 (82%)\ntrue: 2"
    colors = [to_hex(ax.title.get_color()) for ax in fig.axes]
    wrong = {i for i, c in enumerate(colors) if c == colors[2]}
    assert wrong == {2, 7}
    assert colors[0] != colors[2]
    # grid geometry: 2 rows of 6
    assert {ax.get_subplotspec().get_geometry()[:2] for ax in fig.axes} == {(2, 6)}


def test_plot_images_rgb_class_names_and_predictions(tmp_path):
    rng = np.random.default_rng(0)
    images = (rng.random((5, 16, 16, 3)) * 255).astype(np.uint8)
    names = ["plane", "car", "bird", "cat", "deer"]
    fig = plot_images(
        images, labels=[0, 1, 2, 3, 4], predictions=[0, 1, 2, 3, 0], class_names=names, ncols=8
    )
    assert len(fig.axes) == 5  # ncols is capped at n
    assert [ax.get_title() for ax in fig.axes][-1] == "plane\ntrue: deer"
    img = fig.axes[0].get_images()[0].get_array()
    assert img.shape == (16, 16, 3) and float(img.max()) <= 1.0


def test_plot_images_plain_grid_and_flat_and_channels_first():
    fig = plot_images(digits(3))
    assert [ax.get_title() for ax in fig.axes] == ["", "", ""]
    fig = plot_images(digits(4).reshape(4, -1), labels=[1, 2, 3, 4])
    assert [ax.get_title() for ax in fig.axes] == ["1", "2", "3", "4"]
    fig = plot_images(np.zeros((2, 3, 8, 8)))  # channels first
    assert fig.axes[0].get_images()[0].get_array().shape == (8, 8, 3)


def test_plot_images_max_images():
    fig = plot_images(digits(70), labels=np.zeros(70, dtype=int), max_images=64)
    assert len(fig.axes) == 64


def test_plot_images_errors():
    with pytest.raises(ValueError, match=r"plot_images: images .*\(3, 5, 5, 2\)"):
        plot_images(np.zeros((3, 5, 5, 2)))
    with pytest.raises(ValueError, match=r"plot_images: labels .*\(2,\)"):
        plot_images(digits(3), labels=[0, 1])


# ------------------------------------------------------------- probabilities
def test_plot_probabilities_wrong_prediction(tmp_path):
    from matplotlib.colors import to_hex

    probs = np.array([0.05, 0.6, 0.1, 0.25])
    path = tmp_path / "probs.png"
    fig = plot_probabilities(probs, true_label=3, save=path)
    assert_png(path)
    ax = fig.axes[0]
    assert len(ax.patches) == 4
    colors = [to_hex(p.get_facecolor()) for p in ax.patches]
    assert colors[1] != colors[3] and len({colors[0], colors[2]}) == 1
    assert colors[0] not in (colors[1], colors[3])
    assert ax.get_title().startswith("Predicted: 1 (60.0%)") and "true: 3" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["predicted", "true"]


def test_plot_probabilities_correct_with_names():
    names = ["cat", "dog", "owl"]
    fig = plot_probabilities(np.array([[0.1, 0.7, 0.2]]), class_names=names, true_label=1)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert ax.get_title() == "Predicted: dog (70.0%)  ·  true: dog"
    assert len(ax.get_legend().get_texts()) == 1


def test_plot_probabilities_errors():
    with pytest.raises(ValueError, match=r"plot_probabilities: probs .*\(2, 3\)"):
        plot_probabilities(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="class_names"):
        plot_probabilities([0.5, 0.5], class_names=["a"])
    with pytest.raises(ValueError, match="true_label"):
        plot_probabilities([0.5, 0.5], true_label=2)


# --------------------------------------------------------------- activations
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_plot_activation_named(tmp_path, name):
    path = tmp_path / f"{name}.png"
    fig = plot_activation(name, save=path)
    assert_png(path)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    lines = labelled_lines(ax)
    assert [ln.get_label() for ln in lines] == [f"{name}(x)", f"{name}'(x)"]
    assert lines[1].get_linestyle() == "--"
    assert ax.get_title() == ACTIVATIONS[name][0]
    assert ax.get_xlim() == (-5.0, 5.0)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_derivatives_match_finite_differences(name):
    f, df = get_activation(name)
    x = np.linspace(-4, 4, 161)
    x = x[np.abs(x) > 1e-2]  # skip the kink of relu-like functions
    np.testing.assert_allclose(df(x), numerical_derivative(f, x), atol=1e-5)


def test_activation_reference_values():
    f, df = get_activation("gelu")
    assert float(f(np.array(1.0))) == pytest.approx(0.8413447460685429)
    f, df = get_activation("Leaky-ReLU".replace("-", "_"))
    assert float(f(np.array(-2.0))) == pytest.approx(-0.02)
    f, _ = get_activation("softplus")
    assert float(f(np.array(1000.0))) == pytest.approx(1000.0)  # no overflow
    f, _ = get_activation("sigmoid")
    assert float(f(np.array(-1000.0))) == 0.0


def test_plot_activation_callable_and_range(tmp_path):
    def mish(x):
        return x * np.tanh(np.logaddexp(0.0, x))

    fig = plot_activation(mish, x_range=(-3, 2), save=tmp_path / "mish.png")
    ax = fig.axes[0]
    f_line, d_line = labelled_lines(ax)
    assert f_line.get_label() == "mish(x)" and d_line.get_label() == "mish'(x)"
    assert ax.get_xlim() == (-3.0, 2.0)
    x, d = np.asarray(d_line.get_xdata()), np.asarray(d_line.get_ydata())
    # derivative of mish at 0 is tanh(log 2) ~ 0.6
    assert np.interp(0.0, x, d) == pytest.approx(0.6, abs=1e-3)


def test_plot_activation_scalar_only_lambda_and_step_break():
    fig = plot_activation(lambda v: 1.0 if v > 0 else 0.0)
    f_line, _ = labelled_lines(fig.axes[0])
    assert f_line.get_label() == "f(x)"
    assert np.isnan(np.asarray(f_line.get_ydata(), dtype=float)).sum() == 1  # jump not drawn


def test_plot_activation_errors():
    with pytest.raises(ValueError, match="unknown activation 'mystery'"):
        plot_activation("mystery")
    with pytest.raises(ValueError, match="x_range"):
        plot_activation("relu", x_range=(1, -1))
    with pytest.raises(TypeError, match="plot_activation"):
        plot_activation(3)


# --------------------------------------------------------------------- misc
def test_figures_are_not_registered_with_pyplot(history):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plot_history(history)
    plot_activation("tanh")
    assert plt.get_fignums() == before


def test_global_rcparams_untouched(history):
    import matplotlib as mpl

    before = dict(mpl.rcParams)
    plot_history(history)
    assert dict(mpl.rcParams) == before


def test_save_overwrites_atomically(tmp_path, history):
    path = tmp_path / "h.png"
    path.write_bytes(b"old")
    plot_history(history, save=str(path))
    assert_png(path)
