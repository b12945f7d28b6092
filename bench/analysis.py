"""From a saved run to comparisons: pair samples by block, call bench.stats, collect warnings.

Measurement and analysis stay separate: this reads a LoadedRun (never the engine), so a
run folder can be re-analysed anywhere. Warmup samples are kept in the data and left out
here; a block counts for a comparison only when both the variant and the baseline have
a successful sample in it (pairing, METHOD.md section 1).
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bench import diagnostics, schedule, stats
from bench.diagnostics import Diagnostic
from bench.errors import UsageError
from bench.ladder import Ladder
from bench.ladder import analyse as analyse_ladder
from bench.metrics.checks import ResourceChecks
from bench.results import LoadedRun, Sample
from bench.suite import Plan


@dataclass(frozen=True)
class Row:
    """One workload in one variant, compared with the baseline variant."""

    workload: str
    category: str
    metric: str
    unit: str
    better: str
    variant: str
    baseline: str
    n_ok: int
    n_failed: int
    median: float | None
    comparison: stats.Comparison | None
    warnings: tuple[str, ...] = ()

    @property
    def is_baseline(self) -> bool:
        return self.variant == self.baseline


@dataclass(frozen=True)
class Summary:
    """Everything the terminal summary and the reports show about one run."""

    run_id: str
    status: str
    baseline: str
    margin: float
    alpha: float
    rows: tuple[Row, ...]
    warnings: tuple[str, ...] = ()
    family_size: int = 0
    facts: dict[str, Any] = field(default_factory=dict)
    #: "holm" (fixed blocks, Holm-Bonferroni over the run) or "group-sequential"
    #: (adaptive: Lan-DeMets spending per comparison, Bonferroni over the run).
    correction: str = "holm"
    #: The ladder's steps (``bench.ladder``): present only when the plan has a ladder.
    ladder: Ladder | None = None
    #: run.json's ``fallback`` when Docker variants ran in the daemonless OCI environment
    #: instead: ``{"reason": str, "mapping": {variant: variant it ran as}}``.
    fallback: dict[str, Any] | None = None


@dataclass
class _Group:
    """One workload in one variant, accumulated in a single streaming pass over samples."""

    values: dict[int, float] = field(default_factory=dict)  # block -> metric (ok samples)
    n_failed: int = 0
    first_error: str | None = None
    off_cpu: int = 0
    off_cpu_example: tuple[list[int], list[int]] | None = None
    no_affinity: int = 0
    walls: list[float] = field(default_factory=list)
    resources: ResourceChecks = field(default_factory=ResourceChecks)

    def add(self, sample: Sample) -> None:
        self.resources.add(sample)
        if not sample.ok:
            self.n_failed += 1
            self.first_error = self.first_error or sample.error
        elif sample.value is not None:
            self.values[sample.block] = float(sample.value)
            self.walls.append(sample.wall_s)
        if sample.affinity is None:
            self.no_affinity += sample.ok
        elif sample.affinity != sample.requested_cpus:
            self.off_cpu += 1
            self.off_cpu_example = self.off_cpu_example or (sample.affinity,
                                                            sample.requested_cpus)

    def warnings(self, better: str, parser: str) -> list[str]:
        found = []
        if self.n_failed:
            found.append(Diagnostic("failed", f"{self.n_failed} failed sample(s), first: "
                                              f"{self.first_error}"))
        if self.off_cpu_example:
            seen, asked = self.off_cpu_example
            found.append(Diagnostic("affinity", f"{self.off_cpu} sample(s) ran on CPUs {seen} "
                                                f"instead of {asked}"))
        if self.no_affinity:
            found.append(Diagnostic("no-affinity", f"{self.no_affinity} sample(s) without "
                                                   "recorded affinity"))
        found.extend(diagnostics.value_diagnostics(self.values, better))
        walls = sorted(self.walls)
        found.extend(diagnostics.short_samples(walls[len(walls) // 2] if walls else None,
                                               parser))
        warnings = [str(d) for d in found]
        warnings.extend(self.resources.warnings())
        return warnings


def _sequential(plan: Plan, items: list[tuple[list[float], list[float], str]],
                margin: float, alpha: float) -> list[stats.Comparison]:
    """Adaptive runs: each comparison decided at its last look, as the runner stopped it
    (group-sequential levels; Bonferroni over the run's comparisons)."""
    plan = dataclasses.replace(plan, margin=margin, alpha=alpha)
    family = max(plan.comparisons, 1)
    comparisons = []
    for variant, baseline, better in items:
        decision = schedule.sequential_comparison(plan, variant, baseline, better)
        if decision is None:  # fewer blocks than the first look: a plain, corrected test
            comparisons.append(stats.compare(variant, baseline, better, margin=margin,
                                             alpha=alpha / family, seed=plan.seed))
        else:
            comparisons.append(decision.comparison)
    return comparisons


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any, default: float) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value == value
    return float(value) if ok else default


def _text(value: Any, default: str) -> str:
    return value if isinstance(value, str) else default


def _groups(samples: Iterable[Sample]) -> dict[tuple[str, str], _Group]:
    """Measured (non-warmup) samples grouped by (workload, variant), in one pass."""
    groups: dict[tuple[str, str], _Group] = {}
    for sample in samples:
        if not sample.warmup:
            groups.setdefault((sample.workload, sample.variant), _Group()).add(sample)
    return groups


