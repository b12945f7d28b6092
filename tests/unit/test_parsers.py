"""Parsers against real output captured from Debian 12's sysbench 1.0.20 and stress-ng 0.15.06."""

from pathlib import Path

import pytest

from bench import parsers

DATA = Path(__file__).resolve().parent.parent / "data"


def read(name: str) -> str:
    return (DATA / name).read_text()


def test_sysbench_cpu_reads_events_per_second():
    assert parsers.parse("sysbench-cpu", read("sysbench-cpu-1.0.20.txt"), {}) == 1952.88


def test_sysbench_memory_reads_mib_per_second():
    assert parsers.parse("sysbench-memory", read("sysbench-memory-1.0.20.txt"), {}) == 32650.88


def test_stress_ng_reads_real_time_bogo_ops_of_the_named_stressor():
    text = read("stress-ng-matrix-0.15.06.txt")
    assert parsers.parse("stress-ng", text, {"stressor": "matrix"}) == 1140.93


def test_stress_ng_other_stressor_is_absent():
    with pytest.raises(parsers.ParseError, match="'cpu'"):
        parsers.parse("stress-ng", read("stress-ng-matrix-0.15.06.txt"), {"stressor": "cpu"})


@pytest.mark.parametrize("name", ["sysbench-cpu", "sysbench-memory"])
def test_sysbench_parsers_refuse_other_output(name):
    with pytest.raises(parsers.ParseError, match="looked for"):
        parsers.parse(name, "FATAL: unknown test\n", {})


def test_sysbench_cpu_output_is_not_memory_output():
    with pytest.raises(parsers.ParseError):
        parsers.parse("sysbench-memory", read("sysbench-cpu-1.0.20.txt"), {})


def test_regex_parser_first_group():
    assert parsers.parse("regex", "rate: 12.5 ops\n", {"pattern": r"^rate: ([0-9.]+)"}) == 12.5


def test_regex_needs_pattern():
    with pytest.raises(parsers.ParseError, match="pattern"):
        parsers.parse("regex", "x", {})


def test_json_path_whole_document_and_last_line():
    assert parsers.parse("json", '{"a": {"b": [1, 2.5]}}', {"path": "a.b.1"}) == 2.5
    assert parsers.parse("json", 'starting\n{"ops": 7}\n', {"path": "ops"}) == 7.0


@pytest.mark.parametrize("text, path, message", [
    ('{"a": 1}', "b", "no key 'b'"),
    ('{"a": [1]}', "a.3", "out of range"),
    ('{"a": "fast"}', "a", "not a number"),
    ("no json here", "a", "no JSON"),
])
def test_json_path_errors(text, path, message):
    with pytest.raises(parsers.ParseError, match=message):
        parsers.parse("json", text, {"path": path})


def test_zero_metric_is_refused():
    with pytest.raises(parsers.ParseError, match="positive"):
        parsers.parse("regex", "rate: 0\n", {"pattern": r"rate: ([0-9.]+)"})


def test_nginx_wrk_workload_reads_requests_per_second_from_real_wrk_output():
    """app.nginx-wrk uses the generic regex parser; its pattern on wrk 4.1.0's output."""
    from bench.workloads import load_workloads

    workload = next(w for w in load_workloads() if w.name == "app.nginx-wrk")
    text = read("wrk-4.1.0-nginx.txt")
    assert parsers.parse(workload.metric.parser, text, workload.metric.options) == 136941.49
    with pytest.raises(parsers.ParseError):
        parsers.parse(workload.metric.parser, "unable to connect to 127.0.0.1:8080\n",
                      workload.metric.options)


def test_mariadb_workload_reads_transactions_per_second_from_real_sysbench_output():
    """app.mariadb-oltp: its regex on sysbench 1.0.20 oltp_read_only against MariaDB
    10.11 (the queries/s line right below must not be taken instead)."""
    from bench.workloads import load_workloads

    workload = next(w for w in load_workloads() if w.name == "app.mariadb-oltp")
    text = read("sysbench-oltp-1.0.20-mariadb-10.11.txt")
    assert parsers.parse(workload.metric.parser, text, workload.metric.options) == 3749.19
    failed = ("FATAL: unable to connect to MySQL server on host '127.0.0.1', port 3306, "
              "aborting...\nFATAL: error 2002: Can't connect to server on '127.0.0.1' (115)\n")
    with pytest.raises(parsers.ParseError):
        parsers.parse(workload.metric.parser, failed, workload.metric.options)
