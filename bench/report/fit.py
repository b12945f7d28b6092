"""Terminal tables that never cut a name or a number.

A :class:`Fitted` table prints as a table when the console is wide enough for every cell
whole; below that it prints one block per row instead (like hyperfine's one block per
benchmark): the row's identity cells on one line, then one indented ``column: value`` line
per other cell. Every console the CLI makes takes its width from :func:`terminal_width`."""

from __future__ import annotations

import os
import sys
from typing import IO

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

PIPE_WIDTH = 160


def terminal_width(stream: IO | None = None) -> int:
    """The terminal's width when ``stream`` (default stdout) is a tty; otherwise ``COLUMNS``
    when set to a positive number; otherwise a wide default for pipes and logs."""
    stream = sys.stdout if stream is None else stream
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        pass
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return PIPE_WIDTH


def _text(cell: object) -> Text:
    """A cell as the table renders it: strings are console markup (escaped by callers)."""
    return cell if isinstance(cell, Text) else Text.from_markup(str(cell))


def _plain(cell: object) -> str:
    return _text(cell).plain


class Fitted:
    """A rich renderable: ``table`` when it fits whole, else stacked blocks. The first
    ``identity`` columns head each block; ``carry`` repeats a blank identity cell from the
    row above (the ladder leaves the workload blank after its first rung); ``suffixes``
    (one per row, may be empty) end a block's heading, e.g. ``vs native``."""

    def __init__(self, table: Table, identity: int = 2, carry: bool = False,
                 suffixes: list[str] | None = None) -> None:
        for column in table.columns:
            column.no_wrap = True
            column.overflow = "fold"
        self.table = table
        self.identity = identity
        self.carry = carry
        self.suffixes = suffixes or []

    def blocks(self) -> list[tuple[Text, list[tuple[str, Text]]]]:
        columns = self.table.columns
        cells = [list(c.cells) for c in columns]
        previous = [Text("")] * self.identity
        out = []
        for i in range(self.table.row_count):
            row = [cells[c][i] if i < len(cells[c]) else "" for c in range(len(columns))]
            heads = []
            for c in range(self.identity):
                cell = row[c]
                if self.carry and not _plain(cell):
                    cell = previous[c]
                heads.append(_text(cell))
            previous = heads
            suffix = self.suffixes[i] if i < len(self.suffixes) else ""
            heading = Text("  ").join([*(h for h in heads if h.plain),
                                       *([Text(suffix)] if suffix else [])])
            lines = []
            for column, cell in zip(columns[self.identity:], row[self.identity:], strict=True):
                value = _text(cell)
                if value.plain:
                    lines.append((_plain(column.header), value))
            out.append((heading, lines))
        return out

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.table)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        need = Measurement.get(console, options.update(max_width=10**6), self.table).maximum
        if need <= options.max_width:
            yield self.table
            return
        if self.table.title is not None:
            title = self.table.title
            yield title if isinstance(title, Text) else Text(str(title))
        for heading, lines in self.blocks():
            yield Text("")
            heading = heading.copy()
            heading.stylize("bold")
            heading.overflow = "fold"
            yield heading
            for label, value in lines:
                line = Text("  ")
                line.append(f"{label}: ")
                line.append_text(value)
                line.overflow = "fold"
                yield line
        yield Text("")  # the lines after the blocks start apart from the last block
