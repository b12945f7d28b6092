"""The warnings catalogue (METHOD.md section 6): what was seen, and what to do about it.

Like hyperfine's ``Warnings`` and pyperf's ``format_checks``, every warning has a stable
code, a message built from the data, and a hint. Nothing is silent and nothing is dropped:
outliers are flagged and shown, the estimate keeps them (with a robust estimate beside).
Resource warnings (throttling, noisy host, frequency) come from ``bench.metrics``.
"""

from __future__ import annotations

import numpy as np

from bench import stats

HIGH_CV = 0.05
DRIFT_P = 0.01
DRIFT_RHO = 0.5
MIN_SAMPLE_S = 0.001  # below 1 ms, process-level timing noise dominates a wall time

#: code -> hint. The message says what was seen; the hint says what to do.
CATALOGUE: dict[str, str] = {
    "failed": "see samples.jsonl for the tool's output (stdout_tail, stderr_tail)",
    "affinity": "check cpuset delegation and --cpus; the pin was not honoured",
    "no-affinity": "the probe could not read /proc/self/status; is /bin/sh in the image?",
    "outliers": "kept in the estimate (the mean of the paired log-ratios, as in the table); "
                "look for background activity at those blocks in the report's timeline",
    "high-spread": "close other programs, pin to an idle CPU (bench doctor), or run more "
                   "blocks",
    "drift": "performance changed steadily during the run (thermal, frequency, background "
             "load); interleaving protects the comparison, but check the host",
    "bimodal": "two performance modes (CPU migration, frequency states, cache or NUMA "
               "placement); look at the per-sample plot",
    "first-slow": "the first measured block was slow: raise --warmup",
    "short-sample": "samples are too short to time reliably: raise the workload's duration",
    "binary-mismatch": "rebuild the image with 'bench image build --rebuild'",
    "contaminated": "left out of the estimates and re-taken in the same block; find what "
                    "else runs on the measured CPUs (bench doctor), or 'bench tune'",
    "unpaired": "run more blocks (or resume the run) so that both variants complete them",
    # Resource warnings (bench.metrics.checks):
    "throttled": "expected for a CPU-quota variant, otherwise remove the limit or give the "
                 "variant more CPU",
    "noisy-host": "stop other programs or choose idle CPUs with --cpus",
    "steal": "on a shared VM results vary with its neighbours",
    "frequency": "set the governor to 'performance' and disable turbo boost for stable "
                 "results",
    "swap": "the host is short of memory; close other programs or shrink the workload",
    "memory-pressure": "free memory or shrink the workload",
    "no-metrics": "the comparison stands; CPU, memory and I/O figures and the guard's "
                  "container figures are missing for those samples (bench doctor checks "
                  "cgroups)",
    "late-read": "CPU and I/O totals are low by up to that much",
}


class Diagnostic(str):
    """One warning: a catalogue code, what was seen, what to do. It *is* its text
    (``"message; hint"``), so every report prints and stores it as a string; ``code``,
    ``message`` and ``hint`` let the terminal group warnings by kind and the JSON export
    carry their codes. ``hint`` defaults to the catalogue's; ``""`` for none."""

    code: str
    message: str
    hint: str

    def __new__(cls, code: str, message: str, hint: str | None = None) -> Diagnostic:
        hint = CATALOGUE[code] if hint is None else hint
        self = super().__new__(cls, f"{message}; {hint}" if hint else message)
        self.code, self.message, self.hint = code, message, hint
        return self

    def __reduce__(self):  # copies and pickles keep the code
        return (Diagnostic, (self.code, self.message, self.hint))

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "hint": self.hint}


def code_of(warning: str) -> str | None:
    """A warning's catalogue code; None for a plain string (run-level notes)."""
    return warning.code if isinstance(warning, Diagnostic) else None


def value_diagnostics(values_by_block: dict[int, float], better: str) -> list[Diagnostic]:
    """Outliers, spread, drift, bimodality and a slow first block, over measured values."""
    if len(values_by_block) < 3:
        return []
    blocks = sorted(values_by_block)
    values = np.array([values_by_block[b] for b in blocks])
    found: list[Diagnostic] = []
    mask = stats.outliers(values)
    if mask.any():
        where = ", ".join(str(blocks[i] + 1) for i in np.flatnonzero(mask)[:5])
        found.append(Diagnostic("outliers", f"{int(mask.sum())} outlier(s) by modified "
                                f"z-score > 3.5 (Iglewicz & Hoaglin) at block(s) {where}"))
    spread = stats.cv(values)
    if spread > HIGH_CV:
        found.append(Diagnostic("high-spread", f"high spread: CV {spread:.1%} > {HIGH_CV:.0%}"))
    rho, p = stats.drift(values)
    if p == p and p < DRIFT_P and abs(rho) > DRIFT_RHO:
        found.append(Diagnostic("drift", f"values drift with block order (Spearman rho "
                                f"{rho:+.2f}, p {p:.1g})"))
    if len(values) >= 10 and stats.is_bimodal(values):
        found.append(Diagnostic("bimodal", "values look bimodal (Sarle's coefficient "
                                f"{stats.bimodality_coefficient(values):.2f} > 0.555)"))
    z = stats.modified_z(values)
    slow = z[0] < -3.5 if better == "higher" else z[0] > 3.5
    if slow:
        found.append(Diagnostic("first-slow", f"first measured block slow (modified z "
                                f"{z[0]:+.1f})"))
    return found


def short_samples(median_wall_s: float | None, parser: str) -> list[Diagnostic]:
    """Self-timed tools report their own steady state; wall-time metrics need length."""
    if median_wall_s is not None and parser == "wall_time" and median_wall_s < MIN_SAMPLE_S:
        return [Diagnostic("short-sample", f"median sample {median_wall_s * 1000:.1f} ms "
                           f"< {MIN_SAMPLE_S * 1000:.0f} ms")]
    return []


def robust_note(comparison: stats.Comparison | None, variant: list[float],
                baseline: list[float], better: str) -> list[Diagnostic]:
    """With outliers in the paired differences, show the Hodges-Lehmann estimate too."""
    if comparison is None or len(variant) < 3:
        return []
    d = stats.paired_log_diffs(variant, baseline, better)
    mask = stats.outliers(d)
    if not mask.any():
        return []
    robust = stats.robust_overhead(d)
    return [Diagnostic("outliers", f"{int(mask.sum())} outlying paired block(s); robust "
                       f"(Hodges-Lehmann) overhead {robust * 100:+.1f}% vs mean "
                       f"{comparison.overhead * 100:+.1f}%")]
