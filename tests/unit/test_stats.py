"""Exact-value tests of bench.stats against scipy and hand-worked references."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from bench import stats

# A small skewed sample of per-block log differences (one slow block), used throughout.
D = np.array([0.012, 0.018, 0.009, 0.025, 0.014, 0.011, 0.061, 0.016, 0.010, 0.020,
              0.013, 0.017, 0.008, 0.022, 0.015])  # fmt: skip


# ------------------------------------------------------------------------- effect size


def test_log_costs_higher_is_better_is_minus_log_metric() -> None:
    np.testing.assert_allclose(stats.log_costs([1.0, 2.0, 4.0], "higher"), -np.log([1, 2, 4]))


def test_log_costs_lower_is_better_is_log_metric() -> None:
    np.testing.assert_allclose(stats.log_costs([1.0, 2.0, 4.0], "lower"), np.log([1, 2, 4]))


@pytest.mark.parametrize("values", [[1.0, 0.0], [1.0, -2.0], [1.0, math.nan], [math.inf]])
def test_log_costs_rejects_non_positive_or_non_finite(values: list[float]) -> None:
    with pytest.raises(ValueError, match="> 0"):
        stats.log_costs(values, "lower")


def test_log_costs_rejects_unknown_direction() -> None:
    with pytest.raises(ValueError, match="better"):
        stats.log_costs([1.0], "faster")


def test_paired_log_diffs_is_log_cost_ratio_per_block() -> None:
    # 900 vs 1000 ops/s costs 1000/900 as much; 110 vs 100 ms costs 1.1 as much.
    np.testing.assert_allclose(
        stats.paired_log_diffs([900.0, 1000.0], [1000.0, 1000.0], "higher"),
        [math.log(1000 / 900), 0.0],
    )
    np.testing.assert_allclose(stats.paired_log_diffs([110.0], [100.0], "lower"), [math.log(1.1)])


def test_paired_log_diffs_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="aligned by block"):
        stats.paired_log_diffs([1.0, 2.0], [1.0], "higher")


def test_paired_log_diffs_rejects_no_blocks() -> None:
    with pytest.raises(ValueError, match="at least one block"):
        stats.paired_log_diffs([], [], "higher")


def test_overhead_is_geometric_mean_ratio_minus_one() -> None:
    d = [math.log(1.1), 0.0]
    assert stats.overhead(d) == pytest.approx(math.sqrt(1.1) - 1, rel=1e-12)


def test_robust_overhead_is_hodges_lehmann() -> None:
    # Walsh averages of [0, .1, .2]: 0, .05, .1, .1, .15, .2 -> median 0.1
    assert stats.robust_overhead([0.0, 0.1, 0.2]) == pytest.approx(math.expm1(0.1))
    # One wild block moves the mean a lot and the Hodges-Lehmann estimate little.
    wild = [0.0, 0.01, 0.02, 0.01, 0.015, 1.0]
    assert stats.robust_overhead(wild) < 0.03 < stats.overhead(wild)


def test_geometric_mean_overhead() -> None:
    assert stats.geometric_mean_overhead([1.0, -0.5]) == pytest.approx(0.0, abs=1e-15)
    assert stats.geometric_mean_overhead([0.1, 0.21]) == pytest.approx(1.1**1.5 - 1)
    with pytest.raises(ValueError):
        stats.geometric_mean_overhead([0.1, -1.0])
    with pytest.raises(ValueError):
        stats.geometric_mean_overhead([])


# --------------------------------------------------------------------------- intervals


def test_t_interval_matches_scipy() -> None:
    lo, hi = sps.t.interval(0.95, D.size - 1, loc=D.mean(), scale=sps.sem(D))
    ci = stats.t_interval(D, 0.95)
    assert (ci.lo, ci.hi) == (pytest.approx(math.expm1(lo)), pytest.approx(math.expm1(hi)))
    assert (ci.level, ci.method) == (0.95, "t")


def test_t_interval_one_block_knows_nothing() -> None:
    assert stats.t_interval([0.1]) == stats.Interval(-1.0, math.inf, 0.95, "t")


def test_t_interval_zero_variance_degenerates() -> None:
    ci = stats.t_interval([0.1, 0.1, 0.1])
    assert ci.lo == ci.hi == pytest.approx(math.expm1(0.1))


@pytest.mark.parametrize("method", ["bca", "percentile"])
def test_bootstrap_matches_scipy(method: str) -> None:
    """Same estimator as scipy.stats.bootstrap; different random streams, so compare with
    100,000 resamples each and a tolerance of ~7 Monte Carlo standard errors."""
    ref = sps.bootstrap(
        (D,), np.mean, confidence_level=0.95, n_resamples=100_000,
        method="BCa" if method == "bca" else "percentile", rng=np.random.default_rng(1),
    ).confidence_interval  # fmt: skip
    ci = stats.bootstrap_ci(D, 0.95, n_resamples=100_000, seed=2, method=method)
    assert ci.lo == pytest.approx(math.expm1(ref.low), abs=3e-4)
    assert ci.hi == pytest.approx(math.expm1(ref.high), abs=3e-4)


def test_bca_differs_from_percentile_on_skewed_data() -> None:
    """Guards the comparison above: on D the two methods disagree by more than its tolerance."""
    bca = stats.bootstrap_ci(D, n_resamples=100_000, method="bca")
    pct = stats.bootstrap_ci(D, n_resamples=100_000, method="percentile")
    assert abs(bca.hi - pct.hi) > 1e-3


def test_bootstrap_is_seeded() -> None:
    assert stats.bootstrap_ci(D, seed=5) == stats.bootstrap_ci(D, seed=5)
    assert stats.bootstrap_ci(D, seed=5) != stats.bootstrap_ci(D, seed=6)


def test_bootstrap_needs_2000_resamples() -> None:
    with pytest.raises(ValueError, match="2000"):
        stats.bootstrap_ci(D, n_resamples=1999)


def test_bootstrap_degenerate_cases() -> None:
    assert stats.bootstrap_ci([0.1]) == stats.Interval(
        math.expm1(0.1), math.expm1(0.1), 0.95, "bca"
    )
    ci = stats.bootstrap_ci([0.2, 0.2, 0.2], method="percentile")
    assert ci.lo == ci.hi == pytest.approx(math.expm1(0.2))


def test_bootstrap_rejects_bad_method_and_level() -> None:
    with pytest.raises(ValueError, match="method"):
        stats.bootstrap_ci(D, method="basic")
    with pytest.raises(ValueError, match="level"):
        stats.bootstrap_ci(D, level=1.0)


# ---------------------------------------------------------------------------- p-values


def test_difference_pvalue_matches_scipy() -> None:
    assert stats.difference_pvalue(D) == pytest.approx(sps.ttest_1samp(D, 0.0).pvalue)
    d = D - 0.016
    assert stats.difference_pvalue(d) == pytest.approx(sps.ttest_1samp(d, 0.0).pvalue)


def test_tost_pvalue_is_max_of_one_sided_scipy_tests() -> None:
    margin = 0.02
    d = D - 0.01
    lower = sps.ttest_1samp(d, math.log(1 - margin), alternative="greater").pvalue
    upper = sps.ttest_1samp(d, math.log(1 + margin), alternative="less").pvalue
    assert stats.tost_pvalue(d, margin) == pytest.approx(max(lower, upper))


@pytest.mark.parametrize("shift", [0.0, 0.005, 0.01, 0.015])
def test_tost_agrees_with_the_90_percent_t_interval(shift: float) -> None:
    d = D - 0.016 + shift
    ci = stats.t_interval(d, 0.90)
    inside = ci.lo > -0.02 and ci.hi < 0.02
    assert (stats.tost_pvalue(d, 0.02) < 0.05) == inside


def test_pvalues_for_n1_and_zero_variance() -> None:
    assert stats.difference_pvalue([0.3]) == 1.0
    assert stats.tost_pvalue([0.0], 0.02) == 1.0
    assert stats.difference_pvalue([0.0, 0.0]) == 1.0
    assert stats.difference_pvalue([0.1, 0.1]) == 0.0
    assert stats.tost_pvalue([0.01, 0.01], 0.02) == 0.0
    assert stats.tost_pvalue([0.03, 0.03], 0.02) == 1.0


# --------------------------------------------------------------------- multiple testing


def test_holm_hand_worked() -> None:
    # Sorted: .005 <= .05/4 yes; .01 <= .05/3 yes; .03 <= .05/2 no -> stop.
    p = [0.01, 0.04, 0.03, 0.005]
    assert stats.holm(p, 0.05) == [True, False, False, True]
    # 4*.005=.02, 3*.01=.03, 2*.03=.06, 1*.04=.04 -> running max .02 .03 .06 .06
    np.testing.assert_allclose(stats.holm_adjusted(p), [0.03, 0.06, 0.06, 0.02])


def test_holm_adjusted_is_capped_at_one() -> None:
    np.testing.assert_allclose(stats.holm_adjusted([0.5, 0.9]), [1.0, 1.0])


@settings(deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=8), st.sampled_from([0.01, 0.05, 0.1]))
def test_holm_rejects_exactly_where_adjusted_p_is_below_alpha(p: list[float], a: float) -> None:
    adjusted = stats.holm_adjusted(p)
    assert stats.holm(p, a) == [bool(q <= a) for q in adjusted]
    assert np.all(adjusted >= np.asarray(p)) and np.all(adjusted <= 1)


def test_family_alphas_single_comparison_is_alpha() -> None:
    assert stats.family_alphas([0.3], [0.7], 0.05) == pytest.approx([0.05])


def test_family_alphas_hand_worked() -> None:
    # Comparison 0 is significant *and* equivalent (both of its hypotheses fall at any
    # level), so it stops counting for the others: 1 and 2 are tested at alpha/2.
    # Comparison 0 itself has two undecided others (worst p .9): alpha/3.
    alphas = stats.family_alphas([0.001, 0.001, 0.04], [0.001, 0.9, 0.9], 0.05)
    np.testing.assert_allclose(alphas, [0.05 / 3, 0.05 / 2, 0.05 / 2])


def _closed_testing(pd: list[float], pe: list[float], alpha: float) -> set[tuple[int, int]]:
    """Brute-force closure with Bonferroni local tests over the consistent intersections
    (at most one hypothesis per comparison: its difference or its equivalence null)."""
    p = {(i, 0): pd[i] for i in range(len(pd))} | {(i, 1): pe[i] for i in range(len(pe))}
    choices = [[None, (i, 0), (i, 1)] for i in range(len(pd))]
    rejected_sets = {}
    for combo in itertools.product(*choices):
        s = [h for h in combo if h is not None]
        if s:
            rejected_sets[tuple(s)] = min(p[h] for h in s) <= alpha / len(s)
    return {h for h in p if all(rej for s, rej in rejected_sets.items() if h in s)}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(1e-4, 1), st.floats(1e-4, 1)), min_size=1, max_size=4),
)
def test_family_alphas_equal_the_closed_testing_procedure(pairs: list[tuple[float, float]]) -> None:
    pd, pe = [a for a, _ in pairs], [b for _, b in pairs]
    alphas = stats.family_alphas(pd, pe, 0.05)
    shortcut = {(i, 0) for i in range(len(pd)) if pd[i] <= alphas[i]}
    shortcut |= {(i, 1) for i in range(len(pe)) if pe[i] <= alphas[i]}
    assert shortcut == _closed_testing(pd, pe, 0.05)


@settings(deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=8))
def test_family_alphas_resolve_comparisons_where_holm_rejects_the_worst_p(
    pairs: list[tuple[float, float]],
) -> None:
    pd, pe = [a for a, _ in pairs], [b for _, b in pairs]
    worst = np.maximum(pd, pe)
    alphas = stats.family_alphas(pd, pe, 0.05)
    assert [bool(w <= a) for w, a in zip(worst, alphas, strict=True)] == stats.holm(worst, 0.05)
    assert np.all(alphas >= 0.05 / len(pairs)) and np.all(alphas <= 0.05)


# ---------------------------------------------------------------------------- verdicts


def _blocks(ratio: float, n: int, noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(variant, baseline) latencies in seconds: variant costs ``ratio`` times as much."""
    rng = np.random.default_rng(seed)
    baseline = 2.0 * np.exp(rng.normal(0, noise, n))
    variant = baseline * ratio * np.exp(rng.normal(0, noise, n))
    return variant, baseline


