"""From a saved run to comparisons: pair samples by block, call bench.stats, collect warnings.

Measurement and analysis stay separate: this reads a LoadedRun (never the engine), so a
run folder can be re-analysed anywhere. Warmup samples are kept in the data and left out
here; a block counts for a comparison only when both the variant and the baseline have
a successful sample in it (pairing, METHOD.md section 1).
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bench import diagnostics, families, pairing, stats
from bench.diagnostics import Diagnostic
from bench.errors import UsageError
from bench.ladder import Ladder
from bench.ladder import analyse as analyse_ladder
from bench.metrics.checks import ResourceChecks
from bench.plan import Plan, direction, recorded
from bench.results import LoadedRun, Sample, require_samples

#: The category measured in seconds per container start, not in cost per unit of work.
STARTUP = "startup"


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
    #: The comparison's family (``bench.families``): "primary" or "mechanisms".
    family: str = ""
    #: Median seconds one block of this workload took (every variant, set-up included).
    block_s: float | None = None
    contaminated: int = 0
    dropped_blocks: int = 0

    @property
    def is_baseline(self) -> bool:
        return self.variant == self.baseline


@dataclass(frozen=True)
class VariantMean:
    """One variant's overhead across the workloads compared in it: the geometric mean of
    their overheads (METHOD §1). Start-up (seconds per container) is never averaged with
    steady-state overheads: ``startup`` counts the start-up comparisons left out."""

    overhead: float
    workloads: int
    startup: int


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
    #: "holm" (fixed blocks, Holm within each family) or "group-sequential" (adaptive:
    #: looks spending each comparison's share of its family's alpha).
    correction: str = "holm"
    #: The ladder's steps (``bench.ladder``): present only when the plan has a ladder.
    ladder: Ladder | None = None
    #: run.json's ``fallback`` when Docker variants ran in the daemonless OCI environment
    #: instead: ``{"reason": str, "mapping": {variant: variant it ran as}}``.
    fallback: dict[str, Any] | None = None
    #: family -> {"size": comparisons, "alpha": its share of the run's alpha}.
    families: dict[str, dict[str, float]] = field(default_factory=dict)
    primary: str | None = None
    #: The run's measurement budget in seconds, when it had one.
    budget_s: float | None = None
    #: The plan's retake rule (run.json), or None for runs from before the guard.
    retake: dict[str, Any] | None = None
    #: Re-analysed with another margin or alpha than the run recorded: the recorded ones
    #: (``{"margin": .., "alpha": ..}``), which stay the primary analysis; None otherwise.
    post_hoc: dict[str, float] | None = None

    @functools.cached_property
    def variant_means(self) -> dict[str, VariantMean]:
        """variant -> its :class:`VariantMean` (:func:`means_by_variant`; none for a variant
        compared on start-up alone). Computed when first read (by the HTML report), so the
        terminal summary and other formats never depend on the overheads being averageable."""
        return means_by_variant(self.rows)


def means_by_variant(rows: Iterable[Row]) -> dict[str, VariantMean]:
    """Per variant with a comparison, in row order: the geometric mean overhead of its
    steady-state workloads, when it has any."""
    compared: dict[str, list[tuple[str, float]]] = {}
    for row in rows:
        if row.comparison is not None:
            compared.setdefault(row.variant, []).append((row.category,
                                                         row.comparison.overhead))
    means = {}
    for variant, overheads in compared.items():
        steady = [overhead for category, overhead in overheads if category != STARTUP]
        if steady:
            means[variant] = VariantMean(stats.geometric_mean_overhead(steady), len(steady),
                                         len(overheads) - len(steady))
    return means


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
    contaminated: int = 0  # samples the guard left out (each one re-taken or dropped)
    contaminated_blocks: set[int] = field(default_factory=set)
    first_contamination: str | None = None
    spans: dict[int, list[float]] = field(default_factory=dict)  # block -> [start, end]

    @property
    def dropped_blocks(self) -> int:
        """Blocks with contaminated attempts only: no clean sample to pair."""
        return len(self.contaminated_blocks - set(self.values))

    def add(self, sample: Sample) -> None:
        if sample.started_at:
            span = self.spans.setdefault(sample.block, [sample.started_at, sample.started_at])
            span[0] = min(span[0], sample.started_at)
            span[1] = max(span[1], sample.started_at + sample.wall_s)
        if sample.contaminated:
            self.contaminated += 1
            self.contaminated_blocks.add(sample.block)
            if self.first_contamination is None:
                info = sample.extra["contaminated"]
                self.first_contamination = (f"{info.get('reason', 'contaminated')} "
                                            f"({info.get('figure')} {info.get('value', 0):.0%}"
                                            f" > {info.get('threshold', 0):.0%})")
            return
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

    def warnings(self, better: str, parser: str) -> list[Diagnostic]:
        found = []
        if self.contaminated:
            dropped = self.dropped_blocks
            found.append(Diagnostic("contaminated", f"{self.contaminated} sample(s) re-taken "
                                    f"after foreign work disturbed them, first: "
                                    f"{self.first_contamination}"
                                    + (f"; {dropped} block(s) dropped (every attempt "
                                       "contaminated)" if dropped else "")))
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
        return [*found, *self.resources.warnings()]


def _block_seconds(groups: list[_Group]) -> float | None:
    """Median wall-clock seconds of one block of a workload: from the first start of a
    sample in the block to the last end, over blocks where every variant has a span."""
    spans: dict[int, list[float]] = {}
    for group in groups:
        for block, (start, end) in group.spans.items():
            span = spans.setdefault(block, [start, end])
            span[0], span[1] = min(span[0], start), max(span[1], end)
    widths = [end - start for block, (start, end) in spans.items() if block >= 0]
    return statistics.median(widths) if widths else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


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
    where = f"{loaded.folder / 'run.json'}"
    plan = recorded(run, where)
    margin = plan.margin if margin is None else margin
    alpha = plan.alpha if alpha is None else alpha
    # The margin and alpha are fixed before the run (METHOD §3): any other is post hoc.
    post_hoc = (margin, alpha) != (plan.margin, plan.alpha)
    seed = plan.seed if seed is None else seed
    if not (0 < margin < 1 and 0 < alpha < 0.5):
        raise UsageError(f"{where}: margin {margin:g} or alpha {alpha:g} out of range")
    variants = list(plan.variants)
    baseline = run.get("baseline")
    if not isinstance(baseline, str):
        baseline = "native" if "native" in variants or not variants else variants[0]
    require_samples(loaded)
    groups = _groups(loaded.samples)
    for _, variant in groups:  # tolerate samples of variants the plan does not name
        if variant not in variants:
            variants.append(variant)
    workloads = plan.workloads
    names = list(workloads) + sorted({w for w, _ in groups} - set(workloads))

    pending: list[tuple[int, tuple[list[float], list[float], str]]] = []
    rows: list[dict[str, Any]] = []
    betters: dict[str, str] = {}
    for name in names:
        info = workloads.get(name, {})
        metric = _dict(info.get("metric"))
        better = direction(info, name, where)
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
                "contaminated": group.contaminated, "dropped_blocks": group.dropped_blocks,
                "block_s": _block_seconds([g for (w, _), g in groups.items() if w == name]),
            }
            if variant != baseline:
                blocks = pairing.paired_blocks(values, base_values)
                if len(blocks) >= 2:
                    pending.append((len(rows), ([values[b] for b in blocks],
                                                [base_values[b] for b in blocks], better)))
                else:
                    row["warnings"].append(Diagnostic(
                        "unpaired", f"only {len(blocks)} complete block(s) paired with "
                                    f"{baseline}: no comparison"))
            rows.append(row)
    fallback = _fallback(run.get("fallback"))
    primary = families.primary_variant(variants, baseline,
                                       fallback["mapping"] if fallback else None)
    for index, _ in pending:
        rows[index]["family"] = families.family_of(rows[index]["variant"], primary)
    sizes = {name: sum(1 for i, _ in pending if rows[i]["family"] == name)
             for name in ("primary", "mechanisms")}
    design = None
    correction = "holm"
    if plan.adaptive:
        correction = "group-sequential"
        adaptive = Plan.from_dict(run.get("plan"), where)
        design = families.Design(adaptive.look_grid, final=True)

    def alpha_for(n_ladder: int) -> float:
        sizes["ladder"] = n_ladder
        return families.allot(sizes, alpha).get("ladder", 0.0)

    steps = None
    if plan.ladder:
        ran_as = fallback["mapping"] if fallback else {}  # docker rung -> oci rung
        stand_ins = {oci: docker for docker, oci in ran_as.items()}
        steps = analyse_ladder(plan.ladder, list(betters.items()),
                               {key: group.values for key, group in groups.items()},
                               margin=margin, alpha_for=alpha_for, seed=seed,
                               planned=plan.matrix,
                               design=design, stand_ins=stand_ins)
    alphas = families.allot(sizes, alpha)
    for family in ("primary", "mechanisms"):
        chosen = [(i, item) for i, item in pending if rows[i]["family"] == family]
        decided = families.decide([item for _, item in chosen], alphas.get(family, alpha),
                                  margin, seed, design)
        for (index, (variant, baseline_values, better)), comparison in zip(chosen, decided,
                                                                            strict=True):
            rows[index]["comparison"] = comparison
            rows[index]["warnings"].extend(
                diagnostics.robust_note(comparison, variant, baseline_values, better))

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
        families={name: {"size": n, "alpha": alphas[name]} for name, n in sizes.items()
                  if n and name in alphas},
        primary=primary,
        post_hoc={"margin": plan.margin, "alpha": plan.alpha} if post_hoc else None,
        budget_s=plan.budget_s,
        retake=plan.retake,
        facts={"host": run.get("host", {}), "engine": run.get("engine", {})},
        ladder=steps,
        fallback=fallback,
    )
