"""Suite-wide pytest setup: headless plots, and the robustness catalogue's count."""

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

_KINDS = {"bad_input": "bad inputs", "fault": "faults", "untrusted": "untrusted files"}


def pytest_configure(config):
    for marker, words in _KINDS.items():
        config.addinivalue_line("markers", f"{marker}: robustness catalogue, {words}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    for marker in _KINDS:
        if item.get_closest_marker(marker) is not None:
            rep.user_properties.append(("robustness", marker))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    counts = {k: [0, 0] for k in _KINDS}  # [handled, failed]
    for outcome in ("passed", "failed", "error"):
        for rep in terminalreporter.stats.get(outcome, []):
            if getattr(rep, "when", "call") != "call" and outcome == "passed":
                continue
            for key, marker in getattr(rep, "user_properties", ()):
                if key == "robustness":
                    counts[marker][0 if outcome == "passed" else 1] += 1
    if not any(sum(v) for v in counts.values()):
        return
    failed = sum(v[1] for v in counts.values())
    parts = ", ".join(f"{counts[k][0] + counts[k][1]} {w}" for k, w in _KINDS.items())
    verdict = "all handled" if not failed else f"{failed} NOT handled"
    terminalreporter.write_line(f"robustness: {parts}, {verdict}")
