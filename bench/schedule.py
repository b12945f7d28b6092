"""Blocks in a seeded random order, warmups first; the adaptive stop rule.

A block is one pass over all variants of a workload in random order, so that slow drift
(thermal, frequency, background load) hits every variant alike instead of favouring
whichever ran first (fairness rule 4). The run goes in rounds, one block of every
workload per round. Warmup rounds run first, are marked, kept in the raw data and left
out of the statistics. The order is a pure function of the plan and its seed, so
``--replay`` reproduces it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from bench import families, pairing, stats
from bench.plan import Plan
from bench.results import Sample
from bench.variants import Variant
from bench.workloads import Workload


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
    """The run's steps, in rounds: warmup rounds, then one block of every workload per
    round (workloads in a seeded random order, reshuffled each round; variants in a
    seeded random order within each block). Interleaving the workloads lets a budgeted
    run spend its time where comparisons are still undecided: a workload that stops
    leaves its later rounds to the others."""
    rng = np.random.default_rng(plan.seed)
    steps: list[Step] = []
    for block in range(-plan.warmup, plan.blocks):
        for index in rng.permutation(len(plan.workloads)):
            workload = plan.workloads[index]
            variants = plan.variants_for(workload)
            order = rng.permutation(len(variants))
            for position, chosen in enumerate(order):
                steps.append(Step(len(steps), workload, variants[chosen], block,
                                  position, block < 0))
    return steps


def family_sizes(plan: Plan) -> dict[str, int]:
    """Planned comparisons per family (``bench.families``): primary, mechanisms, ladder."""
    primary = families.primary_variant([v.id for v in plan.variants], plan.baseline.id)
    sizes = {"primary": 0, "mechanisms": 0, "ladder": 0}
    for workload in plan.workloads:
        baseline = plan.baseline_for(workload)
        ids = [v.id for v in plan.variants_for(workload)]
        for vid in ids:
            if vid != baseline.id:
                sizes[families.family_of(vid, primary)] += 1
        if plan.ladder:
            sizes["ladder"] += max(0, sum(1 for r in plan.ladder if r in ids) - 1)
    return sizes


class StopRule:
    """Adaptive mode (METHOD section 5): after each complete block, a workload stops once
    every one of its comparisons is decided at a look of ``plan.look_grid``.

    Each comparison gets its family's alpha (``bench.families.allot``) divided by the
    family's size, spent over the looks (``stats.sequential_decision``): the run's
    false-claim rate stays <= alpha however the runner stops, proven by simulation in
    tests/unit/test_decisive.py.
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.values: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
        sizes = family_sizes(plan)
        alphas = families.allot(sizes, plan.alpha)
        self.primary = families.primary_variant([v.id for v in plan.variants],
                                                plan.baseline.id)
        self.share = {name: alphas[name] / n for name, n in sizes.items() if n}
        # A decision changes only when a comparison reaches a new look of the grid.
        self._seen: dict[tuple[str, str], tuple[int, bool]] = {}
        self._latest: dict[tuple[str, str], tuple[stats.SequentialDecision, float]] = {}

    def record(self, sample: Sample) -> None:
        if sample.usable:
            self.values[(sample.workload, sample.variant)][sample.block] = float(sample.value)

    def comparison_alpha(self, variant: Variant) -> float:
        return self.share[families.family_of(variant.id, self.primary)]

    def decided(self, workload: Workload) -> bool:
        """Every comparison of ``workload`` is decided at its latest look."""
        baseline = self.plan.baseline_for(workload)
        base = self.values[(workload.name, baseline.id)]
        for variant in self.plan.variants_for(workload):
            if variant == baseline:
                continue
            mine = self.values[(workload.name, variant.id)]
            blocks = pairing.paired_blocks(mine, base)
            looks = sum(1 for g in self.plan.look_grid if g <= len(blocks))
            key = (workload.name, variant.id)
            if key not in self._seen or self._seen[key][0] != looks:
                decision = None if looks == 0 else stats.sequential_decision(
                    [mine[b] for b in blocks], [base[b] for b in blocks],
                    workload.metric.better, grid=self.plan.look_grid, final=False,
                    margin=self.plan.margin, alpha=self.comparison_alpha(variant),
                    seed=self.plan.seed)
                self._seen[key] = (looks, decision is not None and decision.stop)
                if decision is not None:
                    self._latest[key] = (decision, self.comparison_alpha(variant))
            if not self._seen[key][1]:
                return False
        return True

    def futile(self, workload: Workload, blocks_left: int) -> bool:
        """Some undecided comparison of ``workload`` cannot be decided in ``blocks_left``
        more blocks even if its noise is as low as the data plausibly allow: at its latest
        look, the blocks it would need with 80% power, at the alpha left to it, with its
        estimate as the truth and its sd at the lower 90% confidence bound (chi-square),
        exceed what the budget leaves. Stopping there makes no claim, so it costs no error
        rate; the runner does it only while other workloads can use the time."""
        undecided = [(d, a) for (name, _), (d, a) in self._latest.items()
                     if name == workload.name and not d.stop]
        if not undecided:
            return False
        for decision, alpha in undecided:
            c = decision.comparison
            left = alpha * (1 - decision.alpha_spent)
            if not math.isfinite(c.sd) or left <= 0:
                return False
            df = c.n_blocks - 1
            optimistic = c.sd * math.sqrt(df / float(chi2.ppf(0.9, df)))
            needed = stats.blocks_needed(optimistic, self.plan.margin, c.overhead,
                                         alpha=min(0.49, left))
            if needed > c.n_blocks + blocks_left:
                return True
        return False
