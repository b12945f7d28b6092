"""Executes a Plan: prepares environments, runs the schedule, streams Samples to storage.

Fairness rules enforced here: the same binaries (hashes recorded per environment, a
mismatch is a warning), the same CPUs (every environment pins to ``plan.cpus``; the
harness moves itself off them when the host has spare CPUs), interleaved order (from
``bench.schedule``), everything that can bias a result recorded in run.json.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench import facts, metrics, schedule, signals
from bench.diagnostics import Diagnostic
from bench.environments import registry
from bench.environments.base import Environment, RunSetup, SampleContext
from bench.environments.kind import EnvironmentKind
from bench.errors import UsageError, UserError
from bench.guard import StealLevels
from bench.plan import Plan
from bench.results import RunStore, Sample, load_run
from bench.workloads import Workload


class Reporter(Protocol):
    """What the runner tells its caller (the CLI renders it; tests may record it)."""

    def stage(self, message: str) -> None: ...

    def begin(self, total: int) -> None: ...

    def sample(self, step: schedule.Step, sample: Sample, done: int, total: int) -> None: ...

    def stopped(self, workload: str, reason: str, skipped: int) -> None: ...


class SilentReporter:
    def stage(self, message: str) -> None:
        pass

    def begin(self, total: int) -> None:
        pass

    def sample(self, step: schedule.Step, sample: Sample, done: int, total: int) -> None:
        pass

    def stopped(self, workload: str, reason: str, skipped: int) -> None:
        pass


@dataclass
class RunOutcome:
    """Where the run went and how it ended."""

    folder: Path
    run_id: str
    status: str  # "complete" | "interrupted" | "failed"
    samples: int
    failed: int
    warnings: list[str] = field(default_factory=list)


def binary_warnings(hashes: dict[str, dict[str, dict[str, str]]]) -> list[str]:
    """Same bits: one warning per binary whose sha256 differs between environments."""
    warnings = []
    binaries = sorted({b for per_env in hashes.values() for b in per_env})
    for binary in binaries:
        seen = {env: per_env[binary] for env, per_env in hashes.items() if binary in per_env}
        digests = {info.get("sha256") or f"missing ({info.get('error', 'not hashed')})"
                   for info in seen.values()}
        if len(digests) > 1:
            detail = ", ".join(f"{env}: {(info.get('sha256') or 'missing')[:12]}"
                               for env, info in seen.items())
            warnings.append(str(Diagnostic(
                "binary-mismatch", f"binary '{binary}' differs between environments "
                                   f"({detail}): results compare different programs")))
    return warnings


def _pin_harness(cpus: tuple[int, ...]) -> tuple[set[int], set[int]]:
    """Move this process off the measured CPUs where others exist; returns (old, new)."""
    old = os.sched_getaffinity(0)
    spare = old - set(cpus)
    if spare:
        os.sched_setaffinity(0, spare)
        return old, spare
    return old, old


class EngineLost(UserError):
    """The container engine stopped answering mid-run; completed samples are kept."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the run; everything created was removed."""

    def __init__(self, outcome: RunOutcome) -> None:
        super().__init__()
        self.outcome = outcome


def run(plan: Plan, results_dir: Path, *, reporter: Reporter | None = None,
        command: list[str] | None = None, connect: Callable[[], Any] | None = None,
        run_id: str | None = None, replay_of: str | None = None,
        sampling: metrics.SamplingConfig | None = None,
        fallback: dict[str, Any] | None = None,
        reproduce: list[str] | None = None) -> RunOutcome:
    """Measure ``plan``; every sample reaches ``results_dir/<run-id>/`` as it is taken.
    ``connect``: how the default engine is reached (None: its own way; tests pass one that
    refuses); ``fallback``: why variants were moved to a daemonless environment
    (bench.fallback)."""
    reporter = reporter or SilentReporter()
    store = RunStore.create(results_dir, run_id)
    reporter.stage(f"run {store.run_id} -> {store.folder}")
    run_doc: dict[str, Any] = {
        "status": "preparing",
        "started_at": time.time(),
        "command": command or [],
        # The full command that makes this plan again (bench.planning.reproduce_command).
        "reproduce": reproduce or command or [],
        "replay_of": replay_of,
        "plan": plan.to_dict(),
        "baseline": plan.baseline.id,
        "host": facts.host_facts(),
        "warnings": [],
    }
    if fallback:
        run_doc["fallback"] = fallback
    store.write_run(run_doc)
    return _measure(plan, store, run_doc, schedule.build(plan), reporter, connect,
                    sampling=sampling)


