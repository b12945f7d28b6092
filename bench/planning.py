"""From what a user asks for to a Plan: ``bench run``'s options as plain values (the same
text and percentages the user types) -> the workloads, each workload's own variants, the
quick run's defaults and the block counts, validated; or a saved run's plan again
(``--replay``). The CLI parses and prints; everything it decides about a plan is here."""

from __future__ import annotations

import inspect
import secrets
from pathlib import Path
from typing import Any

from bench import plan, results
from bench.cpulist import default_cpus, format_cpus, parse_cpus
from bench.errors import UsageError
from bench.guard import DEFAULT_FOREIGN_THRESHOLD, DEFAULT_STEAL_THRESHOLD, RetakeRule
from bench.variants import DEFAULT_VARIANTS, Variant, ladder_of, parse_variants
from bench.workloads import Workload, load_workloads, select_suite, select_workloads


def from_options(*, patterns: tuple[str, ...] | list[str] = (),
                 workload_dirs: tuple[Path, ...] | list[Path] = (), suite: str | None = None,
                 variants: tuple[str, ...] | list[str] = (), cpus: str | None = None,
                 blocks: int | None = None, warmup: int = plan.DEFAULT_WARMUP,
                 seed: int | None = None, margin_percent: float = plan.DEFAULT_MARGIN * 100,
                 alpha: float = plan.DEFAULT_ALPHA, quick: bool = False, adaptive: bool = False,
                 min_blocks: int = plan.DEFAULT_MIN_BLOCKS, max_blocks: int | None = None,
                 budget: str | None = None, retake: bool = True,
                 retake_threshold_percent: float = DEFAULT_FOREIGN_THRESHOLD * 100,
                 steal_threshold_percent: float = DEFAULT_STEAL_THRESHOLD * 100) -> plan.Plan:
    """The Plan of ``bench run`` with these options (each as its ``--option``; None: not
    given). Without ``variants`` each workload runs in its own default matrix. ``quick``
    without ``blocks`` is the quick run: the primary question only (native and docker),
    adaptive with at most ``plan.QUICK_MAX_BLOCKS`` blocks, ``plan.QUICK_MIN_BLOCKS`` before
    the first look (when ``min_blocks`` is left at its default) and a budget of
    ``plan.QUICK_BUDGET_S`` unless given. A random seed is drawn when none is given."""
    dirs = list(workload_dirs)
    workloads = choose_workloads(dirs, list(patterns), suite, quick)
    matrix: dict[str, tuple[str, ...]] | None
    if variants:  # the user's variants for every workload
        chosen, matrix = parse_variants(list(variants)), None
    else:  # each workload's own default matrix
        chosen, matrix = default_matrix(workloads, parse_variants([DEFAULT_VARIANTS]))
        if quick and blocks is None:  # the quick run asks the primary question only
            chosen, matrix = primary_only(chosen, matrix)
    if quick and blocks is None and not adaptive:
        adaptive, max_blocks = True, max_blocks or plan.QUICK_MAX_BLOCKS
        if min_blocks == plan.DEFAULT_MIN_BLOCKS:  # left at its default
            min_blocks = plan.QUICK_MIN_BLOCKS
        budget = budget or f"{plan.QUICK_BUDGET_S:g}s"
    return plan.make_plan(
        workloads, chosen, parse_cpus(cpus) if cpus else default_cpus(),
        blocks=plan_blocks(blocks, max_blocks, adaptive, quick),
        warmup=warmup, seed=seed if seed is not None else secrets.randbelow(2**31),
        quick=quick, margin=plan.margin_from_percent(margin_percent), alpha=alpha,
        adaptive=adaptive, min_blocks=min_blocks,
        budget_s=plan.parse_duration(budget) if budget else None,
        matrix=matrix, ladder=ladder_of(chosen) if variants else (),
        retake=RetakeRule(enabled=retake,
                          foreign_threshold=retake_threshold_percent / 100,
                          steal_threshold=steal_threshold_percent / 100),
    )


