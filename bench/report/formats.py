"""Every report format of a run, picked by name (``bench report --format``)."""

from __future__ import annotations

from collections.abc import Callable

from bench.analysis import Summary
from bench.report import export, html, markdown
from bench.results import LoadedRun

FORMATS = ("html", "md", "csv", "json")


def render(fmt: str, loaded: LoadedRun, summary: Summary) -> str:
    """The run in one of :data:`FORMATS`."""
    formatters: dict[str, Callable[[], str]] = {
        "html": lambda: html.render(loaded, summary),
        "md": lambda: markdown.render(loaded, summary),
        "csv": lambda: export.samples_csv(loaded),
        "json": lambda: export.summary_json(summary, loaded),
    }
    return formatters[fmt]()
