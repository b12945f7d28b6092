"""Plans: validation, the record in run.json (schema, migrations) and its lenient reading."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import results
from bench.errors import UsageError
from bench.guard import RetakeRule
from bench.plan import (
    DEFAULT_ALPHA,
    DEFAULT_MARGIN,
    DEFAULT_MIN_BLOCKS,
    SCHEMA,
    Plan,
    Recorded,
    make_plan,
    margin_from_percent,
    migrate,
    recorded,
)
from bench.variants import parse_variants
from bench.workloads import load_workloads
from tests.conftest import fake_workload

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kwargs, message", [
    ({"blocks": 1}, "--blocks"),
    ({"warmup": -1}, "--warmup"),
    ({"margin": 0.0}, "--margin"),
    ({"alpha": 0.7}, "--alpha"),
])
def test_plan_validation(kwargs, message):
    variants = parse_variants(["native,docker"])
    with pytest.raises(UsageError, match=message):
        make_plan([fake_workload()], variants, (0,), **kwargs)


def test_plan_round_trips_through_dict():
    plan = make_plan(load_workloads()[:2], parse_variants(["native,docker"]),
                     (0,), blocks=4, warmup=2, seed=7, quick=True)
    again = Plan.from_dict(plan.to_dict())
    assert again.to_dict() == plan.to_dict()
    assert again.baseline.id == "native"


def test_baseline_is_first_variant_without_native():
    plan = make_plan([fake_workload()], parse_variants(["fake[scale=2],fake"]), (0,))
    assert plan.baseline.id == "fake[scale=2]"


def test_the_record_carries_its_schema():
    assert make_plan([fake_workload()], parse_variants(["fake,fake[scale=2]"]), (0,)
                     ).to_dict()["schema"] == SCHEMA


def _unversioned(plan: Plan, *dropped: str) -> dict:
    """A record as bench wrote it before plans carried a schema, without ``dropped``."""
    record = plan.to_dict()
    for key in ("schema", *dropped):
        del record[key]
    return record


def test_records_without_schema_migrate_with_the_plans_defaults():
    plan = make_plan([fake_workload()], parse_variants(["fake,fake[scale=2]"]), (0,),
                     blocks=4, seed=3)
    old = _unversioned(plan, "margin", "alpha", "adaptive", "min_blocks", "budget_s",
                       "matrix", "ladder", "retake")
    again = Plan.from_dict(old)
    assert (again.margin, again.alpha, again.adaptive, again.budget_s, again.matrix,
            again.ladder) == (DEFAULT_MARGIN, DEFAULT_ALPHA, False, None, None, ())
    assert again.min_blocks == min(DEFAULT_MIN_BLOCKS, again.blocks)
    # A record without a retake rule predates the guard: it ran without one.
    assert again.retake == RetakeRule(enabled=False)
    assert migrate(old, "run.json") == {
        **old, "schema": SCHEMA, "margin": DEFAULT_MARGIN, "alpha": DEFAULT_ALPHA,
        "adaptive": False, "min_blocks": DEFAULT_MIN_BLOCKS, "budget_s": None, "matrix": None,
        "ladder": [], "retake": None}


def test_a_full_unversioned_record_reads_as_it_was_written():
    plan = make_plan([fake_workload()], parse_variants(["fake,fake[scale=2]"]), (0,),
                     blocks=8, adaptive=True, min_blocks=3, budget_s=60.0, margin=0.05)
    assert Plan.from_dict(_unversioned(plan)) == Plan.from_dict(plan.to_dict())


@pytest.mark.parametrize("folder", ["results/example", "results/ladder-example"])
def test_the_committed_example_runs_read_strictly_and_leniently(folder):
    run = results.load_run(ROOT / folder).run
    plan = Plan.from_dict(run["plan"])
    written = plan.to_dict()
    assert written["schema"] == SCHEMA and "schema" not in run["plan"]
    for key, value in run["plan"].items():  # as recorded (workloads: the keys they had)
        if key == "workloads":
            pairs = zip(written[key], value, strict=True)
            assert [{k: new[k] for k in old} for new, old in pairs] == value
        else:
            assert written[key] == value, key
    seen = recorded(run)
    assert (seen.margin, seen.alpha, seen.seed, seen.blocks, seen.adaptive) == (
        plan.margin, plan.alpha, plan.seed, plan.blocks, plan.adaptive)
    assert seen.variants == tuple(v.id for v in plan.variants)
    assert seen.ladder == plan.ladder and seen.budget_s == plan.budget_s
    assert seen.retake == run["plan"].get("retake")  # None: before the guard


@pytest.mark.parametrize("lenient", [False, True])
def test_a_newer_record_is_refused(lenient):
    record = {**make_plan([fake_workload()], parse_variants(["fake,fake[scale=2]"]), (0,)
                          ).to_dict(), "schema": SCHEMA + 1}
    with pytest.raises(UsageError, match=f"plan schema {SCHEMA + 1} is newer"):
        recorded({"plan": record}, "x/run.json") if lenient else Plan.from_dict(record)


def test_a_bad_schema_is_an_error_strictly_and_the_oldest_leniently():
    record = {**make_plan([fake_workload()], parse_variants(["fake,fake[scale=2]"]), (0,),
                          margin=0.03).to_dict(), "schema": "two"}
    with pytest.raises(UsageError, match=r"run\.json: bad plan: 'schema'"):
        Plan.from_dict(record)
    assert recorded({"plan": record}).margin == 0.03


def test_lenient_reading_defaults_what_the_record_lacks_or_garbles():
    assert recorded({}) == Recorded()
    assert recorded({"plan": "nonsense"}) == Recorded()
    seen = recorded({"plan": {"margin": "wide", "alpha": True, "seed": float("nan"),
                              "variants": ["native", 3, "docker"], "workloads": [
                                  {"name": "cpu.a"}, {"name": 1}, "cpu.b"],
                              "adaptive": 1, "ladder": "native", "budget_s": "10m",
                              "matrix": {"cpu.a": ["native", "docker"], "cpu.b": "all"},
                              "retake": []}})
    assert (seen.margin, seen.alpha, seen.seed) == (DEFAULT_MARGIN, DEFAULT_ALPHA, 0)
    assert seen.variants == ("native", "docker")
    assert seen.workloads == {"cpu.a": {"name": "cpu.a"}}
    assert (seen.adaptive, seen.ladder, seen.budget_s, seen.retake) == (False, (), None, None)
    assert seen.matrix == {"cpu.a": ("native", "docker")}
    partial = recorded({"plan": {"margin": 0.05, "seed": 9, "budget_s": 300}})
    assert (partial.margin, partial.alpha, partial.seed, partial.budget_s) == (
        0.05, DEFAULT_ALPHA, 9, 300)


@pytest.mark.parametrize("percent, fraction", [(2, 0.02), (10, 0.1), (99.5, 0.995)])
def test_margin_from_percent(percent, fraction):
    assert margin_from_percent(percent) == pytest.approx(fraction)


@pytest.mark.parametrize("percent", [0, -1, 100, 250, float("nan")])
def test_margin_from_percent_refuses_what_is_not_a_margin(percent):
    with pytest.raises(UsageError, match="--margin must be greater than 0% and less than 100%"):
        margin_from_percent(percent)
