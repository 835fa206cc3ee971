"""Suite-wide pytest setup: headless plots, the robustness catalogue's count, and the count
of reference comparisons against PyTorch (ran and skipped), so that a missing PyTorch
never skips a thousand comparisons silently."""

import os
import re
import sys
import types

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

_KINDS = {"bad_input": "bad inputs", "fault": "faults", "untrusted": "untrusted files"}
INSTALL = "pip install gradkit[test]"
_TORCH_WORD = re.compile(r"\btorch\b|pytorch", re.IGNORECASE)
_REFERENCE = pytest.StashKey[dict]()


def pytest_configure(config):
    for marker, words in _KINDS.items():
        config.addinivalue_line("markers", f"{marker}: robustness catalogue, {words}")
    config.addinivalue_line("markers", "host_only(reason): not re-run on the strict stand-in")
    config.stash[_REFERENCE] = {"tests": set(), "ran": set(), "skipped": set(),
                                "modules": set()}


# ------------------------------------------------------------ which tests compare with torch
def _is_torch(obj):
    return isinstance(obj, types.ModuleType) and obj.__name__.split(".")[0] == "torch"


def _uses_torch(code, glb, depth=2):
    """``code`` (or a function it calls, ``depth`` levels down) names torch: a global bound
    to the torch module, or an ``import torch`` inside it."""
    for name in code.co_names:
        value = glb.get(name)
        if name == "torch" or _is_torch(value):
            return True
        inner = getattr(value, "__code__", None)
        if depth and inner is not None and _uses_torch(inner, value.__globals__, depth - 1):
            return True
    return any(_uses_torch(c, glb, depth) for c in code.co_consts
               if isinstance(c, types.CodeType))


def _compares_with_torch(item):
    """A test compares against PyTorch when it is marked ``torch``, takes a torch fixture,
    is skipped without torch (``skipif`` naming it), or its code (or a parameter's, or a
    helper it calls) uses torch."""
    if item.get_closest_marker("torch") is not None:
        return True
    if {"torch", "torch_ok"} & set(getattr(item, "fixturenames", ())):
        return True
    if any(_TORCH_WORD.search(str(m.kwargs.get("reason", "")))
           for m in item.iter_markers("skipif")):
        return True
    fn = getattr(item, "function", None)
    if fn is None:
        return False
    params = getattr(getattr(item, "callspec", None), "params", {}).values()
    codes = [fn.__code__] + [p.__code__ for p in params if hasattr(p, "__code__")]
    return any(_uses_torch(code, fn.__globals__) for code in codes)


def pytest_collection_modifyitems(config, items):
    ref = config.stash[_REFERENCE]
    for item in items:
        if _compares_with_torch(item):
            ref["tests"].add(item.nodeid)


