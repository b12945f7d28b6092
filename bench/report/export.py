"""Exports of a run: the tidy samples table as CSV (its rows and columns are
``bench.tidy``'s, the same as ``bench.load``) and a JSON summary (the dispatcher that picks
a formatter by name is ``bench.report.formats``).

Formatters return data (``str``); callers write it (STYLE.md).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from typing import TYPE_CHECKING, Any

from bench.analysis import Row, Summary
from bench.diagnostics import Diagnostic
from bench.ladder import Ladder
from bench.report.answer import headline
from bench.results import LoadedRun
from bench.stats import VERDICTS
from bench.tidy import COLUMNS, sample_records

if TYPE_CHECKING:
    from bench.compare import RunComparison

#: Where ``bench report RUN --format F`` writes inside the run folder when no -o is given.
DEFAULT_NAMES = {"html": "report.html", "md": "report.md", "csv": "samples.csv",
                 "json": "summary.json"}
SUMMARY_FORMAT = "bench-summary"
SUMMARY_FORMAT_VERSION = 1


def samples_csv(loaded: LoadedRun) -> str:
    """Tidy CSV, one row per sample (warmups and failures included, marked).

    Two passes over the samples (the first finds the ``extra.*`` columns), so memory stays
    bounded by the text, not by the run's samples.
    """
    extra = dict.fromkeys(k for r in sample_records(loaded) for k in r if k not in COLUMNS)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*COLUMNS, *extra], lineterminator="\n")
    writer.writeheader()
    writer.writerows(sample_records(loaded))
    return out.getvalue()


def finite(value: Any) -> Any:
    """JSON has no NaN or infinity: unbounded interval ends and undefined numbers are null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def baseline_medians(summary: Summary) -> dict[str, float | None]:
    """Median of the baseline variant per workload."""
    return {r.workload: r.median for r in summary.rows if r.is_baseline}


def _correction_words(correction: str, size: int, unit: str) -> str:
    family = f"{size} {unit}{'' if size == 1 else 's'}"
    if correction == "group-sequential":
        return (f"adaptive looks (each {unit} spends its share of alpha over the looks, "
                f"Pocock-type), Bonferroni over {family}")
    return f"Holm-Bonferroni over {family}"


def correction_text(summary: Summary) -> str:
    """How alpha was shared across the run's comparisons, in words."""
    return _correction_words(summary.correction, summary.family_size, "comparison")


def ladder_correction_text(ladder: Ladder) -> str:
    """How alpha was shared across the ladder's steps, in words."""
    return _correction_words(ladder.correction, ladder.family_size, "step")


def verdict_counts(summary: Summary) -> dict[str, int]:
    counts = dict.fromkeys(VERDICTS, 0)
    for row in summary.rows:
        if row.comparison is not None:
            counts[row.comparison.verdict] = counts.get(row.comparison.verdict, 0) + 1
    return counts


def diagnostic_dict(warning: str) -> dict[str, str | None]:
    """``{"code", "message", "hint"}``; code None for a warning outside the catalogue."""
    if isinstance(warning, Diagnostic):
        return warning.to_dict()
    return {"code": None, "message": str(warning), "hint": ""}


def _row_dict(row: Row, base_median: float | None) -> dict[str, Any]:
    data = {f.name: getattr(row, f.name) for f in dataclasses.fields(Row)}
    data["warnings"] = [str(w) for w in row.warnings]
    # The same warnings with their catalogue codes (bench.diagnostics), for tools.
    data["diagnostics"] = [diagnostic_dict(w) for w in row.warnings]
    data["is_baseline"] = row.is_baseline
    data["baseline_median"] = base_median
    data["comparison"] = (None if row.comparison is None
                          else dataclasses.asdict(row.comparison))
    return data


def summary_dict(summary: Summary, loaded: LoadedRun) -> dict[str, Any]:
    """Everything the reports state about a run, as JSON-ready data (no NaN/inf); a
    ``fallback`` key when Docker variants ran elsewhere, a ``ladder`` key (the steps, see
    ``bench.ladder.Ladder.to_dict``) when the plan has a ladder."""
    run = loaded.run
    plan = run.get("plan", {})
    base = baseline_medians(summary)
    optional: dict[str, Any] = {}
    if summary.fallback is not None:
        optional["fallback"] = summary.fallback
    if summary.ladder is not None:
        optional["ladder"] = summary.ladder.to_dict()
    return finite({
        "format": SUMMARY_FORMAT,
        "format_version": SUMMARY_FORMAT_VERSION,
        "run_id": summary.run_id,
        "status": summary.status,
        "headline": headline(summary),
        "baseline": summary.baseline,
        "margin": summary.margin,
        "alpha": summary.alpha,
        "correction": summary.correction,
        "family_size": summary.family_size,
        "verdicts": verdict_counts(summary),
        "plan": {k: plan.get(k) for k in ("variants", "cpus", "blocks", "warmup", "seed",
                                          "quick", "margin", "alpha")}
        | {"workloads": [w.get("name") for w in plan.get("workloads", [])]},
        "command": run.get("command", []),
        "reproduce": run.get("reproduce") or run.get("command", []),
        "samples": len(loaded.samples),
        "failed_samples": sum(not s.ok for s in loaded.samples),
        "rows": [_row_dict(r, base.get(r.workload)) for r in summary.rows],
        "warnings": list(summary.warnings),
        "host": run.get("host", {}),
        "engine": run.get("engine", {}),
        "image": run.get("image", {}),
        "binaries": run.get("binaries", {}),
        **optional,
    })


def summary_json(summary: Summary, loaded: LoadedRun) -> str:
    return json.dumps(summary_dict(summary, loaded), indent=2, allow_nan=False) + "\n"


def compare_dict(result: RunComparison) -> dict[str, Any]:
    """A run-to-run comparison as JSON-ready data (no NaN/inf)."""
    from bench.compare import headline

    data = dataclasses.asdict(result)
    data["headline"] = headline(result)
    # --only-changed: the rows left out are counted, not exported.
    data["hidden_unchanged"] = len(data.pop("hidden"))
    for row, source in zip(data["rows"], result.rows, strict=True):
        row["is_baseline"] = source.is_baseline
    return finite({"format": "bench-compare", "format_version": 1, **data})


def compare_json(result: RunComparison) -> str:
    return json.dumps(compare_dict(result), indent=2, allow_nan=False, default=str) + "\n"


def compare_many_json(results: list[RunComparison]) -> str:
    """Several runs against the first: ``{"reference": A, "comparisons": [...]}``."""
    data = {"format": "bench-compare-many", "reference": results[0].run_a if results else None,
            "comparisons": [compare_dict(r) for r in results]}
    return json.dumps(data, indent=2, allow_nan=False, default=str) + "\n"
