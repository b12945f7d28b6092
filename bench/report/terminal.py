"""The terminal summary: verdict strings and the per-variant table (rich renderables), the
fallback banner and, for ladder runs, the per-step table and attribution lines."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from bench import fallback
from bench.analysis import Row, Summary
from bench.report.answer import pct, undecided_text
from bench.stats import Comparison

VERDICT_STYLE = {"equivalent": "green", "overhead": "red", "faster": "cyan",
                 "inconclusive": "yellow"}


def more_blocks(count: int) -> str:
    """``1 more block``, ``14 more blocks``."""
    return f"{count} more block{'' if count == 1 else 's'}"


def interval_text(comparison: Comparison) -> str:
    """The plain 95% interval (no multiplicity adjustment): what "95% CI" means."""
    ci = comparison.plain95 or comparison.ci95
    return f"[{ci.lo * 100:.1f}, {ci.hi * 100:.1f}]"


def decision_text(comparison: Comparison) -> str:
    """The interval the verdict used, at its adjusted level: ``99.6% [-0.9, 1.4]``."""
    ci = comparison.ci95 if comparison.verdict != "equivalent" else comparison.ci90
    return f"{_level(ci.level)} [{ci.lo * 100:.1f}, {ci.hi * 100:.1f}]"


def _level(level: float) -> str:
    text = f"{level * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def verdict_text(comparison: Comparison, undecided: str | None = None) -> str:
    """``overhead +24.8% [23.9, 25.7]``, ``equivalent -0.3% [-0.9, 0.4] within +/-2%``,
    ``inconclusive: about 2.5 min more of this workload (...)``. The bracket is the 95% CI;
    the interval the verdict used, at its adjusted level, follows when it differs."""
    verdict = comparison.verdict
    estimate = f"{pct(comparison.overhead)} {interval_text(comparison)}"
    level = (comparison.ci90 if verdict == "equivalent" else comparison.ci95).level
    decided_on = "" if abs(level - (0.90 if verdict == "equivalent" else 0.95)) < 1e-9 \
        else f"; decided on the {decision_text(comparison)} interval"
    if verdict == "equivalent":
        text = f"equivalent {estimate} within +/-{comparison.margin * 100:g}%"
        text += " (significant but small)" if comparison.significant else ""
        return text + decided_on
    if verdict == "inconclusive":
        more = comparison.blocks_to_decide
        hint = undecided or (f"about {more_blocks(more)}" if more else "more blocks needed")
        return f"inconclusive: {hint} ({estimate}{decided_on})"
    return f"{verdict} {estimate}{decided_on}"


def fallback_banner(summary: Summary) -> str | None:
    """What the run measured instead of Docker when no engine was usable, in the words
    ``bench run`` said it before measuring (say it first); None when Docker ran."""
    if summary.fallback is None:
        return None
    return fallback.banner(summary.fallback).rstrip(": ")


def _value(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def summary_table(summary: Summary) -> Table:
    """Per workload and variant: median, overhead vs baseline with its 95% CI, verdict."""
    table = Table(title=Text(f"run {summary.run_id}: overhead vs {summary.baseline} "
                             f"(95% CI, bootstrap over blocks; verdicts: {family_text(summary)})"))
    for column in ("workload", "variant", "blocks", "median", "unit", "overhead [95% CI]",
                   "verdict"):
        justify = "right" if column in ("blocks", "median") else "left"
        table.add_column(column, justify=justify, no_wrap=column != "variant")
    for row in summary.rows:
        comparison = row.comparison
        if comparison is None:
            overhead = "baseline" if row.is_baseline else "-"
            verdict = Text("")
        else:
            overhead = f"{pct(comparison.overhead)} {interval_text(comparison)}"
            verdict = Text(comparison.verdict, style=VERDICT_STYLE.get(comparison.verdict, ""))
        blocks = f"{row.n_ok}" + (f" ({row.n_failed} failed)" if row.n_failed else "")
        table.add_row(Text(row.workload), Text(row.variant), blocks, _value(row.median),
                      Text(row.unit), overhead, verdict)
    return table


def warning_lines(summary: Summary) -> list[str]:
    """Run-level warnings, then each row's, prefixed with where they apply."""
    lines = list(summary.warnings)
    for row in summary.rows:
        lines.extend(f"{row.workload} {row.variant}: {w}" for w in row.warnings)
    return lines


def family_text(summary: Summary) -> str:
    """Which families the run's alpha was split into, and how each was decided."""
    how = "Holm within each" if summary.correction == "holm" else \
        "adaptive looks, Bonferroni within each"
    parts = [f"{name} {info['size']:g} at alpha {info['alpha']:.3g}"
             for name, info in summary.families.items()]
    return f"{', '.join(parts) or 'no comparisons'}; {how}"


def verdict_lines(summary: Summary) -> list[str]:
    return [f"{r.workload} {r.variant}: "
            f"{verdict_text(r.comparison, _undecided(summary, r))}"
            for r in summary.rows if r.comparison is not None]


def _undecided(summary: Summary, row: Row) -> str | None:
    c = row.comparison
    return undecided_text(summary, row) if c is not None and c.verdict == "inconclusive" \
        else None


def ladder_table(summary: Summary) -> Table | None:
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
        table.add_column(column, no_wrap=column not in ("rung", "adds"))
    for climb in ladder.workloads:
        table.add_row(Text(climb.workload), Text(climb.first), Text("start"), "", Text(""),
                      pct(0.0))
        for step in climb.steps:
            c = step.comparison
            added = "-" if c is None else f"{pct(c.overhead)} {interval_text(c)}"
            verdict = (Text("no comparison") if c is None
                       else Text(c.verdict, style=VERDICT_STYLE.get(c.verdict, "")))
            table.add_row("", Text(step.rung), Text(step.adds), added, verdict,
                          "-" if step.cumulative is None else pct(step.cumulative))
    return table


def ladder_lines(summary: Summary) -> list[str]:
    """One attribution line per workload (empty without a ladder)."""
    return [] if summary.ladder is None else [w.attribution for w in summary.ladder.workloads]