@pytest.mark.parametrize(
    ("ratio", "noise", "n", "verdict"),
    [
        (1.10, 0.01, 10, "overhead"),
        (0.90, 0.01, 10, "faster"),
        (1.00, 0.005, 20, "equivalent"),
        (1.00, 0.05, 4, "inconclusive"),
    ],
)
def test_compare_verdicts(ratio: float, noise: float, n: int, verdict: str) -> None:
    c = stats.compare(*_blocks(ratio, n, noise), "lower")
    assert c.verdict == verdict
    assert c.n_blocks == n
    assert c.decided == (verdict != "inconclusive")
    assert (c.blocks_to_decide is not None) == (verdict == "inconclusive")


def test_compare_significant_but_small() -> None:
    c = stats.compare(*_blocks(1.005, 20, 0.001), "lower")
    assert c.verdict == "equivalent" and c.significant
    assert c.overhead == pytest.approx(0.005, abs=1e-3)


def test_compare_fields_are_consistent() -> None:
    variant, baseline = _blocks(1.03, 12, 0.02, seed=3)
    c = stats.compare(variant, baseline, "lower", margin=0.02, alpha=0.05, seed=4)
    d = stats.paired_log_diffs(variant, baseline, "lower")
    assert c.overhead == pytest.approx(stats.overhead(d))
    assert c.sd == pytest.approx(np.std(d, ddof=1))
    t95 = stats.t_interval(d, 0.95)
    assert (c.t_ci95.lo, c.t_ci95.hi) == (pytest.approx(t95.lo), pytest.approx(t95.hi))
    boot = stats.bootstrap_ci(d, 0.95, seed=4)
    assert (c.boot_ci95.lo, c.boot_ci95.hi) == (pytest.approx(boot.lo), pytest.approx(boot.hi))
    # The decision interval is the hull of bootstrap and t.
    assert c.ci95.lo == min(c.boot_ci95.lo, c.t_ci95.lo)
    assert c.ci95.hi == max(c.boot_ci95.hi, c.t_ci95.hi)
    assert (c.ci95.level, c.ci90.level, c.alpha, c.margin) == (0.95, pytest.approx(0.9), 0.05, 0.02)
    assert c.p_difference == pytest.approx(stats.difference_pvalue(d))
    assert c.p_equivalence == pytest.approx(stats.tost_pvalue(d, 0.02))
    assert c.mde == pytest.approx(stats.min_detectable_effect(c.sd, 12))


