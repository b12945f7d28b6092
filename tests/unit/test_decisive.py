"""The whole decision loop by seeded simulation (METHOD §4, §5, §10): the retake rule, the
allocation of blocks to undecided workloads under a budget, and the families, together.

Each replication is one virtual quick run through the product's own pieces: the plan
(``plan.make_plan``), the schedule in rounds (``schedule.build``), the stop rule
(``schedule.StopRule``), the contamination guard (``RetakeRule.reason``), a budget in
samples, and the final analysis (``analysis.summarize`` on the samples in memory). Only the
measurement is simulated:

- four workloads, each with its primary comparison (``fake[scale=..]``, playing docker)
  and two with a mechanism variant: families of 4 and 2;
- log-normal noise (CV 0.6-3% per workload) plus a per-block effect shared by the block's
  samples (pairs out), as on a host whose noise drifts;
- foreign work: 8% of samples are disturbed, cost 10-40% more and report a foreign share
  above the threshold (the guard must catch them), 5% are disturbed below the threshold
  (cost up to 1.5% more, uncaught: the guard cannot see them and must not need to);
- the budget: 24 rounds' worth of samples at most, spent where comparisons are undecided;
  a workload that could not be decided in what the budget leaves is given up (the runner's
  futility stop), its time going to the others.

Claims, each against alpha plus two Monte-Carlo standard errors (printed):
- A/A: no comparison has a true effect; any "overhead"/"faster" is false, and the rate
  of runs with any false claim is <= alpha;
- true effect equal to the margin on every comparison: any "equivalent" is false;
- with the guard off, the same runs do worse (shown and asserted: the guard is what keeps
  the caught contamination out).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from bench import analysis, guard, schedule
from bench.plan import QUICK_MAX_BLOCKS, QUICK_MIN_BLOCKS, Plan, make_plan
from bench.results import LoadedRun, Sample
from bench.variants import parse_variants
from tests.conftest import fake_workload

ALPHA = 0.05
MARGIN = 0.02
WORKLOADS = ("cpu.a", "memory.b", "syscalls.c", "disk.d")
MECHANISMS = {"syscalls.c", "disk.d"}
ROUNDS_BUDGET = 24  # blocks of every workload the budget would buy
RULE = guard.RetakeRule()


def _plan(seed: int, retake: bool) -> Plan:
    variants = parse_variants(["fake,docker,fake[cv=0.02]"])
    matrix = {w: ("fake", "docker", "fake[cv=0.02]") if w in MECHANISMS else ("fake", "docker")
              for w in WORKLOADS}
    return make_plan([fake_workload(w) for w in WORKLOADS], variants, (1,),
                     blocks=QUICK_MAX_BLOCKS, warmup=0, seed=seed, adaptive=True,
                     min_blocks=QUICK_MIN_BLOCKS, margin=MARGIN, alpha=ALPHA,
                     matrix=matrix, retake=guard.RetakeRule(enabled=retake))


def virtual_run(seed: int, effect: float, retake: bool = True) -> analysis.Summary:
    """One quick run through the product's schedule, stop rule, guard and analysis."""
    rng = np.random.default_rng(seed)
    plan = _plan(seed, retake)
    cv = {w: rng.uniform(0.006, 0.03) for w in WORKLOADS}
    block_effect: dict[tuple[str, int], float] = {}
    stop = schedule.StopRule(plan)
    samples: list[Sample] = []
    stopped: set[str] = set()
    allowance = plan.retake.run_allowance(len(schedule.build(plan)))
    budget = ROUNDS_BUDGET * sum(len(plan.variants_for(w)) for w in plan.workloads)
    spent = 0
    for step in schedule.build(plan):
        name = step.workload.name
        if name in stopped:
            continue
        if step.position == 0 and spent >= budget:
            break
        key = (name, step.block)
        if key not in block_effect:
            block_effect[key] = rng.normal(0, 2 * cv[name])
        for attempt in range(1, plan.retake.max_attempts + 1):
            spent += 1
            log_cost = block_effect[key] + rng.normal(0, cv[name])
            if step.variant.id != "fake":
                log_cost += math.log1p(effect)
            u = rng.random()
            foreign = rng.uniform(0.0, 0.02)
            if u < 0.08:  # caught: well above the threshold
                log_cost += math.log1p(rng.uniform(0.10, 0.40))
                foreign = rng.uniform(0.10, 0.5)
            elif u < 0.13:  # below the threshold: small, and invisible to the guard
                log_cost += math.log1p(rng.uniform(0.0, 0.015))
                foreign = rng.uniform(0.02, RULE.foreign_threshold)
            sample = Sample("sim", step.seq, name, step.variant.id, "fake", step.block,
                            step.position, False, "ok", 1000.0 / math.exp(log_cost), "ops/s",
                            extra={"host": {"cpu_window_s": 2.0, "foreign_fraction": foreign,
                                            "steal_fraction": 0.0}})
            reason = plan.retake.reason(sample)
            again = reason is not None and attempt < plan.retake.max_attempts and allowance > 0
            if reason is not None:
                sample = Sample(**{**sample.to_dict(), "extra": {
                    **sample.extra, "contaminated": {**reason, "attempt": attempt}}})
            samples.append(sample)
            if not again:
                break
            allowance -= 1
        stop.record(sample)
        if step.position == len(plan.variants_for(name)) - 1:
            per_block = len(plan.variants_for(name))
            others = any(w not in stopped and w != name for w in WORKLOADS)
            if stop.decided(step.workload) or (
                    others and stop.futile(step.workload, (budget - spent) // per_block)):
                stopped.add(name)  # as the runner: decided, or given up for the others
    run = {"run_id": "sim", "status": "complete", "plan": plan.to_dict(),
           "baseline": "fake"}
    return analysis.summarize(LoadedRun(Path("sim"), run, samples))


def _rate(label: str, k: int, n: int) -> tuple[float, float, str]:
    p = k / n
    se = math.sqrt(max(p * (1 - p), 1e-12) / n)
    return p, se, f"{label}: {k}/{n} = {p:.2%} (Monte-Carlo SE {se:.2%})"


def _bound(p: float, n: int) -> float:
    """alpha plus two Monte-Carlo standard errors at alpha."""
    return p + 2 * math.sqrt(p * (1 - p) / n)


def _aa(retake: bool, n: int) -> tuple[float, int, str]:
    start = time.perf_counter()
    any_false = decided = comparisons = blocks = 0
    for seed in range(n):
        summary = virtual_run(10_000 + seed, effect=0.0, retake=retake)
        rows = [r for r in summary.rows if r.comparison is not None]
        any_false += any(r.comparison.verdict in ("overhead", "faster") for r in rows)
        decided += sum(r.comparison.decided for r in rows)
        comparisons += len(rows)
        blocks += sum(r.comparison.n_blocks for r in rows)
    p, _, text = _rate(f"A/A, guard {'on' if retake else 'off'}: runs with a false claim",
                       any_false, n)
    text += (f"; decided {decided}/{comparisons}, mean blocks {blocks / comparisons:.1f} "
             f"[{time.perf_counter() - start:.0f}s]")
    print(text)
    return p, decided, text


def test_aa_false_claims_with_guard_allocation_and_families() -> None:
    n = 1500
    p, decided, text = _aa(True, n)
    assert p <= _bound(ALPHA, n), text
    # The same runs without the guard: the caught contamination stays in the estimates.
    _, decided_off, text_off = _aa(False, 400)
    decided_off *= n / 400
    assert decided > decided_off, f"{text} / {text_off}"


def test_false_equivalence_at_the_margin_with_guard_allocation_and_families() -> None:
    start = time.perf_counter()
    n = 1500
    false_equivalent = 0
    for seed in range(n):
        summary = virtual_run(20_000 + seed, effect=MARGIN)
        rows = [r for r in summary.rows if r.comparison is not None]
        false_equivalent += any(r.comparison.verdict == "equivalent" for r in rows)
    p, _, text = _rate("true effect = margin: runs with a false 'equivalent'",
                        false_equivalent, n)
    print(f"{text} [{time.perf_counter() - start:.0f}s]")
    assert p <= _bound(ALPHA, n), text
