"""CI gating (``--fail-on``): which comparisons carry a verdict the caller fails on.

One place for the matching, used by ``bench run``, ``bench analyze`` (a run's verdicts,
each variant vs the baseline) and ``bench compare`` (run-to-run changes). The CLI parses
the option with :func:`parse_kinds`, prints what was measured, then raises
:func:`check`'s error: the result is never lost to the gate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bench.analysis import Summary
from bench.compare import RunComparison
from bench.errors import UsageError, UserError

#: What ``bench run/analyze --fail-on`` takes: a run's verdicts that can fail a job
#: (``equivalent`` is the one a gate passes on).
RUN_KINDS = ("overhead", "inconclusive", "faster")
#: What ``bench compare --fail-on`` takes: a change's verdicts, and ``changed`` for
#: either direction (``regressed`` or ``improved``).
COMPARE_KINDS = ("regressed", "inconclusive", "improved", "changed")
_ALIASES = {"changed": ("regressed", "improved")}


@dataclass(frozen=True)
class Match:
    """One comparison whose verdict the gate fails on."""

    workload: str
    variant: str
    verdict: str
    #: For run-to-run changes: "performance" or "overhead"; "" for a run's comparisons.
    quantity: str = ""

    def __str__(self) -> str:
        what = f": {self.quantity}" if self.quantity else ""
        return f"{self.workload} {self.variant}{what} {self.verdict}"


def parse_kinds(values: Iterable[str], valid: tuple[str, ...],
                option: str = "--fail-on") -> frozenset[str]:
    """Comma lists of verdict names (case-insensitive, repeatable) -> the verdicts to fail
    on, aliases expanded. UsageError naming the bad value and the valid ones."""
    kinds: set[str] = set()
    for value in values:
        items = [item.strip().lower() for item in value.split(",")]
        if not any(items):
            raise UsageError(f"{option}: no verdict given (valid: {', '.join(valid)})")
        for item in filter(None, items):
            if item not in valid:
                raise UsageError(f"{option}: unknown verdict '{item}' "
                                 f"(valid: {', '.join(valid)})")
            kinds.update(_ALIASES.get(item, (item,)))
    return frozenset(kinds)


def run_matches(summary: Summary, kinds: frozenset[str]) -> list[Match]:
    """The run's comparisons (each variant vs the baseline) whose verdict is in ``kinds``."""
    return [Match(row.workload, row.variant, row.comparison.verdict)
            for row in summary.rows
            if row.comparison is not None and row.comparison.verdict in kinds]


def compare_matches(result: RunComparison, kinds: frozenset[str]) -> list[Match]:
    """The changes (raw performance and overhead, per workload and variant) whose verdict
    is in ``kinds``; rows hidden by ``--only-changed`` count too."""
    found = []
    for row in (*result.rows, *result.hidden):
        for quantity, change in (("performance", row.performance), ("overhead", row.overhead)):
            if change is not None and change.verdict in kinds:
                found.append(Match(row.workload, row.variant, change.verdict, quantity))
    return found


def check(matches: list[Match], kinds: frozenset[str], option: str = "--fail-on") -> None:
    """Raise a UserError (exit 1) naming every match, when there is any."""
    if matches:
        raise UserError(f"{option} {','.join(sorted(kinds))}: {len(matches)} comparison(s) "
                        f"matched: {'; '.join(str(m) for m in matches)}")
