"""Pure statistics for native-vs-container comparisons (the method is METHOD.md).

Functions over numbers only: no I/O, no printing, no global state. Every random choice
comes from ``numpy.random.default_rng(seed)``, so a report rebuilt from the same data is
identical.

Conventions the callers rely on:

* Effects live in log space on a *cost* (METHOD §1). Per block b,
  ``d_b = ln cost(variant, b) - ln cost(baseline, b)`` and ``overhead = exp(mean d) - 1``:
  +0.05 means the variant costs 5% more per unit of work. Intervals are computed on mean d
  and mapped to overhead units with ``exp(x) - 1``.
* The equivalence margin D is in overhead units, exactly as METHOD §3 words it: the
  interval must lie inside (-D, +D), i.e. mean d inside (ln(1 - D), ln(1 + D)).
* Verdicts use a *decision interval*: the hull (union) of the BCa bootstrap interval and
  the Student-t interval at the same level. The bootstrap over blocks (Efron 1987) adapts
  to skew; the t interval keeps the nominal level where the bootstrap is known to be too
  narrow (few blocks, outliers, the small alphas of Holm and of sequential looks). A claim
  is made only when both agree, and the interval the report prints is the one the verdict
  used.
* One run, several comparisons: ``compare_family`` (Holm, see ``family_alphas``).
  Adaptive stopping: ``sequential_decision`` (looks on a grid of block counts, each
  spending its Pocock-type share of alpha; union bound over looks).
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import special, stats

BETTER = ("higher", "lower")
VERDICTS = ("equivalent", "overhead", "faster", "inconclusive")
MIN_RESAMPLES = 2000
BLOCKS_CAP = 1_000_000
BIMODALITY_THRESHOLD = 5 / 9  # Sarle's coefficient of a uniform distribution
MIN_DISTINCT = 3  # fewer distinct paired differences than this give no verdict

_MAD_TO_Z = 0.6745  # Iglewicz & Hoaglin (1993): Phi^-1(0.75), makes MAD consistent for sigma
_MEANAD_TO_SIGMA = math.sqrt(math.pi / 2)  # E|X - mu| = sigma * sqrt(2 / pi) for normal X


# --------------------------------------------------------------------------- effect size


def log_costs(values: ArrayLike, better: str) -> np.ndarray:
    """Return ln(cost) per value: cost = 1/metric if higher is better, else the metric.

    Working on costs makes "+5%" mean "5% more expensive" whatever the metric's direction
    (METHOD §1). Raises ValueError for non-positive or non-finite values or a bad `better`.
    """
    if better not in BETTER:
        raise ValueError(f"better must be one of {BETTER}, got {better!r}")
    v = np.asarray(values, dtype=float)
    if v.ndim != 1:
        raise ValueError("values must be one-dimensional")
    if not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise ValueError("metric values must be finite and > 0 to take a log cost")
    logs = np.log(v)
    return -logs if better == "higher" else logs


def paired_log_diffs(variant: ArrayLike, baseline: ArrayLike, better: str) -> np.ndarray:
    """Per-block paired differences ``d_b = ln cost(variant, b) - ln cost(baseline, b)``.

    ``variant[b]`` and ``baseline[b]`` are the two arms' values in block b (one value per
    arm per block); pairing by block cancels drift shared by the block (METHOD §1, §2).
    """
    v = log_costs(variant, better)
    b = log_costs(baseline, better)
    if v.size != b.size:
        raise ValueError(
            f"variant and baseline must be aligned by block: {v.size} != {b.size} values"
        )
    if v.size == 0:
        raise ValueError("need at least one block")
    return v - b


def overhead(d: ArrayLike) -> float:
    """Point estimate ``exp(mean d) - 1`` (the geometric mean of the per-block cost ratios)."""
    return math.expm1(float(_values(d).mean()))


def robust_overhead(d: ArrayLike) -> float:
    """Outlier-resistant companion of ``overhead``: exp(Hodges-Lehmann estimate of d) - 1.

    The Hodges-Lehmann estimator (Hodges & Lehmann 1963) is the median of the Walsh
    averages (d_i + d_j) / 2, i <= j: 95% efficient for Gaussian d, and one wild block
    barely moves it. Show it next to the mean when outliers are flagged (METHOD §6); the
    verdict stays on the mean, which is what "cost per unit of work" means.
    """
    x = _values(d)
    if x.size <= _HL_EXACT_MAX:
        i, j = np.triu_indices(x.size)
        return math.expm1(float(np.median((x[i] + x[j]) / 2)))
    # Long runs: the median of a seeded random sample of Walsh averages (all n(n+1)/2 of
    # them would need O(n^2) memory); its error is far below the estimate's own.
    rng = np.random.default_rng(0)
    i = rng.integers(0, x.size, _HL_SAMPLED_PAIRS)
    j = rng.integers(0, x.size, _HL_SAMPLED_PAIRS)
    return math.expm1(float(np.median((x[i] + x[j]) / 2)))


_HL_EXACT_MAX = 2000  # blocks: about 2 million Walsh averages, 16 MB
_HL_SAMPLED_PAIRS = 1_000_000


def geometric_mean_overhead(overheads: ArrayLike) -> float:
    """Summary across workloads: geometric mean of ``1 + o``, minus 1 (METHOD §1).

    Ratios are never averaged arithmetically: +100% and -50% cancel, as they should.
    """
    o = np.asarray(overheads, dtype=float)
    if o.ndim != 1 or o.size == 0:
        raise ValueError("need a non-empty one-dimensional sequence of overheads")
    if not np.all(np.isfinite(o)) or np.any(o <= -1):
        raise ValueError("overheads must be finite and > -1 (a cost ratio must be positive)")
    return math.expm1(float(np.log1p(o).mean()))


# ----------------------------------------------------------------------------- intervals


@dataclass(frozen=True)
class Interval:
    """A confidence interval in overhead units (fractions: 0.05 is +5%)."""

    lo: float
    hi: float
    level: float
    method: str

    def contains(self, value: float) -> bool:
        return self.lo <= value <= self.hi


def t_interval(d: ArrayLike, level: float = 0.95) -> Interval:
    """Student t interval on mean d, mapped to overhead units (cross-check, METHOD §2).

    With fewer than 2 blocks nothing is known: the interval is (-100%, +inf). With zero
    variance it degenerates to [x, x].
    """
    x = _values(d)
    _check_level(level)
    return _t_interval(x, (1 - level) / 2)


def bootstrap_ci(
    d: ArrayLike,
    level: float = 0.95,
    n_resamples: int = MIN_RESAMPLES,
    seed: int = 0,
    method: str = "bca",
) -> Interval:
    """Bootstrap interval for the overhead, resampling blocks (METHOD §2).

    The statistic is mean d; the endpoints are mapped with ``exp(x) - 1``. ``method`` is
    "bca" (bias-corrected and accelerated, Efron 1987; Efron & Tibshirani 1993 §14.3, with
    the jackknife acceleration and mid-rank bias correction that scipy.stats.bootstrap
    uses) or "percentile". At least 2,000 resamples. With fewer than 2 blocks or zero
    variance the interval degenerates to [x, x]. Where the BCa transform is undefined (an
    extreme level with strong acceleration) the endpoint falls back to the most extreme
    resample, the conservative choice.
    """
    x = _values(d)
    _check_level(level)
    _check_resamples(n_resamples)
    if method not in ("bca", "percentile"):
        raise ValueError(f"method must be 'bca' or 'percentile', got {method!r}")
    if x.size < 2 or _sd(x) == 0:
        est = math.expm1(float(x.mean()))
        return Interval(est, est, level, method)
    boot = _boot_means(x, n_resamples, seed)
    tail = (1 - level) / 2
    lo, hi = np.expm1(_boot_quantiles(x, boot, np.array([tail, 1 - tail]), method))
    return Interval(float(lo), float(hi), level, method)


# ---------------------------------------------------------------------------- p-values


def tost_pvalue(d: ArrayLike, margin: float) -> float:
    """TOST p-value for "the overhead lies inside (-margin, +margin)".

    Two one-sided t-tests on mean d (Schuirmann 1987; Lakens 2017) against the log bounds
    ln(1 - margin) and ln(1 + margin), i.e. the margin in overhead units as METHOD §3
    states it; p is the larger of the two one-sided p-values, so p < alpha exactly when the
    1 - 2*alpha t interval lies inside the margin. Fewer than 2 blocks give p = 1.
    """
    x = _values(d)
    _check_margin(margin)
    n = x.size
    if n < 2:
        return 1.0
    m = float(x.mean())
    lo, hi = math.log1p(-margin), math.log1p(margin)
    se = _sd(x) / math.sqrt(n)
    if se == 0:
        return 0.0 if lo < m < hi else 1.0
    p_lower = float(special.stdtr(n - 1, -(m - lo) / se))  # H0: mean d <= ln(1 - margin)
    p_upper = float(special.stdtr(n - 1, (m - hi) / se))  # H0: mean d >= ln(1 + margin)
    return max(p_lower, p_upper)


def difference_pvalue(d: ArrayLike) -> float:
    """Two-sided one-sample t-test of mean d == 0 (same as scipy.stats.ttest_1samp).

    Fewer than 2 blocks give p = 1; zero variance gives 0 (mean != 0) or 1 (mean == 0).
    """
    x = _values(d)
    n = x.size
    if n < 2:
        return 1.0
    m = float(x.mean())
    se = _sd(x) / math.sqrt(n)
    if se == 0:
        return 1.0 if m == 0 else 0.0
    return float(2 * special.stdtr(n - 1, -abs(m) / se))


# --------------------------------------------------------------------- multiple testing


def holm(pvalues: ArrayLike, alpha: float = 0.05) -> list[bool]:
    """Holm-Bonferroni step-down rejections (Holm 1979), in input order.

    Sort p ascending; reject H_(1), H_(2), ... while p_(k) <= alpha / (m - k + 1); stop at
    the first failure. Controls the family-wise error rate at alpha under any dependence.
    """
    p = _pvalues(pvalues)
    _check_alpha(alpha)
    m = p.size
    reject = [False] * m
    for k, i in enumerate(np.argsort(p, kind="stable")):
        if p[i] > alpha / (m - k):
            break
        reject[i] = True
    return reject


def holm_adjusted(pvalues: ArrayLike) -> np.ndarray:
    """Holm adjusted p-values: ``max_{j<=k} min(1, (m - j + 1) p_(j))``, in input order.

    H_i is rejected by Holm at level alpha exactly when its adjusted p-value is <= alpha.
    """
    p = _pvalues(pvalues)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def family_alphas(
    p_difference: ArrayLike, p_equivalence: ArrayLike, alpha: float = 0.05
) -> np.ndarray:
    """Per-comparison alpha for a family in which each comparison tests two hypotheses.

    Each comparison i carries a difference null (delta_i = 0: the ground for a false
    "overhead"/"faster") and an equivalence null (|overhead_i| >= D: the ground for a false
    "equivalent"). At most one of the two can be true, so a comparison can make at most
    one false claim. This is Holm's procedure (Holm 1979) derived, as Holm is, by closed
    testing with Bonferroni tests of each intersection (Marcus, Peritz & Gabriel 1976),
    using that logical restriction (Shaffer 1986): both hypotheses of comparison i are
    tested at ``alpha / k_i``, where k_i is the largest k such that at least k - 1 *other*
    comparisons have ``max(p_difference_j, p_equivalence_j) > alpha / k``.

    So a comparison stops counting towards the divisor only once *both* of its hypotheses
    are rejected ("significant but small"), which happens exactly where Holm on the
    per-comparison ``max(p_difference, p_equivalence)`` rejects. One comparison: alpha.
    The family-wise rate of any false claim, of either kind, is <= alpha. The price: a
    comparison that is clearly different but not equivalent still counts (its equivalence
    null may be true), so a family of clear overheads is tested at alpha / m (Bonferroni).
    """
    pd = _pvalues(p_difference)
    pe = _pvalues(p_equivalence)
    if pd.size != pe.size:
        raise ValueError("need one difference and one equivalence p-value per comparison")
    _check_alpha(alpha)
    worst = np.maximum(pd, pe)
    m = worst.size
    out = np.empty(m)
    for i in range(m):
        others = np.delete(worst, i)
        k_i = next(k for k in range(m, 0, -1) if np.count_nonzero(others > alpha / k) >= k - 1)
        out[i] = alpha / k_i
    return out


# ---------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Comparison:
    """Everything the report says about one variant-vs-baseline comparison.

    ``overhead``: exp(mean d) - 1. ``ci95`` / ``ci90``: the decision intervals (hull of
    BCa bootstrap and t, see the module docstring) for the difference test and for TOST;
    their ``level`` is the level actually used (0.95 / 0.90 alone, e.g. 0.9833 / 0.9667
    after Holm in a family of 3). ``alpha``: the two-sided alpha of the difference test
    after Holm or sequential adjustment. ``t_ci95`` / ``boot_ci95``: the two halves of
    ``ci95``, for cross-checking. ``significant``: ``ci95`` excludes 0 (with
    ``equivalent``: "significant but small"). ``mde``: smallest overhead detectable with
    80% power at this n, sd and alpha. ``blocks_to_decide``: for ``inconclusive``, the
    estimated further blocks for a decisive verdict at 80% power if the observed overhead
    and sd are the truth (None if decided, or with one block, when there is no sd).
    ``sd``: sample sd of d_b (nan with one block). ``p_difference`` / ``p_equivalence``:
    the t-test and TOST p-values (unadjusted).
    """

    n_blocks: int
    overhead: float
    ci95: Interval
    ci90: Interval
    t_ci95: Interval
    margin: float
    alpha: float
    verdict: str
    significant: bool
    mde: float
    blocks_to_decide: int | None
    sd: float
    boot_ci95: Interval
    p_difference: float
    p_equivalence: float
    #: The plain 95% interval (hull of BCa and t at 95%, no multiplicity adjustment): what
    #: "95% CI" means in every output. ``ci95`` is the decision interval at the adjusted
    #: level the verdict used (``ci95.level``), printed with its level beside it.
    plain95: Interval | None = None

    @property
    def decided(self) -> bool:
        return self.verdict != "inconclusive"


def compare(
    variant: ArrayLike,
    baseline: ArrayLike,
    better: str,
    margin: float = 0.02,
    alpha: float = 0.05,
    n_resamples: int = MIN_RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """Compare one variant with its baseline over aligned blocks (METHOD §3-§5).

    Verdicts (METHOD §4), on decision intervals: ``equivalent`` when the 1 - 2*alpha
    interval lies inside (-margin, +margin) (TOST; Schuirmann 1987); otherwise
    ``overhead``/``faster`` when the 1 - alpha interval lies entirely above/below 0;
    otherwise ``inconclusive``. ``significant`` is "the 1 - alpha interval excludes 0"
    (with ``equivalent`` that is "significant but small").
    """
    x = paired_log_diffs(variant, baseline, better)
    _check_margin(margin)
    _check_alpha(alpha)
    _check_resamples(n_resamples)
    return _decide(x, alpha, alpha, margin, n_resamples, seed, plan_alpha=alpha)


def compare_family(
    items: Sequence[tuple[ArrayLike, ArrayLike, str]],
    margin: float = 0.02,
    alpha: float = 0.05,
    n_resamples: int = MIN_RESAMPLES,
    seed: int = 0,
) -> list[Comparison]:
    """Compare every (variant, baseline, better) of one run with Holm across the family.

    Each comparison's t-test p-values (difference, TOST) go into ``family_alphas``, the
    Holm step-down adapted to one difference and one equivalence hypothesis per comparison;
    comparison i is then decided exactly as ``compare`` would with ``alpha = alpha_i``
    (its intervals are 1 - alpha_i and 1 - 2*alpha_i). ``Comparison.alpha`` is alpha_i,
    the family size is ``len(items)``. Results come back in input order; each comparison
    uses ``seed`` for its bootstrap, so it does not depend on its position.
    """
    _check_margin(margin)
    _check_alpha(alpha)
    _check_resamples(n_resamples)
    diffs = [paired_log_diffs(v, b, better) for v, b, better in items]
    if not diffs:
        return []
    alphas = family_alphas(
        [difference_pvalue(x) for x in diffs],
        [tost_pvalue(x, margin) for x in diffs],
        alpha,
    )
    return [
        _decide(x, float(a), float(a), margin, n_resamples, seed, plan_alpha=float(a))
        for x, a in zip(diffs, alphas, strict=True)
    ]


def min_detectable_effect(sd: float, n: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest overhead a two-sided t-test at alpha detects with the given power.

    ``delta = (t_{1-alpha/2, n-1} + t_{power, n-1}) * sd / sqrt(n)`` on mean d (the usual
    t approximation to the noncentral t, ignoring the far tail), returned in overhead units
    as exp(delta) - 1 (the mirror-image speed-up, exp(-delta) - 1, is detected equally).
    Infinite with fewer than 2 blocks.
    """
    return _t_margin(sd, n, alpha, power, alpha / 2, 1 - power)


