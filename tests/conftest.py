"""Suite-wide ordering: the longest tests start first, so with pytest-xdist one worker runs each while
the others share the rest (the run then takes about as long as its longest test, not longer)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("longest") is None)  # stable: otherwise as collected


# -- "measured": what tests report with `record_property("summary", text)` (e.g. the corpus counts),
# printed at the end of the run; with pytest-xdist the workers' reports carry it to the main process.
_SUMMARIES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _SUMMARIES.extend(str(value) for key, value in report.user_properties if key == "summary")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _SUMMARIES:
        terminalreporter.section("measured")
        for line in _SUMMARIES:
            terminalreporter.write_line(line)
