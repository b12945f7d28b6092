"""Parsers that read a workload's primary metric from the tool's own output.

Each parser takes the workload's combined output (stdout, then stderr) plus the workload's
parser options, and returns the metric as a float or raises :class:`ParseError` saying what
it looked for. Built-in parsers are tested on real captured output of the exact tool
versions in Debian 12 (see ``tests/data/``); ``regex`` and ``json`` serve user workloads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any


class ParseError(ValueError):
    """The tool's output did not contain the metric."""


Parser = Callable[[str, Mapping[str, Any]], float]


def _search(pattern: str, text: str, what: str) -> float:
    try:
        match = re.search(pattern, text, re.MULTILINE)
    except re.error as err:
        raise ParseError(f"bad pattern /{pattern}/: {err}") from None
    if match is None:
        raise ParseError(f"no {what} in the output (looked for /{pattern}/)")
    if match.re.groups < 1 or match.group(1) is None:
        raise ParseError(f"pattern /{pattern}/ has no capture group for the metric")
    try:
        return float(match.group(1))
    except ValueError:
        raise ParseError(f"not a number: '{match.group(1)[:40]}' (from /{pattern}/)") from None


def check_options(name: str, options: Mapping[str, Any]) -> str | None:
    """Why ``options`` cannot work for parser ``name`` (None when they can)."""
    if name == "regex":
        pattern = options.get("pattern")
        if not isinstance(pattern, str):
            return "parser 'regex' needs options.pattern (a string)"
        try:
            compiled = re.compile(pattern, re.MULTILINE)
        except re.error as err:
            return f"options.pattern is not a valid regex: {err}"
        if compiled.groups < 1:
            return "options.pattern needs a capture group for the metric, e.g. 'rate: ([0-9.]+)'"
    elif name == "json" and not (isinstance(options.get("path"), str) and options["path"]):
        return "parser 'json' needs options.path (a string such as 'results.ops')"
    elif name == "stress-ng" and not (isinstance(options.get("stressor"), str)
                                      and options["stressor"]):
        return "parser 'stress-ng' needs options.stressor (e.g. 'matrix')"
    return None


def sysbench_cpu(text: str, options: Mapping[str, Any]) -> float:
    """sysbench 1.0 ``cpu`` test: the ``events per second`` line."""
    return _search(r"^\s*events per second:\s+([0-9.]+)\s*$", text, "sysbench 'events per second'")


def sysbench_memory(text: str, options: Mapping[str, Any]) -> float:
    """sysbench 1.0 ``memory`` test: MiB/s from ``... MiB transferred (X MiB/sec)``."""
    return _search(
        r"MiB transferred \(([0-9.]+) MiB/sec\)", text, "sysbench 'MiB transferred (X MiB/sec)'"
    )


def stress_ng(text: str, options: Mapping[str, Any]) -> float:
    """stress-ng ``--metrics-brief``: bogo ops/s (real time) of the named stressor.

    Option ``stressor`` names the stressor row (e.g. ``matrix``).
    """
    stressor = options.get("stressor")
    if not isinstance(stressor, str) or not stressor:
        raise ParseError("parser 'stress-ng' needs option 'stressor'")
    # stressor, bogo ops, real time, usr time, sys time, bogo ops/s (real), bogo ops/s (cpu)
    pattern = (
        rf"metrc: \[\d+\] {re.escape(stressor)}\s+\d+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+"
        r"([0-9.]+)\s+[0-9.]+\s*$"
    )
    return _search(pattern, text, f"stress-ng metrics row for '{stressor}'")


def regex(text: str, options: Mapping[str, Any]) -> float:
    """User workloads: the first capture group of option ``pattern`` (multiline mode)."""
    pattern = options.get("pattern")
    if not isinstance(pattern, str):
        raise ParseError("parser 'regex' needs option 'pattern'")
    return _search(pattern, text, "match")


def json_path(text: str, options: Mapping[str, Any]) -> float:
    """User workloads: a number at option ``path`` (dotted keys/indices) in JSON output.

    The JSON document is the whole stdout, or the last line that parses as JSON.
    """
    path = options.get("path")
    if not isinstance(path, str) or not path:
        raise ParseError("parser 'json' needs option 'path'")
    document = _last_json(text)
    node: Any = document
    for key in path.split("."):
        if isinstance(node, list) and key.lstrip("-").isdigit():
            index = int(key)
            if not -len(node) <= index < len(node):
                raise ParseError(f"JSON path '{path}': index {key} out of range")
            node = node[index]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            raise ParseError(f"JSON path '{path}': no key '{key}'")
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise ParseError(f"JSON path '{path}' is not a number: {node!r}")
    return float(node)


def _last_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    for line in reversed(text.splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    raise ParseError("no JSON document in the output")


#: Parsers by the name used in workload files.  ``wall_time`` is handled by the runner:
#: the metric is the sample's wall time, for programs that print nothing.
PARSERS: dict[str, Parser] = {
    "sysbench-cpu": sysbench_cpu,
    "sysbench-memory": sysbench_memory,
    "stress-ng": stress_ng,
    "regex": regex,
    "json": json_path,
}
WALL_TIME = "wall_time"


def parse(name: str, text: str, options: Mapping[str, Any]) -> float:
    """Read the metric with parser ``name``; ParseError when absent or not positive."""
    value = PARSERS[name](text, options)
    if not value > 0:
        raise ParseError(f"metric must be positive, got {value}")
    return value