def blocks_needed(
    sd: float,
    margin: float,
    true_effect: float = 0.0,
    alpha: float = 0.05,
    power: float = 0.8,
) -> int:
    """Smallest number of blocks for a decisive verdict with the given power.

    ``sd`` is the sd of d_b; ``true_effect`` is an overhead (fraction). Two routes decide,
    whichever needs fewer blocks: equivalence (possible when the effect lies inside the
    margin: both one-sided tests at alpha must pass, failure probability approximated by
    the sum of their t-approximated misses, the Chow & Liu / Julious 2004 sample-size
    formula), and detection (effect != 0: two-sided t-test at alpha, the inverse of
    ``min_detectable_effect``). Capped at ``BLOCKS_CAP``; 2 when sd == 0.
    """
    _check_sd(sd)
    _check_margin(margin)
    _check_alpha(alpha)
    _check_power(power)
    if not (math.isfinite(true_effect) and true_effect > -1):
        raise ValueError("true_effect must be a finite overhead > -1")
    if sd == 0:
        return 2
    delta = math.log1p(true_effect)
    lo, hi = math.log1p(-margin), math.log1p(margin)
    miss = 1 - power
    needed = [BLOCKS_CAP]
    if lo < delta < hi:

        def equivalence_misses(n: int) -> bool:
            df, se = n - 1, sd / math.sqrt(n)
            crit = -float(special.stdtrit(df, alpha))
            fail = special.stdtr(df, crit - (delta - lo) / se) + special.stdtr(
                df, crit - (hi - delta) / se
            )
            return bool(fail > miss)

        needed.append(_first_n(equivalence_misses))
    if delta != 0:

        def detection_misses(n: int) -> bool:
            df, se = n - 1, sd / math.sqrt(n)
            crit = -float(special.stdtrit(df, alpha / 2))
            return bool(special.stdtr(df, crit - abs(delta) / se) > miss)

        needed.append(_first_n(detection_misses))
    return min(needed)


