"""The contamination guard: the rule on host figures, and retakes through the runner."""

from __future__ import annotations

import pytest

from bench import analysis, guard, results, runner
from bench.errors import UsageError
from bench.plan import Plan, make_plan
from bench.results import Sample
from bench.variants import parse_variants
from tests.conftest import fake_workload


def sample(host: dict, *, ok: bool = True, warmup: bool = False) -> Sample:
    return Sample("r", 0, "cpu.a", "fake", "fake", 0, 0, warmup, "ok" if ok else "failed",
                  1.0 if ok else None, "ops/s", extra={"host": host})


CLEAN = {"cpu_window_s": 2.0, "foreign_fraction": 0.01, "steal_fraction": 0.02,
         "measured_cpu_util": 0.97}


def test_foreign_work_above_the_threshold_is_contamination():
    rule = guard.RetakeRule()
    assert rule.reason(sample(CLEAN)) is None
    found = rule.reason(sample({**CLEAN, "foreign_fraction": 0.2}))
    assert found == {"reason": "foreign work on the measured CPUs", "figure": "foreign_fraction",
                     "value": 0.2, "threshold": guard.DEFAULT_FOREIGN_THRESHOLD}


def test_steal_counts_beyond_the_workloads_own_level():
    rule = guard.RetakeRule()
    stolen = {**CLEAN, "steal_fraction": 0.25}
    found = rule.reason(sample(stolen))
    assert found["figure"] == "steal_fraction" and found["threshold"] == 0.10
    # fio on a virtual disk: 20-30% steal on every sample is the workload's own.
    assert rule.reason(sample(stolen), steal_level=0.22) is None
    assert rule.reason(sample({**CLEAN, "steal_fraction": 0.4}), steal_level=0.22) is not None
    server = {k: v for k, v in stolen.items() if k != "foreign_fraction"}  # two-role sample
    assert rule.reason(sample(server))["figure"] == "steal_fraction"


def test_steal_level_is_the_median_of_the_workloads_samples():
    levels = guard.StealLevels()
    assert levels.level("cpu.a") == 0.0
    for steal in (0.2, 0.3, 0.25, 0.9):
        levels.add(sample({**CLEAN, "steal_fraction": steal}))
    assert levels.level("cpu.a") == pytest.approx(0.275)
    assert levels.level("disk.b") == 0.0


@pytest.mark.parametrize("case", [
    {"cpu_window_s": 0.3, "foreign_fraction": 0.9},  # too short for 10 ms ticks
    {"foreign_fraction": 0.9},  # no window at all
])
def test_what_cannot_be_judged_is_not(case):
    """Windows too short for /proc/stat's ticks, or none at all."""
    assert guard.RetakeRule().reason(sample(case)) is None


def test_older_samples_without_the_foreign_figure_fall_back_to_the_noise_figure():
    old = {"cpu_window_s": 2.0, "noise_fraction": 0.2, "steal_fraction": 0.0}
    assert guard.RetakeRule().reason(sample(old))["figure"] == "noise_fraction"
    # Kernel time the variant causes (throttling) is noise but not foreign.
    quota = {**old, "foreign_fraction": 0.01}
    assert guard.RetakeRule().reason(sample(quota)) is None


def test_failed_warmup_and_disabled_are_never_judged():
    dirty = {**CLEAN, "foreign_fraction": 0.5}
    assert guard.RetakeRule().reason(sample(dirty, ok=False)) is None
    assert guard.RetakeRule().reason(sample(dirty, warmup=True)) is None
    assert guard.RetakeRule(enabled=False).reason(sample(dirty)) is None
    assert guard.RetakeRule(enabled=False).run_allowance(100) == 0


def test_rule_round_trips_and_old_plans_have_none():
    rule = guard.RetakeRule(foreign_threshold=0.08, max_attempts=2)
    assert guard.RetakeRule.from_dict(rule.to_dict()) == rule
    assert guard.RetakeRule.from_dict(None) == guard.RetakeRule(enabled=False)
    with pytest.raises(UsageError, match="retake-threshold"):
        guard.RetakeRule(foreign_threshold=0)


