"""The terminal summary: the per-variant table (rich renderables), verdict lines and, for
ladder runs, the per-step table and attribution lines. Their words are shared with every
report (``bench.report.text``, ``bench.report.answer``); the CLI reads the fallback banner
from here too (warnings: bench.report.answer.warning_groups)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from bench.analysis import Row, Summary
from bench.report.answer import fallback_banner as fallback_banner
from bench.report.answer import undecided_text
from bench.report.fit import Fitted
from bench.report.fit import terminal_width as terminal_width
from bench.report.text import ci95, pct, times_text, verdict_text

VERDICT_STYLE = {"equivalent": "green", "overhead": "red", "faster": "cyan",
                 "inconclusive": "yellow"}


def _value(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def summary_table(summary: Summary) -> Fitted:
    """Per workload and variant: median, overhead vs baseline with its 95% CI, verdict."""
    table = Table(title=Text(f"run {summary.run_id}: overhead vs {summary.baseline} "
                             f"(95% CI, bootstrap over blocks; verdicts: {family_text(summary)})"))
    for column in ("workload", "variant", "blocks", "median", "unit", "overhead [95% CI]",
                   "verdict"):
        justify = "right" if column in ("blocks", "median") else "left"
        table.add_column(column, justify=justify, no_wrap=True)
    for row in summary.rows:
        comparison = row.comparison
        if comparison is None:
            overhead = "baseline" if row.is_baseline else "-"
            verdict = Text("")
        else:
            overhead = f"{pct(comparison.overhead)} {ci95(comparison, bare=True)}"
            verdict = Text(comparison.verdict, style=VERDICT_STYLE.get(comparison.verdict, ""))
        blocks = f"{row.n_ok}" + (f" ({row.n_failed} failed)" if row.n_failed else "")
        table.add_row(Text(row.workload), Text(row.variant), blocks, _value(row.median),
                      Text(row.unit), overhead, verdict)
    return Fitted(table, suffixes=[f"vs {summary.baseline}" if r.comparison is not None
                                   else "" for r in summary.rows])


def family_text(summary: Summary) -> str:
    """Which families the run's alpha was split into, and how each was decided."""
    how = "Holm within each" if summary.correction == "holm" else \
        "adaptive looks, Bonferroni within each"
    parts = [f"{name} {info['size']:g} at alpha {info['alpha']:.3g}"
             for name, info in summary.families.items()]
    return f"{', '.join(parts) or 'no comparisons'}; {how}"


def verdict_lines(summary: Summary) -> list[str]:
    """One line per comparison: the verdict, the overhead with its intervals, and the same
    as a cost ratio (``= 1.002 [0.989, 1.006] times native's cost``)."""
    return [f"{r.workload} {r.variant}: "
            f"{verdict_text(r.comparison, _undecided(summary, r))}; "
            f"= {times_text(r.comparison, r.baseline)}"
            for r in summary.rows if r.comparison is not None]


def _undecided(summary: Summary, row: Row) -> str | None:
    c = row.comparison
    return undecided_text(summary, row) if c is not None and c.verdict == "inconclusive" \
        else None


def ladder_table(summary: Summary) -> Fitted | None:
    """Per workload and step up the ladder: what the rung adds, the added overhead with its
    95% CI, the verdict and the cumulative overhead (None without a ladder)."""
    ladder = summary.ladder
    if ladder is None or not ladder.workloads:
        return None
    method = ("Holm over" if ladder.correction == "holm"
              else "adaptive, group-sequential, Bonferroni over")
    table = Table(title=Text(f"overhead ladder: each rung vs the one before (95% CI; {method} "
                             f"{ladder.family_size} steps)"))
    for column in ("workload", "rung", "adds", "added [95% CI]", "verdict", "cumulative"):
        table.add_column(column, no_wrap=True)
    suffixes = []
    for climb in ladder.workloads:
        suffixes += ["", *(f"vs {step.previous}" for step in climb.steps)]
        table.add_row(Text(climb.workload), Text(climb.first), Text("start"), "", Text(""),
                      pct(0.0))
        for step in climb.steps:
            c = step.comparison
            added = "-" if c is None else f"{pct(c.overhead)} {ci95(c, bare=True)}"
            verdict = (Text("no comparison") if c is None
                       else Text(c.verdict, style=VERDICT_STYLE.get(c.verdict, "")))
            table.add_row("", Text(step.rung), Text(step.adds), added, verdict,
                          "-" if step.cumulative is None else pct(step.cumulative))
    return Fitted(table, carry=True, suffixes=suffixes)


def ladder_lines(summary: Summary) -> list[str]:
    """One attribution line per workload (empty without a ladder)."""
    return [] if summary.ladder is None else [w.attribution for w in summary.ladder.workloads]