def resolvable_margin(sd: float, n: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest margin D that n blocks resolve as ``equivalent`` with the given power
    when the true overhead is 0: ``D = exp((t_{1-alpha, n-1} + t_{1-(1-power)/2, n-1})
    sd / sqrt(n)) - 1`` (TOST at alpha per side; the two misses are symmetric, Chow & Liu
    2008 §3.2). "This host resolves +/-D in this budget". Infinite below 2 blocks."""
    return _t_margin(sd, n, alpha, power, alpha, (1 - power) / 2)


def _t_margin(sd: float, n: int, alpha: float, power: float, tail_test: float,
              tail_miss: float) -> float:
    """``exp((t_{1-tail_test} + t_{1-tail_miss}) sd / sqrt(n)) - 1`` with n - 1 df."""
    if n < 2:
        return math.inf
    _check_sd(sd)
    _check_alpha(alpha)
    _check_power(power)
    df = n - 1
    q = -float(special.stdtrit(df, tail_test)) - float(special.stdtrit(df, tail_miss))
    return math.expm1(q * sd / math.sqrt(n))


# -------------------------------------------------------------------- adaptive stopping


@dataclass(frozen=True)
class SequentialDecision:
    """A comparison's verdict in adaptive mode: the latest decisive look, else the last.

    ``look`` is the 1-based index of that look among the looks taken, ``n_looks`` how many
    were taken, ``alpha_spent`` the share of the comparison's alpha spent up to it.
    """

    stop: bool
    comparison: Comparison
    look: int
    n_looks: int
    alpha_spent: float


def look_grid(min_blocks: int, max_blocks: int, growth: float = 1.5) -> tuple[int, ...]:
    """The paired-block counts at which an adaptive run looks: ``min_blocks``, then each
    count ``growth`` times the one before (rounded up, at least one block more), ending
    at ``max_blocks``. Few looks keep each look's share of alpha large."""
    if not 2 <= min_blocks <= max_blocks:
        raise ValueError(f"need 2 <= min_blocks <= max_blocks, got {min_blocks}, {max_blocks}")
    if not growth > 1:
        raise ValueError(f"growth must be > 1, got {growth}")
    grid = [min_blocks]
    while grid[-1] < max_blocks:
        grid.append(min(max_blocks, max(grid[-1] + 1, math.ceil(grid[-1] * growth))))
    return tuple(grid)


def spending_weights(grid: Sequence[int]) -> np.ndarray:
    """Each look's share of alpha: the increments of the Pocock-type spending function of
    Lan & DeMets (1983), ``alpha(t) = alpha ln(1 + (e - 1) t)``, at information fractions
    ``t = n / grid[-1]``. They sum to 1; early looks get a real share (about 29% of alpha
    at a fifth of the blocks), unlike O'Brien-Fleming-type spending, which spends almost
    nothing early and so cannot stop a clean comparison at its first look."""
    g = np.asarray(grid, dtype=float)
    if g.ndim != 1 or g.size == 0 or np.any(np.diff(g) <= 0) or g[0] < 2:
        raise ValueError("look grid must be increasing block counts >= 2")
    spent = np.log1p((math.e - 1) * g / g[-1])
    return np.diff(spent, prepend=0.0)


def sequential_decision(
    variant: ArrayLike,
    baseline: ArrayLike,
    better: str,
    *,
    grid: Sequence[int],
    final: bool,
    margin: float = 0.02,
    alpha: float = 0.05,
    n_resamples: int = MIN_RESAMPLES,
    seed: int = 0,
) -> SequentialDecision | None:
    """Adaptive-mode verdict of one comparison from its paired blocks in block order
    (METHOD §5). None before the first look (fewer than ``grid[0]`` paired blocks).

    Looks happen when the paired blocks reach a count of ``grid``; with ``final`` (the
    workload's measurement is over) a last look at all blocks spends what the grid looks
    not reached would have spent. Look k tests exactly as ``compare`` does at
    ``alpha_k = alpha * w_k`` (``spending_weights``): the difference test two-sided at
    alpha_k, each one-sided test of the TOST at alpha_k. By the union bound over looks
    (Bonferroni across looks, valid however the looks depend on each other), the
    probability that *any* look makes a false claim is at most ``sum(alpha_k) <= alpha``,
    so the runner may stop at any look and the report may keep the latest decisive one.
    The look schedule depends only on how many blocks are paired, never on the values.
    ``stop`` is true when the latest look is decisive or the measurement is over.
    """
    x = paired_log_diffs(variant, baseline, better)
    _check_margin(margin)
    _check_alpha(alpha)
    _check_resamples(n_resamples)
    weights = spending_weights(grid)
    n = x.size
    looks = [(int(m), float(w)) for m, w in zip(grid, weights, strict=True) if m <= n]
    if final and n >= 2 and (not looks or looks[-1][0] != n):
        looks.append((n, max(0.0, 1.0 - sum(w for _, w in looks))))
    looks = [(m, w) for m, w in looks if w > 0]
    if not looks:
        return None
    chosen: tuple[int, Comparison, float] | None = None
    spent = 0.0
    last: Comparison | None = None
    for index, (m, w) in enumerate(looks, start=1):
        spent += w
        a = min(alpha * w, 0.499)
        last = _decide(x[:m], a, a, margin, n_resamples, seed, plan_alpha=alpha * weights[-1])
        if last.decided:
            chosen = (index, last, spent)
    assert last is not None
    if chosen is None:
        return SequentialDecision(final, last, len(looks), len(looks), spent)
    index, comparison, at = chosen
    return SequentialDecision(True, comparison, index, len(looks), at)


# --------------------------------------------------------------------------- diagnostics


def modified_z(x: ArrayLike) -> np.ndarray:
    """Modified z-scores ``0.6745 (x - median) / MAD`` (Iglewicz & Hoaglin 1993).

    When MAD is 0 (over half the values identical) the mean absolute deviation from the
    median, scaled by sqrt(pi/2) to estimate sigma, takes its place (the usual fallback,
    e.g. IBM SPSS); when that is 0 too, every score is 0.
    """
    v = _values(x)
    med = float(np.median(v))
    dev = np.abs(v - med)
    mad = float(np.median(dev))
    if mad > 0:
        return _MAD_TO_Z * (v - med) / mad
    mean_ad = float(dev.mean())
    if mean_ad > 0:
        return (v - med) / (_MEANAD_TO_SIGMA * mean_ad)
    return np.zeros_like(v)


def outliers(x: ArrayLike, threshold: float = 3.5) -> np.ndarray:
    """Boolean mask of outliers: ``|modified z| > threshold`` (Iglewicz & Hoaglin: 3.5)."""
    return np.abs(modified_z(x)) > threshold


def drift(x: ArrayLike) -> tuple[float, float]:
    """Spearman rank correlation of value with index, and its p-value (scipy.spearmanr).

    A rank correlation catches monotone drift (thermal, caches filling) without assuming
    it is linear. (nan, nan) with fewer than 3 values or constant values.
    """
    v = np.asarray(x, dtype=float)
    if v.ndim != 1:
        raise ValueError("x must be one-dimensional")
    if v.size < 3 or np.ptp(v) == 0:
        return math.nan, math.nan
    res = stats.spearmanr(np.arange(v.size), v)
    return float(res.statistic), float(res.pvalue)


def cv(x: ArrayLike) -> float:
    """Coefficient of variation: sample sd (ddof=1) / mean; nan for n < 2 or mean 0."""
    v = _values(x)
    m = float(v.mean())
    if v.size < 2 or m == 0:
        return math.nan
    return _sd(v) / m


def bimodality_coefficient(x: ArrayLike) -> float:
    """Sarle's bimodality coefficient ``(g^2 + 1) / (k + 3 (n-1)^2 / ((n-2)(n-3)))``.

    g and k are the bias-corrected sample skewness and excess kurtosis (SAS Institute 1990;
    Pfister et al. 2013). nan for n < 4 or constant values.
    """
    v = _values(x)
    n = v.size
    if n < 4 or np.ptp(v) == 0:
        return math.nan
    g = float(stats.skew(v, bias=False))
    k = float(stats.kurtosis(v, bias=False))
    return (g * g + 1) / (k + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))


