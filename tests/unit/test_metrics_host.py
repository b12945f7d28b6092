"""Host-level sampling on a fake /proc tree (exact), plus the sampling machinery itself."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from bench import metrics
from bench.environments.base import RawResult, SampleContext, finish_sample
from bench.errors import UsageError
from bench.metrics import host
from bench.metrics.sampling import Poller
from bench.variants import parse_variant
from tests.conftest import fake_workload

HZ = os.sysconf("SC_CLK_TCK")


def stat(*cpus: tuple[int, int, int]) -> str:
    """/proc/stat text: per CPU (busy ticks, idle ticks, steal ticks), busy as user time."""
    lines = ["cpu  0 0 0 0 0 0 0 0 0 0"]
    lines += [f"cpu{i} {busy} 0 0 {idle} 0 0 0 {steal} 0 0"
              for i, (busy, idle, steal) in enumerate(cpus)]
    return "\n".join([*lines, "intr 1 2 3", "ctxt 42", "btime 1", ""])


def pressure(some: int, full: int) -> str:
    return (f"some avg10=0.00 avg60=0.00 avg300=0.00 total={some}\n"
            f"full avg10=0.00 avg60=0.00 avg300=0.00 total={full}\n")


def fake_proc(root: Path, stat_text: str, swap: tuple[int, int] = (0, 0),
              psi: int = 0, load: str = "0.50") -> Path:
    (root / "pressure").mkdir(parents=True, exist_ok=True)
    (root / "stat").write_text(stat_text)
    (root / "vmstat").write_text(f"nr_free_pages 1\npswpin {swap[0]}\npswpout {swap[1]}\n")
    (root / "loadavg").write_text(f"{load} 0.40 0.30 2/100 1234\n")
    for name in ("cpu", "memory", "io"):
        (root / "pressure" / name).write_text(pressure(psi, psi // 2))
    return root


def test_proc_stat_per_cpu_seconds():
    cpus = host.parse_proc_stat("cpu  9 9 9 9 9 9 9 9\n"
                                "cpu0 100 10 20 500 30 1 2 7 50 0\n"
                                "cpu1 1 2 3 4\n")
    assert cpus[0] == host.CpuTimes(133 / HZ, 530 / HZ, 7 / HZ, 110 / HZ)  # guest in user
    assert cpus[1] == host.CpuTimes(6 / HZ, 4 / HZ, 0.0, 3 / HZ)


def test_window_summary_noise_is_busy_time_not_used_by_the_workload():
    start = host.parse_proc_stat(stat((0, 0, 0), (0, 0, 0), (0, 0, 0)))
    end = host.parse_proc_stat(stat((50, 150, 0), (190, 0, 10), (200, 0, 0)))
    window = 2.0
    got = host.window_summary(start, end, window, (1, 2), workload_cpu_s=3.5)
    assert got == {
        "cpu_window_s": 2.0,
        "measured_cpu_util": round((390 / HZ) / 4.0, 4),
        "other_cpu_util": round((50 / HZ) / 2.0, 4),
        "steal_fraction": round((10 / HZ) / 4.0, 4),
        "noise_cpu_s": round(390 / HZ - 3.5, 3),
        "noise_fraction": round(max(390 / HZ - 3.5, 0) / 4.0, 4),
    }
    assert "noise_cpu_s" not in host.window_summary(start, end, window, (1,), None)


def test_foreign_figure_is_user_time_beyond_the_workloads_own():
    # CPU 1: 100 ticks user, 60 system (a quota's throttling work), the workload 0.8 s user.
    start = host.parse_proc_stat("cpu1 0 0 0 0 0 0 0 0\n")
    end = host.parse_proc_stat(f"cpu1 {HZ} 0 {int(0.6 * HZ)} {int(0.4 * HZ)} 0 0 0 0\n")
    got = host.window_summary(start, end, 2.0, (1,), workload_cpu_s=0.9, workload_user_s=0.8)
    assert got["foreign_user_s"] == pytest.approx(0.2, abs=0.011)
    assert got["foreign_fraction"] == pytest.approx(0.1, abs=0.006)
    assert got["noise_fraction"] == pytest.approx(0.35, abs=0.006)  # throttling work too


def test_pressure_and_flat_files():
    assert host.parse_pressure(pressure(10, 4)) == {"some": 10, "full": 4}
    assert host.parse_flat("a 1\nb -2\nweird line here\nc x\n") == {"a": 1, "b": -2}


def sample_of(cpu_total_s: float | None = None):
    ctx = SampleContext("r", 0, 0, 0, False, (1,), True)
    extra = {"metrics": {"cpu_total_s": cpu_total_s}} if cpu_total_s is not None else {}
    raw = RawResult(0, "x", "", 1.0, 0.0, "fake:0", extra=extra)
    workload = fake_workload()
    return finish_sample(workload, parse_variant("fake"), ctx, raw)


def test_monitor_summarises_the_host_around_a_sample(tmp_path):
    proc = fake_proc(tmp_path / "proc", stat((0, 0, 0), (0, 0, 0)), swap=(5, 7), psi=1000)
    cpufreq = tmp_path / "cpu"
    (cpufreq / "cpu1" / "cpufreq").mkdir(parents=True)
    freq = cpufreq / "cpu1" / "cpufreq" / "scaling_cur_freq"
    freq.write_text("2000000\n")
    monitor = metrics.HostMonitor((1,), metrics.SamplingConfig(interval_s=0.01), proc, cpufreq)

    def execute():
        time.sleep(0.05)  # a few polls at the old frequency
        fake_proc(proc, stat((10, 90, 0), (95, 5, 0)), swap=(6, 9), psi=251000, load="1.25")
        freq.write_text("1500000\n")
        return sample_of(cpu_total_s=0.5)

    sample = monitor.measure(execute)
    got = sample.extra["host"]
    assert got["swap_in_pages"] == 1 and got["swap_out_pages"] == 2
    assert got["memory_pressure_some_s"] == 0.25 and got["io_pressure_full_s"] == 0.125
    assert got["loadavg_1m"] == 1.25
    assert (got["freq_mhz_min"], got["freq_mhz_max"]) == (1500.0, 2000.0)
    # No window from the environment: the whole sample is the window.
    assert got["cpu_window"] == "sample"
    assert got["noise_cpu_s"] == round(95 / HZ - 0.5, 3)
    assert got["sampler_cpu_s"] > 0
    cost = monitor.cost()
    assert cost["samples"] == 1 and cost["frequency_readable"] is True
    assert 0 < cost["cpu_s"] == got["sampler_cpu_s"]
    assert cost["cpu_fraction"] == pytest.approx(cost["cpu_s"] / cost["wall_s"], rel=0.01)


def test_monitor_keeps_the_environments_workload_window_and_adds_series(tmp_path):
    proc = fake_proc(tmp_path / "proc", stat((0, 0, 0), (0, 0, 0)))
    monitor = metrics.HostMonitor((1,), metrics.SamplingConfig(interval_s=0.01, series=True),
                                  proc, tmp_path / "nofreq")

    def execute():
        sample = sample_of(cpu_total_s=0.5)
        sample.extra["host"] = {"cpu_window_s": 0.9, "noise_fraction": 0.2,
                                "cpu_window": "workload"}
        sample.extra["metrics"]["collector_cpu_s"] = 0.125
        time.sleep(0.05)
        return sample

    sample = monitor.measure(execute)
    assert sample.extra["host"]["cpu_window"] == "workload"
    assert sample.extra["host"]["noise_fraction"] == 0.2
    assert sample.extra["host"]["sampler_cpu_s"] >= 0.125  # the collector's cost counts
    assert len(sample.extra["series"]["host"]) >= 2
    assert {"t_s", "measured_cpu_util"} <= set(sample.extra["series"]["host"][0])


def test_no_polling_thread_when_there_is_nothing_to_poll(tmp_path):
    proc = fake_proc(tmp_path / "proc", stat((0, 0, 0), (0, 0, 0)))
    monitor = metrics.HostMonitor((1,), metrics.SamplingConfig(), proc, tmp_path / "nofreq")
    probe = host._SampleProbe(monitor)
    assert probe.poller is None


def test_an_interrupted_sample_stops_the_poller(tmp_path):
    proc = fake_proc(tmp_path / "proc", stat((0, 0, 0), (0, 0, 0)))
    monitor = metrics.HostMonitor((1,), metrics.SamplingConfig(series=True), proc)

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        monitor.measure(interrupted)
    assert not any(t.name == "bench-host-sampler" for t in threading.enumerate())


def test_sampling_config_from_the_environment():
    assert metrics.SamplingConfig.from_environ({}) == metrics.SamplingConfig(0.5, False)
    config = metrics.SamplingConfig.from_environ({"BENCH_METRICS_INTERVAL": "0.25",
                                                  "BENCH_METRICS_SERIES": "1"})
    assert config == metrics.SamplingConfig(0.25, True)
    with pytest.raises(UsageError, match="expected seconds"):
        metrics.SamplingConfig.from_environ({"BENCH_METRICS_INTERVAL": "fast"})
    with pytest.raises(UsageError, match=r"between 0\.01 and 60"):
        metrics.SamplingConfig(0.0)


def test_poller_stops_at_once_and_sees_an_exit_through_a_pidfd():
    ticks = []
    poller = Poller("t", 10.0, (), lambda: ticks.append(1))
    began = time.monotonic()
    poller.stop()
    poller.stop()  # twice is fine
    assert time.monotonic() - began < 1.0 and ticks == []

    child = subprocess.Popen(["sleep", "0.2"])
    fd = os.pidfd_open(child.pid)
    exits = []
    poller = Poller("t", 0.02, (), lambda: ticks.append(1), fd, lambda: exits.append(1))
    assert poller.join(5)
    poller.stop()
    os.close(fd)
    child.wait()
    assert exits == [1] and len(ticks) >= 3 and poller.cpu_s > 0


def test_poller_runs_off_the_measured_cpus():
    allowed = sorted(os.sched_getaffinity(0))
    measured = (allowed[-1],)
    seen = []
    poller = Poller("t", 0.01, measured, lambda: seen.append(os.sched_getaffinity(0)))
    time.sleep(0.05)
    poller.stop()
    expected = (set(allowed) - set(measured)) or set(allowed)
    assert seen and all(s == expected for s in seen)
    assert os.sched_getaffinity(0) == set(allowed)  # the calling thread is left alone