def test_compare_direction_only_changes_the_sign_of_the_log() -> None:
    variant, baseline = _blocks(1.04, 8, 0.02)
    lower = stats.compare(variant, baseline, "lower")
    higher = stats.compare(1 / variant, 1 / baseline, "higher")
    assert higher.verdict == lower.verdict
    assert (higher.overhead, higher.ci95.lo, higher.ci95.hi) == (
        pytest.approx(lower.overhead), pytest.approx(lower.ci95.lo), pytest.approx(lower.ci95.hi)
    )


def test_compare_one_block_is_inconclusive_without_estimate_of_blocks() -> None:
    c = stats.compare([1.1], [1.0], "lower")
    assert c.verdict == "inconclusive" and c.blocks_to_decide is None
    assert math.isnan(c.sd) and c.mde == math.inf
    assert c.ci95.lo == -1.0 and c.ci95.hi == math.inf


def test_compare_zero_variance_gives_no_verdict() -> None:
    # Identical paired differences (quantised metrics do this) would give a zero-width
    # interval and "certainty": fewer than three distinct differences decide nothing.
    same = stats.compare([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], "lower")
    assert same.verdict == "inconclusive" and same.ci95.lo == same.ci95.hi == 0.0
    double = stats.compare([2.0, 4.0, 6.0], [1.0, 2.0, 3.0], "lower")
    assert double.verdict == "inconclusive"
    two = stats.compare([1.0, 1.0], [1.0, 1.0], "lower")
    assert two.verdict == "inconclusive"
    varied = stats.compare([2.0, 4.1, 6.05], [1.0, 2.0, 3.0], "lower")
    assert varied.verdict == "overhead"