def resume(folder: Path, *, reporter: Reporter | None = None,
           command: list[str] | None = None,
           connect: Callable[[], Any] | None = None) -> RunOutcome:
    """Continue an interrupted or failed run in its own folder: same plan, same seed, the
    samples it lacks, appended to the same samples.jsonl."""
    reporter = reporter or SilentReporter()
    loaded = load_run(folder)
    folder = loaded.folder
    run_doc = loaded.run
    if run_doc.get("status") == "complete":
        raise UsageError(f"{folder}: run is complete; nothing to resume")
    plan = Plan.from_dict(run_doc.get("plan", {}), f"{folder}/run.json")
    done = {s.seq for s in loaded.samples if not s.extra.get("retry_on_resume")}
    steps = [step for step in schedule.build(plan) if step.seq not in done]
    host = facts.host_facts()
    warnings = list(run_doc.get("warnings", [])) + loaded.warnings
    for key in ("hostname", "cpu_model", "kernel"):
        if run_doc.get("host", {}).get(key) != host[key]:
            warnings.append(f"resumed with a different {key}: {run_doc.get('host', {}).get(key)}"
                            f" -> {host[key]}; samples before and after may not compare")
    run_doc["warnings"] = warnings
    run_doc.setdefault("resumes", []).append(
        {"at": time.time(), "samples_before": len(done), "command": command or [],
         "host": host})
    store = RunStore(Path(folder), run_doc.get("run_id", Path(folder).name))
    reporter.stage(f"resuming run {store.run_id}: {len(done)} samples kept, "
                   f"{len(steps)} to take")
    failed = sum(not s.ok for s in loaded.samples if s.seq in done)
    return _measure(plan, store, run_doc, steps, reporter, connect, len(done), failed)


def _stop_reason(plan: Plan, stop_rule: schedule.StopRule | None, step: schedule.Step,
                 blocks_left: int | None, others_active: bool) -> str | None:
    """Why the workload of ``step`` stops after this block, if it does. ``blocks_left``:
    about how many more blocks of it the budget allows (None: no budget);
    ``others_active``: other workloads are still measuring and could use its time."""
    if step.block + 1 >= plan.blocks:
        return None  # the schedule ends here anyway
    if stop_rule is not None and stop_rule.decided(step.workload):
        return "every comparison decided"
    if stop_rule is not None and blocks_left is not None and others_active \
            and stop_rule.futile(step.workload, blocks_left):
        return (f"cannot be decided in the {blocks_left} block(s) the budget leaves "
                "(this host's noise); its time goes to the others")
    return None


def _blocks_left(plan: Plan, budget: _Budget, block_s: dict[str, float], name: str
                 ) -> int | None:
    """At most how many more blocks of workload ``name`` the budget allows: as if it got
    all of the time left (None without a budget). The most it could get, so that only
    a comparison that could not be decided even then is given up."""
    if budget.limit is None or not block_s.get(name):
        return None
    return int(max(0.0, budget.limit - budget.spent) / block_s[name])


class _Budget:
    """The run's measurement budget (``plan.budget_s``): time spent taking samples, from
    the first sample on (set-up before it, image build included, does not count).
    Resumed runs continue from what run.json says was spent."""

    def __init__(self, plan: Plan, spent_before: float) -> None:
        self.limit = plan.budget_s
        self.spent_before = spent_before
        self.started: float | None = None

    def start(self) -> None:
        if self.started is None:
            self.started = time.monotonic()

    @property
    def spent(self) -> float:
        if self.started is None:
            return self.spent_before
        return self.spent_before + time.monotonic() - self.started

    def exhausted(self, next_block_s: float = 0.0) -> bool:
        """No budget left, or not enough for a block expected to take ``next_block_s``
        (stopping before it lands closer to the budget than running over it)."""
        if self.limit is None:
            return False
        return self.spent + next_block_s / 2 >= self.limit


