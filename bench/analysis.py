"""From a saved run to comparisons: pair samples by block, call bench.stats, collect warnings.

Measurement and analysis stay separate: this reads a LoadedRun (never the engine), so a
run folder can be re-analysed anywhere. Warmup samples are kept in the data and left out
here; a block counts for a comparison only when both the variant and the baseline have
a successful sample in it (pairing, METHOD.md section 1).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from bench import stats
from bench.results import LoadedRun, Sample

HIGH_CV = 0.05


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


def _measured(samples: list[Sample], workload: str, variant: str) -> list[Sample]:
    return [s for s in samples if s.workload == workload and s.variant == variant
            and not s.warmup]


def _by_block(samples: list[Sample]) -> dict[int, float]:
    return {s.block: float(s.value) for s in samples if s.ok and s.value is not None}


def _row_warnings(samples: list[Sample], values: list[float]) -> list[str]:
    warnings = []
    failed = [s for s in samples if not s.ok]
    if failed:
        warnings.append(f"{len(failed)} failed sample(s), first: {failed[0].error}; "
                        "see samples.jsonl for the tool's output")
    off = [s for s in samples if s.affinity is not None and s.affinity != s.requested_cpus]
    if off:
        warnings.append(f"{len(off)} sample(s) ran on CPUs {off[0].affinity} instead of "
                        f"{off[0].requested_cpus}; check cpuset delegation and --cpus")
    missing = [s for s in samples if s.ok and s.affinity is None]
    if missing:
        warnings.append(f"{len(missing)} sample(s) without recorded affinity")
    if len(values) >= 3:
        spread = stats.cv(values)
        if spread > HIGH_CV:
            warnings.append(f"high spread: CV {spread:.1%} > {HIGH_CV:.0%}; close other "
                            "programs, pin to an idle CPU, or run more blocks")
    return warnings


def summarize(loaded: LoadedRun, margin: float | None = None, alpha: float | None = None,
              seed: int | None = None) -> Summary:
    """Compare every variant with the baseline, per workload (Holm across the run)."""
    run = loaded.run
    plan = run.get("plan", {})
    margin = plan.get("margin", 0.02) if margin is None else margin
    alpha = plan.get("alpha", 0.05) if alpha is None else alpha
    seed = plan.get("seed", 0) if seed is None else seed
    baseline = run.get("baseline") or (plan.get("variants") or ["native"])[0]
    variants = list(plan.get("variants", []))
    for sample in loaded.samples:  # tolerate samples of variants the plan does not name
        if sample.variant not in variants:
            variants.append(sample.variant)
    workloads = {w["name"]: w for w in plan.get("workloads", [])}
    names = list(workloads) + sorted({s.workload for s in loaded.samples} - set(workloads))

    pending: list[tuple[int, tuple[list[float], list[float], str]]] = []
    rows: list[dict[str, Any]] = []
    for name in names:
        info = workloads.get(name, {})
        metric = info.get("metric", {})
        better = metric.get("better", "higher")
        base_samples = _measured(loaded.samples, name, baseline)
        base_values = _by_block(base_samples)
        for variant in variants:
            samples = _measured(loaded.samples, name, variant)
            if not samples:
                continue
            values = _by_block(samples)
            row = {
                "workload": name, "category": info.get("category", name.split(".")[0]),
                "metric": metric.get("name", "value"), "unit": metric.get("unit", ""),
                "better": better, "variant": variant, "baseline": baseline,
                "n_ok": len(values), "n_failed": sum(not s.ok for s in samples),
                "median": statistics.median(values.values()) if values else None,
                "comparison": None,
                "warnings": _row_warnings(samples, list(values.values())),
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
    comparisons = stats.compare_family([item for _, item in pending], margin=margin,
                                       alpha=alpha, seed=seed) if pending else []
    for (index, _), comparison in zip(pending, comparisons, strict=True):
        rows[index]["comparison"] = comparison

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
        facts={"host": run.get("host", {}), "engine": run.get("engine", {})},
    )
