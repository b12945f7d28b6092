"""Blocks hold every variant once, in a seeded random order; warmups come first."""

from __future__ import annotations

from collections import Counter

from bench import plan, schedule
from bench.variants import parse_variants
from tests.conftest import fake_workload


def make_plan(seed=1, blocks=6, warmup=2):
    variants = parse_variants(["native,docker,docker[net=host]"])
    workloads = [fake_workload("cpu.a"), fake_workload("memory.b")]
    return plan.make_plan(workloads, variants, (0,), blocks=blocks, warmup=warmup, seed=seed)


def test_every_block_has_every_variant_once():
    steps = schedule.build(make_plan())
    per_block = Counter((s.workload.name, s.block, s.variant.id) for s in steps)
    assert set(per_block.values()) == {1}
    assert len(steps) == 2 * (6 + 2) * 3
    assert [s.seq for s in steps] == list(range(len(steps)))


def test_warmups_first_and_marked():
    steps = schedule.build(make_plan())
    for name in ("cpu.a", "memory.b"):
        mine = [s for s in steps if s.workload.name == name]
        assert all(s.warmup for s in mine[:6]) and not any(s.warmup for s in mine[6:])
        assert {s.block for s in mine if s.warmup} == {-2, -1}


def test_order_is_random_but_reproducible():
    first = [(s.workload.name, s.variant.id) for s in schedule.build(make_plan(seed=3))]
    again = [(s.workload.name, s.variant.id) for s in schedule.build(make_plan(seed=3))]
    other = [(s.workload.name, s.variant.id) for s in schedule.build(make_plan(seed=4))]
    assert first == again
    assert first != other
    orders = {tuple(s.variant.id for s in schedule.build(make_plan(seed=3))
                    if s.block == b and s.workload.name == "cpu.a") for b in range(6)}
    assert len(orders) > 1  # not the same order in every block
