"""Blocks in a seeded random order, warmups first.

A block is one pass over all variants of a workload in random order, so that slow drift
(thermal, frequency, background load) hits every variant alike instead of favouring
whichever ran first (fairness rule 4). Warmup samples run before block 0, are marked,
kept in the raw data and left out of the statistics. The order is a pure function of the
plan and its seed, so ``--replay`` reproduces it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
            order = rng.permutation(len(plan.variants))
            for position, index in enumerate(order):
                steps.append(Step(len(steps), workload, plan.variants[index], block,
                                  position, block < 0))
    return steps
