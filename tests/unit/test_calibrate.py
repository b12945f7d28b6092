"""Calibration's evaluation on constructed runs: A/A equivalent, injected quota found."""

from __future__ import annotations

import numpy as np

from bench import calibrate, results
from bench.plan import make_plan
from tests.conftest import fake_workload


def write_run(tmp_path, costs: dict[str, float], blocks=20, cv=0.004, seed=3):
    workload = fake_workload("cpu.spin")
    plan = make_plan([workload], calibrate.variants(), (0,), blocks=blocks)
    store = results.RunStore.create(tmp_path, "calib")
    store.write_run({"plan": plan.to_dict(), "baseline": plan.baseline.id,
                     "status": "complete"})
    rng = np.random.default_rng(seed)
    seq = 0
    for block in range(blocks):
        drift = 1 + 0.01 * np.sin(block)
        for variant in plan.variants:
            cost = costs.get(variant.id, 1.0) * drift * (1 + rng.normal(0, cv))
            store.append(results.Sample("calib", seq, "cpu.spin", variant.id, variant.env,
                                        block, 0, False, "ok", 1000 / cost, "ops/s",
                                        requested_cpus=[0], affinity=[0]))
            seq += 1
    store.close()
    return results.load_run(store.folder)


def test_honest_host_passes(tmp_path):
    loaded = write_run(tmp_path, {"docker[quota=0.8,period=10]": 1.25})
    checks, resolution = calibrate.evaluate(loaded)
    assert {c.kind for c in checks} == {"A/A", "injected"}
    assert all(c.passed for c in checks), calibrate.format_lines(checks, resolution)
    (injected,) = [c for c in checks if c.kind == "injected"]
    assert injected.covered and abs(injected.expected - 0.25) < 1e-12
    assert {r.environment for r in resolution} == {"native", "docker"}
    lines = calibrate.format_lines(checks, resolution)
    assert any(line.startswith("this host resolves +/-") for line in lines)


def test_wrong_injected_overhead_fails(tmp_path):
    loaded = write_run(tmp_path, {"docker[quota=0.8,period=10]": 1.10})  # quota not honoured
    checks, _ = calibrate.evaluate(loaded)
    (injected,) = [c for c in checks if c.kind == "injected"]
    assert not injected.passed and not injected.covered


def test_aa_difference_fails(tmp_path):
    loaded = write_run(tmp_path, {"native[label=b]": 1.05, "docker[quota=0.8,period=10]": 1.25})
    checks, _ = calibrate.evaluate(loaded)
    native_aa = next(c for c in checks if c.kind == "A/A" and c.variant.startswith("native"))
    assert not native_aa.passed and native_aa.comparison.verdict == "overhead"


def test_noisy_aa_that_cannot_resolve_the_margin_fails_with_its_resolution(tmp_path):
    loaded = write_run(tmp_path, {"docker[quota=0.8,period=10]": 1.25}, blocks=6, cv=0.08)
    checks, resolution = calibrate.evaluate(loaded)
    aa = [c for c in checks if c.kind == "A/A"]
    undecided = [c for c in aa if c.comparison.verdict == "inconclusive"]
    assert undecided and not any(c.passed for c in undecided)
    assert not calibrate.summary(checks)["aa_equivalent"]
    assert any("resolves" in line for line in calibrate.format_lines(checks, resolution))


def test_no_aa_check_is_not_aa_equivalent():
    assert calibrate.summary([])["aa_equivalent"] is False
