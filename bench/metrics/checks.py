"""Warnings from resource metrics, for the catalogue (METHOD.md section 6).

Each says what was seen and what to do. :class:`ResourceChecks` accumulates the samples of
one workload in one variant (warmups left out by the caller) in a single streaming pass,
as bench.analysis reads a run, keeping a few numbers per sample, never the samples.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.diagnostics import Diagnostic
from bench.results import Sample

#: Other work on the measured CPUs while the workload ran, as a share of their capacity.
NOISE_FRACTION = 0.05
#: Time stolen by the hypervisor from the measured CPUs, as a share of their capacity.
STEAL_FRACTION = 0.02
#: Spread of the measured CPUs' frequency over a row, relative to its maximum.
FREQUENCY_CHANGE = 0.05
#: Time some tasks stalled on memory (PSI "some"), as a share of the sample's wall time.
MEMORY_PRESSURE = 0.01
#: /proc/stat counts 10 ms ticks: shorter windows say little about noise.
MIN_WINDOW_S = 1.0


def _number(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


@dataclass
class ResourceChecks:
    """Throttling, noisy host, steal, frequency change, swap and memory pressure, and
    metrics that could not be read completely, over one row's samples."""

    throttled: int = 0
    throttled_periods: int = 0
    throttled_s: float = 0.0
    noise: list[float] = field(default_factory=list)
    steal: list[float] = field(default_factory=list)
    freq_lo: float | None = None
    freq_hi: float | None = None
    swapping: int = 0
    swap_pages: int = 0
    stalls: list[float] = field(default_factory=list)
    unread: int = 0
    first_unread: str | None = None
    late: list[float] = field(default_factory=list)

    def add(self, sample: Sample) -> None:
        metrics = sample.extra.get("metrics")
        metrics = metrics if isinstance(metrics, dict) else {}
        host = sample.extra.get("host")
        host = host if isinstance(host, dict) else {}
        if (_number(metrics, "nr_throttled") or 0) > 0:
            self.throttled += 1
            self.throttled_periods = max(self.throttled_periods, int(metrics["nr_throttled"]))
            self.throttled_s = max(self.throttled_s, _number(metrics, "throttled_s") or 0.0)
        if (_number(host, "cpu_window_s") or 0.0) >= MIN_WINDOW_S:
            for key, values in (("noise_fraction", self.noise), ("steal_fraction", self.steal)):
                value = _number(host, key)
                if value is not None:
                    values.append(value)
        low, high = _number(host, "freq_mhz_min"), _number(host, "freq_mhz_max")
        if low is not None and high is not None:
            self.freq_lo = low if self.freq_lo is None else min(self.freq_lo, low)
            self.freq_hi = high if self.freq_hi is None else max(self.freq_hi, high)
        pages = int((_number(host, "swap_in_pages") or 0) + (_number(host, "swap_out_pages")
                                                             or 0))
        if pages > 0:
            self.swapping += 1
            self.swap_pages += pages
        stall = _number(host, "memory_pressure_some_s")
        if stall is not None and sample.wall_s > 0:
            self.stalls.append(stall / sample.wall_s)
        if metrics.get("error"):
            self.unread += 1
            self.first_unread = self.first_unread or str(metrics["error"])
        lag = _number(metrics, "final_read_lag_s")
        if lag is not None:
            self.late.append(lag)

    def warnings(self) -> list[Diagnostic]:
        warnings: list[Diagnostic] = []
        if self.throttled:
            warnings.append(Diagnostic(
                "throttled",
                f"CPU throttling in {self.throttled} sample(s): the cgroup's CFS quota stopped "
                f"the workload in up to {self.throttled_periods} period(s) "
                f"({self.throttled_s:.2f} s)"))
        noisy = [n for n in self.noise if n > NOISE_FRACTION]
        if noisy:
            warnings.append(Diagnostic(
                "noisy-host",
                f"noisy host in {len(noisy)} sample(s): other work used up to {max(noisy):.0%}"
                f" of the measured CPUs while the workload ran (median "
                f"{statistics.median(self.noise):.0%})"))
        stolen = [s for s in self.steal if s > STEAL_FRACTION]
        if stolen:
            warnings.append(Diagnostic(
                "steal",
                f"hypervisor steal in {len(stolen)} sample(s): up to {max(stolen):.0%} of the "
                "measured CPUs' time went to other guests"))
        if (self.freq_lo is not None and self.freq_hi is not None
                and self.freq_hi - self.freq_lo > FREQUENCY_CHANGE * self.freq_hi):
            warnings.append(Diagnostic(
                "frequency",
                f"CPU frequency changed: the measured CPUs ran between {self.freq_lo:.0f} and "
                f"{self.freq_hi:.0f} MHz"))
        if self.swapping:
            warnings.append(Diagnostic(
                "swap",
                f"swap activity in {self.swapping} sample(s) ({self.swap_pages} pages in and "
                "out)"))
        stalled = [s for s in self.stalls if s > MEMORY_PRESSURE]
        if stalled:
            warnings.append(Diagnostic(
                "memory-pressure",
                f"memory pressure in {len(stalled)} sample(s): tasks stalled on memory for up "
                f"to {max(stalled):.1%} of the sample"))
        if self.unread:
            warnings.append(Diagnostic("no-metrics", f"no resource metrics for {self.unread} "
                                                     f"sample(s): {self.first_unread}"))
        if self.late:
            warnings.append(Diagnostic(
                "late-read",
                f"resource totals of {len(self.late)} sample(s) end at the last poll, up to "
                f"{max(self.late):.2f} s before the exit (the engine removed the cgroup "
                "first)"))
        return warnings


def resource_warnings(samples: Iterable[Sample]) -> list[Diagnostic]:
    """The warnings for one row's samples."""
    checks = ResourceChecks()
    for sample in samples:
        checks.add(sample)
    return checks.warnings()
