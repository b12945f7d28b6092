"""Executes a Plan: prepares environments, runs the schedule, streams Samples to storage.

Fairness rules enforced here: the same binaries (hashes recorded per environment, a
mismatch is a warning), the same CPUs (every environment pins to ``plan.cpus``; the
harness moves itself off them when the host has spare CPUs), interleaved order (from
``bench.schedule``), everything that can bias a result recorded in run.json.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench import engine, environments, facts, image, schedule
from bench.environments.base import SampleContext
from bench.results import RunStore, Sample
from bench.suite import Plan


class Reporter(Protocol):
    """What the runner tells its caller (the CLI renders it; tests may record it)."""

    def stage(self, message: str) -> None: ...

    def begin(self, total: int) -> None: ...

    def sample(self, step: schedule.Step, sample: Sample, done: int, total: int) -> None: ...


class SilentReporter:
    def stage(self, message: str) -> None:
        pass

    def begin(self, total: int) -> None:
        pass

    def sample(self, step: schedule.Step, sample: Sample, done: int, total: int) -> None:
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
        seen = {env: per_env.get(binary, {}) for env, per_env in hashes.items()}
        digests = {info.get("sha256") or f"missing ({info.get('error', 'not hashed')})"
                   for info in seen.values()}
        if len(digests) > 1:
            detail = ", ".join(f"{env}: {(info.get('sha256') or 'missing')[:12]}"
                               for env, info in seen.items())
            warnings.append(f"binary '{binary}' differs between environments ({detail}); "
                            "results compare different programs: rebuild the image with "
                            "'bench image build --rebuild'")
    return warnings


def _pin_harness(cpus: tuple[int, ...]) -> tuple[set[int], set[int]]:
    """Move this process off the measured CPUs where others exist; returns (old, new)."""
    old = os.sched_getaffinity(0)
    spare = old - set(cpus)
    if spare:
        os.sched_setaffinity(0, spare)
        return old, spare
    return old, old


def run(plan: Plan, results_dir: Path, *, reporter: Reporter | None = None,
        command: list[str] | None = None, connect: Callable[[], Any] = engine.connect,
        run_id: str | None = None, replay_of: str | None = None) -> RunOutcome:
    """Measure ``plan``; every sample reaches ``results_dir/<run-id>/`` as it is taken."""
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
    }
    store.write_run(run_doc)

    envs: dict[str, environments.Environment] = {}
    old_affinity = os.sched_getaffinity(0)
    status, warnings, taken, failed = "failed", [], 0, 0
    try:
        client, image_tag = None, None
        if any(v.env == "docker" for v in plan.variants):
            reporter.stage("connecting to the Docker engine")
            client = connect()
            run_doc["engine"] = engine.engine_facts(client)
            packages = sorted({p for w in plan.workloads for p in w.packages})
            recipe, built = image.ensure_image(client, packages, progress=reporter.stage)
            image_tag = recipe.tag
            reporter.stage(f"image {image_tag} {'built' if built else 'present (cached)'}")
            run_doc["image"] = recipe.to_dict()
        for variant in plan.variants:
            envs[variant.id] = environments.create(variant, run_id=store.run_id, seed=plan.seed,
                                                   client=client, image=image_tag)
        workloads = list(plan.workloads)
        for env in envs.values():
            env.prepare(workloads)
        reporter.stage("hashing workload binaries in each environment")
        binaries = sorted({b for w in plan.workloads for b in w.binaries})
        hashes: dict[str, dict[str, dict[str, str]]] = {}
        for variant in plan.variants:
            if variant.env not in hashes:  # same binaries for every variant of an env
                hashes[variant.env] = envs[variant.id].binary_hashes(binaries)
        warnings.extend(binary_warnings(hashes))
        run_doc["binaries"] = hashes
        run_doc["environments"] = {vid: env.facts() for vid, env in envs.items()}
        old_affinity, harness = _pin_harness(plan.cpus)
        run_doc["harness_cpus"] = sorted(harness)
        run_doc["warnings"] = warnings
        run_doc["status"] = "running"
        store.write_run(run_doc)

        steps = schedule.build(plan)
        reporter.begin(len(steps))
        for done, step in enumerate(steps, start=1):
            ctx = SampleContext(store.run_id, step.seq, step.block, step.position, step.warmup,
                                plan.cpus, plan.quick)
            sample = envs[step.variant.id].execute(step.workload, ctx)
            store.append(sample)
            taken += 1
            failed += not sample.ok
            reporter.sample(step, sample, done, len(steps))
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        for env in envs.values():
            try:
                env.teardown()
            except Exception as err:  # cleanup must reach every environment
                warnings.append(f"cleanup of {env.variant.id} failed: {err}")
        os.sched_setaffinity(0, old_affinity)
        store.close()
        run_doc.update(status=status, finished_at=time.time(), samples=taken,
                       failed_samples=failed, warnings=warnings)
        if sys.exc_info()[0] is not None and status == "failed":
            run_doc["error"] = str(sys.exc_info()[1])
        store.write_run(run_doc)
    return RunOutcome(store.folder, store.run_id, status, taken, failed, warnings)