def is_bimodal(x: ArrayLike) -> bool:
    """True when Sarle's bimodality coefficient exceeds 5/9 (~0.555, a uniform's value).

    A hint, not a test: needs n >= 4 (False otherwise) and is noisy for small n.
    """
    bc = bimodality_coefficient(x)
    return bool(bc > BIMODALITY_THRESHOLD)


# ------------------------------------------------------------------------------ private


def _decide(
    x: np.ndarray,
    alpha_diff: float,
    alpha_equiv: float,
    margin: float,
    n_resamples: int,
    seed: int,
    *,
    plan_alpha: float,
) -> Comparison:
    """Build the Comparison for log diffs x at the given (possibly adjusted) alphas.

    ``plan_alpha`` is the level the design will end at (the last look's, in adaptive
    mode): ``blocks_to_decide`` is estimated at that level.
    """
    n = x.size
    est = math.expm1(float(x.mean()))
    sd = _sd(x) if n >= 2 else math.nan
    level95, level90 = 1 - alpha_diff, 1 - 2 * alpha_equiv
    if n >= 2 and sd > 0:
        boot = _boot_means(x, n_resamples, seed)
        probs = np.array([alpha_diff / 2, 1 - alpha_diff / 2, alpha_equiv, 1 - alpha_equiv,
                          0.025, 0.975])
        q = np.expm1(_boot_quantiles(x, boot, probs, "bca"))
        boot95 = Interval(float(q[0]), float(q[1]), level95, "bca")
        boot90 = Interval(float(q[2]), float(q[3]), level90, "bca")
        plain_boot = Interval(float(q[4]), float(q[5]), 0.95, "bca")
    else:
        boot95 = Interval(est, est, level95, "bca")
        boot90 = Interval(est, est, level90, "bca")
        plain_boot = Interval(est, est, 0.95, "bca")
    plain95 = _hull(plain_boot, _t_interval(x, 0.025))
    t95 = _t_interval(x, alpha_diff / 2)
    ci95 = _hull(boot95, t95)
    ci90 = _hull(boot90, _t_interval(x, alpha_equiv))
    verdict = decide(ci95, ci90, margin)
    if np.unique(x).size < MIN_DISTINCT:
        # Identical paired differences (a quantised metric, two blocks) give zero-width
        # intervals: certainty that the data cannot carry. No verdict from them.
        verdict = "inconclusive"
    to_decide = None
    if verdict == "inconclusive" and n >= 2:
        to_decide = max(1, blocks_needed(sd, margin, est, alpha=plan_alpha) - n)
    return Comparison(
        n_blocks=n,
        overhead=est,
        ci95=ci95,
        ci90=ci90,
        t_ci95=t95,
        margin=margin,
        alpha=alpha_diff,
        verdict=verdict,
        significant=ci95.lo > 0 or ci95.hi < 0,
        # A look that spends (almost) nothing detects nothing: floor alpha for the formula.
        mde=min_detectable_effect(sd, n, alpha=max(alpha_diff, 1e-12)),
        blocks_to_decide=to_decide,
        sd=sd,
        boot_ci95=boot95,
        p_difference=difference_pvalue(x),
        p_equivalence=tost_pvalue(x, margin),
        plain95=plain95,
    )


