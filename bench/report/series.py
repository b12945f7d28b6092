"""What the HTML report draws, read from a run in one pass: per workload and variant, the
values by block (measured and warmup), the first failures, wall times and resource metrics.

Large runs stay small and fast: a series with more than ``MAX_POINTS`` blocks is drawn
binned (median line and min-max band per bin, :func:`bin_points`), and the paired sample
plot shows an evenly spaced subset of blocks (:func:`subset`); the statistics always use
every sample, and each caption says what is drawn.
"""

from __future__ import annotations

import math
import statistics
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.analysis import Summary
from bench.results import LoadedRun, Sample
from bench.tidy import numeric_extra

MAX_POINTS = 300  # per series: beyond this a plot is binned (timelines) or subset (pairs)
MAX_FAILED_LISTED = 200
BASELINE_COLOR = "#57606a"
PALETTE = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#1b7c83", "#bf3989",
           "#6e7781", "#4d2d00")


@dataclass
class Series:
    """One workload in one variant, reduced to what the report draws: values by block
    (measured and warmup), the first failures, wall times and resource metrics as compact
    arrays. Samples are read once and not kept (a run may hold 100,000 of them)."""

    variant: str
    color: str = BASELINE_COLOR
    measured: dict[int, float] = field(default_factory=dict)  # block -> value
    warmup: dict[int, float] = field(default_factory=dict)
    failed: list[tuple[int, str]] = field(default_factory=list)  # (block, reason), capped
    contaminated: int = 0  # re-taken samples (bench.guard), left out of every series
    wall: array = field(default_factory=lambda: array("d"))
    extra: dict[str, array] = field(default_factory=dict)

    def add(self, s: Sample) -> None:
        if not s.ok or s.value is None:
            if len(self.failed) < MAX_POINTS:
                self.failed.append((s.block, s.error or "no reason recorded"))
            return
        if s.warmup:
            self.warmup[s.block] = float(s.value)
            return
        if s.contaminated:
            self.contaminated += 1
            return
        self.measured[s.block] = float(s.value)
        if s.wall_s:
            self.wall.append(s.wall_s)
        for key, value in numeric_extra(s).items():
            self.extra.setdefault(key, array("d")).append(value)


@dataclass
class Collected:
    """The run in one pass: series per workload and variant, the first failed samples."""

    series: dict[str, dict[str, Series]] = field(default_factory=dict)
    variants: list[str] = field(default_factory=list)
    failed: list[Sample] = field(default_factory=list)  # the first MAX_FAILED_LISTED
    n_failed: int = 0
    n_samples: int = 0


def collect(loaded: LoadedRun, summary: Summary) -> Collected:
    """The run's series in one pass over its samples, coloured by variant (the baseline grey)."""
    out = Collected()
    out.variants = list(dict.fromkeys([summary.baseline, *(r.variant for r in summary.rows)]))
    for sample in loaded.samples:
        out.n_samples += 1
        if sample.variant not in out.variants:
            out.variants.append(sample.variant)
        per = out.series.setdefault(sample.workload, {})
        per.setdefault(sample.variant, Series(sample.variant)).add(sample)
        if not sample.ok:
            out.n_failed += 1
            if len(out.failed) < MAX_FAILED_LISTED:
                out.failed.append(sample)
    colors = _colors(summary.baseline, out.variants)
    for per in out.series.values():
        for series in per.values():
            series.color = colors[series.variant]
    return out


def _colors(baseline: str, variants: Sequence[str]) -> dict[str, str]:
    colors = {baseline: BASELINE_COLOR}
    others = [v for v in variants if v != baseline]
    colors.update({v: PALETTE[i % len(PALETTE)] for i, v in enumerate(others)})
    return colors


def _log_cost(value: float, better: str) -> float:
    return -math.log(value) if better == "higher" else math.log(value)


def block_overheads(base: Series, other: Series, better: str) -> dict[int, float]:
    """Per paired block: exp(d_b) - 1, the variant's overhead in that block alone."""
    out = {}
    for block, value in other.measured.items():
        ref = base.measured.get(block)
        if ref is not None and ref > 0 and value > 0:
            out[block] = math.expm1(_log_cost(value, better) - _log_cost(ref, better))
    return out


def bin_points(points: Sequence[tuple[int, float]], max_points: int
          ) -> list[tuple[float, float, float, float]]:
    """(x, median, min, max) per bin of consecutive points; one point per bin when small."""
    size = max(1, math.ceil(len(points) / max_points))
    out = []
    for i in range(0, len(points), size):
        chunk = points[i:i + size]
        ys = [y for _, y in chunk]
        x = statistics.fmean(x for x, _ in chunk)
        out.append((x, statistics.median(ys), min(ys), max(ys)))
    return out


def subset(blocks: Sequence[int], limit: int) -> list[int]:
    """At most ``limit`` evenly spaced blocks (all of them when there are few)."""
    if len(blocks) <= limit:
        return list(blocks)
    step = len(blocks) / limit
    return [blocks[int(i * step)] for i in range(limit)]