def _fallback(value: Any) -> dict[str, Any] | None:
    """run.json's ``fallback``, with the types the reports rely on (None when absent)."""
    if not isinstance(value, dict):
        return None
    mapping = _dict(value.get("mapping"))
    return {**value, "reason": _text(value.get("reason"), "no container engine answered"),
            "mapping": {str(k): str(v) for k, v in mapping.items()}}


def summarize(loaded: LoadedRun, margin: float | None = None, alpha: float | None = None,
              seed: int | None = None) -> Summary:
    """Compare every variant with the baseline, per workload (Holm across the run); with a
    ladder in the plan, also each rung with the one before (``bench.ladder``)."""
    # Lenient about the plan (results may come from elsewhere), strict about types.
    run = loaded.run
    plan = _dict(run.get("plan"))
    margin = _number(plan.get("margin"), 0.02) if margin is None else margin
    alpha = _number(plan.get("alpha"), 0.05) if alpha is None else alpha
    seed = int(_number(plan.get("seed"), 0)) if seed is None else seed
    if not (0 < margin < 1 and 0 < alpha < 0.5):
        raise UsageError(f"{loaded.folder / 'run.json'}: margin {margin:g} or alpha {alpha:g} "
                         "out of range")
    variants = [v for v in plan.get("variants", []) if isinstance(v, str)]
    baseline = run.get("baseline")
    if not isinstance(baseline, str):
        baseline = "native" if "native" in variants or not variants else variants[0]
    groups = _groups(loaded.samples)
    for _, variant in groups:  # tolerate samples of variants the plan does not name
        if variant not in variants:
            variants.append(variant)
    workloads = {w["name"]: w for w in plan.get("workloads", [])
                 if isinstance(w, dict) and isinstance(w.get("name"), str)}
    names = list(workloads) + sorted({w for w, _ in groups} - set(workloads))

    pending: list[tuple[int, tuple[list[float], list[float], str]]] = []
    rows: list[dict[str, Any]] = []
    betters: dict[str, str] = {}
    for name in names:
        info = workloads.get(name, {})
        metric = _dict(info.get("metric"))
        better = metric.get("better") if metric.get("better") in stats.BETTER else "higher"
        betters[name] = better
        base_values = groups.get((name, baseline), _Group()).values
        for variant in variants:
            group = groups.get((name, variant))
            if group is None:
                continue
            values = group.values
            row = {
                "workload": name, "category": _text(info.get("category"), name.split(".")[0]),
                "metric": _text(metric.get("name"), "value"),
                "unit": _text(metric.get("unit"), ""),
                "better": better, "variant": variant, "baseline": baseline,
                "n_ok": len(values), "n_failed": group.n_failed,
                "median": statistics.median(values.values()) if values else None,
                "comparison": None,
                "warnings": group.warnings(better, _text(metric.get("parser"), "")),
            }
            if variant != baseline:
                blocks = sorted(set(values) & set(base_values))
                if len(blocks) >= 2:
                    pending.append((len(rows), ([values[b] for b in blocks],
                                                [base_values[b] for b in blocks], better)))
                else:
                    row["warnings"].append(f"only {len(blocks)} complete block(s) paired with "
                                           f"{baseline}: no comparison")
            rows.append(row)
    correction = "holm"
    sequential = None
    if plan.get("adaptive") is True:
        correction = "group-sequential"
        sequential = Plan.from_dict(plan, f"{loaded.folder / 'run.json'}")
        comparisons = _sequential(sequential, [item for _, item in pending], margin, alpha)
    else:
        comparisons = stats.compare_family([item for _, item in pending], margin=margin,
                                           alpha=alpha, seed=seed) if pending else []
    for (index, (variant, baseline_values, better)), comparison in zip(pending, comparisons,
                                                                        strict=True):
        rows[index]["comparison"] = comparison
        rows[index]["warnings"].extend(
            str(d) for d in diagnostics.robust_note(comparison, variant, baseline_values, better))

    rungs = [r for r in plan.get("ladder") or [] if isinstance(r, str)]
    fallback = _fallback(run.get("fallback"))
    steps = None
    if rungs:
        matrix = _dict(plan.get("matrix"))
        planned = {str(k): [str(v) for v in vs] for k, vs in matrix.items()
                   if isinstance(vs, list)} if matrix else None
        ran_as = fallback["mapping"] if fallback else {}  # docker rung -> oci rung
        stand_ins = {oci: docker for docker, oci in ran_as.items()}
        steps = analyse_ladder(rungs, list(betters.items()),
                               {key: group.values for key, group in groups.items()},
                               margin=margin, alpha=alpha, seed=seed, planned=planned,
                               sequential=sequential, stand_ins=stand_ins)

    warnings = list(loaded.warnings) + list(run.get("warnings", []))
    if run.get("status") != "complete":
        warnings.insert(0, f"run status is '{run.get('status')}': results are partial")
    return Summary(
        run_id=run.get("run_id", loaded.folder.name),
        status=run.get("status", "unknown"),
        baseline=baseline,
        margin=margin,
        alpha=alpha,
        rows=tuple(Row(**{**r, "warnings": tuple(r["warnings"])}) for r in rows),
        warnings=tuple(warnings),
        family_size=len(pending),
        correction=correction,
        facts={"host": run.get("host", {}), "engine": run.get("engine", {})},
        ladder=steps,
        fallback=fallback,
    )
