"""Parsers of the single-role workload library, on real output of Debian 12's tools:
hpcc 1.5.0 (its hpccoutf.txt), fio 3.33 (--output-format=json) and stress-ng 0.15.06; and
each built-in workload file against the captured output of its own command."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import parsers
from bench.variants import parse_variant
from bench.workloads import Metric, Workload, load_workloads

DATA = Path(__file__).resolve().parent.parent / "data"


def read(name: str) -> str:
    return (DATA / name).read_text()


#: Built-in workload -> real output of its own command (as the runner sees it: stdout,
#: then stderr), and the value in it.
CAPTURED = {
    "cpu.hpcc-hpl": ("hpcc-1.5.0-hpccoutf.txt", 38.649),
    "memory.hpcc-stream": ("hpcc-1.5.0-hpccoutf.txt", 41.0858),
    "memory.hpcc-randomaccess": ("hpcc-1.5.0-hpccoutf.txt", 0.0472082),
    "syscalls.stress-ng-null": ("stress-ng-0.15.06-null.txt", 15350.09),
    "syscalls.stress-ng-switch": ("stress-ng-0.15.06-switch.txt", 196663.6),
    "disk.fio-seqread": ("fio-3.33-seqread.json", 1268.666914),
    "disk.fio-seqwrite": ("fio-3.33-seqwrite.json", 2848.081239),
    "disk.fio-randread": ("fio-3.33-randread.json", 13616.191904),
    "disk.fio-randwrite": ("fio-3.33-randwrite.json", 13130.934533),
    "disk.fio-fsync": ("fio-3.33-fsync.json", 1156.421789),
}


@pytest.fixture(scope="module")
def workloads() -> dict[str, Workload]:
    return {w.name: w for w in load_workloads()}


@pytest.mark.parametrize("name", sorted(CAPTURED))
def test_each_workload_reads_its_metric_from_real_output(name, workloads):
    workload = workloads[name]
    filename, expected = CAPTURED[name]
    stderr = read("fio-3.33-randread-stderr.txt") if name.startswith("disk.") else ""
    text = read(filename) + "\n" + stderr
    value = parsers.parse(workload.metric.parser, text, workload.metric.options)
    assert value == pytest.approx(expected, rel=1e-12)


# --- hpcc --------------------------------------------------------------------------------

@pytest.mark.parametrize("key, value", [
    ("SingleSTREAM_Copy", 39.9941),
    ("SingleSTREAM_Scale", 41.028),
    ("SingleSTREAM_Add", 39.662),
    ("SingleSTREAM_Triad", 41.0858),
    ("StarRandomAccess_GUPs", 0.0459831),
    ("SingleDGEMM_Gflops", 35.4224),
])
def test_hpcc_reads_any_summary_key(key, value):
    assert parsers.parse("hpcc", read("hpcc-1.5.0-hpccoutf.txt"), {"key": key}) == value


def test_hpcc_scale_turns_tflops_into_gflops():
    text = read("hpcc-1.5.0-hpccoutf.txt")
    tflops = parsers.parse("hpcc", text, {"key": "HPL_Tflops"})
    assert parsers.parse("hpcc", text, {"key": "HPL_Tflops", "scale": 1000}) == tflops * 1000


def test_hpcc_reads_the_last_summary_when_the_file_was_appended_to():
    first = read("hpcc-1.5.0-hpccoutf.txt")
    second = first.replace("SingleSTREAM_Triad=41.0858", "SingleSTREAM_Triad=12.5")
    assert parsers.parse("hpcc", first + second, {"key": "SingleSTREAM_Triad"}) == 12.5


@pytest.mark.parametrize("text, options, message", [
    ("hpcc: cannot open file hpccinf.txt\n", {"key": "HPL_Tflops"}, "no complete hpcc Summary"),
    ("TRUNCATE", {"key": "HPL_Tflops"}, "no complete hpcc Summary"),
    ("FAILED", {"key": "HPL_Tflops"}, "Success=0"),
    ("REAL", {"key": "NoSuchKey"}, "no key 'NoSuchKey'"),
    ("REAL", {"key": "MaxPingPongLatency_usec"}, "did not run"),  # -1: needs 2+ processes
    ("REAL", {"key": "HPL_cpfact"}, "not a number"),
    ("REAL", {}, "needs option 'key'"),
    ("REAL", {"key": "HPL_Tflops", "scale": 0}, "'scale' must be a positive number"),
])
def test_hpcc_malformed_or_failed_output(text, options, message):
    real = read("hpcc-1.5.0-hpccoutf.txt")
    text = {"REAL": real, "TRUNCATE": real[: real.index("End of Summary section.")],
            "FAILED": real.replace("Success=1", "Success=0")}.get(text, text)
    with pytest.raises(parsers.ParseError, match=message):
        parsers.parse("hpcc", text, options)


# --- fio ---------------------------------------------------------------------------------

@pytest.mark.parametrize("filename, options, expected", [
    ("fio-3.33-seqread.json", {"io": "read", "measure": "iops"}, 1209.895052),
    ("fio-3.33-seqwrite.json", {"io": "write"}, 2716.141929),
    ("fio-3.33-randwrite.json", {"io": "write", "measure": "bandwidth"}, 53.784307),
])
def test_fio_measures(filename, options, expected):
    assert parsers.parse("fio", read(filename), options) == pytest.approx(expected, rel=1e-12)


def test_fio_json_after_notes_and_before_stderr():
    text = ("note: both iodepth >= 1 and synchronous I/O engine are selected\n"
            + read("fio-3.33-randread.json") + "\n" + read("fio-3.33-randread-stderr.txt"))
    assert parsers.parse("fio", text, {"io": "read"}) == 13616.191904


def test_fio_sums_jobs():
    text = read("fio-3.33-randread.json")
    first = text.index('    {\n      "jobname"')
    end = text.index("\n  ],\n")
    job = text[first:end]
    doubled = text[:end] + ",\n" + job + text[end:]
    assert parsers.parse("fio", doubled, {"io": "read"}) == pytest.approx(2 * 13616.191904)


def test_fio_job_error_is_refused():
    # fio 3.33 run with --direct=1 on ramfs, which refuses O_DIRECT: exit 1, error 22.
    with pytest.raises(parsers.ParseError, match="failed with error 22"):
        parsers.parse("fio", read("fio-3.33-ramfs-direct-error.txt"), {"io": "read"})


def test_fio_direction_without_io_is_zero_and_refused():
    with pytest.raises(parsers.ParseError, match="positive"):
        parsers.parse("fio", read("fio-3.33-randread.json"), {"io": "write"})


@pytest.mark.parametrize("text, options, message", [
    ("fio: unrecognized option '--bogus'\n", {"io": "read"}, "no fio JSON report"),
    ('{\n  "fio version" : "fio-3.33",\n  "jobs" : []\n}\n', {"io": "read"},
     "no fio JSON report"),
    ('{\n  "jobs" : [ {"jobname" : "x", "read" : {"iops" : "many"}} ]\n}\n', {"io": "read"},
     "not a number"),
    ('{\n  "jobs" : [ {"jobname" : "x"} ]\n}\n', {"io": "read"}, "no 'read' statistics"),
    ("{\n  truncated", {"io": "read"}, "no fio JSON report"),
    ("REAL", {}, "needs option 'io'"),
    ("REAL", {"io": "read", "measure": "latency"}, "'measure' must be"),
])
def test_fio_malformed_output(text, options, message):
    text = read("fio-3.33-randread.json") if text == "REAL" else text
    with pytest.raises(parsers.ParseError, match=message):
        parsers.parse("fio", text, options)


# --- the disk workloads' storage line -----------------------------------------------------

def test_storage_probe_reads_the_workloads_line():
    assert parsers.storage_probe(read("fio-3.33-randread-stderr.txt")) == {
        "path": "/var/tmp/bench-data/capture/disk.fio-randread", "fs": "ext2/ext3",
        "direct_io": True}


def test_storage_probe_records_the_buffered_fallback():
    # The disk script on ramfs, which refuses O_DIRECT: it fell back and said so.
    stderr = read("fio-3.33-randread-ramfs-buffered-stderr.txt")
    assert "O_DIRECT refused" in stderr
    assert parsers.storage_probe(stderr) == {"path": "/tmp/ramfs-test", "fs": "ramfs",
                                             "direct_io": False}
    value = parsers.parse("fio", read("fio-3.33-randread-ramfs-buffered.json") + stderr,
                          {"io": "read"})
    assert value == 235630.684658


def test_storage_probe_absent():
    assert parsers.storage_probe("fio: some error\n") == {}


# --- stress-ng rows of the syscall workloads ----------------------------------------------

def test_stress_ng_misc_metrics_row_is_not_the_metric():
    # "switch  5080.94 nanosecs per context switch" must not be read as the rate.
    text = read("stress-ng-0.15.06-switch.txt")
    assert parsers.parse("stress-ng", text, {"stressor": "switch"}) == 196663.6
    with pytest.raises(parsers.ParseError):
        parsers.parse("stress-ng", read("stress-ng-0.15.06-null.txt"), {"stressor": "switch"})


# --- the workload files -------------------------------------------------------------------

def test_disk_workloads_use_a_data_directory_and_others_do_not(workloads):
    for name, workload in workloads.items():
        assert workload.uses_data == name.startswith("disk."), name
    argv = workloads["disk.fio-randread"].argv(2, quick=True, data="/srv/x")
    assert argv[4:6] == ["/srv/x", "direct"]
    assert "--runtime=1" in argv and "--output-format=json" in argv
    assert not workloads["disk.fio-randread"].read_only_root


def test_uses_data_is_the_placeholder_not_the_text():
    def make(*command: str) -> Workload:
        return Workload(name="disk.x", category="disk", command=command,
                        metric=Metric("v", "IOPS", "higher", "fio"))

    assert make("fio", "--directory={data}").uses_data
    assert not make("sh", "-c", "echo {{data}} data").uses_data
    assert make("sh", "-c", "echo {{data}}", "{data}").argv(1, data="/d") == [
        "sh", "-c", "echo {data}", "/d"]


def test_every_new_workload_declares_packages_and_binaries(workloads):
    for name in CAPTURED:
        assert workloads[name].packages and workloads[name].binaries, name


def test_storage_axis():
    assert parse_variant("docker[storage=volume]").id == "docker[storage=volume]"
    assert parse_variant("docker[storage=overlay]").id == "docker"  # the default
    with pytest.raises(Exception, match="unknown value 'nfs'"):
        parse_variant("docker[storage=nfs]")
