"""The warnings catalogue: each check fires on the pattern it names, and only then."""

from __future__ import annotations

import numpy as np

from bench import diagnostics, stats


def codes(values, better="higher"):
    return {d.code for d in diagnostics.value_diagnostics(dict(enumerate(values)), better)}


def steady(n=20, seed=0, cv=0.005):
    return list(1000 * (1 + np.random.default_rng(seed).normal(0, cv, n)))


def test_quiet_data_raises_nothing():
    assert codes(steady()) == set()


def test_outlier_is_flagged_with_its_block():
    values = steady()
    values[7] = 600.0
    found = diagnostics.value_diagnostics(dict(enumerate(values)), "higher")
    (outlier,) = [d for d in found if d.code == "outliers"]
    assert "block(s) 8" in outlier.message and outlier.hint


def test_high_spread():
    assert "high-spread" in codes(steady(cv=0.2))


def test_drift():
    assert "drift" in codes([1000 + 10 * i for i in range(20)])


def test_bimodal():
    assert "bimodal" in codes([1000.0] * 10 + [1500.0] * 10)


def test_first_block_slow_depends_on_direction():
    values = steady()
    values[0] = 500.0
    assert "first-slow" in codes(values, "higher")
    assert "first-slow" not in codes(values, "lower")


def test_short_wall_time_samples():
    assert diagnostics.short_samples(0.0005, "wall_time")
    assert not diagnostics.short_samples(0.0005, "sysbench-cpu")
    assert not diagnostics.short_samples(2.0, "wall_time")


def test_robust_note_only_with_outlying_pairs():
    base = steady(seed=1)
    variant = [v * 1.01 for v in steady(seed=2)]
    comparison = stats.compare(variant, base, "higher")
    assert diagnostics.robust_note(comparison, variant, base, "higher") == []
    variant[3] = base[3] / 2
    (note,) = diagnostics.robust_note(stats.compare(variant, base, "higher"), variant, base,
                                      "higher")
    assert "Hodges-Lehmann" in note.message


def test_every_code_has_a_hint():
    assert all(hint.strip() for hint in diagnostics.CATALOGUE.values())