def _resume_paused(queue: list[schedule.Step], paused: dict[str, list[schedule.Step]],
                   stopped: dict[str, Any], budget: _Budget, reporter: Reporter) -> int:
    """Every other workload is done and budget is left: the workloads given up for the
    others measure on, their remaining blocks appended to the queue in schedule order.
    Returns how many steps were resumed (0: none)."""
    if not paused or budget.exhausted():
        return 0
    resumed = 0
    for name, rest in paused.items():
        info = stopped.pop(name)
        reporter.stage(f"{name}: resumed after block {info['after_blocks']}, the others "
                       "are done and budget is left")
        queue.extend(rest)
        resumed += len(rest)
    paused.clear()
    return resumed


def _stop_everything(plan: Plan, rest: list[schedule.Step], stopped: dict[str, Any],
                     budget: _Budget, reporter: Reporter) -> None:
    """The budget is spent: every workload still measuring stops before its next block
    (``rest``: the steps not taken)."""
    reason = f"measurement budget of {plan.budget_s:g} s used"
    for workload in plan.workloads:
        if workload.name in stopped and not stopped[workload.name].get("paused"):
            continue
        later = [s for s in rest if s.workload.name == workload.name]
        if not later:
            continue
        stopped[workload.name] = {"after_blocks": later[0].block, "reason": reason,
                                  "measurement_s": round(budget.spent, 1)}
        reporter.stopped(workload.name, reason, len(later))


def _open_environments(plan: Plan, run_id: str, run_doc: dict[str, Any], reporter: Reporter,
                       connect: Callable[[], Any] | None,
                       envs: dict[str, Environment]
                       ) -> tuple[dict[str, EnvironmentKind], dict[str, Workload]]:
    """Each kind of environment the plan names set up in turn (those that make the image
    first), then one environment per variant (into ``envs``, so that whatever was made is
    torn down), prepared for its workloads. Returns the kinds by name and the workloads as
    they will run (with the image built for any that brings its own recipe)."""
    kinds = registry.kinds({v.env for v in plan.variants})
    for kind in kinds:
        kind.check(plan)
    setup = RunSetup(plan, run_id, run_doc, reporter.stage, connect,
                     warnings=run_doc["warnings"])
    for kind in kinds:
        kind.open(setup)
    setup.ensure_workload_packages()
    by_name = {kind.name: kind for kind in kinds}
    for variant in plan.variants:
        envs[variant.id] = by_name[variant.env].create(variant, setup)
    workloads = [setup.workloads[w.name] for w in plan.workloads]
    for vid, env in envs.items():
        env.prepare([w for w in workloads if vid in {v.id for v in plan.variants_for(w)}])
    return by_name, setup.workloads


def _hash_binaries(plan: Plan, envs: dict[str, Environment],
                   workloads: list[Workload]) -> dict[str, dict[str, dict[str, str]]]:
    """Same bits: each workload binary's sha256 as each kind of environment sees it (the
    same for every variant of a kind), and in the images workloads bring of their own."""
    binaries = sorted({b for w in plan.workloads for b in w.binaries})
    hashes: dict[str, dict[str, dict[str, str]]] = {}
    for variant in plan.variants:
        env = envs[variant.id]
        if variant.env not in hashes:
            hashes[variant.env] = env.binary_hashes(binaries)
        hashes.update(env.own_image_hashes(workloads, set(hashes)))
    return hashes