def decide(ci95: Interval, ci90: Interval, margin: float,
           names: tuple[str, str, str] = ("equivalent", "overhead", "faster")) -> str:
    """The verdict rule of METHOD §4 on decision intervals: ``names[0]`` (equivalent) when
    the 90% interval lies inside (-margin, +margin) (TOST), else ``names[1]`` / ``names[2]``
    when the 95% interval lies above / below 0, else ``inconclusive``. Run-to-run changes
    use the same rule with their own names."""
    if -margin < ci90.lo and ci90.hi < margin:
        return names[0]
    if ci95.lo > 0:
        return names[1]
    if ci95.hi < 0:
        return names[2]
    return "inconclusive"


def boot_means(x: ArrayLike, n_resamples: int, seed: int) -> np.ndarray:
    """Means of resamples of ``x`` with replacement, drawn in bounded memory."""
    return _boot_means(_values(x), n_resamples, seed)


def _t_interval(x: np.ndarray, tail: float) -> Interval:
    """t interval with probability ``tail`` outside each end; tail 0 gives (-100%, +inf)."""
    n, level = x.size, 1 - 2 * tail
    if n < 2 or tail <= 0:
        return Interval(-1.0, math.inf, level, "t")
    m = float(x.mean())
    se = _sd(x) / math.sqrt(n)
    if se == 0:
        return Interval(math.expm1(m), math.expm1(m), level, "t")
    q = -float(special.stdtrit(n - 1, tail))
    return Interval(math.expm1(m - q * se), math.expm1(m + q * se), level, "t")


