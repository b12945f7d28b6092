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
    elif name == "redis-benchmark" and not isinstance(options.get("test"), str):
        return "parser 'redis-benchmark' needs options.test (e.g. 'GET')"
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
    start = text.find("{")
    if start >= 0:  # a (pretty-printed) document followed by other output
        try:
            return json.JSONDecoder().raw_decode(text, start)[0]
        except ValueError:
            pass
    for line in reversed(text.splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    raise ParseError("no JSON document in the output")


def redis_benchmark(text: str, options: Mapping[str, Any]) -> float:
    """redis-benchmark ``--csv`` (Redis 7): option ``column`` of the named ``test`` row,
    e.g. test "GET", column "rps" (requests/s) or "p99_latency_ms"."""
    test = options.get("test")
    column = options.get("column", "rps")
    rows = [line.replace('"', "").split(",") for line in text.splitlines() if '","' in line]
    header = next((row for row in rows if row and row[0] == "test"), None)
    if header is None or column not in header:
        raise ParseError(f"no redis-benchmark CSV header with column '{column}'")
    for row in rows:
        if row and row[0] == test and len(row) == len(header):
            try:
                return float(row[header.index(column)])
            except ValueError:
                raise ParseError(f"redis-benchmark {test} {column} is not a number") from None
    raise ParseError(f"no redis-benchmark CSV row for test '{test}'")


def sockperf(text: str, options: Mapping[str, Any]) -> float:
    """sockperf 3.7 ping-pong: latency percentile ``percentile`` (e.g. "50.000") in usec."""
    percentile = str(options.get("percentile", "50.000"))
    clean = re.sub(r"\x1b\[[0-9;]*m", "", text)  # it colours its summary
    return _search(rf"percentile {re.escape(percentile)} =\s*([0-9.]+)", clean,
                   f"sockperf percentile {percentile}")


def hpcc(text: str, options: Mapping[str, Any]) -> float:
    """HPC Challenge 1.5 (its ``hpccoutf.txt``): the value of option ``key`` in the closing
    Summary section (e.g. ``SingleSTREAM_Triad`` in GB/s, ``SingleRandomAccess_GUPs``),
    times option ``scale`` (default 1: ``HPL_Tflops`` with scale 1000 is GFLOPS).

    A run whose summary says ``Success=0`` (a test failed its verification) is refused, and
    so is a key left at -1 (its test did not run).
    """
    key = options.get("key")
    if not isinstance(key, str) or not key:
        raise ParseError("parser 'hpcc' needs option 'key' (e.g. 'SingleSTREAM_Triad')")
    scale = options.get("scale", 1)
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
        raise ParseError(f"parser 'hpcc': option 'scale' must be a positive number, "
                         f"got {scale!r}")
    start = text.rfind("Begin of Summary section.")
    end = text.find("End of Summary section.", max(start, 0))
    if start < 0 or end < 0:
        raise ParseError("no complete hpcc Summary section in the output "
                         "(the workload should print hpccoutf.txt)")
    summary = dict(line.strip().split("=", 1) for line in text[start:end].splitlines()
                   if "=" in line)
    if summary.get("Success") != "1":
        raise ParseError(f"hpcc reports Success={summary.get('Success', '(missing)')}: "
                         "a test failed its verification")
    if key not in summary:
        raise ParseError(f"no key '{key}' in the hpcc Summary section")
    try:
        value = float(summary[key])
    except ValueError:
        raise ParseError(f"hpcc {key} is not a number: '{summary[key][:40]}'") from None
    if value < 0:
        raise ParseError(f"hpcc did not run the test behind {key} ({key}={summary[key]})")
    return value * scale


_FIO_MEASURES = {"iops": ("iops", 1.0), "bandwidth": ("bw_bytes", 1e-6)}


def fio(text: str, options: Mapping[str, Any]) -> float:
    """fio 3.x ``--output-format=json``: option ``io`` (``read`` or ``write``) and option
    ``measure``, ``iops`` (default) or ``bandwidth`` (MB/s, 10^6 bytes/s), summed over the
    jobs. A job that reports an error is refused."""
    io = options.get("io")
    measure = options.get("measure", "iops")
    if io not in ("read", "write"):
        raise ParseError(f"parser 'fio' needs option 'io' = 'read' or 'write', got {io!r}")
    if measure not in _FIO_MEASURES:
        raise ParseError(f"parser 'fio': option 'measure' must be 'iops' or 'bandwidth', "
                         f"got {measure!r}")
    # The JSON document starts at a line of its own; fio may print notes before it.
    match = re.search(r"^\{", text, re.MULTILINE)
    try:
        document = json.JSONDecoder().raw_decode(text, match.start())[0] if match else None
    except ValueError:
        document = None
    jobs = document.get("jobs") if isinstance(document, dict) else None
    if not isinstance(jobs, list) or not jobs:
        raise ParseError("no fio JSON report with jobs in the output "
                         "(run fio with --output-format=json)")
    field_name, factor = _FIO_MEASURES[measure]
    total = 0.0
    for job in jobs:
        name = job.get("jobname", "?") if isinstance(job, dict) else "?"
        if not isinstance(job, dict) or not isinstance(job.get(io), dict):
            raise ParseError(f"fio job '{name}' has no '{io}' statistics")
        if job.get("error"):
            raise ParseError(f"fio job '{name}' failed with error {job['error']}")
        value = job[io].get(field_name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParseError(f"fio job '{name}': {io}.{field_name} is not a number")
        total += value * factor
    return total


_STORAGE_LINE = re.compile(r"^bench-storage((?: [a-z_]+=\S*)+)[ \t]*$", re.MULTILINE)


def storage_probe(text: str) -> dict[str, Any]:
    """What a disk workload saw of its data directory, from the ``bench-storage path=...
    fs=... direct=0|1`` line it prints on stderr (workloads/disk.*.toml): ``path``, ``fs``
    (the filesystem type as ``stat -f`` names it) and ``direct_io`` (whether it used
    O_DIRECT). Empty when the line is absent."""
    found = _STORAGE_LINE.findall(text)
    if not found:
        return {}
    items = dict(item.split("=", 1) for item in found[-1].split())
    record: dict[str, Any] = {k: v for k, v in items.items() if k != "direct"}
    if "direct" in items:
        record["direct_io"] = items["direct"] == "1"
    return record


#: Parsers by the name used in workload files.  ``wall_time`` is handled by the runner:
#: the metric is the sample's wall time, for programs that print nothing.
PARSERS: dict[str, Parser] = {
    "sysbench-cpu": sysbench_cpu,
    "sysbench-memory": sysbench_memory,
    "stress-ng": stress_ng,
    "regex": regex,
    "json": json_path,
    "redis-benchmark": redis_benchmark,
    "sockperf": sockperf,
    "hpcc": hpcc,
    "fio": fio,
}
WALL_TIME = "wall_time"


def parse(name: str, text: str, options: Mapping[str, Any]) -> float:
    """Read the metric with parser ``name``; ParseError when absent or not positive."""
    value = PARSERS[name](text, options)
    if not value > 0:
        raise ParseError(f"metric must be positive, got {value}")
    return value
