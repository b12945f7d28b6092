"""The overhead ladder: which mechanism costs what, step by step (``--variants ladder``).

A ladder run measures ordered rungs, from a native process to a Docker container with a
published port, each adding one mechanism (``bench.variants.LADDER``). Each rung is compared
with the rung before it, paired by block exactly as a variant is paired with the baseline
(METHOD §1), with the same statistics (``bench.families.decide``) and the same verdict
words (METHOD §4): the step's *added*
overhead, with its interval and verdict. A workload that did not run in a rung (the
plan's matrix) or has no successful sample there steps over it: that step compares with
the nearest previous rung it has data for, and says which rungs it spans.

Multiplicity (METHOD §4, ``bench.families``): the ladder's steps, over all workloads of
the run, are the ``ladder`` family, which shares the run's alpha with the primary and the
mechanism comparisons (weighted Bonferroni across families), so the run's family-wise
error rate, ladder included, stays at alpha. Within the family: Holm (fixed-block runs)
or Bonferroni over looks (adaptive runs), as the other families.

Cumulative overhead at a rung is the point estimate against the workload's first rung,
paired by block (for native as first rung it is the main comparison's estimate, whose
interval the summary shows). A step's *share* of the total is taken in log space, where
steps add up: ``ln(1 + step) / ln(1 + total)``.

Pure: plain data in (values by block, from the single streaming pass of
``bench.analysis``), dataclasses out; no I/O.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench import families, pairing, stats
from bench.report.text import interval, pct
from bench.variants import LADDER

#: What each known rung adds, by variant id.
DESCRIPTIONS = dict(LADDER)


@dataclass(frozen=True)
class LadderStep:
    """One rung compared with the previous rung the workload ran in."""

    rung: str
    previous: str
    adds: str  # what this rung adds (and the rungs stepped over, if any)
    skipped: tuple[str, ...]  # rungs between ``previous`` and ``rung`` without data
    comparison: stats.Comparison | None  # added overhead; None: too few paired blocks
    cumulative: float | None  # overhead vs the workload's first rung (point estimate)
    share: float | None = None  # of the total, in log space; None when not meaningful
    note: str = ""  # why there is no comparison, or what was stepped over

    @property
    def verdict(self) -> str | None:
        return None if self.comparison is None else self.comparison.verdict


@dataclass(frozen=True)
class WorkloadLadder:
    """One workload's climb: its first rung, then one step per further rung."""

    workload: str
    better: str
    first: str
    steps: tuple[LadderStep, ...]
    total: float | None  # cumulative overhead at the last rung
    attribution: str


