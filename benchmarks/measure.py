"""One measurement per asv pass, shared by every tracked value.

asv runs each benchmark in a process of its own. :func:`measure` is the ``setup_cache`` of
every benchmark here (one function, hence one cache key): asv calls it once per pass,
environment and commit, and hands what it returns to each ``track_`` function. It runs the
plan with the library calls ``bench run`` makes (plan -> runner.run -> results.load_run ->
analysis.summarize), so asv tracks exactly what ``bench run`` reports, and the run folder
stays behind for ``bench analyze``.

asv passes the environment through; these variables choose what a pass measures:

- ``BENCH_ASV_WORKLOADS``: comma-separated globs (default: every workload). The others are
  reported as skipped, so that every pass declares the same benchmarks and parameters
  (``asv publish`` shows only what the last pass declared).
- ``BENCH_ASV_WORKLOAD_DIRS``: extra workload directories, separated by ``:``.
- ``BENCH_ASV_VARIANTS``: variants (default: ``bench run``'s, ``native,docker``).
- ``BENCH_ASV_QUICK=1``: as ``bench run --quick`` (short samples, fewer blocks).
- ``BENCH_ASV_BLOCKS``, ``BENCH_ASV_CPUS``, ``BENCH_ASV_SEED``: as ``--blocks``, ``--cpus``,
  ``--seed`` (defaults: ``bench run``'s).
- ``BENCH_ASV_OUT``: directory of the run folders (default: this checkout's ``results/``,
  as ``bench run``).
"""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench import analysis, results, runner
from bench.cpulist import default_cpus, parse_cpus
from bench.plan import DEFAULT_BLOCKS, QUICK_BLOCKS, Plan, make_plan
from bench.variants import DEFAULT_VARIANTS, parse_variants
from bench.workloads import Workload, load_workloads, select_workloads

#: What the tracked values mean. asv publishes only results whose benchmark version is the
#: current one (by default a hash of the benchmark's source), so the version is fixed here
#: and raised only when the meaning of a value changes, not when this code is edited.
VERSION = "1"

#: Added to the samples' own time limits: image check or build, engine, analysis.
SETUP_ALLOWANCE_S = 1800

#: asv runs setup_cache in a temporary directory it deletes afterwards and does not tell
#: benchmarks where asv.conf.json is; this file is in the checkout's benchmarks/.
RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"


def _workloads(environ: Mapping[str, str] = os.environ) -> list[Workload]:
    """Every workload asv knows about (built-in and BENCH_ASV_WORKLOAD_DIRS)."""
    dirs = [Path(d) for d in environ.get("BENCH_ASV_WORKLOAD_DIRS", "").split(":") if d]
    return load_workloads(dirs)


def _plan(workloads: list[Workload], environ: Mapping[str, str] = os.environ) -> Plan:
    """The Plan of one asv pass, from the BENCH_ASV_* variables."""
    patterns = [p.strip() for p in environ.get("BENCH_ASV_WORKLOADS", "").split(",")
                if p.strip()]
    quick = environ.get("BENCH_ASV_QUICK", "") not in ("", "0")
    blocks = environ.get("BENCH_ASV_BLOCKS")
    cpus = environ.get("BENCH_ASV_CPUS")
    seed = environ.get("BENCH_ASV_SEED")
    return make_plan(
        select_workloads(workloads, patterns),
        parse_variants([environ.get("BENCH_ASV_VARIANTS") or DEFAULT_VARIANTS]),
        parse_cpus(cpus) if cpus else default_cpus(),
        blocks=int(blocks) if blocks else (QUICK_BLOCKS if quick else DEFAULT_BLOCKS),
        seed=int(seed) if seed else secrets.randbelow(2**31),
        quick=quick,
    )


ALL_WORKLOADS = _workloads()
PLAN = _plan(ALL_WORKLOADS)
WORKLOADS = [w.name for w in ALL_WORKLOADS]
SELECTED = {w.name for w in PLAN.workloads}
VARIANTS = [v.id for v in PLAN.variants]
COMPARED = [v.id for v in PLAN.variants if v != PLAN.baseline]


def _stop(signum: int, frame: Any) -> None:
    """asv's timeout sends SIGTERM: stop like Ctrl-C so the runner removes its containers."""
    raise KeyboardInterrupt


def measure() -> dict[str, Any]:
    """Run PLAN once; overhead (%) and median metric per (workload, variant), plain data."""
    signal.signal(signal.SIGTERM, _stop)
    out = Path(os.environ.get("BENCH_ASV_OUT") or RESULTS_DIR).resolve()
    outcome = runner.run(PLAN, out, command=["asv", "setup_cache"])
    summary = analysis.summarize(results.load_run(outcome.folder))
    measured: dict[str, Any] = {"folder": str(outcome.folder), "overhead": {},
                                "median": {}, "problems": {}}
    for row in summary.rows:
        key = (row.workload, row.variant)
        if row.median is not None:
            measured["median"][key] = row.median
        if row.comparison is not None:
            # 0.001% is far below any interval; asv prints every digit it is given.
            measured["overhead"][key] = round(row.comparison.overhead * 100, 3)
        problems = [*row.warnings, *summary.warnings]
        measured["problems"][key] = "; ".join(problems) or "no successful sample"
    return measured


measure.timeout = SETUP_ALLOWANCE_S + sum(  # type: ignore[attr-defined]
    w.timeout for w in PLAN.workloads) * (PLAN.blocks + PLAN.warmup) * len(PLAN.variants)


def skip_unselected(measured: dict[str, Any], workload: str, variant: str) -> None:
    """asv's ``setup``: a workload left out by BENCH_ASV_WORKLOADS is skipped, not failed."""
    if workload not in SELECTED:
        raise NotImplementedError(f"{workload} is not selected by BENCH_ASV_WORKLOADS")


def value(measured: dict[str, Any], kind: str, workload: str, variant: str) -> float:
    """One tracked value; a missing one fails the benchmark with the run's own reason."""
    try:
        return measured[kind][(workload, variant)]
    except KeyError:
        reason = measured["problems"].get((workload, variant), "not measured")
        raise RuntimeError(f"{workload} {variant}: no {kind} in {measured['folder']}: "
                           f"{reason}") from None