def _plan(variants: str, **kwargs) -> Plan:
    return make_plan([fake_workload("cpu.a")], parse_variants([variants]), (0,),
                     blocks=12, warmup=1, seed=2, **kwargs)


def no_engine():
    raise AssertionError("no engine for fake variants")


def test_contaminated_samples_are_kept_left_out_and_retaken_in_place(tmp_path):
    outcome = runner.run(_plan("fake[foreign=0.3],fake[scale=1.0,foreign=0.3]"), tmp_path,
                         connect=no_engine)
    loaded = results.load_run(outcome.folder)
    marked = [s for s in loaded.samples if s.contaminated]
    assert marked, "30% of samples are disturbed"
    for bad in marked:  # the retake has the same place in the schedule
        later = [s for s in loaded.samples if s.seq == bad.seq and s is not bad]
        assert later or not bad.extra["contaminated"]["retaken"]
        assert all((s.block, s.position) == (bad.block, bad.position) for s in later)
    assert loaded.run["retakes"]["used"] == sum(s.extra["contaminated"]["retaken"]
                                                for s in marked)
    summary = analysis.summarize(loaded)
    (row,) = [r for r in summary.rows if r.comparison is not None]
    # The disturbed samples cost 30% more; left out, the A/A comparison is clean.
    assert abs(row.comparison.overhead) < 0.01
    assert sum(r.contaminated for r in summary.rows) == len(marked)
    assert any("re-taken" in w for r in summary.rows for w in r.warnings)
    assert "contamination guard" in (summary.retake and "contamination guard")


def test_past_the_bound_the_block_is_dropped_and_said(tmp_path):
    plan = _plan("fake[foreign=1],fake[scale=1.0]",
                 retake=guard.RetakeRule(max_attempts=2, max_retake_share=1.0))
    loaded = results.load_run(runner.run(plan, tmp_path, connect=no_engine).folder)
    disturbed = [s for s in loaded.samples if s.variant == "fake[foreign=1]" and not s.warmup]
    assert all(s.contaminated for s in disturbed)
    assert len(disturbed) == 2 * 12  # two attempts per block, then dropped
    assert loaded.run["retakes"]["dropped"] == 12
    summary = analysis.summarize(loaded)
    row = next(r for r in summary.rows if r.variant == "fake[foreign=1]")
    assert row.dropped_blocks == 12 and row.n_ok == 0


def test_the_run_wide_allowance_bounds_retakes(tmp_path):
    plan = _plan("fake[foreign=1],fake[scale=1.0]", retake=guard.RetakeRule(max_attempts=5))
    loaded = results.load_run(runner.run(plan, tmp_path, connect=no_engine).folder)
    # A quarter of the 24 planned measured samples: 6 retakes, then every block drops.
    assert loaded.run["retakes"] == {"allowance": 6, "used": 6, "dropped": 12}


def test_without_the_guard_every_sample_is_used(tmp_path):
    plan = _plan("fake[foreign=0.3],fake[scale=1.0,foreign=0.3]",
                 retake=guard.RetakeRule(enabled=False))
    loaded = results.load_run(runner.run(plan, tmp_path, connect=no_engine).folder)
    assert not any(s.contaminated for s in loaded.samples)
    assert loaded.run["retakes"]["used"] == 0


def test_time_the_variants_own_quota_held_it_off_is_never_foreign():
    # Measured: a 0.8-quota container throttled 0.2 s of a 1 s window, and the CPU counted
    # that 0.2 s as user time outside the cgroup.
    quota = Sample("r", 0, "cpu.a", "docker[quota=0.8]", "docker", 0, 0, False, "ok", 1.0,
                   "ops/s", requested_cpus=[1],
                   extra={"host": {"cpu_window_s": 1.02, "foreign_fraction": 0.197,
                                   "steal_fraction": 0.0},
                          "metrics": {"throttled_s": 0.2, "nr_throttled": 81}})
    assert guard.RetakeRule().reason(quota) is None
    hogged = Sample(**{**quota.to_dict(), "extra": {**quota.extra, "host": {
        **quota.extra["host"], "foreign_fraction": 0.45}}})
    assert guard.RetakeRule().reason(hogged)["figure"] == "foreign_fraction"
