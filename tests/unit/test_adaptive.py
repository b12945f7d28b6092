"""Adaptive mode and budgets through the fake environment: stops early only when decided."""

from __future__ import annotations

import pytest

from bench import analysis, results, runner, schedule
from bench.errors import UsageError
from bench.plan import make_plan, parse_duration
from bench.variants import parse_variants
from tests.conftest import fake_workload


def adaptive_plan(variants, max_blocks=30, min_blocks=5, budget_s=None, seed=5):
    return make_plan([fake_workload("cpu.a")], parse_variants([variants]), (0,),
                     blocks=max_blocks, warmup=0, seed=seed, adaptive=True,
                     min_blocks=min_blocks, budget_s=budget_s)


def no_engine():
    raise AssertionError("no engine for fake variants")


def test_clear_effect_stops_before_the_maximum(tmp_path):
    plan = adaptive_plan("fake,fake[scale=1.3,cv=0.005]")
    outcome = runner.run(plan, tmp_path, connect=no_engine)
    loaded = results.load_run(outcome.folder)
    blocks = {s.block for s in loaded.samples}
    assert 5 <= len(blocks) < 30
    assert loaded.run["stopped"]["cpu.a"]["reason"] == "every comparison decided"
    summary = analysis.summarize(loaded)
    assert summary.correction == "group-sequential"
    (row,) = [r for r in summary.rows if r.comparison is not None]
    assert row.comparison.verdict == "overhead"
    assert row.comparison.ci95.contains(0.3)


def test_undecidable_comparison_runs_to_the_maximum(tmp_path):
    # A 2% true effect at 2% margin with 8% noise cannot be decided in 12 blocks.
    plan = adaptive_plan("fake,fake[scale=1.02,cv=0.08]", max_blocks=12)
    outcome = runner.run(plan, tmp_path, connect=no_engine)
    loaded = results.load_run(outcome.folder)
    assert {s.block for s in loaded.samples} == set(range(12))
    assert "cpu.a" not in loaded.run["stopped"]
    (row,) = [r for r in analysis.summarize(loaded).rows if r.comparison is not None]
    assert row.comparison.verdict == "inconclusive"
    assert row.comparison.blocks_to_decide


def test_stop_rule_needs_min_blocks():
    plan = adaptive_plan("fake,fake[scale=2]", min_blocks=6)
    rule = schedule.StopRule(plan)
    workload = plan.workloads[0]
    for block in range(5):
        for variant, value in (("fake", 1000.0), ("fake[scale=2]", 500.0 + block)):
            rule.record(results.Sample("r", 0, "cpu.a", variant, "fake", block, 0, False,
                                       "ok", value, "ops/s"))
        assert not rule.decided(workload)
    for variant, value in (("fake", 1001.0), ("fake[scale=2]", 499.0)):
        rule.record(results.Sample("r", 0, "cpu.a", variant, "fake", 5, 0, False, "ok", value,
                                   "ops/s"))
    assert rule.decided(workload)


def test_budget_stops_a_fixed_run(tmp_path, monkeypatch):
    plan = make_plan([fake_workload("cpu.a")], parse_variants(["fake,fake"
                           "[scale=1.1]"]), (0,), blocks=40, warmup=0, budget_s=5.0)
    clock = iter(range(0, 10_000, 1))  # every monotonic() call advances one second
    monkeypatch.setattr(runner.time, "monotonic", lambda: float(next(clock)))
    outcome = runner.run(plan, tmp_path, connect=no_engine)
    loaded = results.load_run(outcome.folder)
    assert loaded.run["stopped"]["cpu.a"]["reason"].startswith("measurement budget")
    assert len({s.block for s in loaded.samples}) < 40


@pytest.mark.parametrize("kwargs, message", [
    ({"min_blocks": 1}, "--min-blocks"),
    ({"min_blocks": 50}, "--min-blocks"),
    ({"budget_s": -1}, "--budget"),
])
def test_adaptive_options_are_validated(kwargs, message):
    with pytest.raises(UsageError, match=message):
        adaptive_plan("fake,fake[scale=2]", **kwargs)


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("10m", 600),
                                           ("1.5h", 5400)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_bad_duration():
    with pytest.raises(UsageError, match="--budget"):
        parse_duration("soon")


def test_a_workload_given_up_for_the_others_resumes_when_they_are_done(tmp_path, monkeypatch):
    # cpu.a needs a few looks to be decided; cpu.b is far too noisy for the budget: it is
    # given up while cpu.a measures, and resumes once cpu.a is done and budget is left.
    clock = iter(range(0, 100_000))  # every monotonic() call advances one second
    monkeypatch.setattr(runner.time, "monotonic", lambda: float(next(clock)))
    variants = parse_variants(["fake,fake[cv=0.012],fake[cv=0.1]"])
    plan = make_plan([fake_workload("cpu.a"), fake_workload("cpu.b")], variants, (0,),
                     blocks=30, warmup=0, seed=11, adaptive=True, min_blocks=5,
                     budget_s=400.0, matrix={"cpu.a": ("fake", "fake[cv=0.012]"),
                                                    "cpu.b": ("fake", "fake[cv=0.1]")})
    events = []

    class Recorder(runner.SilentReporter):
        def stage(self, message):
            events.append(message)

        def stopped(self, workload, reason, skipped):
            events.append(f"{workload}: {reason}")

    outcome = runner.run(plan, tmp_path, connect=no_engine, reporter=Recorder())
    loaded = results.load_run(outcome.folder)
    given_up = [e for e in events if e.startswith("cpu.b: cannot be decided")]
    assert given_up, events
    assert any(e.startswith("cpu.b: resumed") for e in events), events
    blocks_a = {s.block for s in loaded.samples if s.workload == "cpu.a"}
    blocks_b = {s.block for s in loaded.samples if s.workload == "cpu.b"}
    assert len(blocks_b) > len(blocks_a) > 5  # cpu.b measured on after cpu.a stopped
    assert loaded.run["stopped"]["cpu.a"]["reason"] == "every comparison decided"
