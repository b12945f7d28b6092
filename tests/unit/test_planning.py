"""``bench run``'s options -> the Plan, as the CLI asks for it (bench.planning)."""

from __future__ import annotations

import pytest

from bench import planning, results
from bench.cpulist import default_cpus, online_cpus
from bench.errors import UsageError
from bench.guard import DEFAULT_FOREIGN_THRESHOLD, DEFAULT_STEAL_THRESHOLD, RetakeRule
from bench.plan import (
    ADAPTIVE_MAX_BLOCKS,
    DEFAULT_ALPHA,
    DEFAULT_BLOCKS,
    DEFAULT_MARGIN,
    DEFAULT_MIN_BLOCKS,
    QUICK_BLOCKS,
    QUICK_BUDGET_S,
    QUICK_MAX_BLOCKS,
    QUICK_MIN_BLOCKS,
)
from bench.variants import VARIANT_SETS
from bench.workloads import load_workloads, select_suite

FAKES = ("fake,fake[scale=2]",)


def test_defaults_are_the_standard_suite_in_each_workloads_own_variants():
    plan = planning.from_options(seed=1)
    standard = select_suite(load_workloads(), "standard")
    assert [w.name for w in plan.workloads] == [w.name for w in standard]
    assert plan.matrix == {w.name: w.variants for w in standard}
    assert (plan.blocks, plan.warmup, plan.margin, plan.alpha) == (
        DEFAULT_BLOCKS, 1, DEFAULT_MARGIN, DEFAULT_ALPHA)
    assert not plan.adaptive and plan.budget_s is None and plan.ladder == ()
    assert plan.cpus == default_cpus() and plan.seed == 1
    assert plan.retake == RetakeRule()


def test_quick_is_adaptive_with_a_budget_and_asks_the_primary_question_only():
    plan = planning.from_options(quick=True, seed=1)
    quick = select_suite(load_workloads(), "quick")
    assert [w.name for w in plan.workloads] == [w.name for w in quick]
    assert plan.adaptive and plan.quick
    assert (plan.blocks, plan.min_blocks, plan.budget_s) == (
        QUICK_MAX_BLOCKS, QUICK_MIN_BLOCKS, QUICK_BUDGET_S)
    assert [v.id for v in plan.variants] == ["native", "docker"]
    assert set(plan.matrix.values()) == {("native", "docker")}


def test_quick_keeps_what_the_user_gave():
    plan = planning.from_options(quick=True, variants=FAKES, min_blocks=4, max_blocks=12,
                                 budget="10m", seed=1)
    assert (plan.adaptive, plan.blocks, plan.min_blocks, plan.budget_s) == (True, 12, 4, 600)
    assert [v.id for v in plan.variants] == ["fake", "fake[scale=2]"] and plan.matrix is None


def test_quick_with_blocks_is_that_many_blocks_of_short_samples_in_the_full_matrix():
    plan = planning.from_options(quick=True, blocks=3, seed=1)
    assert (plan.adaptive, plan.blocks, plan.budget_s, plan.quick) == (False, 3, None, True)
    assert plan.matrix["app.redis-get"] == ("native", "docker", "docker[net=host]")
    assert planning.from_options(quick=True, adaptive=True, seed=1).budget_s is None


@pytest.mark.parametrize("options, blocks", [
    ({}, DEFAULT_BLOCKS),
    ({"quick": True, "adaptive": True}, ADAPTIVE_MAX_BLOCKS),
    ({"adaptive": True, "max_blocks": 9}, 9),
    ({"blocks": 7}, 7),
])
def test_blocks(options, blocks):
    assert planning.from_options(variants=FAKES, **options).blocks == blocks


def test_quick_blocks_when_not_adaptive():
    assert planning.plan_blocks(None, None, adaptive=False, quick=True) == QUICK_BLOCKS


@pytest.mark.parametrize("options, message", [
    ({"max_blocks": 9}, "--max-blocks goes with --adaptive"),
    ({"adaptive": True, "blocks": 9}, "--adaptive takes --min-blocks/--max-blocks"),
    ({"margin_percent": 0}, "--margin must be greater than 0% and less than 100%"),
    ({"alpha": 0.7}, "--alpha must be between"),
    ({"budget": "soon"}, "--budget: cannot parse 'soon'"),
    ({"cpus": "4096"}, "--cpus: CPU 4096 is not online"),
    ({"patterns": ["gpu.*"]}, "matches no workload"),
    ({"retake_threshold_percent": 0}, "--retake-threshold"),
])
def test_bad_options_are_usage_errors(options, message):
    with pytest.raises(UsageError, match=message):
        planning.from_options(**{"variants": FAKES, **options})


def test_percentages_become_fractions():
    plan = planning.from_options(variants=FAKES, margin_percent=5, alpha=0.1,
                                 retake_threshold_percent=20, steal_threshold_percent=30)
    assert (plan.margin, plan.alpha) == (pytest.approx(0.05), 0.1)
    assert (plan.retake.foreign_threshold, plan.retake.steal_threshold) == (
        pytest.approx(0.2), pytest.approx(0.3))
    assert not planning.from_options(variants=FAKES, retake=False).retake.enabled
    default = planning.from_options(variants=FAKES).retake
    assert (default.foreign_threshold, default.steal_threshold) == (
        DEFAULT_FOREIGN_THRESHOLD, DEFAULT_STEAL_THRESHOLD)


def test_ladder_only_with_the_whole_ladder_asked_for():
    assert planning.from_options(variants=["ladder"]).ladder == VARIANT_SETS["ladder"]
    assert planning.from_options(variants=FAKES).ladder == ()


def test_min_blocks_default_outside_quick():
    plan = planning.from_options(variants=FAKES, adaptive=True)
    assert plan.min_blocks == DEFAULT_MIN_BLOCKS


def test_choose_workloads_adds_the_users_own_to_any_suite(workload_dir):
    chosen = planning.choose_workloads([workload_dir], [], "quick", False)
    assert "cpu.demo" in [w.name for w in chosen]
    assert "cpu.sysbench" in [w.name for w in chosen]
    globbed = planning.choose_workloads([workload_dir], ["cpu.sys*"], "quick", False)
    assert [w.name for w in globbed] == ["cpu.sysbench"]


def test_replay_reads_the_saved_plan_and_checks_its_cpus(tmp_path):
    plan = planning.from_options(variants=FAKES, patterns=["cpu.sysbench"], seed=4)
    store = results.RunStore.create(tmp_path, "saved")
    store.write_run({"plan": plan.to_dict(), "status": "complete"})
    store.close()
    assert planning.replay(store.folder) == planning.replay(str(store.folder))
    assert planning.replay(store.folder).to_dict() == plan.to_dict()
    offline = {**plan.to_dict(), "cpus": [max(online_cpus()) + 4096]}
    store = results.RunStore.create(tmp_path, "elsewhere")
    store.write_run({"plan": offline, "status": "complete"})
    store.close()
    with pytest.raises(UsageError, match="is not online"):
        planning.replay(store.folder)
