"""The answer first: one sentence per category from the primary comparisons, what an
undecided comparison would need, in minutes and in the margin this host can resolve, and
the notes every format says with it (what native was, the contamination guard, the
fallback banner, the warnings).

Start-up is a different quantity from steady-state overhead (seconds per container, not
cost per unit of work), so it is said in seconds and kept out of every geometric mean.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from bench import stats
from bench.analysis import STARTUP, Row, Summary
from bench.diagnostics import Diagnostic, code_of
from bench.report.text import fallback_text, margin_text, pct

CATEGORY_NAMES = {"cpu": "CPU", "memory": "memory", "syscalls": "syscalls", "disk": "disk",
                  "network": "network", "app": "app", "startup": "start-up"}


@dataclass(frozen=True)
class CategoryAnswer:
    """The primary comparisons of one category, summed up."""

    category: str
    verdict: str  # equivalent | overhead | faster | inconclusive | mixed
    text: str  # what follows the category's name: "no overhead beyond +/-2%"
    rows: tuple[Row, ...]


def _primary_rows(summary: Summary) -> list[Row]:
    return [r for r in summary.rows if r.comparison is not None and r.family == "primary"]


def category_answers(summary: Summary) -> list[CategoryAnswer]:
    """Per category (in row order), the primary comparisons' joint answer."""
    by: dict[str, list[Row]] = {}
    for row in _primary_rows(summary):
        by.setdefault(row.category, []).append(row)
    out = []
    for category, rows in by.items():
        verdicts = {r.comparison.verdict for r in rows}  # type: ignore[union-attr]
        verdict = verdicts.pop() if len(verdicts) == 1 else "mixed"
        out.append(CategoryAnswer(category, verdict, _category_text(summary, category, rows,
                                                                      verdict), tuple(rows)))
    return out


def _category_text(summary: Summary, category: str, rows: list[Row], verdict: str) -> str:
    if verdict == "equivalent":
        return f"no overhead beyond {margin_text(summary.margin)}"
    if verdict == "mixed":
        return "; ".join(f"{r.workload.split('.', 1)[-1]} {_row_text(summary, r)}"
                         for r in rows)
    if category == STARTUP or len(rows) == 1:
        return _row_text(summary, rows[0]) if len(rows) == 1 else "; ".join(
            _row_text(summary, r) for r in rows)
    if verdict == "inconclusive":
        return "undecided: " + "; ".join(_row_text(summary, r) for r in rows)
    gmean = stats.geometric_mean_overhead([r.comparison.overhead for r in rows  # type: ignore[union-attr]
                                           ])
    return f"{'overhead' if verdict == 'overhead' else 'faster'} {pct(gmean)} " \
           f"(geometric mean of {len(rows)} workloads)"


def _row_text(summary: Summary, row: Row) -> str:
    c = row.comparison
    assert c is not None
    if c.verdict == "equivalent":
        return f"no overhead beyond {margin_text(summary.margin)}"
    if c.verdict == "inconclusive":
        return f"undecided ({undecided_text(summary, row)})"
    if row.category == STARTUP:
        delta = startup_delta(summary, row)
        if delta is not None:
            return f"{delta:+.2f} s per container ({c.verdict})"
    return f"{c.verdict} {pct(c.overhead)}"


def startup_delta(summary: Summary, row: Row) -> float | None:
    """Start-up: the variant's median minus the baseline's, in the metric's unit (s)."""
    base = next((r for r in summary.rows if r.workload == row.workload and r.is_baseline),
                None)
    if base is None or base.median is None or row.median is None:
        return None
    return row.median - base.median


def headline(summary: Summary) -> str:
    """One sentence: categories with the same answer joined, e.g. "CPU, memory: no
    overhead beyond +/-2%; network: overhead +148.0%; start-up: +0.38 s per container
    (overhead)"; then how many comparisons were decided in all."""
    compared = [r for r in summary.rows if r.comparison is not None]
    if not compared:
        return "no comparison could be made (see warnings)"
    grouped: dict[str, list[str]] = {}
    for answer in category_answers(summary):
        grouped.setdefault(answer.text, []).append(CATEGORY_NAMES.get(answer.category,
                                                                      answer.category))
    primary = summary.primary or "the variant"
    parts = [f"{', '.join(names)}: {text}" for text, names in grouped.items()]
    decided = sum(1 for r in compared if r.comparison.decided)  # type: ignore[union-attr]
    tail = f"{decided} of {len(compared)} comparisons decided"
    text = f"{primary} vs {summary.baseline}: " + "; ".join(parts) + f" ({tail})" \
        if parts else tail
    return post_hoc_label(summary) + text


def post_hoc_label(summary: Summary) -> str:
    """"POST HOC (margin ±5%, alpha 0.05; recorded: ±2%, 0.05): " when re-analysed with
    another margin or alpha than the run fixed before measuring, else ""."""
    if summary.post_hoc is None:
        return ""
    rec = summary.post_hoc
    return (f"POST HOC (margin {margin_text(summary.margin)}, alpha {summary.alpha:g}; "
            f"recorded before the run: {margin_text(rec['margin'])}, "
            f"alpha {rec['alpha']:g}): ")


def native_note(summary: Summary) -> str | None:
    """What "native" was: "native = this virtual machine's kernel (kvm): ..." (None for
    runs recorded before the fact was)."""
    virt = summary.facts.get("host", {}).get("virtualization")
    if not isinstance(virt, dict) or not isinstance(virt.get("native_means"), str):
        return None
    return f"native = {virt['native_means']}"


