"""The Plan: everything that determines what a run measures, validated, and its record in
run.json (``plan``), written and read by this module only.

The record carries its own format version, ``schema``: raised when a key is added,
removed or changes meaning, with a migration in :data:`MIGRATIONS`, so that older run
folders read as they always did; a newer record is refused with a clear message.
:meth:`Plan.from_dict` reads a record strictly (to run it again: ``--replay``,
``--resume``); :func:`recorded` reads it leniently, for analysis of results that may come
from elsewhere: whatever the record lacks reads as the Plan's default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import stats
from bench.errors import UsageError
from bench.guard import RetakeRule
from bench.variants import Variant, parse_variants
from bench.workloads import Workload

#: The statistics fixed before a run (METHOD §3): the equivalence margin (a fraction:
#: 0.02 is +/-2%) and the family-wise error rate of the whole run.
DEFAULT_MARGIN = 0.02
DEFAULT_ALPHA = 0.05
#: Defaults shared by the CLI and the asv benchmarks (benchmarks/measure.py).
DEFAULT_WARMUP = 1
QUICK_BLOCKS = 5
DEFAULT_BLOCKS = 10
ADAPTIVE_MAX_BLOCKS = 30
DEFAULT_MIN_BLOCKS = 5
#: --quick: an adaptive run with a measurement budget (README, "The quick run").
QUICK_BUDGET_S = 300.0
QUICK_MIN_BLOCKS = 6
QUICK_MAX_BLOCKS = 30

#: The version of the plan's record (``schema``); see :data:`MIGRATIONS`.
SCHEMA = 2


@dataclass(frozen=True)
class Plan:
    """Everything that determines what a run measures; stored in run.json for --replay."""

    workloads: tuple[Workload, ...]
    variants: tuple[Variant, ...]
    cpus: tuple[int, ...]
    blocks: int = DEFAULT_BLOCKS
    warmup: int = DEFAULT_WARMUP
    seed: int = 0
    quick: bool = False
    margin: float = DEFAULT_MARGIN
    alpha: float = DEFAULT_ALPHA
    #: Adaptive mode: stop a workload once every comparison is decided (looks on
    #: ``look_grid``, see bench.schedule.StopRule); ``blocks`` is then the maximum.
    adaptive: bool = False
    min_blocks: int = DEFAULT_MIN_BLOCKS
    #: Measurement budget of the whole run, in seconds (None: none).
    budget_s: float | None = None
    #: Per workload, the variant ids it runs in (each workload's default matrix); None:
    #: every workload runs in every variant.
    matrix: dict[str, tuple[str, ...]] | None = None
    #: Variant ids in ladder order (``--variants ladder``): each rung is also compared
    #: with the rung before it.
    ladder: tuple[str, ...] = ()
    #: The contamination guard (bench.guard), fixed before the run.
    retake: RetakeRule = field(default_factory=RetakeRule)

    @property
    def look_grid(self) -> tuple[int, ...]:
        """Paired-block counts at which an adaptive run looks (``stats.look_grid``)."""
        return stats.look_grid(self.min_blocks, self.blocks)

    def variants_for(self, workload: Workload | str) -> tuple[Variant, ...]:
        """The variants one workload runs in, in plan order."""
        name = workload if isinstance(workload, str) else workload.name
        if self.matrix is None or name not in self.matrix:
            return self.variants
        wanted = set(self.matrix[name])
        return tuple(v for v in self.variants if v.id in wanted)

    def baseline_for(self, workload: Workload | str) -> Variant:
        """``native`` when the workload runs in it, else its first variant."""
        variants = self.variants_for(workload)
        return next((v for v in variants if v.env == "native" and not v.settings),
                    variants[0])

    @property
    def baseline(self) -> Variant:
        """``native`` when present, else the first variant."""
        for variant in self.variants:
            if variant.env == "native" and not variant.settings:
                return variant
        return self.variants[0]

    def to_dict(self) -> dict[str, Any]:
        """The record stored as run.json's ``plan`` (JSON-ready), with its ``schema``."""
        return {
            "schema": SCHEMA,
            "workloads": [w.to_dict() for w in self.workloads],
            "variants": [v.id for v in self.variants],
            "cpus": list(self.cpus),
            "blocks": self.blocks,
            "warmup": self.warmup,
            "seed": self.seed,
            "quick": self.quick,
            "margin": self.margin,
            "alpha": self.alpha,
            "adaptive": self.adaptive,
            "min_blocks": self.min_blocks,
            "budget_s": self.budget_s,
            "matrix": None if self.matrix is None else {k: list(v)
                                                        for k, v in self.matrix.items()},
            "ladder": list(self.ladder),
            "retake": self.retake.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "run.json") -> Plan:
        """Read a record strictly, migrated to the current schema: UsageError naming
        ``where`` when it is not a valid plan."""
        if not isinstance(data, dict):
            raise UsageError(f"{where}: 'plan' missing or not an object")
        data = migrate(data, where)
        try:
            return make_plan(
                workloads=[Workload.from_dict(w, where) for w in data["workloads"]],
                variants=parse_variants(list(data["variants"])),
                cpus=tuple(int(c) for c in data["cpus"]),
                blocks=int(data["blocks"]),
                warmup=int(data["warmup"]),
                seed=int(data["seed"]),
                quick=bool(data["quick"]),
                margin=float(data["margin"]),
                alpha=float(data["alpha"]),
                adaptive=bool(data["adaptive"]),
                min_blocks=int(data["min_blocks"]),
                budget_s=None if data["budget_s"] is None else float(data["budget_s"]),
                matrix=None if data["matrix"] is None else {
                    str(k): tuple(str(v) for v in vs) for k, vs in data["matrix"].items()},
                ladder=tuple(str(v) for v in data["ladder"] or ()),
                retake=RetakeRule.from_dict(data["retake"]),
            )
        except (KeyError, TypeError, ValueError, UsageError) as err:
            raise UsageError(f"{where}: bad plan: {err!r}") from None