def test_compare_validates_inputs() -> None:
    with pytest.raises(ValueError, match="aligned"):
        stats.compare([1.0, 2.0], [1.0], "lower")
    with pytest.raises(ValueError, match="margin"):
        stats.compare([1.0], [1.0], "lower", margin=2.0)
    with pytest.raises(ValueError, match="alpha"):
        stats.compare([1.0], [1.0], "lower", alpha=0.5)
    with pytest.raises(ValueError, match="2000"):
        stats.compare([1.0], [1.0], "lower", n_resamples=100)


def test_compare_family_of_one_is_compare() -> None:
    variant, baseline = _blocks(1.01, 10, 0.02)
    assert stats.compare_family([(variant, baseline, "lower")], seed=3) == [
        stats.compare(variant, baseline, "lower", seed=3)
    ]


def test_compare_family_applies_family_alphas_in_input_order() -> None:
    items = [
        (*_blocks(1.10, 10, 0.01, seed=1), "lower"),
        (*_blocks(1.00, 10, 0.004, seed=2), "lower"),
        (*_blocks(1.01, 6, 0.03, seed=3), "lower"),
    ]
    results = stats.compare_family(items)
    diffs = [stats.paired_log_diffs(v, b, "lower") for v, b, _ in items]
    alphas = stats.family_alphas(
        [stats.difference_pvalue(d) for d in diffs], [stats.tost_pvalue(d, 0.02) for d in diffs]
    )
    for c, (v, b, better), a in zip(results, items, alphas, strict=True):
        assert c.alpha == pytest.approx(a) and c.ci95.level == pytest.approx(1 - a)
        assert c == stats.compare(v, b, better, alpha=float(a))
    assert [c.verdict for c in results] == ["overhead", "equivalent", "inconclusive"]
    assert stats.compare_family([]) == []


