"""Host-level conditions around each sample: was anything else using the measured CPUs?

- :class:`CpuWindow`: per-CPU time from /proc/stat, read at the same instants as the
  workload's own counters (right after it starts, at its exit), so that the *noise*, the
  busy time of the measured CPUs minus the workload's own CPU time, covers exactly the
  workload's lifetime and not the container set-up around it.
- :class:`HostMonitor`: wraps each sample for the runner: frequency range of the measured
  CPUs (cpufreq, where the host exposes it), 1-minute load average, swap-ins and -outs
  (/proc/vmstat), pressure stall time (PSI, /proc/pressure), and the CPU cost of all the
  sampling, recorded per sample and summed for run.json.

/proc/stat counts in USER_HZ ticks (10 ms): noise is trustworthy to about one tick per CPU,
so the checks ignore windows shorter than a second.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.metrics.sampling import Poller, SamplingConfig, sampler_cpus
from bench.results import Sample

PROC = Path("/proc")
CPUFREQ = Path("/sys/devices/system/cpu")
_HZ = os.sysconf("SC_CLK_TCK")
_PRESSURE = ("cpu", "memory", "io")


@dataclass(frozen=True)
class CpuTimes:
    """One CPU's time since boot, in seconds: busy (user, nice, system, irq, softirq;
    guest time is inside user), idle (idle and iowait) and stolen by the hypervisor."""

    busy: float
    idle: float
    steal: float
    user: float = 0.0  # the user-space part of busy (user + nice)


def parse_proc_stat(text: str) -> dict[int, CpuTimes]:
    """Per-CPU lines of /proc/stat (``cpuN user nice system idle iowait irq softirq steal``)."""
    cpus: dict[int, CpuTimes] = {}
    for line in text.splitlines():
        if not (line.startswith("cpu") and line[3:4].isdigit()):
            continue
        name, *fields = line.split()
        user, nice, system, idle, iowait, irq, softirq, steal = (
            [int(f) for f in fields[:8]] + [0] * 8)[:8]
        cpus[int(name[3:])] = CpuTimes((user + nice + system + irq + softirq) / _HZ,
                                       (idle + iowait) / _HZ, steal / _HZ,
                                       (user + nice) / _HZ)
    return cpus


def read_cpu_times(proc: Path = PROC) -> dict[int, CpuTimes]:
    return parse_proc_stat((proc / "stat").read_text())


def window_summary(start: Mapping[int, CpuTimes], end: Mapping[int, CpuTimes],
                   window_s: float, measured: tuple[int, ...],
                   workload_cpu_s: float | None,
                   workload_user_s: float | None = None) -> dict[str, float]:
    """Utilisation of the measured CPUs vs the others over one window, and the noise: CPU
    time on the measured CPUs not used by the workload (the workload is pinned to them, so
    all its CPU time falls there).

    ``foreign_fraction`` (with ``workload_user_s``) is the user-space part of that: user
    time on the measured CPUs beyond the workload's own, i.e. other programs. Kernel time
    the variant causes without it being charged to the workload (CFS throttling under a
    quota, softirq for its traffic, a hypervisor's idle polling) is in the noise figure but
    never in the foreign one, which is what the contamination guard reads."""
    def busy(cpus: list[int]) -> float:
        return sum(end[c].busy - start[c].busy for c in cpus)

    mine = [c for c in measured if c in start and c in end]
    others = [c for c in end if c in start and c not in measured]
    summary: dict[str, float] = {"cpu_window_s": round(window_s, 6)}
    if window_s <= 0 or not mine:
        return summary
    capacity = window_s * len(mine)
    measured_busy = busy(mine)
    summary["measured_cpu_util"] = round(measured_busy / capacity, 4)
    if others:
        summary["other_cpu_util"] = round(busy(others) / (window_s * len(others)), 4)
    summary["steal_fraction"] = round(sum(end[c].steal - start[c].steal for c in mine)
                                      / capacity, 4)
    if workload_cpu_s is not None:
        noise = measured_busy - workload_cpu_s
        summary["noise_cpu_s"] = round(noise, 3)
        summary["noise_fraction"] = round(max(noise, 0.0) / capacity, 4)
    if workload_user_s is not None:
        foreign = sum(end[c].user - start[c].user for c in mine) - workload_user_s
        summary["foreign_user_s"] = round(foreign, 3)
        summary["foreign_fraction"] = round(max(foreign, 0.0) / capacity, 4)
    return summary


class CpuWindow:
    """Host CPU times at the workload's start and exit (see the module docstring)."""

    def __init__(self, measured: tuple[int, ...], proc: Path = PROC) -> None:
        self.measured = tuple(measured)
        self.proc = proc
        self.t0 = time.monotonic()
        self.start = read_cpu_times(proc)
        self.t1: float | None = None
        self.end: dict[int, CpuTimes] | None = None

    def close(self) -> None:
        """Read the end; only the first call counts."""
        if self.end is None:
            self.end = read_cpu_times(self.proc)
            self.t1 = time.monotonic()

    def summary(self, workload_cpu_s: float | None,
                workload_user_s: float | None = None) -> dict[str, float]:
        self.close()
        assert self.end is not None and self.t1 is not None
        return window_summary(self.start, self.end, self.t1 - self.t0, self.measured,
                              workload_cpu_s, workload_user_s)


def parse_pressure(text: str) -> dict[str, int]:
    """PSI file -> ``{"some": total_us, "full": total_us}``."""
    totals = {}
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        for field in rest.split():
            if field.startswith("total="):
                totals[kind] = int(field[6:])
    return totals


def parse_flat(text: str) -> dict[str, int]:
    """``key value`` lines (/proc/vmstat, cgroup stat files) -> dict; other lines skipped."""
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            values[parts[0]] = int(parts[1])
    return values


def read_counters(proc: Path = PROC) -> dict[str, float]:
    """Host-wide counters read at the start and end of a sample."""
    vmstat = parse_flat((proc / "vmstat").read_text())
    counters: dict[str, float] = {"pswpin": vmstat.get("pswpin", 0),
                                  "pswpout": vmstat.get("pswpout", 0)}
    for resource in _PRESSURE:
        try:
            totals = parse_pressure((proc / "pressure" / resource).read_text())
        except OSError:  # no PSI (kernel without CONFIG_PSI, or psi=0)
            continue
        for kind, total in totals.items():
            counters[f"{resource}_pressure_{kind}_us"] = total
    counters["loadavg_1m"] = float((proc / "loadavg").read_text().split()[0])
    return counters


def counters_summary(before: Mapping[str, float], after: Mapping[str, float]
                     ) -> dict[str, float]:
    summary: dict[str, float] = {
        "loadavg_1m": after["loadavg_1m"],
        "swap_in_pages": int(after["pswpin"] - before["pswpin"]),
        "swap_out_pages": int(after["pswpout"] - before["pswpout"]),
    }
    for key in after:
        if key.endswith("_us") and key in before:
            summary[key[:-3] + "_s"] = round((after[key] - before[key]) / 1e6, 6)
    return summary


def read_freqs_mhz(paths: Mapping[int, Path]) -> list[float]:
    freqs = []
    for path in paths.values():
        try:
            freqs.append(int(path.read_text()) / 1000)
        except (OSError, ValueError):
            continue
    return freqs


class _SampleProbe:
    """The host side of one sample: counters at both ends, polls in between."""

    def __init__(self, monitor: HostMonitor) -> None:
        self.monitor = monitor
        self.t0 = time.monotonic()
        self.before = read_counters(monitor.proc)
        self.window = CpuWindow(monitor.measured, monitor.proc)
        self.freqs = read_freqs_mhz(monitor.freq_paths)
        self.series: list[dict[str, float]] = []
        self._last = (self.t0, self.window.start)
        self.poller = None
        if monitor.freq_paths or monitor.config.series:
            self.poller = Poller("bench-host-sampler", monitor.config.interval_s,
                                 monitor.measured, self.tick)

    def tick(self) -> None:
        freqs = read_freqs_mhz(self.monitor.freq_paths)
        self.freqs.extend(freqs)
        if self.monitor.config.series:
            now, times = time.monotonic(), read_cpu_times(self.monitor.proc)
            point = window_summary(self._last[1], times, now - self._last[0],
                                   self.monitor.measured, None)
            point.pop("cpu_window_s", None)
            point.pop("steal_fraction", None)
            point["t_s"] = round(now - self.t0, 3)
            if freqs:
                point["freq_mhz_max"] = max(freqs)
            self.series.append(point)
            self._last = (now, times)

    def finish(self, sample: Sample) -> tuple[dict[str, Any], float]:
        """The host summary for ``sample``, and the poller's CPU time."""
        poller_cpu = 0.0
        if self.poller is not None:
            self.poller.stop()
            poller_cpu = self.poller.cpu_s
            if self.poller.error is not None:
                raise self.poller.error
        host = counters_summary(self.before, read_counters(self.monitor.proc))
        self.freqs.extend(read_freqs_mhz(self.monitor.freq_paths))
        if self.freqs:
            host["freq_mhz_min"], host["freq_mhz_max"] = min(self.freqs), max(self.freqs)
        if "cpu_window_s" not in sample.extra.get("host", {}):
            # No window from the environment: use the whole sample, set-up included.
            cpu = sample.extra.get("metrics", {}).get("cpu_total_s")
            host.update(self.window.summary(cpu))
            host["cpu_window"] = "sample"
        return host, poller_cpu


class HostMonitor:
    """Wraps each sample for the runner and keeps the cost of sampling for run.json.

    The cost is the CPU time of every sampling thread (CLOCK_THREAD_CPUTIME_ID, measured
    by each thread over its own life) plus the harness's own reads around each sample
    (thread CPU time of the calling thread), over the samples' wall time.
    """

    def __init__(self, measured: tuple[int, ...], config: SamplingConfig | None = None,
                 proc: Path = PROC, cpufreq: Path = CPUFREQ) -> None:
        self.measured = tuple(measured)
        self.config = config or SamplingConfig()
        self.proc = proc
        self.freq_paths = {cpu: cpufreq / f"cpu{cpu}" / "cpufreq" / "scaling_cur_freq"
                           for cpu in self.measured}
        self.freq_paths = {c: p for c, p in self.freq_paths.items() if p.exists()}
        self.cpu_s = 0.0
        self.wall_s = 0.0
        self.samples = 0

    def measure(self, execute: Callable[..., Sample], *args: Any) -> Sample:
        """Run ``execute(*args)`` and return its Sample with ``extra["host"]`` filled in."""
        wall0, cpu0 = time.monotonic(), time.thread_time()
        probe = _SampleProbe(self)
        cpu = time.thread_time() - cpu0
        try:
            sample = execute(*args)
        except BaseException:
            if probe.poller is not None:
                probe.poller.stop()
            raise
        cpu0 = time.thread_time()
        host, poller_cpu = probe.finish(sample)
        cpu += time.thread_time() - cpu0 + poller_cpu
        collector = float(sample.extra.get("metrics", {}).get("collector_cpu_s", 0.0))
        host["sampler_cpu_s"] = round(cpu + collector, 6)
        self.cpu_s += cpu + collector
        self.wall_s += time.monotonic() - wall0
        self.samples += 1
        extra = dict(sample.extra)
        extra["host"] = {**extra.get("host", {}), **host}
        if self.config.series:
            extra["series"] = {**extra.get("series", {}), "host": probe.series}
        return dataclasses.replace(sample, extra=extra)

    def cost(self) -> dict[str, Any]:
        """What sampling cost so far (run.json's ``sampler``)."""
        return {
            "interval_s": self.config.interval_s,
            "series": self.config.series,
            "cpus": sorted(sampler_cpus(self.measured)),
            "frequency_readable": bool(self.freq_paths),
            "samples": self.samples,
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 6),
            "cpu_fraction": round(self.cpu_s / self.wall_s, 6) if self.wall_s else None,
            "method": "thread CPU time (CLOCK_THREAD_CPUTIME_ID) of every sampling thread "
                      "and of the harness's reads around each sample, over the samples' "
                      "wall time; fraction of one CPU",
        }