def _measure(plan: Plan, store: RunStore, run_doc: dict[str, Any], steps: list[schedule.Step],
             reporter: Reporter, connect: Callable[[], Any] | None, taken: int = 0,
             failed: int = 0, sampling: metrics.SamplingConfig | None = None) -> RunOutcome:
    """Prepare environments, take ``steps``, always tear down and record how it ended."""
    envs: dict[str, Environment] = {}
    old_affinity = os.sched_getaffinity(0)
    status = "failed"
    warnings: list[str] = run_doc.setdefault("warnings", [])
    loop: _Loop | None = None
    try:
        kinds, resolved = _open_environments(plan, store.run_id, run_doc, reporter, connect,
                                             envs)
        steps = [dataclasses.replace(s, workload=resolved[s.workload.name]) for s in steps]
        reporter.stage("hashing workload binaries in each environment")
        hashes = _hash_binaries(plan, envs, [resolved[w.name] for w in plan.workloads])
        for warning in binary_warnings(hashes):
            if warning not in warnings:
                warnings.append(warning)
        run_doc["binaries"] = hashes
        run_doc["environments"] = {vid: env.facts() for vid, env in envs.items()}
        old_affinity, harness = _pin_harness(plan.cpus)
        # Clients of two-role workloads run where the harness does (off the measured CPUs).
        client_cpus = tuple(sorted(harness)) if harness - set(plan.cpus) else plan.cpus
        run_doc["client_cpus"] = list(client_cpus)
        run_doc["harness_cpus"] = sorted(harness)
        run_doc["status"] = "running"
        store.write_run(run_doc)
        loop = _Loop(plan, store, run_doc, reporter, envs, kinds, client_cpus, taken, failed,
                     sampling)
        loop.run(steps)
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        if loop is not None:
            taken, failed = loop.taken, loop.failed
        raise Interrupted(RunOutcome(store.folder, store.run_id, status, taken, failed,
                                     warnings)) from None
    finally:
        if loop is not None:
            taken, failed = loop.taken, loop.failed
        with signals.shielded():
            for env in envs.values():
                try:
                    env.teardown()
                except Exception as err:  # cleanup must reach every environment
                    warnings.append(f"cleanup of {env.variant.id} failed: {err}")
            os.sched_setaffinity(0, old_affinity)
            store.close()
            run_doc.update(status=status, finished_at=time.time(), samples=taken,
                           failed_samples=failed, warnings=warnings)
            error = sys.exc_info()[1]
            if error is not None and status == "failed":
                run_doc["error"] = str(error)
            store.write_run(run_doc)
    return RunOutcome(store.folder, store.run_id, status, taken, failed, warnings)