# ------------------------------------------------------------------ power and sample size


def test_min_detectable_effect_formula() -> None:
    sd, n = 0.02, 10
    q = sps.t.ppf(0.975, n - 1) + sps.t.ppf(0.8, n - 1)
    assert stats.min_detectable_effect(sd, n) == pytest.approx(math.expm1(q * sd / math.sqrt(n)))


def test_min_detectable_effect_has_about_80_percent_power() -> None:
    sd, n = 0.02, 20
    delta = math.log1p(stats.min_detectable_effect(sd, n))
    crit = sps.t.ppf(0.975, n - 1)
    power = sps.nct.sf(crit, n - 1, delta / (sd / math.sqrt(n)))
    assert power == pytest.approx(0.8, abs=0.01)


def test_min_detectable_effect_edges() -> None:
    assert stats.min_detectable_effect(0.02, 1) == math.inf
    assert stats.min_detectable_effect(0.0, 10) == 0.0
    with pytest.raises(ValueError):
        stats.min_detectable_effect(-1.0, 10)


def _brute_force_blocks(sd: float, margin: float, effect: float, alpha: float) -> int:
    delta, lo, hi = math.log1p(effect), math.log1p(-margin), math.log1p(margin)
    for n in range(2, 100_000):
        df, se = n - 1, sd / math.sqrt(n)
        equiv = lo < delta < hi and (
            sps.t.cdf(sps.t.ppf(1 - alpha, df) - (delta - lo) / se, df)
            + sps.t.cdf(sps.t.ppf(1 - alpha, df) - (hi - delta) / se, df)
        ) <= 0.2
        detect = delta != 0 and sps.t.cdf(sps.t.ppf(1 - alpha / 2, df) - abs(delta) / se, df) <= 0.2
        if equiv or detect:
            return n
    raise AssertionError("not found")


