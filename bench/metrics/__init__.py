"""Per-sample resource metrics: what each sample used, and what else the host was doing.

A verdict is only as good as the evidence that conditions were equal (DESIGN.md, fairness
rule 6): throttling, a noisy neighbour, a frequency change or a broken pin can fake an
"overhead". Each sample therefore carries

- ``extra["metrics"]``: the workload's own resource use, as deltas around the sample, with
  the unit in every key (``cpu_total_s``, ``nr_throttled``, ``mem_peak_bytes``, ...).
  Native samples: the child's rusage and /proc I/O counters (:mod:`.process`); container
  samples and ``native[cgroup=own]``: the cgroup, v1 or v2 (:mod:`.cgroup`). Keys mean the
  same thing wherever they appear. Two-role workloads: the server under test, over the
  client's run (:mod:`.server`; ``role: server``).
- ``extra["host"]``: the host around it (:mod:`.host`): CPU time on the measured CPUs vs
  the others, the CPU time of everything else on the measured CPUs (noise), frequency
  range, load average, swap and pressure stalls, and the sampling's own CPU cost.

:mod:`.checks` turns these into the warnings of the catalogue. Sampling runs on the CPUs
the harness keeps for itself, never on the measured ones when the host has others.
"""

from __future__ import annotations

from bench.metrics.cgroup import CgroupSet, ContainerWatch, OwnCgroup
from bench.metrics.checks import resource_warnings
from bench.metrics.host import CpuWindow, HostMonitor
from bench.metrics.process import ProcessWatch
from bench.metrics.sampling import DEFAULT_INTERVAL_S, SamplingConfig, pin_off, sampler_cpus
from bench.metrics.server import ServerWatch

__all__ = [
    "DEFAULT_INTERVAL_S",
    "CgroupSet",
    "ContainerWatch",
    "CpuWindow",
    "HostMonitor",
    "OwnCgroup",
    "ProcessWatch",
    "SamplingConfig",
    "ServerWatch",
    "pin_off",
    "resource_warnings",
    "sampler_cpus",
]