class _Loop:
    """The sampling of one run: the steps in schedule order, each sample re-taken while
    the guard finds it contaminated, each workload stopped once its comparisons are
    decided (adaptive), given up for the others while it cannot be decided in the budget
    left, and everything stopped when the budget is spent. Counts what it took."""

    def __init__(self, plan: Plan, store: RunStore, run_doc: dict[str, Any],
                 reporter: Reporter, envs: dict[str, Environment],
                 kinds: dict[str, EnvironmentKind], client_cpus: tuple[int, ...],
                 taken: int, failed: int, sampling: metrics.SamplingConfig | None) -> None:
        self.plan, self.store, self.run_doc, self.reporter = plan, store, run_doc, reporter
        self.envs, self.kinds, self.client_cpus = envs, kinds, client_cpus
        self.taken, self.failed, self.total = taken, failed, taken
        # Host conditions around each sample; sampling runs on the harness's CPUs.
        self.monitor = metrics.HostMonitor(plan.cpus,
                                           sampling or metrics.SamplingConfig.from_environ())
        self.stop_rule = schedule.StopRule(plan) if plan.adaptive else None
        self.steal = StealLevels()
        for sample in load_run(store.folder).samples if taken else ():
            # Resumed: the data so far counts for the looks and the steal levels.
            if self.stop_rule is not None:
                self.stop_rule.record(sample)
            self.steal.add(sample)
        self.stopped: dict[str, Any] = run_doc.setdefault("stopped", {})
        self.guard: dict[str, Any] = run_doc.setdefault(
            "retakes", {"allowance": plan.retake.run_allowance(
                sum(1 for s in schedule.build(plan) if not s.warmup)),
                "used": 0, "dropped": 0})
        self.budget = _Budget(plan, float(run_doc.get("measurement_s", 0.0)))
        self.block_s: dict[str, float] = {}  # workload -> seconds of its last block
        self.block_start: dict[str, float] = {}
        self.given_back: set[str] = set()  # resumed after a pause: never given up again

    def run(self, steps: list[schedule.Step]) -> None:
        self.total += len(steps)
        self.reporter.begin(self.total)
        queue = list(steps)
        paused: dict[str, list[schedule.Step]] = {}  # given up for the others, for now
        index = 0
        while True:
            if index == len(queue):
                names = set(paused)
                resumed = _resume_paused(queue, paused, self.stopped, self.budget,
                                         self.reporter)
                if not resumed:
                    break
                self.total += resumed
                self.given_back |= names
            step = queue[index]
            index += 1
            name = step.workload.name
            if name in self.stopped:
                if self.stopped[name].get("paused"):
                    paused.setdefault(name, []).append(step)
                continue
            if step.position == 0 and self.budget.exhausted(self.block_s.get(name, 0.0)):
                _stop_everything(self.plan, queue[index - 1:], self.stopped, self.budget,
                                 self.reporter)
                self.store.write_run(self.run_doc)
                break
            self.budget.start()
            self.block_start.setdefault(name, time.monotonic())
            sample = self.take(step)
            if self.stop_rule is not None:
                self.stop_rule.record(sample)
            self.run_doc["measurement_s"] = round(self.budget.spent, 3)
            if step.position == len(self.plan.variants_for(step.workload)) - 1:
                self.end_block(step, steps)

    def take(self, step: schedule.Step) -> Sample:
        """One sample of ``step``, re-taken while contaminated (within the allowances);
        every attempt is kept in samples.jsonl. EngineLost when the environment's service
        stopped answering."""
        plan, guard = self.plan, self.guard
        for attempt in range(1, plan.retake.max_attempts + 1):
            ctx = SampleContext(self.store.run_id, step.seq, step.block, step.position,
                                step.warmup, plan.cpus, plan.quick, self.monitor.config,
                                self.client_cpus)
            sample = self.monitor.measure(self.envs[step.variant.id].execute, step.workload,
                                          ctx)
            self.run_doc["sampler"] = self.monitor.cost()
            kind = self.kinds[step.variant.env]
            lost = None if sample.ok else kind.lost()
            if lost is not None:
                # Recorded as failed with its reason; --resume takes it again.
                sample = dataclasses.replace(
                    sample, extra={**sample.extra, "retry_on_resume": True})
                with signals.deferred():
                    self.store.append(sample)
                    self.failed += 1
                raise EngineLost(
                    f"{lost} during the run ({self.taken} samples kept in "
                    f"{self.store.folder}); {kind.restart_hint} and continue with "
                    f"'bench run --resume {self.store.folder}'")
            reason = plan.retake.reason(sample, self.steal.level(step.workload.name))
            self.steal.add(sample)
            retake = (reason is not None and attempt < plan.retake.max_attempts
                      and guard["used"] < guard["allowance"])
            if reason is not None:
                sample = dataclasses.replace(sample, extra={
                    **sample.extra, "contaminated": {**reason, "attempt": attempt,
                                                     "retaken": retake}})
            with signals.deferred():  # run.json's count must match samples.jsonl
                self.store.append(sample)
                self.taken += 1
                self.failed += not sample.ok
                if retake:
                    guard["used"] += 1
                    self.total += 1
                elif reason is not None:
                    guard["dropped"] += 1
            self.reporter.sample(step, sample, self.taken, self.total)
            if not retake:
                break
        return sample

    def end_block(self, step: schedule.Step, steps: list[schedule.Step]) -> None:
        """The last variant of a block was taken: stop its workload here if it is decided
        or, while others still measure, cannot be decided in the budget left."""
        name = step.workload.name
        self.block_s[name] = time.monotonic() - self.block_start.pop(name)
        others = name not in self.given_back and any(
            w.name not in self.stopped and w.name != name for w in self.plan.workloads)
        reason = None if step.warmup else _stop_reason(
            self.plan, self.stop_rule, step,
            _blocks_left(self.plan, self.budget, self.block_s, name), others)
        if not reason:
            return
        self.stopped[name] = {"after_blocks": step.block + 1, "reason": reason,
                              **({"paused": True} if reason.startswith("cannot") else {})}
        left = sum(1 for s in steps if s.workload.name == name and s.seq > step.seq)
        self.total -= left
        self.reporter.stopped(name, reason, left)
        self.store.write_run(self.run_doc)