# ------------------------------------------------------------ skips say how to install torch
def _torch_skip(report):
    """A skip because PyTorch is missing: the reason gets the install command."""
    if not (report.skipped and isinstance(report.longrepr, tuple)):
        return False
    path, line, reason = report.longrepr
    if not _TORCH_WORD.search(reason):
        return False
    if INSTALL not in reason:
        report.longrepr = (path, line, f"{reason} (install the test extra: {INSTALL})")
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    rep = outcome.get_result()
    if _torch_skip(rep):  # a whole module that imports torch at the top
        collector.config.stash[_REFERENCE]["modules"].add(rep.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    for marker in _KINDS:
        if item.get_closest_marker(marker) is not None:
            rep.user_properties.append(("robustness", marker))
    _strict_count(item, rep)
    ref = item.config.stash[_REFERENCE]
    if _torch_skip(rep) or (rep.skipped and item.nodeid in ref["tests"]):
        ref["skipped"].add(item.nodeid)
    elif rep.when == "call" and item.nodeid in ref["tests"]:
        ref["ran"].add(item.nodeid)


# ------------------------------------------------------------ summary lines
def _robustness_line(terminalreporter):
    counts = {k: [0, 0] for k in _KINDS}  # [handled, failed]
    for outcome in ("passed", "failed", "error"):
        for rep in terminalreporter.stats.get(outcome, []):
            if getattr(rep, "when", "call") != "call" and outcome == "passed":
                continue
            for key, marker in getattr(rep, "user_properties", ()):
                if key == "robustness":
                    counts[marker][0 if outcome == "passed" else 1] += 1
    if not any(sum(v) for v in counts.values()):
        return None
    failed = sum(v[1] for v in counts.values())
    parts = ", ".join(f"{counts[k][0] + counts[k][1]} {w}" for k, w in _KINDS.items())
    verdict = "all handled" if not failed else f"{failed} NOT handled"
    return f"robustness: {parts}, {verdict}"


def _reference_line(config):
    ref = config.stash[_REFERENCE]
    ran, skipped, modules = len(ref["ran"]), len(ref["skipped"]), len(ref["modules"])
    if not (ran or skipped or modules):
        return None
    torch = sys.modules.get("torch")
    against = f"torch {torch.__version__.split('+')[0]}" if torch is not None else "torch"
    line = f"reference comparisons: {ran} ran against {against}, {skipped} skipped"
    if modules:
        line += f", {modules} test module{'s' if modules > 1 else ''} skipped whole"
    if skipped or modules:
        line += f" (PyTorch missing? {INSTALL})"
    return line


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for line in (_robustness_line(terminalreporter), _reference_line(config),
                 _strict_line(config)):
        if line:
            terminalreporter.write_line(line)


# ------------------------------------------------------------ the strict stand-in GPU
# The layer, model, optimizer, loss, metric and saving tests run twice: on the CPU and
# inside ``with gradkit.device("cuda")`` on the strict stand-in (gradkit.testing.
# strict_device), where any array that leaks to NumPy raises. ``--strict-device=off``
# runs the CPU half only. A test that is about host arrays themselves is marked
# ``host_only`` (with a reason) and skipped on the stand-in.
_STRICT_SUITES = ("tests/layers/", "tests/models/", "tests/optimizers/", "tests/test_losses",
                  "tests/test_metrics.py")
_STRICT = pytest.StashKey[dict]()


def pytest_addoption(parser):
    parser.addoption("--strict-device", choices=("on", "off"), default="on",
                     help="re-run the layer/model/optimizer/loss/metric/saving tests on the "
                          "strict stand-in GPU (default on)")


def _strict_suite(path):
    rel = str(path).replace(os.sep, "/")
    return any(f"/{s}" in rel or rel.startswith(s) for s in _STRICT_SUITES)


def pytest_generate_tests(metafunc):
    if "gk_device" in metafunc.fixturenames and _strict_suite(metafunc.definition.path) \
            and metafunc.config.getoption("--strict-device") == "on":
        metafunc.parametrize("gk_device", ["cpu", "strict"], indirect=True)


@pytest.fixture(autouse=True)
def gk_device(request):
    """The device a test runs on: "cpu", or "strict" (the stand-in GPU as the default)."""
    which = getattr(request, "param", "cpu")
    if which == "cpu":
        yield which
        return
    marker = request.node.get_closest_marker("host_only")
    if marker is not None:
        pytest.skip(f"host_only: {marker.args[0] if marker.args else 'about host arrays'}")
    import gradkit
    from gradkit.testing import strict_device

    with strict_device.activate(), gradkit.device("cuda"):
        yield which


def _strict_count(item, rep):
    if rep.when != "call" and not (rep.when == "setup" and rep.outcome != "passed"):
        return
    spec = getattr(item, "callspec", None)
    if spec is None or spec.params.get("gk_device") != "strict":
        return
    counts = item.config.stash.setdefault(_STRICT, {"passed": 0, "failed": 0, "skipped": 0})
    counts[rep.outcome] = counts.get(rep.outcome, 0) + 1


def _strict_line(config):
    counts = config.stash.get(_STRICT, None)
    if not counts:
        return None
    ran = counts["passed"] + counts["failed"]
    return (f"strict stand-in device: {ran} ran ({counts['passed']} passed, "
            f"{counts['failed']} failed), {counts['skipped']} skipped (host_only)")


@pytest.fixture
def strict_gpu():
    """gradkit.device("cuda") is the strict stand-in (gradkit.testing.strict_device) here."""
    from gradkit.testing import strict_device

    with strict_device.activate():
        yield strict_device


@pytest.fixture
def accel_switch():
    """``accel_switch(flag)``: turn gradkit[fast]'s numba loops on or off for one test
    (the previous setting comes back afterwards)."""
    from gradkit import accel

    previous = accel.enabled()
    yield accel.set_enabled
    accel.set_enabled(previous)
