"""Multiplicity that fits the question (METHOD §4): which comparisons form which family,
what alpha each family gets, and how a family is decided.

A run asks one primary question per workload, "does the container cost anything?": the
comparison of the plan's primary variant (``docker``, or what stands in for it) with the
baseline. Every other comparison explains that answer: mechanism variants
(``docker[net=host]``, ``docker[seccomp=unconfined]``, ...) and, in a ladder run, each
rung against the rung before. So the run's alpha is split between families by a weighted
Bonferroni inequality, which holds under any dependence between them:

- ``primary`` gets ``PRIMARY_SHARE`` (80%) of alpha when other families exist, all of it
  otherwise;
- the rest is shared by ``mechanisms`` (variant vs baseline) and ``ladder`` (rung vs the
  rung before), in proportion to their sizes.

Within a family, fixed-block runs use Holm's step-down (``stats.compare_family``, adapted
to one difference and one equivalence hypothesis per comparison); adaptive runs give each
comparison ``family alpha / family size`` (Bonferroni) and spend it over looks
(``stats.sequential_decision``). The probability of any false claim in the whole run, of
either kind, is at most alpha, and the primary answer pays a factor 1.25 for the
exploratory variants instead of one for each of them. Proven by simulation in
tests/unit/test_decisive.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from numpy.typing import ArrayLike

from bench import stats

PRIMARY_SHARE = 0.8
FAMILIES = ("primary", "mechanisms", "ladder")


@dataclass(frozen=True)
class Design:
    """How the comparisons of an adaptive run were looked at (None for fixed runs)."""

    grid: tuple[int, ...]
    final: bool = True


def allot(sizes: Mapping[str, int], alpha: float) -> dict[str, float]:
    """Each non-empty family's alpha (see the module docstring); they sum to alpha."""
    present = {name: n for name, n in sizes.items() if n > 0}
    unknown = set(present) - set(FAMILIES)
    if unknown:
        raise ValueError(f"unknown families: {sorted(unknown)}")
    if not present:
        return {}
    out: dict[str, float] = {}
    rest = alpha
    if "primary" in present:
        share = PRIMARY_SHARE if len(present) > 1 else 1.0
        out["primary"] = alpha * share
        rest = alpha - out["primary"]
    others = {k: v for k, v in present.items() if k != "primary"}
    total = sum(others.values())
    for name, n in others.items():
        out[name] = rest * n / total
    return out


def decide(items: Sequence[tuple[ArrayLike, ArrayLike, str]], alpha: float, margin: float,
           seed: int, design: Design | None) -> list[stats.Comparison]:
    """Decide one family at its alpha: Holm (fixed) or Bonferroni over looks (adaptive)."""
    if not items:
        return []
    if design is None:
        return stats.compare_family(items, margin=margin, alpha=alpha, seed=seed)
    share = alpha / len(items)
    out = []
    for variant, baseline, better in items:
        decision = stats.sequential_decision(variant, baseline, better, grid=design.grid,
                                             final=design.final, margin=margin, alpha=share,
                                             seed=seed)
        if decision is None:  # too few blocks even for a final look
            out.append(stats.compare(variant, baseline, better, margin=margin, alpha=share,
                                     seed=seed))
        else:
            out.append(decision.comparison)
    return out


def family_of(variant: str, primary: str | None) -> str:
    """A variant-vs-baseline comparison's family: ``primary`` or ``mechanisms``."""
    return "primary" if variant == primary else "mechanisms"


def primary_variant(variants: Sequence[str], baseline: str,
                    stand_ins: Mapping[str, str] | None = None) -> str | None:
    """The variant whose comparison with the baseline is each workload's primary question:
    ``docker`` (or the variant that ran for it without an engine), else the first
    variant that is not the baseline."""
    ran_as = (stand_ins or {}).get("docker", "docker")
    for candidate in (ran_as, "docker"):
        if candidate in variants and candidate != baseline:
            return candidate
    return next((v for v in variants if v != baseline), None)
