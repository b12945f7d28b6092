"""The words and numbers every report says alike: percentages, intervals, verdicts and
the fallback banner, as plain text (each format escapes it its own way).

No imports beyond the standard library at run time, so anything (the CLI, the run, the
ladder's attribution sentences) can use it without pulling in a renderer or an engine.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.stats import Comparison, Interval


def pct(value: float) -> str:
    """``+24.8%``: an overhead or a change, in percent, signed."""
    return f"{value * 100:+.1f}%"


def pct_or_dash(value: float | None) -> str:
    """:func:`pct`, or ``-`` for a missing or non-finite value."""
    return "-" if value is None or not math.isfinite(value) else pct(value)


def margin_text(value: float) -> str:
    """``±2%``: an equivalence margin."""
    return f"\u00b1{value * 100:g}%"


def number(value: float | None) -> str:
    """A median or metric: ``12,345`` from 100 up, else four significant digits."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


def _end(value: float, bare: bool) -> str:
    if bare or math.isfinite(value):
        return f"{value * 100:.1f}"
    return "+inf" if value > 0 else "-inf"


def interval(ci: Interval, bare: bool = False) -> str:
    """``[-0.9, 1.4]``: the interval's ends in percent, an unbounded end ``-inf`` or
    ``+inf`` (``bare``: Python's own text for it, ``inf``, as the terminal has always
    printed)."""
    return f"[{_end(ci.lo, bare)}, {_end(ci.hi, bare)}]"


def ci95(comparison: Comparison, bare: bool = False) -> str:
    """The plain 95% interval (no multiplicity adjustment): what "95% CI" means."""
    return interval(comparison.plain95 or comparison.ci95, bare)


def level(value: float) -> str:
    """A confidence level: ``95%``, ``99.58%``."""
    text = f"{value * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def decision_text(comparison: Comparison) -> str:
    """The interval the verdict used, at its adjusted level: ``99.6% [-0.9, 1.4]``."""
    ci = comparison.ci95 if comparison.verdict != "equivalent" else comparison.ci90
    return f"{level(ci.level)} {interval(ci, bare=True)}"


def more_blocks(count: int) -> str:
    """``1 more block``, ``14 more blocks``."""
    return f"{count} more block{'' if count == 1 else 's'}"


def _ratio(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.4g}"


def times_text(comparison: Comparison, baseline: str) -> str:
    """The overhead as a cost ratio, as hyperfine says "1.23 times faster":
    ``1.002 [0.989, 1.006] times native's cost`` (per unit of work; the 95% CI)."""
    ci = comparison.plain95 or comparison.ci95
    return (f"{_ratio(1 + comparison.overhead)} [{_ratio(1 + ci.lo)}, {_ratio(1 + ci.hi)}] "
            f"times {baseline}'s cost")


def verdict_text(comparison: Comparison, undecided: str | None = None) -> str:
    """``overhead +24.8% [23.9, 25.7]``, ``equivalent -0.3% [-0.9, 0.4] within +/-2%``,
    ``inconclusive: about 2.5 min more of this workload (...)``. The bracket is the 95% CI;
    the interval the verdict used, at its adjusted level, follows when it differs."""
    verdict = comparison.verdict
    estimate = f"{pct(comparison.overhead)} {ci95(comparison, bare=True)}"
    used = (comparison.ci90 if verdict == "equivalent" else comparison.ci95).level
    decided_on = "" if abs(used - (0.90 if verdict == "equivalent" else 0.95)) < 1e-9 \
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


def fallback_text(record: dict[str, Any]) -> str:
    """The line that opens the summary and the report of a fallback run (run.json's
    ``fallback`` record, ``bench.fallback``)."""
    pairs = ", ".join(f"{a} -> {b}" for a, b in record.get("mapping", {}).items())
    reason = record.get("reason") or "no container engine answered"
    text = (f"{reason[:1].upper()}{reason[1:]}: the Docker variants ran in the daemonless "
            f"OCI environment (runc) instead")
    if pairs:
        text += f", as the closest oci variants: {pairs}"
    differences = record.get("differences") or {}
    if differences:
        text += ". Not the same: " + "; ".join(
            f"{variant}: {', '.join(items)}" for variant, items in differences.items())
    return text