def _hull(a: Interval, b: Interval) -> Interval:
    return Interval(min(a.lo, b.lo), max(a.hi, b.hi), a.level, f"{a.method}+{b.method}")


_BOOT_CHUNK = 2_000_000  # resampled values held at once (about 16 MB)


def _boot_means(x: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """Means of ``n_resamples`` resamples of the blocks, drawn with replacement."""
    rng = np.random.default_rng(seed)
    # Drawn in chunks of rows so memory stays bounded for runs with many blocks; the
    # generator fills rows in order, so the draws equal one (n_resamples, n) call.
    rows = max(1, min(n_resamples, _BOOT_CHUNK // max(x.size, 1)))
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, rows):
        stop = min(start + rows, n_resamples)
        picks = rng.integers(0, x.size, size=(stop - start, x.size), dtype=np.int32)
        means[start:stop] = x[picks].sum(axis=1) / x.size
    return means


def _boot_quantiles(x: np.ndarray, boot: np.ndarray, probs: np.ndarray, method: str) -> np.ndarray:
    """Bootstrap endpoints (log space) for the lower-tail probabilities ``probs``."""
    if method == "bca":
        probs = _bca_probs(x, boot, probs)
    return np.quantile(boot, probs)


def _bca_probs(x: np.ndarray, boot: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """BCa-adjusted probabilities (Efron 1987; Efron & Tibshirani 1993 eq. 14.10)."""
    b = boot.size
    theta = x.mean()
    frac = (np.count_nonzero(boot < theta) + np.count_nonzero(boot <= theta)) / (2 * b)
    z0 = special.ndtri(min(max(frac, 0.5 / b), 1 - 0.5 / b))
    n = x.size
    jack = (x.sum() - x) / (n - 1)
    u = jack.mean() - jack
    accel = (u**3).sum() / (6 * (u**2).sum() ** 1.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = special.ndtri(probs)
        shifted = z0 + z
        denom = 1 - accel * shifted
        adjusted = special.ndtr(z0 + shifted / denom)
    ok = (denom > 0) & np.isfinite(adjusted)
    return np.where(ok, adjusted, np.where(z < 0, 0.0, 1.0))


def _first_n(misses: Callable[[int], bool]) -> int:
    """Smallest n >= 2 with ``misses(n)`` False (misses is monotone in n), capped."""
    if not misses(2):
        return 2
    lo, hi = 2, 4  # misses(lo) holds; double hi until it does not
    while misses(hi):
        if hi >= BLOCKS_CAP:
            return BLOCKS_CAP
        lo, hi = hi, min(2 * hi, BLOCKS_CAP)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if misses(mid) else (lo, mid)
    return hi


def _sd(x: np.ndarray) -> float:
    """Sample sd (ddof=1); exactly 0 for identical values, whatever the rounding."""
    return 0.0 if np.ptp(x) == 0 else float(x.std(ddof=1))


def _values(x: ArrayLike) -> np.ndarray:
    v = np.asarray(x, dtype=float)
    if v.ndim != 1 or v.size == 0:
        raise ValueError("need a non-empty one-dimensional sequence of values")
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite")
    return v


def _pvalues(pvalues: ArrayLike) -> np.ndarray:
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError("p-values must be one-dimensional")
    if np.any(~((p >= 0) & (p <= 1))):
        raise ValueError("p-values must lie in [0, 1]")
    return p


def _check_open(name: str, value: float, low: float, high: float, note: str = "") -> None:
    """ValueError unless ``low < value < high``."""
    if not low < value < high:
        raise ValueError(f"{name} must lie in ({low:g}, {high:g}){note}, got {value}")


def _check_level(level: float) -> None:
    _check_open("level", level, 0, 1)


def _check_alpha(alpha: float) -> None:
    _check_open("alpha", alpha, 0, 0.5)


def _check_power(power: float) -> None:
    _check_open("power", power, 0, 1)


def _check_margin(margin: float) -> None:
    _check_open("margin", margin, 0, 1, " (a fraction: 0.02 is 2%)")


def _check_sd(sd: float) -> None:
    if not (math.isfinite(sd) and sd >= 0):
        raise ValueError(f"sd must be finite and >= 0, got {sd}")


def _check_resamples(n_resamples: int) -> None:
    if n_resamples < MIN_RESAMPLES:
        raise ValueError(f"need >= {MIN_RESAMPLES} bootstrap resamples, got {n_resamples}")