@pytest.mark.parametrize(
    ("sd", "margin", "effect"),
    [(0.02, 0.02, 0.0), (0.03, 0.02, 0.005), (0.02, 0.02, 0.05), (0.01, 0.01, -0.02)],
)
def test_blocks_needed_matches_brute_force(sd: float, margin: float, effect: float) -> None:
    expected = _brute_force_blocks(sd, margin, effect, 0.05)
    assert stats.blocks_needed(sd, margin, true_effect=effect) == expected


def test_blocks_needed_equivalence_at_zero_follows_chow_liu_scale() -> None:
    # Normal approximation: n ~ (z_.95 + z_.90)^2 (sd / margin)^2 = 8.6 for sd = margin.
    assert 9 <= stats.blocks_needed(0.02, 0.0198) <= 12
    assert stats.blocks_needed(0.0, 0.02) == 2
    assert stats.blocks_needed(0.04, 0.02) > stats.blocks_needed(0.02, 0.02)


# ------------------------------------------------------------------- adaptive stopping


def test_look_grid_grows_geometrically_and_ends_at_the_maximum() -> None:
    assert stats.look_grid(6, 40) == (6, 9, 14, 21, 32, 40)
    assert stats.look_grid(5, 5) == (5,)
    assert stats.look_grid(2, 4) == (2, 3, 4)
    with pytest.raises(ValueError):
        stats.look_grid(1, 30)
    with pytest.raises(ValueError):
        stats.look_grid(10, 5)


def test_pocock_spending_weights() -> None:
    w = stats.spending_weights((6, 9, 14, 21, 32, 40))
    assert w.sum() == pytest.approx(1.0)
    assert np.all(w > 0)
    # alpha(t) = alpha ln(1 + (e - 1) t) (Lan & DeMets 1983, Pocock type)
    assert w[0] == pytest.approx(math.log(1 + (math.e - 1) * 6 / 40))
    assert w[0] > 0.2  # an early look can decide (O'Brien-Fleming spends < 1e-4 here)
    assert stats.spending_weights((10,)) == pytest.approx([1.0])


def test_single_look_sequential_is_the_fixed_comparison() -> None:
    variant, baseline = _blocks(1.02, 10, 0.02)
    decision = stats.sequential_decision(variant, baseline, "lower", grid=(10,), final=True)
    assert decision.stop and decision.look == decision.n_looks == 1
    assert decision.alpha_spent == pytest.approx(1.0)
    assert decision.comparison == stats.compare(variant, baseline, "lower")


def test_sequential_decision_spends_a_share_per_look() -> None:
    variant, baseline = _blocks(1.00, 30, 0.05)
    grid = stats.look_grid(5, 30)
    first = stats.sequential_decision(variant[:5], baseline[:5], "lower", grid=grid,
                                      final=False)
    assert first.n_looks == 1
    assert first.comparison.alpha == pytest.approx(0.05 * stats.spending_weights(grid)[0])
    assert first.stop == first.comparison.decided
    assert stats.sequential_decision(variant[:4], baseline[:4], "lower", grid=grid,
                                     final=False) is None


def test_final_look_spends_what_the_unreached_looks_would_have() -> None:
    variant, baseline = _blocks(1.00, 17, 0.05)
    grid = stats.look_grid(5, 40)  # 5, 8, 12, 18, 27, 40: 17 blocks reach three looks
    decision = stats.sequential_decision(variant, baseline, "lower", grid=grid, final=True,
                                         alpha=0.05)
    assert decision.n_looks == 4
    weights = stats.spending_weights(grid)
    if decision.look == 4:
        assert decision.comparison.alpha == pytest.approx(0.05 * weights[3:].sum())
    assert decision.stop  # the measurement is over


def test_sequential_decision_stops_on_a_clear_overhead() -> None:
    variant, baseline = _blocks(1.20, 12, 0.01)
    decision = stats.sequential_decision(variant, baseline, "lower",
                                         grid=stats.look_grid(5, 30), final=False)
    assert decision.stop and decision.comparison.verdict == "overhead"


