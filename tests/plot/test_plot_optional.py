"""gradkit.plot must import without matplotlib and fail with an install hint."""

import importlib
import sys

import pytest

MODULES = [
    "gradkit.plot",
    "gradkit.plot._mpl",
    "gradkit.plot.activations",
    "gradkit.plot.boundary",
    "gradkit.plot.history",
    "gradkit.plot.images",
]


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Make `import matplotlib` fail and reload gradkit.plot from scratch."""
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # None => ImportError on import
    for name in MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield
    for name in MODULES:
        sys.modules.pop(name, None)


def test_import_without_matplotlib_then_helpful_error(no_matplotlib):
    plot = importlib.import_module("gradkit.plot")
    hint = r"gradkit.plot needs matplotlib: pip install 'gradkit\[plot\]'"
    with pytest.raises(ImportError, match=hint):
        plot.plot_history({"loss": [1.0, 0.5]})
    with pytest.raises(ImportError, match=hint):
        plot.plot_activation("relu")
    # the NumPy-only parts still work
    f, df = plot.get_activation("relu")
    assert float(df(f(1.0) * 1.0)) == 1.0
