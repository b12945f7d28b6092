"""The terminal summary: verdict strings and the per-variant table (rich renderables), the
fallback banner and, for ladder runs, the per-step table and attribution lines."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from bench import fallback
from bench.analysis import Row, Summary
from bench.stats import Comparison

VERDICT_STYLE = {"equivalent": "green", "overhead": "red", "faster": "cyan",
                 "inconclusive": "yellow"}


def more_blocks(count: int) -> str:
    """``1 more block``, ``14 more blocks``."""
    return f"{count} more block{'' if count == 1 else 's'}"


def pct(value: float) -> str:
    return f"{value * 100:+.1f}%"


def interval_text(comparison: Comparison) -> str:
    ci = comparison.ci95
    return f"[{ci.lo * 100:.1f}, {ci.hi * 100:.1f}]"


def verdict_text(comparison: Comparison) -> str:
    """``overhead +24.8% [23.9, 25.7]``, ``equivalent -0.3% [-0.9, 0.4] within +/-2%``,
    ``inconclusive: about 14 more blocks``."""
    verdict = comparison.verdict
    estimate = f"{pct(comparison.overhead)} {interval_text(comparison)}"
    if verdict == "equivalent":
        text = f"equivalent {estimate} within +/-{comparison.margin * 100:g}%"
        return text + " (significant but small)" if comparison.significant else text
    if verdict == "inconclusive":
        more = comparison.blocks_to_decide
        hint = f"about {more_blocks(more)}" if more else "more blocks needed"
        return f"inconclusive: {hint} ({estimate})"
    return f"{verdict} {estimate}"


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


def headline(summary: Summary) -> str:
    """One sentence: the answer first."""
    compared = [r for r in summary.rows if r.comparison is not None]
    if not compared:
        return "no comparison could be made (see warnings)"
    counts: dict[str, list[Row]] = {}
    for row in compared:
        counts.setdefault(row.comparison.verdict, []).append(row)  # type: ignore[union-attr]
    parts = [f"{len(counts.get('equivalent', []))} of {len(compared)} comparisons "
             f"equivalent within +/-{summary.margin * 100:g}%"]
    for verdict in ("overhead", "faster", "inconclusive"):
        rows = counts.get(verdict, [])
        if rows:
            names = ", ".join(f"{r.workload} {r.variant} {pct(r.comparison.overhead)}"  # type: ignore[union-attr]
                              for r in rows)
            parts.append(f"{len(rows)} {verdict}: {names}")
    return "; ".join(parts)


def summary_table(summary: Summary) -> Table:
    """Per workload and variant: median, overhead vs baseline with its 95% CI, verdict."""
    method = ("Holm over" if summary.correction == "holm"
              else "adaptive, group-sequential, Bonferroni over")
    table = Table(title=Text(f"run {summary.run_id}: overhead vs {summary.baseline} "
                             f"(95% CI, bootstrap over blocks; {method} "
                             f"{summary.family_size} comparisons)"))
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


def verdict_lines(summary: Summary) -> list[str]:
    return [f"{r.workload} {r.variant}: {verdict_text(r.comparison)}"
            for r in summary.rows if r.comparison is not None]


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