def test_resolvable_margin_is_what_blocks_needed_inverts() -> None:
    margin = stats.resolvable_margin(0.02, 20)
    assert 0 < margin < 0.05
    assert stats.blocks_needed(0.02, margin * 1.02) <= 20 <= stats.blocks_needed(0.02,
                                                                                  margin * 0.9)
    assert stats.resolvable_margin(0.02, 1) == math.inf


def test_plain_95_interval_is_unadjusted() -> None:
    variant, baseline = _blocks(1.00, 12, 0.02)
    adjusted = stats.compare(variant, baseline, "lower", alpha=0.005)
    plain = stats.compare(variant, baseline, "lower")
    assert adjusted.plain95 == plain.plain95
    assert adjusted.ci95.lo < plain.plain95.lo and plain.plain95.hi < adjusted.ci95.hi
    assert plain.plain95.level == 0.95


# --------------------------------------------------------------------------- diagnostics


def test_modified_z_hand_worked() -> None:
    # median 3, |x - 3| = 2 1 0 1 97, MAD = 1
    z = stats.modified_z([1.0, 2.0, 3.0, 4.0, 100.0])
    np.testing.assert_allclose(z, 0.6745 * np.array([-2, -1, 0, 1, 97]))
    assert stats.outliers([1.0, 2.0, 3.0, 4.0, 100.0]).tolist() == [False] * 4 + [True]


def test_modified_z_falls_back_to_mean_absolute_deviation_when_mad_is_zero() -> None:
    # median 5, MAD 0, mean |x - 5| = 0.8 -> z(9) = 4 / (1.2533 * 0.8) = 3.99
    z = stats.modified_z([5.0, 5.0, 5.0, 5.0, 9.0])
    assert z[-1] == pytest.approx(4 / (math.sqrt(math.pi / 2) * 0.8))
    assert stats.outliers([5.0, 5.0, 5.0, 5.0, 9.0]).tolist() == [False] * 4 + [True]
    assert stats.modified_z([2.0, 2.0, 2.0]).tolist() == [0.0, 0.0, 0.0]


def test_drift_is_spearman_of_value_with_index() -> None:
    x = [3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.0, 6.0]
    ref = sps.spearmanr(np.arange(len(x)), x)
    assert stats.drift(x) == (pytest.approx(ref.statistic), pytest.approx(ref.pvalue))
    assert stats.drift([1.0, 2.0, 3.0, 4.0, 5.0])[0] == pytest.approx(1.0)


def test_drift_is_nan_when_undefined() -> None:
    for x in ([1.0, 2.0], [3.0, 3.0, 3.0]):
        rho, p = stats.drift(x)
        assert math.isnan(rho) and math.isnan(p)


def test_cv() -> None:
    assert stats.cv([1.0, 2.0, 3.0]) == pytest.approx(1.0 / 2.0)
    assert math.isnan(stats.cv([1.0]))


def test_bimodality_coefficient_matches_sarle_formula() -> None:
    x = np.array([1.0, 1.2, 0.9, 1.1, 3.0, 3.1, 2.9, 3.2, 1.05])
    n = x.size
    g, k = sps.skew(x, bias=False), sps.kurtosis(x, bias=False)
    expected = (g**2 + 1) / (k + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))
    assert stats.bimodality_coefficient(x) == pytest.approx(expected)


def test_is_bimodal() -> None:
    assert stats.is_bimodal([1.0] * 10 + [2.0] * 10)
    unimodal = np.random.default_rng(0).normal(10, 1, 200)
    assert not stats.is_bimodal(unimodal)
    assert not stats.is_bimodal([1.0, 5.0, 1.0])
    assert not stats.is_bimodal([2.0] * 6)


def test_robust_overhead_samples_pairs_for_long_runs():
    """Above 2,000 blocks the Hodges-Lehmann median is taken over a seeded sample of Walsh
    averages (bounded memory); it stays within a tiny fraction of the exact value."""
    x = np.random.default_rng(1).normal(0.01, 0.02, 3000)
    i, j = np.triu_indices(x.size)
    exact = math.expm1(float(np.median((x[i] + x[j]) / 2)))
    assert abs(stats.robust_overhead(x) - exact) < 2e-4
    assert stats.robust_overhead(x) == stats.robust_overhead(x)  # seeded
