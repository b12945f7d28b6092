"""Every report format of a run, picked by name (``bench report --format``) or by the
output file's extension (``-o report.md``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import PurePath

from bench.analysis import Summary
from bench.errors import UsageError
from bench.report import export, html, markdown
from bench.results import LoadedRun

FORMATS = ("html", "md", "csv", "json")

#: The format an output file's extension names (lower case, with its dot).
EXTENSIONS = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md",
              ".csv": "csv", ".json": "json"}


def from_extension(output: str | None) -> str | None:
    """The format ``-o FILE`` names by its extension (None: stdout, none or unknown)."""
    if not output or output == "-":
        return None
    return EXTENSIONS.get(PurePath(output).suffix.lower())


def choose(fmt: str | None, output: str | None, allowed: Sequence[str], default: str) -> str:
    """The format of a command that writes: ``--format`` when given, else the extension of
    ``--output``, else ``default``. UsageError when the two are given and disagree, or the
    extension names a format this command does not write."""
    named = from_extension(output)
    if fmt is not None:
        fmt = fmt.lower()
        if named is not None and named != fmt:
            raise UsageError(f"--format {fmt} and --output {output} disagree (the extension "
                             f"says {named}); give one of them, or make them match")
        return fmt
    if named is None:
        return default
    if named not in allowed:
        raise UsageError(f"--output {output}: this command writes {', '.join(allowed)}, "
                         f"not {named}")
    return named


def render(fmt: str, loaded: LoadedRun, summary: Summary) -> str:
    """The run in one of :data:`FORMATS`."""
    formatters: dict[str, Callable[[], str]] = {
        "html": lambda: html.render(loaded, summary),
        "md": lambda: markdown.render(loaded, summary),
        "csv": lambda: export.samples_csv(loaded),
        "json": lambda: export.summary_json(summary, loaded),
    }
    return formatters[fmt]()
