"""A second container runtime, added as a new one would be: this module and one registry
entry (tests/unit/test_registry.py registers it). Its samples are scripted, as the fake
environment's, so that the runner, the analysis, clean and doctor can be driven without
a real runtime."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from bench.environments.base import SampleContext
from bench.environments.fake import FakeEnvironment
from bench.environments.kind import EnvironmentKind
from bench.health import Check
from bench.results import Sample
from bench.variants import Variant
from bench.workloads import Workload

#: What the kind was asked to do, in order (the test reads it).
EVENTS: list[str] = []
#: Set by the test: the runtime's service is gone, every sample fails.
GONE: list[bool] = [False]


class ToyEnvironment(FakeEnvironment):
    name = "toyrt"

    def __init__(self, variant: Variant, seed: int) -> None:
        # The scripted cost of the fake environment, 10% slower with speed=slow.
        scale = "1.1" if variant.setting("speed") == "slow" else "1"
        super().__init__(Variant("fake", (("scale", scale),)), seed=seed)
        self.variant = variant

    def execute(self, workload: Workload, ctx: SampleContext) -> Sample:
        sample = super().execute(workload, ctx)
        if GONE[0]:
            return dataclasses.replace(sample, status="failed", value=None,
                                       error="toy runtime: connection refused")
        return sample


class ToyRuntimeKind(EnvironmentKind):
    name = "toyrt"
    options: ClassVar[dict[str, tuple[str, ...]]] = {"speed": ("normal", "slow"),
                                                     "label": ()}
    order = 25
    restart_hint = "restart it (toyrt-up)"

    def check(self, plan: Any) -> None:
        EVENTS.append("check")

    def open(self, setup: Any) -> None:
        EVENTS.append("open")
        setup.doc["toyrt"] = {"version": "0.1"}

    def create(self, variant: Variant, setup: Any) -> ToyEnvironment:
        EVENTS.append(f"create {variant.id}")
        return ToyEnvironment(variant, seed=setup.plan.seed)

    def lost(self) -> str | None:
        return "the toy runtime stopped answering" if GONE[0] else None

    def clean(self, run_id: str | None = None, images: bool = False) -> list[str]:
        EVENTS.append(f"clean {run_id}")
        return [f"removed toy container bench-{run_id}-0"]

    def doctor(self) -> list[Check]:
        return [Check("toyrt", "ok", "toy runtime 0.1 answers")]


KIND = ToyRuntimeKind