def make_plan(workloads: list[Workload], variants: list[Variant], cpus: tuple[int, ...],
              blocks: int = DEFAULT_BLOCKS, warmup: int = DEFAULT_WARMUP, seed: int = 0,
              quick: bool = False, margin: float = DEFAULT_MARGIN,
              alpha: float = DEFAULT_ALPHA, adaptive: bool = False,
              min_blocks: int = DEFAULT_MIN_BLOCKS, budget_s: float | None = None,
              matrix: dict[str, tuple[str, ...]] | None = None,
              ladder: tuple[str, ...] = (), retake: RetakeRule | None = None) -> Plan:
    """Validate options and build the Plan. ``matrix`` gives each workload its own
    variants (ids among ``variants``)."""
    if not workloads:
        raise UsageError("no workload selected")
    if blocks < 2:
        raise UsageError(f"--blocks must be at least 2 (got {blocks}): blocks are the unit "
                         "of the confidence interval")
    if warmup < 0:
        raise UsageError(f"--warmup must be 0 or more (got {warmup})")
    check_margin(margin)
    check_alpha(alpha)
    if len(variants) < 2:
        raise UsageError("--variants: need at least two variants to compare "
                         "(e.g. 'native,docker')")
    ids = {v.id for v in variants}
    for name, chosen in (matrix or {}).items():
        if len(chosen) < 2 or not set(chosen) <= ids:
            raise UsageError(f"workload '{name}': needs two or more of the plan's variants, "
                             f"got {', '.join(chosen) or 'none'}")
    if not set(ladder) <= ids:
        raise UsageError(f"ladder rungs not among the variants: "
                         f"{', '.join(sorted(set(ladder) - ids))}")
    if adaptive and not 2 <= min_blocks <= blocks:
        raise UsageError(f"--min-blocks must be between 2 and --max-blocks ({blocks}), "
                         f"got {min_blocks}")
    if budget_s is not None and not budget_s > 0:
        raise UsageError(f"--budget must be positive, got {budget_s:g} s")
    return Plan(tuple(workloads), tuple(variants), tuple(cpus), blocks, warmup, seed, quick,
                margin, alpha, adaptive, min_blocks if adaptive else min(min_blocks, blocks),
                budget_s, matrix, tuple(ladder), retake or RetakeRule())


def check_margin(margin: float) -> float:
    """``margin`` (a fraction), or UsageError when it is not above 0% and below 100%."""
    if not 0 < margin < 1:
        raise UsageError("--margin must be greater than 0% and less than 100% (it is in "
                         f"percent: 2 means +/-2%); got {margin * 100:g}")
    return margin


def check_alpha(alpha: float) -> float:
    """``alpha``, or UsageError when it is not between 0 and 0.5."""
    if not 0 < alpha < 0.5:
        raise UsageError(f"--alpha must be between 0 and 0.5 (got {alpha:g})")
    return alpha


def margin_from_percent(percent: float) -> float:
    """``--margin`` as the user gives it (percent) -> the fraction a Plan holds, checked."""
    return check_margin(percent / 100)


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``10m``, ``1.5h`` -> seconds."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", text)
    if match is None:
        raise UsageError(f"--budget: cannot parse '{text}' (expected e.g. '90s', '10m', '1h')")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


# ------------------------------------------------------------------------ schema history

