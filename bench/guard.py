"""The contamination guard (METHOD §10): a sample that foreign work disturbed is re-taken.

The rule is fixed before the run (recorded in run.json's plan) and reads only independent
evidence, never the metric's value:

- **foreign CPU time on the measured CPUs**: ``extra.host.foreign_fraction``, the user
  time of the measured CPUs over the workload's own lifetime minus the user time of the
  workload's whole process tree or container cgroup (``bench.metrics.host``), as a share
  of the measured CPUs' capacity: other programs. What the variant brings is inside the
  workload's CPU time, in kernel time, or outside the measured CPUs: a container's
  processes are its cgroup; the engine, its shim and the harness run on the harness's
  CPUs; kernel work the variant causes without being charged for it is never counted as
  foreign, and neither is what the CPU accounts while the container's own CFS quota holds
  it off (``throttled_s``: measured here, a 0.8-quota container was throttled 20% of each
  sample and the CPU counted that 20% as user time outside the cgroup). Samples recorded
  before this figure existed are judged on ``noise_fraction``, all of the busy time. Two-role
  workloads (servers) have no such figure: the kernel's network work for their traffic,
  an engine's proxy and the client are part of what is measured, so for them only steal
  counts.
- **hypervisor steal** on the measured CPUs over the same window (``steal_fraction``),
  *beyond the workload's own level*: more than ``steal_threshold`` above the median steal
  of the workload's samples so far in the run (every variant, warmups included). Part of
  the steal comes with the workload itself, native and contained alike, on every
  attempt: a virtual disk's I/O is emulated outside the guest (measured here: 20-30% steal
  for fio, 2-4% for sysbench), a server and its client keep both of the guest's CPUs busy
  at once (15-35% for Redis). Only the excess is other guests taking this one's CPUs.

Windows shorter than ``min_window_s`` are not judged (/proc/stat counts 10 ms ticks).
A contaminated sample stays in samples.jsonl with ``extra.contaminated`` (reason, figure,
threshold, attempt), is left out of every estimate, and is re-taken at once in the same
block and position, at most ``max_attempts`` times per sample and ``max_retake_share`` of
the planned samples per run; past either bound the sample's block is dropped for that
workload (its comparison loses one pair) and the summary says so.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from bench.errors import UsageError
from bench.results import Sample

#: Defaults chosen from measurements on this project's 2-CPU VM (README, "Contamination"):
#: clean samples' foreign share stays below 2% natively and in containers; a CPU hog
#: sharing the measured CPU shows 20% and more. Steal there is 0-8% in clean samples.
DEFAULT_FOREIGN_THRESHOLD = 0.05
DEFAULT_STEAL_THRESHOLD = 0.10


@dataclass(frozen=True)
class RetakeRule:
    """When a sample counts as contaminated, and how often it may be re-taken."""

    enabled: bool = True
    foreign_threshold: float = DEFAULT_FOREIGN_THRESHOLD
    steal_threshold: float = DEFAULT_STEAL_THRESHOLD
    max_attempts: int = 3
    max_retake_share: float = 0.25
    min_window_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("foreign_threshold", "steal_threshold"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 < value <= 1):
                raise UsageError(f"--retake-threshold: {name.replace('_', ' ')} must be "
                                 f"between 0 and 100% (got {value * 100:g}%)")
        if self.max_attempts < 1:
            raise UsageError(f"retake attempts must be at least 1 (got {self.max_attempts})")
        if not 0 <= self.max_retake_share <= 1:
            raise UsageError(f"retake share must be between 0 and 1 "
                             f"(got {self.max_retake_share:g})")

    def reason(self, sample: Sample, steal_level: float = 0.0) -> dict[str, Any] | None:
        """Why ``sample`` is contaminated (a dict for ``extra.contaminated``), or None.
        ``steal_level``: the workload's own steal so far (``StealLevels``). Failed and
        warmup samples are never judged."""
        if not self.enabled or not sample.ok or sample.warmup:
            return None
        host = sample.extra.get("host") or {}
        window = host.get("cpu_window_s")
        if not isinstance(window, int | float) or window < self.min_window_s:
            return None
        figure = "foreign_fraction" if "foreign_fraction" in host else "noise_fraction"
        foreign = host.get(figure)
        throttled = (sample.extra.get("metrics") or {}).get("throttled_s")
        if isinstance(foreign, int | float) and isinstance(throttled, int | float):
            # While its own CFS quota holds the container off the CPU, what the CPU
            # accounts meanwhile is the variant's doing (measured: all of it).
            share = throttled / (window * max(1, len(sample.requested_cpus)))
            foreign = max(0.0, foreign - share)
        if isinstance(foreign, int | float) and foreign > self.foreign_threshold:
            return {"reason": "foreign work on the measured CPUs", "figure": figure,
                    "value": float(foreign), "threshold": self.foreign_threshold}
        steal = host.get("steal_fraction")
        limit = steal_level + self.steal_threshold
        if isinstance(steal, int | float) and steal > limit:
            return {"reason": "hypervisor steal on the measured CPUs beyond the workload's "
                              f"own {steal_level:.0%}",
                    "figure": "steal_fraction", "value": float(steal),
                    "threshold": round(limit, 4)}
        return None

    def run_allowance(self, planned_samples: int) -> int:
        """Retakes the whole run may spend."""
        return math.floor(self.max_retake_share * planned_samples) if self.enabled else 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> RetakeRule:
        """The rule recorded in a plan; plans from before the guard had none (disabled)."""
        if data is None:
            return cls(enabled=False)
        if not isinstance(data, dict):
            raise ValueError(f"retake rule must be an object, got {data!r:.40}")
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


class StealLevels:
    """Each workload's own steal level in this run: the median ``steal_fraction`` of its
    samples so far (every variant, warmups and contaminated ones included, so steal that
    comes with the workload raises its level instead of dropping every block)."""

    def __init__(self) -> None:
        self.seen: dict[str, list[float]] = {}

    def add(self, sample: Sample) -> None:
        steal = (sample.extra.get("host") or {}).get("steal_fraction")
        if sample.ok and isinstance(steal, int | float):
            self.seen.setdefault(sample.workload, []).append(float(steal))

    def level(self, workload: str) -> float:
        values = sorted(self.seen.get(workload, []))
        if not values:
            return 0.0
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
