"""Calibration of the verdicts by seeded simulation (METHOD §5, §7).

Each test draws many synthetic runs, takes the verdict the product takes (``compare``,
``compare_family`` or ``sequential_decision``, 2,000 bootstrap resamples) and checks an error
rate or a power. Rates are printed (``pytest -s``) and repeated in the assertion message,
with a Wilson 95% interval. Thresholds are the requirements; where a rate is expected to
sit *at* alpha (pure Gaussian noise, nothing conservative about it), the bound allows three
binomial standard errors, and the test says so.

Realistic noise, per synthetic run: one value per arm per block; log-normal noise with CV
drawn from [1%, 3%]; a slow linear drift in time shared by both arms (the two arms of a
block run back to back in random order, so drift pairs out up to half a block); ~2% of
samples are outliers 20-100% more expensive; the metric direction alternates between
"higher" (ops/s) and "lower" (seconds).
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
    """The noise model of the module docstring, vectorised over runs and blocks."""
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
    # 1000 ops/s at unit cost when higher is better, 0.5 s when lower is better.
    higher = np.array([b == "higher" for b in better])[:, None]
    variant = np.where(higher, 1000.0 / cost_variant, 0.5 * cost_variant)
    baseline = np.where(higher, 1000.0 / cost_baseline, 0.5 * cost_baseline)
    return Runs(variant, baseline, better)


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson score 95% interval for a binomial proportion k / n."""
    z = 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def rate(label: str, k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{label}: {k}/{n} = {k / n:.2%} (95% CI {lo:.2%}..{hi:.2%})"


def report(*parts: str, seconds: float) -> str:
    """Print the measured rates (shown by -s) and return them for assertion messages."""
    line = "; ".join(parts) + f" [{seconds:.1f}s]"
    print(line)
    return line


def binomial_slack(p: float, n: int) -> float:
    """Three standard errors: the bound for a rate whose expectation is exactly p."""
    return 3 * math.sqrt(p * (1 - p) / n)


def arms(runs: Runs) -> enumerate[tuple[np.ndarray, np.ndarray, str]]:
    return enumerate(zip(runs.variant, runs.baseline, runs.better, strict=True))


def fixed_verdicts(runs: Runs) -> list[stats.Comparison]:
    return [
        stats.compare(v, b, better, margin=MARGIN, alpha=ALPHA, seed=i)
        for i, (v, b, better) in arms(runs)
    ]


def adaptive_verdicts(runs: Runs) -> list[stats.Comparison]:
    """Each run as the adaptive runner drives it: a look at each count of the grid
    (5, 8, 12, 18, 27, 30), stopping at the first decisive one."""
    return [adaptive_run(v, b, better, seed=i) for i, (v, b, better) in arms(runs)]


def adaptive_run(v: np.ndarray, b: np.ndarray, better: str, seed: int = 0,
                 alpha: float = ALPHA) -> stats.Comparison:
    grid = stats.look_grid(MIN_BLOCKS, MAX_BLOCKS)
    for n in grid:
        decision = stats.sequential_decision(v[:n], b[:n], better, grid=grid, final=False,
                                             margin=MARGIN, alpha=alpha, seed=seed)
        if decision is not None and decision.stop:
            return decision.comparison
    final = stats.sequential_decision(v, b, better, grid=grid, final=True, margin=MARGIN,
                                      alpha=alpha, seed=seed)
    assert final is not None
    return final.comparison


def count(results: list[stats.Comparison], *verdicts: str) -> int:
    return sum(c.verdict in verdicts for c in results)


def mean_blocks(results: list[stats.Comparison]) -> str:
    return f"mean blocks used {np.mean([c.n_blocks for c in results]):.1f}"


@pytest.mark.parametrize("n_blocks", [10, 20])
def test_aa_fixed_size_false_positive_rate(n_blocks: int) -> None:
    """Requirement: A/A with realistic noise, false overhead/faster <= alpha."""
    start = time.perf_counter()
    n_runs = 2000
    results = fixed_verdicts(simulate(seed=100 + n_blocks, n_runs=n_runs, n_blocks=n_blocks))
    false = count(results, "overhead", "faster")
    significant = sum(c.significant for c in results)
    line = report(
        rate(f"A/A fixed {n_blocks} blocks: false overhead/faster", false, n_runs),
        rate("95% CI excludes 0", significant, n_runs),
        rate("equivalent", count(results, "equivalent"), n_runs),
        seconds=time.perf_counter() - start,
    )
    assert false / n_runs <= ALPHA, line
    # The interval itself is calibrated, not only masked by "equivalent" taking precedence.
    assert significant / n_runs <= ALPHA + binomial_slack(ALPHA, n_runs), line


def test_aa_fixed_size_gaussian_noise_is_at_alpha() -> None:
    """Pure Gaussian noise too large for equivalence: the rate sits at alpha, not above."""
    start = time.perf_counter()
    n_runs = 2000
    runs = simulate(seed=150, n_runs=n_runs, n_blocks=10, cv=(0.04, 0.06), outlier_rate=0.0)
    results = fixed_verdicts(runs)
    false = count(results, "overhead", "faster")
    line = report(
        rate("A/A fixed 10 blocks, Gaussian CV 4-6%: false overhead/faster", false, n_runs),
        seconds=time.perf_counter() - start,
    )
    assert false / n_runs <= ALPHA + binomial_slack(ALPHA, n_runs), line


def test_aa_adaptive_false_positive_rate() -> None:
    """Requirement: the same in adaptive mode (looks after every block, 5..30)."""
    start = time.perf_counter()
    n_runs = 1000
    results = adaptive_verdicts(simulate(seed=7, n_runs=n_runs, n_blocks=MAX_BLOCKS))
    false = count(results, "overhead", "faster")
    line = report(
        rate(f"A/A adaptive {MIN_BLOCKS}..{MAX_BLOCKS}: false overhead/faster", false, n_runs),
        rate("equivalent", count(results, "equivalent"), n_runs),
        mean_blocks(results),
        seconds=time.perf_counter() - start,
    )
    assert false / n_runs <= ALPHA, line


def test_aa_adaptive_gaussian_noise_is_at_alpha() -> None:
    """Adaptive, Gaussian noise too large for equivalence: 26 looks do not inflate alpha."""
    start = time.perf_counter()
    n_runs = 1000
    runs = simulate(seed=8, n_runs=n_runs, n_blocks=MAX_BLOCKS, cv=(0.05, 0.08), outlier_rate=0)
    results = adaptive_verdicts(runs)
    false = count(results, "overhead", "faster")
    line = report(
        rate("A/A adaptive, Gaussian CV 5-8%: false overhead/faster", false, n_runs),
        mean_blocks(results),
        seconds=time.perf_counter() - start,
    )
    assert false / n_runs <= ALPHA + binomial_slack(ALPHA, n_runs), line


def test_aa_family_holm_familywise_rate() -> None:
    """Three A/A comparisons per run (noisy, so equivalence rarely masks an error)."""
    start = time.perf_counter()
    n_runs, family = 1000, 3
    sims = [simulate(seed=300 + j, n_runs=n_runs, n_blocks=10, cv=(0.04, 0.06)) for j in range(3)]
    any_false = 0
    for i in range(n_runs):
        items = [(s.variant[i], s.baseline[i], s.better[i]) for s in sims]
        results = stats.compare_family(items, margin=MARGIN, alpha=ALPHA, seed=i)
        any_false += count(results, "overhead", "faster") > 0
    line = report(
        rate(f"A/A family of {family} with Holm: any false claim", any_false, n_runs),
        seconds=time.perf_counter() - start,
    )
    assert any_false / n_runs <= ALPHA, line


def test_true_five_percent_overhead_is_found_and_covered() -> None:
    """Requirement: +5%, CV 2%, 20 blocks: `overhead` >= 80%, 95% CI covers >= 93%."""
    start = time.perf_counter()
    n_runs, truth = 2000, 0.05
    runs = simulate(seed=11, n_runs=n_runs, n_blocks=20, true_overhead=truth, cv=(0.02, 0.02),
                    outlier_rate=0.0)  # fmt: skip
    results = fixed_verdicts(runs)
    found = count(results, "overhead")
    covered = sum(c.ci95.contains(truth) for c in results)
    line = report(
        rate("+5%, CV 2%, 20 blocks: verdict overhead", found, n_runs),
        rate("95% CI contains +5%", covered, n_runs),
        seconds=time.perf_counter() - start,
    )
    assert found / n_runs >= 0.80, line
    assert covered / n_runs >= 0.93, line


def test_true_five_percent_overhead_with_outliers_stays_covered() -> None:
    """With 2% of samples 20-100% slower the mean is less certain and power drops, but the
    interval keeps its coverage; the bootstrap alone would not (hence the hull with t).
    """
    start = time.perf_counter()
    n_runs, truth = 1000, 0.05
    runs = simulate(seed=13, n_runs=n_runs, n_blocks=20, true_overhead=truth, cv=(0.02, 0.02))
    results = fixed_verdicts(runs)
    covered = sum(c.ci95.contains(truth) for c in results)
    line = report(
        rate("+5% with outliers: verdict overhead", count(results, "overhead"), n_runs),
        rate("95% CI contains +5%", covered, n_runs),
        rate("bootstrap-only", sum(c.boot_ci95.contains(truth) for c in results), n_runs),
        seconds=time.perf_counter() - start,
    )
    assert covered / n_runs >= 0.93, line
    assert count(results, "faster", "equivalent") == 0, line


def test_true_five_percent_overhead_adaptive() -> None:
    """The same +5% in adaptive mode: found, covered by the repeated CI, and early."""
    start = time.perf_counter()
    n_runs, truth = 500, 0.05
    runs = simulate(seed=12, n_runs=n_runs, n_blocks=MAX_BLOCKS, true_overhead=truth,
                    cv=(0.02, 0.02), outlier_rate=0.0)  # fmt: skip
    results = adaptive_verdicts(runs)
    found = count(results, "overhead")
    covered = sum(c.ci95.contains(truth) for c in results)
    line = report(
        rate("+5% adaptive: verdict overhead", found, n_runs),
        rate("repeated 95% CI contains +5%", covered, n_runs),
        mean_blocks(results),
        seconds=time.perf_counter() - start,
    )
    assert found / n_runs >= 0.80, line
    assert covered / n_runs >= 0.93, line


@pytest.mark.parametrize("mode", ["fixed", "adaptive"])
@pytest.mark.parametrize("outlier_rate", [0.0, 0.02])
def test_aa_low_noise_equivalence_power(mode: str, outlier_rate: float) -> None:
    """Equivalence is not vacuous: A/A with CV 1% and 20 (or up to 30) blocks is
    `equivalent` >= 80% of the time. With 2% large outliers the mean is honestly less
    certain; that rate is printed for the record, not asserted.
    """
    start = time.perf_counter()
    n_runs = 500
    runs = simulate(seed=21, n_runs=n_runs, n_blocks=20 if mode == "fixed" else MAX_BLOCKS,
                    cv=(0.01, 0.01), outlier_rate=outlier_rate)  # fmt: skip
    results = fixed_verdicts(runs) if mode == "fixed" else adaptive_verdicts(runs)
    equivalent = count(results, "equivalent")
    line = report(
        rate(f"A/A CV 1% {mode}, outliers {outlier_rate:.0%}: equivalent", equivalent, n_runs),
        rate("false overhead/faster", count(results, "overhead", "faster"), n_runs),
        mean_blocks(results),
        seconds=time.perf_counter() - start,
    )
    assert count(results, "overhead", "faster") / n_runs <= ALPHA, line
    if outlier_rate == 0:
        assert equivalent / n_runs >= 0.80, line
