"""CI gating as a CI job runs it: real runs, then `bench compare --fail-on regressed`."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tests.e2e.test_cli import bench, only_run_folder

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

#: The same workload name in both set-ups; run B's command does more work per event
#: (primes up to 20000 instead of 10000: each event costs about 2.5 times as much), so
#: its events/s falls in every variant, as a slower engine, kernel or host would make it.
WORKLOAD = """\
name = "cpu.gate"
category = "cpu"
description = "sysbench CPU test, primes up to {prime}"
command = ["sysbench", "cpu", "--threads={{threads}}", "--time={{duration}}",
           "--cpu-max-prime={prime}", "run"]
binaries = ["sysbench"]
packages = ["sysbench"]
duration = 3
quick_duration = 1
timeout = 120
variants = ["native", "docker"]
[metric]
name = "events_per_second"
unit = "events/s"
better = "higher"
parser = "sysbench-cpu"
"""


def measure(tmp_path: Path, name: str, prime: int, seed: int) -> Path:
    """A short real run of cpu.gate (native and docker, 5 blocks of 1 s samples).

    ``--no-retake``: every block counts, disturbed or not. The contamination guard would
    re-take samples that foreign work disturbed and drop blocks where every attempt was,
    which on a busy host leaves too few blocks for a change: the gate is what is tested
    here, not the guard (tests/unit/test_guard.py)."""
    from bench.cpulist import online_cpus

    workloads = tmp_path / f"workloads-{name}"
    workloads.mkdir()
    (workloads / "cpu.gate.toml").write_text(WORKLOAD.format(prime=prime))
    out = tmp_path / name
    proc = bench("run", "--workload-dir", str(workloads), "-w", "cpu.gate", "--quick",
                 "--blocks", "5", "--warmup", "1", "--cpus", str(online_cpus()[-1]),
                 "--seed", str(seed), "--no-retake", "--out", str(out), timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return only_run_folder(out)


@contextlib.contextmanager
def docker_cpu_quota(share: float):
    """A CFS quota of ``share`` of one CPU on the cgroup every Docker container lives under
    (cgroupfs driver: ``/docker`` in the cpu hierarchy), as a misconfigured host would
    carry it: run B's docker variant keeps its name and gets less CPU. Put back after."""
    parents = [Path("/sys/fs/cgroup/cpu/docker"), Path("/sys/fs/cgroup/cpu,cpuacct/docker")]
    parent = next((p for p in parents if (p / "cpu.cfs_quota_us").exists()), None)
    assert parent is not None, "no cgroup v1 cpu controller for docker's containers here"
    quota = parent / "cpu.cfs_quota_us"
    before = quota.read_text().strip()
    period = int((parent / "cpu.cfs_period_us").read_text())
    quota.write_text(str(int(period * share)))
    try:
        yield
    finally:
        quota.write_text(before)


def test_compare_fail_on_regressed_finds_an_injected_cpu_quota(tmp_path):
    a = measure(tmp_path, "a", 10000, seed=4)
    with docker_cpu_quota(0.5):
        quota = measure(tmp_path, "quota", 10000, seed=5)
    proc = bench("compare", str(a), str(quota), "--fail-on", "regressed", "--alpha", "0.01")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    (line,) = proc.stderr.strip().splitlines()
    # Docker's containers got half a CPU: the docker variant's cost doubled, and with it
    # its overhead over native; native ran outside the quota.
    assert "cpu.gate docker: performance regressed" in line
    assert "cpu.gate docker: overhead regressed" in line
    assert "cpu.gate native" not in line


def test_compare_fail_on_regressed_gates_a_slower_run_and_passes_an_a_a_pair(tmp_path):
    a1 = measure(tmp_path, "a1", 10000, seed=1)
    a2 = measure(tmp_path, "a2", 10000, seed=2)
    slower = measure(tmp_path, "b", 20000, seed=3)
    # `regressed` needs the whole 95% interval of a change above 0; the margin plays no
    # part in it (it only decides `unchanged`), so no margin can shield an A/A pair from
    # a false `regressed`. What bounds it is alpha: at most alpha/2 per change within the
    # runs' own noise (Holm over the changes). Between-run drift is not in the interval
    # (README), so the gate runs at alpha 0.01: a false claim in this A/A becomes rare
    # (the two A runs follow each other, so they meet the same host; foreign load that
    # starts between them could still shift one), while run B's cost, about 2.5 times
    # run A's, stays far outside any interval even with disturbed samples.
    gate = ["--fail-on", "regressed", "--alpha", "0.01"]

    same = bench("compare", str(a1), str(a2), *gate)
    assert same.returncode == 0, same.stdout[-3000:] + same.stderr[-3000:]
    assert "error:" not in same.stderr

    proc = bench("compare", str(a1), str(slower), *gate)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    (line,) = proc.stderr.strip().splitlines()  # one line, naming what regressed
    assert line.startswith("error: --fail-on regressed: ")
    assert "cpu.gate native: performance regressed" in line
    assert "cpu.gate docker: performance regressed" in line
    assert "raw performance" in proc.stdout  # the comparison was printed before the gate
    assert "command differs between the runs" in proc.stdout
    assert "Traceback" not in proc.stderr

    # --only-changed keeps what regressed in view, and the exit code stays the gate's.
    shown = bench("compare", str(a1), str(slower), "--only-changed", "--format", "md",
                  *gate)
    assert shown.returncode == 1
    assert "| cpu.gate | native |" in shown.stdout