@dataclass(frozen=True)
class Ladder:
    """The ladder section of a run's analysis (present only when the plan has a ladder)."""

    rungs: tuple[str, ...]
    descriptions: dict[str, str]
    workloads: tuple[WorkloadLadder, ...]
    margin: float
    alpha: float
    family_size: int
    correction: str = "holm"  # or "group-sequential", as the main comparisons

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (NaN/inf left to the exporter's ``finite``)."""
        return {
            "rungs": [{"variant": r, "adds": self.descriptions.get(r, r)} for r in self.rungs],
            "margin": self.margin,
            "alpha": self.alpha,
            "correction": self.correction,
            "family_size": self.family_size,
            "workloads": [{
                "workload": w.workload, "first": w.first, "total": w.total,
                "attribution": w.attribution,
                "steps": [{
                    "rung": s.rung, "previous": s.previous, "adds": s.adds,
                    "skipped": list(s.skipped), "verdict": s.verdict,
                    "overhead": None if s.comparison is None else s.comparison.overhead,
                    "ci95": None if s.comparison is None else [s.comparison.ci95.lo,
                                                               s.comparison.ci95.hi],
                    "cumulative": s.cumulative, "share": s.share, "note": s.note,
                    "comparison": (None if s.comparison is None
                                   else dataclasses.asdict(s.comparison)),
                } for s in w.steps],
            } for w in self.workloads],
        }


def describe(rung: str, previous: str | None = None, stands_for: str | None = None) -> str:
    """What a rung adds: the ladder's own words for a known rung, else the settings that
    differ from the previous rung (``fake[scale=1.1]`` after ``fake`` -> ``+ scale=1.1``).
    ``stands_for``: the ladder rung this one replaced (no engine: a docker rung run as oci),
    said after the settings it really changed."""
    if stands_for is not None:
        return f"{describe(rung, previous)} (stands in for {stands_for})"
    if rung in DESCRIPTIONS:
        return DESCRIPTIONS[rung]
    env, settings = _settings(rung)
    if previous is None:
        return rung
    prev_env, prev_settings = _settings(previous)
    if env != prev_env:
        return rung
    changed = [f"{k}={v}" for k, v in settings.items() if prev_settings.get(k) != v]
    dropped = [f"{k}={v}" for k, v in prev_settings.items() if k not in settings]
    parts = ([f"+ {', '.join(changed)}"] if changed else []) + (
        [f"without {', '.join(dropped)}"] if dropped else [])
    return ", ".join(parts) or rung


def analyse(rungs: Sequence[str], workloads: Sequence[tuple[str, str]],
            values: Mapping[tuple[str, str], Mapping[int, float]], *, margin: float,
            alpha_for: Callable[[int], float], seed: int = 0,
            planned: Mapping[str, Sequence[str]] | None = None,
            design: families.Design | None = None, stand_ins: Mapping[str, str] | None = None
            ) -> Ladder:
    """The steps of every workload up the ladder ``rungs``.

    ``workloads``: (name, better) in report order. ``values``: per (workload, variant), the
    metric of each block's successful measured sample (what analysis pairs). ``planned``:
    per workload, the variant ids it was planned in (None: every rung). ``alpha_for``: the
    ladder family's alpha given its number of steps (``families.allot``). ``design``: the
    looks of an adaptive run, None for fixed-block runs.
    ``stand_ins``: rung id -> the ladder rung it ran in place of (run.json's ``fallback``
    mapping, inverted), so a step is described by what it really changed.
    """
    rungs = tuple(dict.fromkeys(rungs))
    stand_ins = stand_ins or {}
    descriptions = {r: describe(r, rungs[i - 1] if i else None, stand_ins.get(r))
                    for i, r in enumerate(rungs)}
    climbs: list[tuple[str, str, str, list[dict[str, Any]]]] = []
    pending: list[tuple[int, int, tuple[list[float], list[float], str]]] = []
    for name, better in workloads:
        wanted = set(planned[name]) if planned is not None and name in planned else None
        ran = [r for r in rungs if values.get((name, r))]
        if len(ran) < 2:
            continue
        first = ran[0]
        steps: list[dict[str, Any]] = []
        for prev, rung in itertools.pairwise(ran):
            between = rungs[rungs.index(prev) + 1:rungs.index(rung)]
            mine, base = values[(name, rung)], values[(name, prev)]
            blocks = pairing.paired_blocks(mine, base)
            step: dict[str, Any] = {
                "rung": rung, "previous": prev, "skipped": between,
                "adds": "; ".join(descriptions[r] for r in (*between, rung)),
                "comparison": None, "cumulative": _cumulative(values, name, first, rung,
                                                              better),
                "note": _skip_note(between, wanted),
            }
            if len(blocks) >= 2:
                pending.append((len(climbs), len(steps),
                                ([mine[b] for b in blocks], [base[b] for b in blocks],
                                 better)))
            else:
                step["note"] = (f"only {len(blocks)} complete block(s) paired with {prev}: "
                                "no comparison" + (f"; {step['note']}" if step["note"] else ""))
            steps.append(step)
        climbs.append((name, better, first, steps))
    alpha = alpha_for(len(pending))
    comparisons = families.decide([item for *_, item in pending], alpha, margin, seed, design)
    for (climb, index, _), comparison in zip(pending, comparisons, strict=True):
        climbs[climb][3][index]["comparison"] = comparison
    out = []
    for name, better, first, raw in climbs:
        total = raw[-1]["cumulative"]
        # Shares of the total only read as such when no step gives time back (the ladder
        # removes mechanisms too, e.g. the user namespace before docker[net=host]).
        mixed = any(s["comparison"] is not None and s["comparison"].verdict == "faster"
                    for s in raw)
        steps = tuple(LadderStep(**s, share=None if mixed else _share(s["comparison"], total))
                      for s in raw)
        out.append(WorkloadLadder(name, better, first, steps, total,
                                  attribution(name, total, steps)))
    return Ladder(rungs, descriptions, tuple(out), margin, alpha, len(pending),
                  "holm" if design is None else "group-sequential")


def attribution(workload: str, total: float | None, steps: Sequence[LadderStep]) -> str:
    """One line: the total, then each step with overhead (or faster) with its interval and
    share of the total, then how the other steps came out."""
    head = f"{workload}: " + ("total not estimable" if total is None
                              else f"{pct(total)} total")
    claims = ("overhead", "faster")
    decided = [s for s in steps if s.verdict in claims]
    parts = []
    for s in sorted(decided, key=lambda s: -abs(s.comparison.overhead)):  # type: ignore[union-attr]
        c = s.comparison
        assert c is not None
        text = f"{pct(c.overhead)} {interval(c.ci95)} at '{s.adds}'"
        if s.verdict == "faster":
            text += " (faster)"
        elif s.share is not None:
            text += f" ({s.share * 100:.0f}% of the total)"
        parts.append(text)
    rest = [s for s in steps if s.verdict not in claims]
    counts: dict[str, int] = {}
    for s in rest:
        key = s.verdict or "no comparison"
        counts[key] = counts.get(key, 0) + 1
    tail = "; ".join(parts) or "no step shows overhead or a speed-up"
    if rest:
        listed = ", ".join(f"{n} {v}" for v, n in counts.items())
        tail += f"; {'other steps' if parts else 'steps'}: {listed}"
    return f"{head}; {tail}"


# ------------------------------------------------------------------------------ private


def _cumulative(values: Mapping[tuple[str, str], Mapping[int, float]], name: str, first: str,
                rung: str, better: str) -> float | None:
    mine, base = values[(name, rung)], values[(name, first)]
    blocks = pairing.paired_blocks(mine, base)
    if not blocks:
        return None
    return stats.overhead(stats.paired_log_diffs([mine[b] for b in blocks],
                                                 [base[b] for b in blocks], better))


def _share(comparison: stats.Comparison | None, total: float | None) -> float | None:
    """The step's part of the total in log space; only for overhead steps of a total
    that is itself an overhead (a share of a saving or of nothing means nothing)."""
    if comparison is None or comparison.verdict != "overhead" or total is None:
        return None
    if not total > 0 or comparison.overhead <= -1:
        return None
    return math.log1p(comparison.overhead) / math.log1p(total)


def _skip_note(between: Sequence[str], wanted: set[str] | None) -> str:
    if not between:
        return ""
    why = [f"{r} ({'not run' if wanted is not None and r not in wanted else 'no data'})"
           for r in between]
    return "steps over " + ", ".join(why)


def _settings(variant: str) -> tuple[str, dict[str, str]]:
    """``env[k=v,...]`` -> (env, {k: v}), tolerant of ids from elsewhere."""
    env, _, inner = variant.partition("[")
    settings = {}
    for part in filter(None, inner.rstrip("]").split(",")):
        key, _, value = part.partition("=")
        settings[key.strip()] = value.strip()
    return env, settings
