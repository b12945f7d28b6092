"""Calibration of the verdicts by seeded simulation (METHOD §7).

Each test draws many synthetic runs with realistic noise, takes the verdict the product
takes (``compare``, ``compare_family`` or ``sequential_look`` with 2,000 bootstrap
resamples) and checks its error rates. Rates are printed and put in the assertion
messages, with a Wilson 95% interval, so ``pytest -s`` or ``-rA`` shows them.

Noise model, per synthetic run: one value per arm per block; per-sample log-normal noise
with CV drawn from [1%, 3%] (or fixed where stated); a slow linear drift in time shared by
both arms (the arms of a block run back to back in random order, so drift is paired out
up to half a block); ~2% outlier samples that are 20-100% more expensive; the metric
direction alternates between "higher" (ops/s) and "lower" (seconds).
"""

import math
import time
from dataclasses import dataclass

import numpy as np
import pytest

from bench import stats

ALPHA = 0.05
MARGIN = 0.02
MIN_BLOCKS, MAX_BLOCKS = 5, 30


@dataclass(frozen=True)
class Runs:
    """Synthetic runs: ``variant[i, b]`` and ``baseline[i, b]`` are run i's block b."""

    variant: np.ndarray
    baseline: np.ndarray
    better: list[str]


def simulate(
    seed: int,
    n_runs: int,
    n_blocks: int,
    *,
    true_overhead: float = 0.0,
    cv: tuple[float, float] = (0.01, 0.03),
    drift_per_block: float = 0.002,
    outlier_rate: float = 0.02,
) -> Runs:
    """Vectorised noise model of the module docstring (both arms, all runs at once)."""
    rng = np.random.default_rng(seed)
    shape = (n_runs, n_blocks)
    sigma = rng.uniform(cv[0], cv[1], size=(n_runs, 1))
    slope = rng.uniform(-drift_per_block, drift_per_block, size=(n_runs, 1)) / 2
    variant_first = rng.integers(0, 2, size=shape)
    block_start = 2 * np.arange(n_blocks)[None, :]
    t_variant = block_start + 1 - variant_first
    t_baseline = block_start + variant_first

    def log_cost(t: np.ndarray) -> np.ndarray:
        noise = sigma * rng.standard_normal(shape)
        spikes = np.where(rng.random(shape) < outlier_rate, rng.uniform(1.2, 2.0, shape), 1.0)
        return noise + slope * t + np.log(spikes)

    cost_variant = np.exp(log_cost(t_variant)) * (1 + true_overhead)
    cost_baseline = np.exp(log_cost(t_baseline))
    better = ["higher" if i % 2 == 0 else "lower" for i in range(n_runs)]
    # Metric values: 1000 ops/s for "higher" (value = 1000 / cost), 0.5 s for "lower".
    flip = np.array([b == "higher" for b in better])[:, None]
    variant = np.where(flip, 1000.0 / cost_variant, 0.5 * cost_variant)
    baseline = np.where(flip, 1000.0 / cost_baseline, 0.5 * cost_baseline)
    return Runs(variant, baseline, better)


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson score 95% interval for a binomial proportion k / n."""
    z = 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def rate(label: str, k: int, n: int, seconds: float) -> str:
    lo, hi = wilson(k, n)
    line = f"{label}: {k}/{n} = {k / n:.2%} (95% CI {lo:.2%}..{hi:.2%}) in {seconds:.1f}s"
    print(line)
    return line


def fixed_verdicts(runs: Runs) -> list[stats.Comparison]:
    return [
        stats.compare(v, b, better, margin=MARGIN, alpha=ALPHA, seed=i)
        for i, (v, b, better) in enumerate(zip(runs.variant, runs.baseline, runs.better))
    ]


def adaptive_verdicts(runs: Runs) -> list[stats.SequentialDecision]:
    """Run each synthetic run as the adaptive runner does: look after every block."""
    max_looks = MAX_BLOCKS - MIN_BLOCKS + 1
    decisions = []
    for i, (v, b, better) in enumerate(zip(runs.variant, runs.baseline, runs.better)):
        for look in range(1, max_looks + 1):
            n = MIN_BLOCKS + look - 1
            decision = stats.sequential_look(
                v[:n], b[:n], better, look=look, max_looks=max_looks,
                margin=MARGIN, alpha=ALPHA, seed=i,
            )  # fmt: skip
            if decision.stop:
                break
        decisions.append(decision)
    return decisions


def false_claims(comparisons: list[stats.Comparison]) -> int:
    return sum(c.verdict in ("overhead", "faster") for c in comparisons)


@pytest.mark.parametrize("n_blocks", [10, 20])
def test_aa_fixed_size_false_positive_rate(n_blocks: int) -> None:
    n_runs = 2000
    start = time.perf_counter()
    runs = simulate(seed=100 + n_blocks, n_runs=n_runs, n_blocks=n_blocks)
    results = fixed_verdicts(runs)
    seconds = time.perf_counter() - start
    false = false_claims(results)
    significant = sum(c.significant for c in results)
    line = rate(f"A/A fixed {n_blocks} blocks, false overhead/faster", false, n_runs, seconds)
    line += "; " + rate("  95% interval excludes 0 (raw type I)", significant, n_runs, seconds)
    assert false / n_runs <= ALPHA, line
    # The interval behind "significant" is calibrated on its own, not only thanks to the
    # precedence of "equivalent": allow binomial noise (3 standard errors) around alpha.
    assert significant / n_runs <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / n_runs), line


def test_aa_adaptive_false_positive_rate() -> None:
    n_runs = 1000
    start = time.perf_counter()
    runs = simulate(seed=7, n_runs=n_runs, n_blocks=MAX_BLOCKS)
    decisions = adaptive_verdicts(runs)
    seconds = time.perf_counter() - start
    results = [d.comparison for d in decisions]
    false = false_claims(results)
    equivalent = sum(c.verdict == "equivalent" for c in results)
    mean_blocks = np.mean([c.n_blocks for c in results])
    line = rate(
        f"A/A adaptive {MIN_BLOCKS}..{MAX_BLOCKS} blocks, false overhead/faster",
        false, n_runs, seconds,
    )  # fmt: skip
    line += f"; equivalent {equivalent / n_runs:.1%}, mean blocks used {mean_blocks:.1f}"
    print(line)
    assert false / n_runs <= ALPHA, line


def test_aa_adaptive_false_positive_rate_high_noise() -> None:
    """Noise so high that equivalence is rare: the difference test alone keeps the rate."""
    n_runs = 1000
    start = time.perf_counter()
    runs = simulate(seed=8, n_runs=n_runs, n_blocks=MAX_BLOCKS, cv=(0.05, 0.08))
    results = [d.comparison for d in adaptive_verdicts(runs)]
    seconds = time.perf_counter() - start
    false = false_claims(results)
    line = rate("A/A adaptive, CV 5-8%, false overhead/faster", false, n_runs, seconds)
    assert false / n_runs <= ALPHA, line


def test_aa_family_holm_familywise_rate() -> None:
    """Three A/A comparisons per run, noisy enough that equivalence rarely masks errors."""
    n_runs, family = 1000, 3
    start = time.perf_counter()
    runs = [simulate(seed=300 + j, n_runs=n_runs, n_blocks=10, cv=(0.04, 0.06)) for j in range(3)]
    any_false = 0
    for i in range(n_runs):
        items = [(r.variant[i], r.baseline[i], r.better[i]) for r in runs]
        results = stats.compare_family(items, margin=MARGIN, alpha=ALPHA, seed=i)
        any_false += false_claims(results) > 0
    seconds = time.perf_counter() - start
    line = rate(f"A/A family of {family} (Holm), any false claim", any_false, n_runs, seconds)
    assert any_false / n_runs <= ALPHA, line


def test_true_five_percent_overhead_is_found_and_covered() -> None:
    """+5%, CV 2%, 20 blocks, drift: found >= 80% of the time, 95% CI covers >= 93%."""
    n_runs, truth = 2000, 0.05
    start = time.perf_counter()
    runs = simulate(seed=11, n_runs=n_runs, n_blocks=20, true_overhead=truth, cv=(0.02, 0.02),
                    outlier_rate=0.0)  # fmt: skip
    results = fixed_verdicts(runs)
    seconds = time.perf_counter() - start
    found = sum(c.verdict == "overhead" for c in results)
    covered = sum(c.ci95.contains(truth) for c in results)
    line = rate("+5% overhead, CV 2%, 20 blocks: verdict overhead", found, n_runs, seconds)
    line += "; " + rate("  95% CI contains +5%", covered, n_runs, seconds)
    assert found / n_runs >= 0.80, line
    assert covered / n_runs >= 0.93, line


def test_true_five_percent_overhead_with_outliers_stays_covered() -> None:
    """With 2% of samples 20-100% slower the mean is uncertain: the verdict loses power,
    but the interval must keep its coverage (the bootstrap alone does not, hence the hull).
    """
    n_runs, truth = 1000, 0.05
    start = time.perf_counter()
    runs = simulate(seed=13, n_runs=n_runs, n_blocks=20, true_overhead=truth, cv=(0.02, 0.02))
    results = fixed_verdicts(runs)
    seconds = time.perf_counter() - start
    found = sum(c.verdict == "overhead" for c in results)
    covered = sum(c.ci95.contains(truth) for c in results)
    boot_covered = sum(c.boot_ci95.contains(truth) for c in results)
    line = rate("+5% with outliers: verdict overhead", found, n_runs, seconds)
    line += "; " + rate("  95% CI contains +5%", covered, n_runs, seconds)
    line += "; " + rate("  bootstrap-only 95% CI contains +5%", boot_covered, n_runs, seconds)
    assert covered / n_runs >= 0.93, line
    assert not any(c.verdict in ("faster", "equivalent") for c in results), line


def test_true_five_percent_overhead_adaptive() -> None:
    n_runs, truth = 500, 0.05
    start = time.perf_counter()
    runs = simulate(seed=12, n_runs=n_runs, n_blocks=MAX_BLOCKS, true_overhead=truth,
                    cv=(0.02, 0.02), outlier_rate=0.0)  # fmt: skip
    results = [d.comparison for d in adaptive_verdicts(runs)]
    seconds = time.perf_counter() - start
    found = sum(c.verdict == "overhead" for c in results)
    covered = sum(c.ci95.contains(truth) for c in results)
    mean_blocks = np.mean([c.n_blocks for c in results])
    line = rate("+5% overhead adaptive: verdict overhead", found, n_runs, seconds)
    line += "; " + rate("  repeated 95% CI contains +5%", covered, n_runs, seconds)
    line += f"; mean blocks used {mean_blocks:.1f}"
    print(line)
    assert found / n_runs >= 0.80, line
    assert covered / n_runs >= 0.93, line


@pytest.mark.parametrize("mode", ["fixed", "adaptive"])
@pytest.mark.parametrize("outlier_rate", [0.0, 0.02])
def test_aa_low_noise_equivalence_power(mode: str, outlier_rate: float) -> None:
    """The equivalence test has power: A/A with CV 1% and enough blocks is `equivalent`.

    Without outliers this is the requirement (>= 80%); with 2% large outliers the rate
    is printed for the record (the mean is honestly less certain then), not asserted.
    """
    n_runs = 500
    start = time.perf_counter()
    runs = simulate(seed=21, n_runs=n_runs, n_blocks=20 if mode == "fixed" else MAX_BLOCKS,
                    cv=(0.01, 0.01), outlier_rate=outlier_rate)  # fmt: skip
    if mode == "fixed":
        results = fixed_verdicts(runs)
    else:
        results = [d.comparison for d in adaptive_verdicts(runs)]
    seconds = time.perf_counter() - start
    equivalent = sum(c.verdict == "equivalent" for c in results)
    label = f"A/A CV 1% {mode}, outliers {outlier_rate:.0%}: verdict equivalent"
    line = rate(label, equivalent, n_runs, seconds)
    line += f"; mean blocks used {np.mean([c.n_blocks for c in results]):.1f}"
    print(line)
    assert false_claims(results) / n_runs <= ALPHA, line
    if outlier_rate == 0:
        assert equivalent / n_runs >= 0.80, line
