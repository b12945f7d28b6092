"""Environments found by name: a new runtime is its own module plus a registry entry, and
the runner, the variant parser, clean, doctor and list then know it with no other change."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench import analysis, results, runner
from bench.cpulist import default_cpus
from bench.environments import registry
from bench.errors import UsageError
from bench.plan import make_plan
from bench.variants import parse_variant, parse_variants
from tests.conftest import fake_workload
from tests.unit import runtime_plugin


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(registry.MODULES, "toyrt", "tests.unit.runtime_plugin")
    runtime_plugin.EVENTS.clear()
    runtime_plugin.GONE[0] = False
    yield runtime_plugin
    runtime_plugin.GONE[0] = False


def toy_plan(blocks=4):
    return make_plan([fake_workload("cpu.a")],
                           parse_variants(["fake,toyrt,toyrt[speed=slow]"]),
                           tuple(default_cpus()), blocks=blocks, warmup=0, seed=5)


def no_engine():
    raise AssertionError("a toy runtime run must not connect to an engine")


def test_a_registered_runtime_parses_its_own_settings(toy):
    variants = parse_variants(["toyrt,toyrt[speed=slow],toyrt[speed=normal,label=x]"])
    assert [v.id for v in variants] == ["toyrt", "toyrt[speed=slow]", "toyrt[label=x]"]
    with pytest.raises(UsageError, match="unknown value 'fast' for toyrt axis 'speed'"):
        parse_variant("toyrt[speed=fast]")


def test_an_unregistered_environment_is_named_with_the_known_ones():
    with pytest.raises(UsageError, match=r"unknown environment 'toyrt'.*known: native, docker"):
        parse_variant("toyrt")


def test_the_runner_runs_a_registered_runtime_through_its_kind(toy, tmp_path):
    outcome = runner.run(toy_plan(), tmp_path, connect=no_engine)
    assert outcome.status == "complete" and outcome.failed == 0
    assert toy.EVENTS[:2] == ["check", "open"]
    assert sorted(toy.EVENTS[2:]) == ["create toyrt", "create toyrt[speed=slow]"]
    loaded = results.load_run(outcome.folder)
    assert loaded.run["toyrt"] == {"version": "0.1"}
    assert {s.variant for s in loaded.samples} == {"fake", "toyrt", "toyrt[speed=slow]"}
    summary = analysis.summarize(loaded)
    slow = next(r for r in summary.rows if r.variant == "toyrt[speed=slow]")
    plain = next(r for r in summary.rows if r.variant == "toyrt")
    # The scripted cost is 10% higher: the estimate must find about that, not zero.
    assert slow.comparison is not None and 0.05 < abs(slow.comparison.overhead) < 0.15
    assert plain.comparison is not None and abs(plain.comparison.overhead) < 0.03


def test_a_runtime_that_stops_answering_stops_the_run_with_its_own_hint(toy, tmp_path):
    toy.GONE[0] = True
    with pytest.raises(runner.EngineLost, match=r"the toy runtime stopped answering during the "
                                                r"run .*restart it \(toyrt-up\) and continue"):
        runner.run(toy_plan(), tmp_path, connect=no_engine)


def test_clean_and_doctor_reach_a_registered_runtime(toy, monkeypatch):
    for name in ("docker", "podman", "oci"):  # only the toy and the engine-free kinds here
        monkeypatch.delitem(registry.MODULES, name)
    removed, notes = registry.clean("r1")
    assert removed == ["removed toy container bench-r1-0"] and notes == []
    assert "toyrt" in [c.name for c in registry.doctor()]


def test_reading_a_run_imports_no_environment_module():
    """Naming environments (registry) imports none of them: no engine SDK to report."""
    code = ("import sys; from bench.environments import registry; registry.names(); "
            "print(sorted(m for m in sys.modules if m.startswith('bench.environments.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "docker" not in out and "podman" not in out, out