def reproduce_command(options: dict[str, Any], made: plan.Plan) -> list[str]:
    """The full ``bench run`` command for ``options`` (``from_options``'s keywords, as the
    CLI passed them) and the plan they ``made``: what chance or this host chose is spelled
    out (seed, CPUs, the workloads by name or the suite, warmup, margin, alpha), so the
    command gives the same plan on any host with the same workload files
    (``tests/unit/test_reproduce`` proves the round trip)."""
    defaults = inspect.signature(from_options).parameters

    def given(name: str) -> Any:
        value = options.get(name, defaults[name].default)
        return None if value == defaults[name].default else value

    args = ["bench", "run"]
    for directory in options.get("workload_dirs") or ():
        args += ["--workload-dir", str(directory)]
    if options.get("patterns"):
        for workload in made.workloads:
            args += ["-w", workload.name]
    else:  # the suite (and the user's own workload files), in the suite's order
        args += ["--suite", options.get("suite") or ("quick" if made.quick else "standard")]
    for spec in options.get("variants") or ():
        args += ["--variants", spec]
    args += ["--cpus", format_cpus(made.cpus)]
    if options.get("blocks") is not None:
        args += ["--blocks", str(options["blocks"])]
    args += ["--warmup", str(made.warmup), "--seed", str(made.seed),
             "--margin", repr(float(options.get("margin_percent", made.margin * 100))),
             "--alpha", repr(float(made.alpha))]
    for flag in ("quick", "adaptive"):
        if options.get(flag):
            args.append(f"--{flag}")
    for name, flag in (("min_blocks", "--min-blocks"), ("max_blocks", "--max-blocks"),
                       ("budget", "--budget"), ("retake_threshold_percent", "--retake-threshold"),
                       ("steal_threshold_percent", "--steal-threshold")):
        if given(name) is not None:
            args += [flag, str(options[name])]
    if options.get("retake") is False:
        args.append("--no-retake")
    return args


def replay(folder: Path | str) -> plan.Plan:
    """The plan of a saved run, to run again (``--replay``); its CPUs must be online here."""
    loaded = results.load_run(Path(folder))
    saved = plan.Plan.from_dict(loaded.run.get("plan", {}),
                                f"{loaded.folder / results.RUN_FILE}")
    parse_cpus(",".join(map(str, saved.cpus)))  # still online here?
    return saved


def choose_workloads(dirs: list[Path], patterns: list[str], suite: str | None,
                     quick: bool) -> list[Workload]:
    """``--workload`` globs, within ``--suite`` when given; else the suite (quick with
    --quick, standard otherwise), plus every workload of the user's own directories."""
    workloads = load_workloads(dirs)
    user = [w for w in workloads if w.source.startswith(tuple(str(d) for d in dirs))]
    if patterns:
        pool = select_suite(workloads, suite) if suite else workloads
        return select_workloads(pool, patterns)
    chosen = select_suite(workloads, suite or ("quick" if quick else "standard"))
    # A user's own workload files are run too, whatever suite they name.
    chosen += [w for w in user if w not in chosen]
    if not chosen:
        raise UsageError(f"suite '{suite}' has no workloads")
    return chosen


def plan_blocks(blocks: int | None, max_blocks: int | None, adaptive: bool,
                quick: bool) -> int:
    """Blocks of the plan: the fixed count, or the maximum in adaptive mode."""
    if max_blocks is not None and not adaptive:
        raise UsageError("--max-blocks goes with --adaptive (use --blocks otherwise)")
    if adaptive:
        if blocks is not None:
            raise UsageError("--adaptive takes --min-blocks/--max-blocks, not --blocks")
        return max_blocks if max_blocks is not None else plan.ADAPTIVE_MAX_BLOCKS
    if blocks is not None:
        return blocks
    return plan.QUICK_BLOCKS if quick else plan.DEFAULT_BLOCKS


def default_matrix(workloads: list[Workload], fallback: list[Variant]
                   ) -> tuple[list[Variant], dict[str, tuple[str, ...]]]:
    """Each workload's own default variants (its TOML ``variants``, else ``fallback``):
    the union in a stable order, and the per-workload matrix."""
    union: list[Variant] = []
    matrix: dict[str, tuple[str, ...]] = {}
    for workload in workloads:
        own = parse_variants(list(workload.variants)) if workload.variants else fallback
        matrix[workload.name] = tuple(v.id for v in own)
        union.extend(v for v in own if v not in union)
    return union, matrix


def primary_only(variants: list[Variant], matrix: dict[str, tuple[str, ...]]
                 ) -> tuple[list[Variant], dict[str, tuple[str, ...]]]:
    """The quick run's matrix: each workload in ``native`` and ``docker`` only (the
    primary question, ``bench.families``); mechanism variants are for longer runs."""
    keep = ("native", "docker")
    chosen = {name: tuple(v for v in ids if v in keep) for name, ids in matrix.items()}
    chosen = {name: ids for name, ids in chosen.items() if len(ids) == 2}
    if len(chosen) < len(matrix):  # a workload without both: keep its own matrix
        chosen.update({name: ids for name, ids in matrix.items() if name not in chosen})
    used = {v for ids in chosen.values() for v in ids}
    return [v for v in variants if v.id in used], chosen
