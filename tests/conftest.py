"""Suite-wide pytest setup: headless plots, and the robustness catalogue's count."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

_KINDS = {"bad_input": "bad inputs", "fault": "faults", "untrusted": "untrusted files"}


def pytest_configure(config):
    for marker, words in _KINDS.items():
        config.addinivalue_line("markers", f"{marker}: robustness catalogue, {words}")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    counts = {k: [0, 0] for k in _KINDS}  # [handled, failed]
    for outcome in ("passed", "failed", "error"):
        for rep in terminalreporter.stats.get(outcome, []):
            if getattr(rep, "when", "call") != "call" and outcome == "passed":
                continue
            for marker in _KINDS:
                if marker in getattr(rep, "keywords", {}):
                    counts[marker][0 if outcome == "passed" else 1] += 1
    if not any(sum(v) for v in counts.values()):
        return
    failed = sum(v[1] for v in counts.values())
    parts = ", ".join(f"{counts[k][0] + counts[k][1]} {w}" for k, w in _KINDS.items())
    verdict = "all handled" if not failed else f"{failed} NOT handled"
    terminalreporter.write_line(f"robustness: {parts}, {verdict}")
