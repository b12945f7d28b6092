"""Blocks in a seeded random order, warmups first.

A block is one pass over all variants of a workload in random order, so that slow drift
(thermal, frequency, background load) hits every variant alike instead of favouring
whichever ran first (fairness rule 4). Warmup samples run before block 0, are marked,
kept in the raw data and left out of the statistics. The order is a pure function of the
plan and its seed, so ``--replay`` reproduces it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from bench import stats
from bench.results import Sample
from bench.suite import Plan, Variant, Workload


@dataclass(frozen=True)
class Step:
    """One sample to take: a workload in a variant, at a place in the schedule."""

    seq: int
    workload: Workload
    variant: Variant
    block: int  # warmup rounds are numbered -warmup .. -1
    position: int  # index within the block
    warmup: bool


def build(plan: Plan) -> list[Step]:
    """The run's steps: per workload (in seeded random order), warmups then blocks."""
    rng = np.random.default_rng(plan.seed)
    workloads = [plan.workloads[i] for i in rng.permutation(len(plan.workloads))]
    steps: list[Step] = []
    for workload in workloads:
        for block in range(-plan.warmup, plan.blocks):
            variants = plan.variants_for(workload)
            order = rng.permutation(len(variants))
            for position, index in enumerate(order):
                steps.append(Step(len(steps), workload, variants[index], block,
                                  position, block < 0))
    return steps


def sequential_comparison(plan: Plan, variant: list[float], baseline: list[float],
                          better: str) -> stats.SequentialDecision | None:
    """The adaptive-mode decision for one comparison with ``len(variant)`` paired blocks,
    or None before ``plan.min_blocks`` paired blocks exist."""
    n = len(variant)
    if n < plan.min_blocks:
        return None
    max_looks = plan.blocks - plan.min_blocks + 1
    look = min(n - plan.min_blocks + 1, max_looks)
    return stats.sequential_look(variant[-(plan.min_blocks + look - 1):],
                                 baseline[-(plan.min_blocks + look - 1):], better, look=look,
                                 max_looks=max_looks, margin=plan.margin, alpha=plan.alpha,
                                 family_size=max(plan.comparisons, 1), seed=plan.seed)


class StopRule:
    """Adaptive mode (METHOD section 5): after each complete block from ``min_blocks`` on,
    a workload stops once every one of its comparisons is decided.

    Repeated looks would inflate false positives with a fixed-level test; each look here
    uses the group-sequential levels of ``stats.sequential_look`` (Lan & DeMets 1983
    O'Brien-Fleming-type spending, Bonferroni across the run's comparisons), whose
    false-claim rate is proven <= alpha by simulation in tests/unit/test_stats_simulation.
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.values: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)

    def record(self, sample: Sample) -> None:
        if sample.ok and not sample.warmup and sample.value is not None:
            self.values[(sample.workload, sample.variant)][sample.block] = float(sample.value)

    def decided(self, workload: Workload) -> bool:
        """Every comparison of ``workload`` has a verdict at the current look."""
        baseline = self.plan.baseline_for(workload)
        base = self.values[(workload.name, baseline.id)]
        for variant in self.plan.variants_for(workload):
            if variant == baseline:
                continue
            mine = self.values[(workload.name, variant.id)]
            blocks = sorted(set(mine) & set(base))
            decision = sequential_comparison(self.plan, [mine[b] for b in blocks],
                                             [base[b] for b in blocks],
                                             workload.metric.better)
            if decision is None or not decision.stop:
                return False
        return True
