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

from bench import engine, environments, facts, image, metrics, schedule, signals
from bench.diagnostics import Diagnostic
from bench.environments.base import SampleContext
from bench.errors import UsageError, UserError
from bench.guard import StealLevels
from bench.plan import Plan
from bench.results import RunStore, Sample, load_run
from bench.workloads import Workload, image_packages


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
        command: list[str] | None = None, connect: Callable[[], Any] = engine.connect,
        run_id: str | None = None, replay_of: str | None = None,
        sampling: metrics.SamplingConfig | None = None,
        fallback: dict[str, Any] | None = None) -> RunOutcome:
    """Measure ``plan``; every sample reaches ``results_dir/<run-id>/`` as it is taken.
    ``fallback``: why the docker variants were replaced by oci ones (bench.fallback)."""
    reporter = reporter or SilentReporter()
    store = RunStore.create(results_dir, run_id)
    reporter.stage(f"run {store.run_id} -> {store.folder}")
    run_doc: dict[str, Any] = {
        "status": "preparing",
        "started_at": time.time(),
        "command": command or [],
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
           connect: Callable[[], Any] = engine.connect) -> RunOutcome:
    """Continue an interrupted or failed run in its own folder: same plan, same seed, the
    samples it lacks, appended to the same samples.jsonl."""
    reporter = reporter or SilentReporter()
    loaded = load_run(folder)
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


def _build_user_images(plan: Plan, client: Any, base: str, run_doc: dict[str, Any],
                       reporter: Reporter) -> dict[str, Workload]:
    """Workloads with a ``dockerfile``, with ``image`` set to the image built for them
    FROM the benchmark image; the tags go into run.json (``user_images``)."""
    built: dict[str, Workload] = {}
    for workload in plan.workloads:
        if not workload.dockerfile:
            continue
        if any(v.env == "podman" for v in plan.variants_for(workload)):
            raise UsageError(f"{workload.source}: key 'dockerfile': podman variants need the "
                             "image in podman's store; build it there and give 'image' instead")
        reporter.stage(f"image of {workload.name} from {workload.dockerfile}")
        tag = image.build_user_image(client, Path(workload.dockerfile), base, reporter.stage)
        built[workload.name] = dataclasses.replace(workload, image=tag)
        run_doc.setdefault("user_images", {})[workload.name] = {
            "dockerfile": workload.dockerfile, "tag": tag, "from": base}
    return built


def _engine_answers(client: Any) -> bool:
    try:
        client.ping()
    except Exception:  # any failure to answer means the engine is gone
        return False
    return True


