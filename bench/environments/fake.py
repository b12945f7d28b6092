"""``fake``: scripted values for deterministic, fast tests (hyperfine's MockExecutor).

The "workload" is not run. Its metric is ``1000 / scale`` (higher-is-better metrics) or
``1000 * scale`` (lower-is-better) times log-normal noise with coefficient of variation
``cv``, drawn from a generator seeded by the run seed, workload, variant and sample
number, so a run through the fake environment is reproducible exactly. ``fail=N`` makes
every N-th sample fail. ``foreign=P``: a share P of the samples is disturbed by foreign
work, 30% more expensive, and reports it as the host metrics would (a foreign share of
30% of the measured CPUs), for the contamination guard.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from typing import Any, ClassVar

import numpy as np

from bench.environments.base import (
    Environment,
    RawResult,
    RunSetup,
    SampleContext,
    finish_sample,
    now,
)
from bench.environments.kind import EnvironmentKind
from bench.errors import UsageError
from bench.results import Sample
from bench.variants import Variant
from bench.workloads import Workload


class FakeEnvironment(Environment):
    """Returns scripted metric values; never starts a process."""

    name = "fake"

    def __init__(self, variant: Variant, seed: int = 0) -> None:
        super().__init__(variant)
        self.seed = seed
        try:
            self.scale = float(variant.setting("scale", "1"))
            self.cv = float(variant.setting("cv", "0.01"))
            self.fail_every = int(variant.setting("fail", "0"))
            self.foreign = float(variant.setting("foreign", "0"))
        except ValueError:
            raise UsageError(f"--variants: '{variant.id}': scale and cv must be numbers, "
                             "fail a whole number") from None
        if not self.scale > 0 or self.cv < 0 or self.fail_every < 0 \
                or not 0 <= self.foreign <= 1:
            raise UsageError(f"--variants: '{variant.id}': need scale > 0, cv >= 0, fail >= 0,"
                             " 0 <= foreign <= 1")

    def execute(self, workload: Workload, ctx: SampleContext) -> Sample:
        key = f"{self.seed}/{workload.name}/{self.variant.id}/{ctx.seq}".encode()
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))
        sigma = math.sqrt(math.log(1 + self.cv**2))
        cost = 1000.0 * self.scale * float(np.exp(rng.normal(-sigma**2 / 2, sigma)))
        disturbed = bool(rng.random() < self.foreign)
        cost *= 1.3 if disturbed else 1.0
        value = 1e6 / cost if workload.metric.better == "higher" else cost
        started_at, _ = now()
        failing = self.fail_every and (ctx.seq + 1) % self.fail_every == 0
        raw = RawResult(
            exit_code=1 if failing else 0,
            stdout="" if failing else f"value: {value!r}\n",
            stderr="scripted failure\n" if failing else "",
            wall_s=0.0,
            started_at=started_at,
            instance=f"fake:{ctx.seq}",
        )
        scripted = Workload(
            name=workload.name, category=workload.category, command=workload.command,
            metric=type(workload.metric)(workload.metric.name, workload.metric.unit,
                                         workload.metric.better, "regex",
                                         {"pattern": r"^value: ([0-9.e+-]+)$"}),
        )
        sample = finish_sample(scripted, self.variant, ctx, raw)
        # The probe did not run: the affinity is the one a real environment would have set.
        host = {"cpu_window_s": 2.0, "measured_cpu_util": 1.0, "steal_fraction": 0.0,
                "noise_fraction": 0.3 if disturbed else 0.0,
                "foreign_fraction": 0.3 if disturbed else 0.0}
        return dataclasses.replace(sample, affinity=list(ctx.cpus),
                                   extra={**sample.extra, "host": host})

    def facts(self) -> dict[str, Any]:
        return {"scripted": True, "scale": self.scale, "cv": self.cv}


class FakeKind(EnvironmentKind):
    """Scripted values for the tests and the statistics' simulations."""

    name = "fake"
    options: ClassVar[dict[str, tuple[str, ...]]] = {
        "scale": (),  # free-form positive number: multiplies the scripted cost
        "cv": (),     # free-form: coefficient of variation of the scripted noise
        "fail": (),   # free-form: fail every n-th sample (n > 0)
        "foreign": (),  # free-form: share of samples that foreign work disturbs (0..1)
    }
    listed = False

    def create(self, variant: Variant, setup: RunSetup) -> Environment:
        return FakeEnvironment(variant, seed=setup.plan.seed)


KIND = FakeKind