def retake_note(summary: Summary) -> str | None:
    """How many samples the contamination guard left out and re-took, and the rule."""
    rule = summary.retake
    taken = sum(r.contaminated for r in summary.rows)
    dropped = sum(r.dropped_blocks for r in summary.rows)
    if rule is None or not rule.get("enabled"):
        return "contamination guard off: every sample is used" if rule else None
    text = (f"contamination guard: {taken} sample(s) re-taken (foreign work > "
            f"{rule.get('foreign_threshold', 0):.0%} of the measured CPUs, or steal more "
            f"than {rule.get('steal_threshold', 0) * 100:g} points beyond the workload's own)")
    return text + (f", {dropped} block(s) dropped" if dropped else "")


def undecided_text(summary: Summary, row: Row) -> str:
    """What would decide an inconclusive comparison, in terms a person can act on:
    about how many more minutes of this workload, and when that is beyond the run's
    limits, the margin this host resolves in the budget."""
    c = row.comparison
    assert c is not None
    more = c.blocks_to_decide
    if not more or row.block_s is None:
        return "more blocks needed"
    minutes = more * row.block_s / 60
    limit_s = summary.budget_s if summary.budget_s is not None else 30 * 60
    if minutes * 60 <= limit_s and minutes < 60:
        return f"about {_minutes(minutes)} more of this workload"
    n = max(2, int(limit_s / row.block_s))
    resolves = stats.resolvable_margin(c.sd, n, alpha=max(c.alpha, 1e-12)) \
        if math.isfinite(c.sd) else math.inf
    span = _minutes(limit_s / 60)
    if not math.isfinite(resolves):
        return f"cannot be resolved in {span} on this host"
    return (f"this host resolves \u00b1{resolves * 100:.1f}% for {row.category} workloads "
            f"in {span}, not {margin_text(summary.margin)}")


def _minutes(value: float) -> str:
    if value < 1:
        return f"{max(1, round(value * 60))} s"
    return f"{value:.0f} min" if value >= 10 else f"{value:.1f} min"


def fallback_banner(summary: Summary) -> str | None:
    """What the run measured instead of Docker when no engine was usable, in the words
    ``bench run`` said it before measuring (say it first); None when Docker ran."""
    if summary.fallback is None:
        return None
    return fallback_text(summary.fallback).rstrip(": ")


#: Percentage points between the overhead and the ratio of the medians worth a note.
BASIS_NOTE_POINTS = 1.0


def medians_overhead(row: Row, base_median: float | None) -> float | None:
    """The overhead the two medians alone give (cost per unit of work, like the table's)."""
    if row.median is None or not base_median or not row.median:
        return None
    ratio = row.median / base_median
    return (1 / ratio if row.better == "higher" else ratio) - 1


def basis_note(summary: Summary) -> str | None:
    """What "overhead" is computed from, said where it differs from the ratio of the
    medians by more than ``BASIS_NOTE_POINTS`` (None when it nowhere does)."""
    base = {r.workload: r.median for r in summary.rows if r.is_baseline}
    differ = []
    for row in summary.rows:
        if row.comparison is None:
            continue
        plain = medians_overhead(row, base.get(row.workload))
        if plain is not None and abs(plain - row.comparison.overhead) * 100 > BASIS_NOTE_POINTS:
            differ.append(f"{row.workload} {row.variant} {pct(row.comparison.overhead)} "
                          f"(medians: {pct(plain)})")
    if not differ:
        return None
    return ("overhead = the geometric mean of the paired blocks' cost ratios (each block's "
            "variant against the same block's baseline), not the ratio of the medians; they "
            "differ for " + ", ".join(differ))


def warning_lines(summary: Summary) -> list[str]:
    """Run-level warnings, then each row's, prefixed with where they apply."""
    lines = list(summary.warnings)
    for row in summary.rows:
        lines.extend(f"{row.workload} {row.variant}: {w}" for w in row.warnings)
    return lines


@dataclass(frozen=True)
class WarningGroup:
    """Warnings of one kind: the hint once, then where each was seen and what. A run-level
    note or a kind seen once is a group of one (``heading`` is then the whole line)."""

    heading: str
    items: tuple[str, ...] = ()


def group_warnings(general: Iterable[str],
                   placed: Iterable[tuple[str, str]]) -> list[WarningGroup]:
    """``general`` (run-level, printed as they are) then ``placed`` (``(where, warning)``,
    e.g. ``("cpu.sysbench docker", ...)``) grouped by catalogue code, in order of first
    appearance: ``"high-spread (11): <hint>"`` and one ``"where: message"``
    item each. Warnings without a code stay lines of their own."""
    groups = [WarningGroup(str(w)) for w in general]
    by_code: dict[str, list[tuple[str, Diagnostic]]] = {}
    order: list[tuple[str, str] | str] = []
    for where, warning in placed:
        code = code_of(warning)
        if code is None:
            order.append((where, str(warning)))
            continue
        if code not in by_code:
            order.append(code)
        by_code.setdefault(code, []).append((where, warning))
    for entry in order:
        if isinstance(entry, tuple):
            groups.append(WarningGroup(f"{entry[0]}: {entry[1]}"))
            continue
        seen = by_code[entry]
        if len(seen) == 1:
            where, warning = seen[0]
            groups.append(WarningGroup(f"{where}: {warning}"))
            continue
        hint = seen[0][1].hint
        groups.append(WarningGroup(f"{entry} ({len(seen)})" + (f": {hint}" if hint else ""),
                                   tuple(f"{where}: {w.message}" for where, w in seen)))
    return groups


def warning_groups(summary: Summary) -> list[WarningGroup]:
    """The run's warnings grouped by kind (``group_warnings``)."""
    return group_warnings(summary.warnings,
                          ((f"{row.workload} {row.variant}", w)
                           for row in summary.rows for w in row.warnings))