def _measure(plan: Plan, store: RunStore, run_doc: dict[str, Any], steps: list[schedule.Step],
             reporter: Reporter, connect: Callable[[], Any], taken: int = 0,
             failed: int = 0, sampling: metrics.SamplingConfig | None = None) -> RunOutcome:
    """Prepare environments, take ``steps``, always tear down and record how it ended."""
    envs: dict[str, environments.Environment] = {}
    old_affinity = os.sched_getaffinity(0)
    status = "failed"
    warnings: list[str] = run_doc.setdefault("warnings", [])
    client = None
    try:
        image_tag = recipe = None
        resolved: dict[str, Workload] = {}  # workloads with the image built for them
        if any(v.env == "docker" for v in plan.variants):
            reporter.stage("connecting to the Docker engine")
            client = connect()
            run_doc["engine"] = engine.engine_facts(client)
            # A resumed run may find containers of its own from before an engine restart.
            engine.remove_leftovers(client, store.run_id)
            packages = image_packages(plan.workloads)
            recipe, built = image.ensure_image(client, packages, progress=reporter.stage)
            image_tag = recipe.tag
            reporter.stage(f"image {image_tag} {'built' if built else 'present (cached)'}")
            if run_doc.get("image", {}).get("tag", image_tag) != image_tag:
                warnings.append(f"image changed on resume: {run_doc['image']['tag']} -> "
                                f"{image_tag}")
            run_doc["image"] = recipe.to_dict()
            resolved = _build_user_images(plan, client, image_tag, run_doc, reporter)
            steps = [dataclasses.replace(s, workload=resolved.get(s.workload.name, s.workload))
                     for s in steps]
        workloads = [resolved.get(w.name, w) for w in plan.workloads]
        if recipe is None:  # native only: the workloads' own packages, as for an image
            image.ensure_host_packages(sorted({p for w in plan.workloads for p in w.packages}),
                                       reporter.stage)
        podman_client = podman_tag = None
        if any(v.env in ("oci", "podman") for v in plan.variants):
            if recipe is None:
                packages = image_packages(plan.workloads)
                image.ensure_host_packages(packages, reporter.stage)
                recipe = image.recipe_for(packages)
                run_doc["image"] = recipe.to_dict()
            if any(v.env == "oci" for v in plan.variants):
                reporter.stage("root filesystem of the image for the oci variants")
                root = image.ensure_rootfs(recipe, client, progress=reporter.stage)
                run_doc["oci"] = {"root_filesystem": str(root), "tag": recipe.tag}
                from bench.environments import oci

                oci.remove_leftovers(store.run_id)  # a resumed run's, after a hard kill
            if any(v.env == "podman" for v in plan.variants):
                from bench.environments import podman

                reporter.stage("connecting to podman")
                podman_client = podman.connect()
                run_doc["podman"] = podman.engine_facts(podman_client)
                engine.remove_leftovers(podman_client, store.run_id)
                podman_tag = podman.ensure_image(podman_client, recipe, reporter.stage,
                                                 docker_client=client)
        for variant in plan.variants:
            envs[variant.id] = environments.create(
                variant, run_id=store.run_id, seed=plan.seed, client=client, image=image_tag,
                recipe=recipe, podman_client=podman_client, podman_image=podman_tag)
        for vid, env in envs.items():
            env.prepare([w for w in workloads if vid in {v.id for v in plan.variants_for(w)}])
        reporter.stage("hashing workload binaries in each environment")
        binaries = sorted({b for w in plan.workloads for b in w.binaries})
        hashes: dict[str, dict[str, dict[str, str]]] = {}
        for variant in plan.variants:
            if variant.env not in hashes:  # same binaries for every variant of an env
                hashes[variant.env] = envs[variant.id].binary_hashes(binaries)
            if variant.env == "docker":  # workloads that bring their own image
                for workload in workloads:
                    key = f"docker:{workload.image}"
                    if workload.image and key not in hashes:
                        hashes[key] = envs[variant.id].binary_hashes(  # type: ignore[call-arg]
                            list(workload.binaries), image=workload.image)
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

        total = taken + len(steps)
        reporter.begin(total)
        # Host conditions around each sample; sampling runs on the harness's CPUs.
        monitor = metrics.HostMonitor(plan.cpus, sampling or metrics.SamplingConfig.from_environ())
        stop_rule = schedule.StopRule(plan) if plan.adaptive else None
        if stop_rule is not None:
            for sample in load_run(store.folder).samples:  # resumed: data so far counts
                stop_rule.record(sample)
        stopped: dict[str, Any] = run_doc.setdefault("stopped", {})
        guard: dict[str, Any] = run_doc.setdefault(
            "retakes", {"allowance": plan.retake.run_allowance(
                sum(1 for s in schedule.build(plan) if not s.warmup)),
                "used": 0, "dropped": 0})
        budget = _Budget(plan, float(run_doc.get("measurement_s", 0.0)))
        steal = StealLevels()
        if taken:  # resumed: the workloads' steal so far counts
            for sample in load_run(store.folder).samples:
                steal.add(sample)
        block_s: dict[str, float] = {}  # workload -> seconds of its last block
        block_start: dict[str, float] = {}
        lost_engines = {"docker": client, "podman": podman_client}
        queue = list(steps)
        paused: dict[str, list[schedule.Step]] = {}  # given up for the others, for now
        given_back: set[str] = set()
        index = 0
        while True:
            if index == len(queue):
                names = set(paused)
                resumed = _resume_paused(queue, paused, stopped, budget, reporter)
                if not resumed:
                    break
                total += resumed
                given_back |= names  # measured to the end now, never given up again
            step = queue[index]
            index += 1
            if step.workload.name in stopped:
                if stopped[step.workload.name].get("paused"):
                    paused.setdefault(step.workload.name, []).append(step)
                continue
            if step.position == 0 and budget.exhausted(block_s.get(step.workload.name, 0.0)):
                _stop_everything(plan, queue[index - 1:], stopped, budget, reporter)
                store.write_run(run_doc)
                break
            budget.start()
            block_start.setdefault(step.workload.name, time.monotonic())
            for attempt in range(1, plan.retake.max_attempts + 1):
                ctx = SampleContext(store.run_id, step.seq, step.block, step.position,
                                    step.warmup, plan.cpus, plan.quick, monitor.config,
                                    client_cpus)
                sample = monitor.measure(envs[step.variant.id].execute, step.workload, ctx)
                run_doc["sampler"] = monitor.cost()
                lost = lost_engines.get(step.variant.env)
                if not sample.ok and lost is not None and not _engine_answers(lost):
                    # Recorded as failed with its reason; --resume takes it again.
                    sample = dataclasses.replace(
                        sample, extra={**sample.extra, "retry_on_resume": True})
                    with signals.deferred():
                        store.append(sample)
                        failed += 1
                    which, script = (("Docker engine", "engine-up.sh") if step.variant.env
                                     == "docker" else ("podman service", "podman-up.sh"))
                    raise EngineLost(
                        f"the {which} stopped answering during the run ({taken} samples "
                        f"kept in {store.folder}); restart it (scripts/{script}) and "
                        f"continue with 'bench run --resume {store.folder}'")
                reason = plan.retake.reason(sample, steal.level(step.workload.name))
                steal.add(sample)
                retake = (reason is not None and attempt < plan.retake.max_attempts
                          and guard["used"] < guard["allowance"])
                if reason is not None:
                    sample = dataclasses.replace(sample, extra={
                        **sample.extra, "contaminated": {**reason, "attempt": attempt,
                                                         "retaken": retake}})
                with signals.deferred():  # run.json's count must match samples.jsonl
                    store.append(sample)
                    taken += 1
                    failed += not sample.ok
                    if retake:
                        guard["used"] += 1
                        total += 1
                    elif reason is not None:
                        guard["dropped"] += 1
                reporter.sample(step, sample, taken, total)
                if not retake:
                    break
            if stop_rule is not None:
                stop_rule.record(sample)
            run_doc["measurement_s"] = round(budget.spent, 3)
            if step.position == len(plan.variants_for(step.workload)) - 1:
                block_s[step.workload.name] = time.monotonic() - block_start.pop(
                    step.workload.name)
                others = step.workload.name not in given_back and any(
                    w.name not in stopped and w.name != step.workload.name
                    for w in plan.workloads)
                reason_text = None if step.warmup else _stop_reason(
                    plan, stop_rule, step,
                    _blocks_left(plan, budget, block_s, step.workload.name), others)
                if reason_text:
                    stopped[step.workload.name] = {
                        "after_blocks": step.block + 1, "reason": reason_text,
                        **({"paused": True} if reason_text.startswith("cannot") else {})}
                    left = sum(1 for s in steps if s.workload.name == step.workload.name
                               and s.seq > step.seq)
                    total -= left
                    reporter.stopped(step.workload.name, reason_text, left)
                    store.write_run(run_doc)
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise Interrupted(RunOutcome(store.folder, store.run_id, status, taken, failed,
                                     warnings)) from None
    finally:
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