def _from_schema_1(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1: records from before they carried a ``schema``. Keys were added over that
    time: ``margin`` and ``alpha`` (always written, read with the defaults), ``adaptive``,
    ``min_blocks`` and ``budget_s`` (adaptive runs), ``matrix`` (per-workload variants),
    ``ladder`` and ``retake`` (the contamination guard): absent ones get the Plan's
    defaults, except ``retake``: a record without one predates the guard, which was then
    off (None, read as a disabled rule)."""
    defaults = {"margin": DEFAULT_MARGIN, "alpha": DEFAULT_ALPHA, "adaptive": False,
                "min_blocks": DEFAULT_MIN_BLOCKS, "budget_s": None, "matrix": None,
                "ladder": [], "retake": None}
    return {**defaults, **data, "schema": 2}


#: MIGRATIONS[n] turns a schema-n record into schema n + 1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _from_schema_1}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def migrate(data: dict[str, Any], where: str, lenient: bool = False) -> dict[str, Any]:
    """A plan record brought up to :data:`SCHEMA` (records without ``schema`` are schema
    1); a newer one is refused. ``lenient``: a ``schema`` that is not a version reads as 1
    instead of being an error."""
    version = data.get("schema", 1)
    if not _is_int(version) or version < 1:
        if not lenient:
            raise UsageError(f"{where}: bad plan: 'schema' must be a version number "
                             f"(got {version!r:.40})")
        version = 1
    if version > SCHEMA:
        raise UsageError(f"{where}: plan schema {version} is newer than this bench "
                         f"understands ({SCHEMA}); upgrade bench to read it")
    while version < SCHEMA:
        data = MIGRATIONS[version](data)
        version += 1
    return data


# ------------------------------------------------------------------------ lenient reading

@dataclass(frozen=True)
class Recorded:
    """What a run's plan records, read leniently (``recorded``): each value the record
    lacks, or holds with the wrong type, is the Plan's default. For analysis, comparison
    and reports, which read results that may come from elsewhere; to run a plan again,
    :meth:`Plan.from_dict` reads it strictly."""

    margin: float = DEFAULT_MARGIN
    alpha: float = DEFAULT_ALPHA
    seed: int = 0
    blocks: int = DEFAULT_BLOCKS
    warmup: int = DEFAULT_WARMUP
    #: Variant ids in plan order (strings only).
    variants: tuple[str, ...] = ()
    #: Each workload's record (``Workload.to_dict``) by name, as stored (not validated).
    workloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    adaptive: bool = False
    matrix: dict[str, tuple[str, ...]] | None = None
    ladder: tuple[str, ...] = ()
    budget_s: float | None = None
    #: The retake rule as stored; None for runs from before the guard.
    retake: dict[str, Any] | None = None


def recorded(run: dict[str, Any], where: str = "run.json") -> Recorded:
    """The plan of a run.json document (``run["plan"]``), read leniently; a plan of a
    newer schema is refused (UsageError naming ``where``)."""
    data = run.get("plan")
    if not isinstance(data, dict):
        return Recorded()
    data = migrate(data, where, lenient=True)
    workloads = data.get("workloads") if isinstance(data.get("workloads"), list) else []
    matrix = data.get("matrix") if isinstance(data.get("matrix"), dict) else {}
    planned = {str(k): tuple(str(v) for v in vs) for k, vs in matrix.items()
               if isinstance(vs, list)}
    budget = data.get("budget_s")
    retake = data.get("retake")
    return Recorded(
        margin=_number(data.get("margin"), DEFAULT_MARGIN),
        alpha=_number(data.get("alpha"), DEFAULT_ALPHA),
        seed=_integer(data.get("seed"), 0),
        blocks=_integer(data.get("blocks"), DEFAULT_BLOCKS),
        warmup=_integer(data.get("warmup"), DEFAULT_WARMUP),
        variants=_strings(data.get("variants")),
        workloads={w["name"]: w for w in workloads
                   if isinstance(w, dict) and isinstance(w.get("name"), str)},
        adaptive=data.get("adaptive") is True,
        matrix=planned or None,
        ladder=_strings(data.get("ladder")),
        budget_s=budget if isinstance(budget, int | float) else None,
        retake=retake if isinstance(retake, dict) else None,
    )


def direction(workload: dict[str, Any], name: str, where: str) -> str:
    """The recorded metric direction ("higher" or "lower") of one workload of a run's plan;
    never guessed (a wrong one turns an overhead into "faster"): UsageError naming
    ``where`` when the plan is missing, lacks the workload or its direction."""
    metric = workload.get("metric") if isinstance(workload.get("metric"), dict) else {}
    better = metric.get("better")
    if better not in ("higher", "lower"):
        raise UsageError(f"{where}: the plan records no metric direction for {name} "
                         "(plan missing or incomplete): cannot tell better from worse")
    return better


def _number(value: Any, default: float) -> float:
    """``value`` when it is a number (not a bool, not NaN), else ``default``."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value == value
    return float(value) if ok else default


def _integer(value: Any, default: int) -> int:
    number = _number(value, default)
    return int(number) if math.isfinite(number) else default


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()
