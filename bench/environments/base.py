"""The one interface every environment implements, and what they share.

An environment runs one sample of a workload and returns a :class:`~bench.results.Sample`.
Native is just another environment (asv's "existing" case). The measured side stays small
and separate (pyperf's worker): the workload is the tool itself, started through a
three-line POSIX shell probe that records the CPU affinity of the very process that then
``exec``\\ s the tool, so the affinity is read from inside the workload's own process.
"""

from __future__ import annotations

import hashlib
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from bench import cpulist, image, parsers
from bench.metrics import SamplingConfig
from bench.results import Sample
from bench.variants import Variant
from bench.workloads import Workload, image_packages

if TYPE_CHECKING:
    from bench.plan import Plan

#: Identical in every environment (fairness rule 3, Mytkowicz et al. 2009): same variables,
#: same working directory, same argument list.
WORKLOAD_ENV: dict[str, str] = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
}
WORKDIR = "/tmp"

#: Prints the affinity and memory binding of its own PID (allowed CPUs, allowed memory
#: nodes, the memory policy of its first mapping), then execs the workload in that PID.
PROBE_SCRIPT = (
    'printf "bench-probe cpus=%s mems=%s policy=%s\\n" '
    '"$(sed -n "s/^Cpus_allowed_list:[[:space:]]*//p" /proc/$$/status)" '
    '"$(sed -n "s/^Mems_allowed_list:[[:space:]]*//p" /proc/$$/status)" '
    '"$(sed -n "1s/^[^ ]* \\([^ ]*\\).*/\\1/p" /proc/$$/numa_maps 2>/dev/null)" >&2; '
    'exec "$@"'
)
_PROBE_LINE = re.compile(r"^bench-probe cpus=(\S*)(?: mems=(\S*))?(?: policy=(\S*))?[ \t]*\n?",
                         re.MULTILINE)
_TAIL = 2000


def wrap(argv: list[str]) -> list[str]:
    """The workload's argv behind the affinity probe."""
    return ["/bin/sh", "-c", PROBE_SCRIPT, "bench-probe", *argv]


@dataclass(frozen=True)
class SampleContext:
    """Where one sample sits in the run."""

    run_id: str
    seq: int
    block: int
    position: int
    warmup: bool
    cpus: tuple[int, ...]
    quick: bool
    #: How the running sample is polled for resource metrics (bench.metrics).
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    #: Where the client of a two-role workload runs (the harness CPUs; empty: ``cpus``).
    client_cpus: tuple[int, ...] = ()


@dataclass(frozen=True)
class RawResult:
    """What an environment saw of one execution, before the metric is read."""

    exit_code: int | None
    stdout: str
    stderr: str
    wall_s: float
    started_at: float
    instance: str
    error: str | None = None
    #: Resource metrics of the execution (``{"metrics": ..., "host": ...}``, bench.metrics).
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def not_started(cls, error: str, started_at: float | None = None) -> RawResult:
        """An execution that never began (its program, container or data directory
        could not be made): nothing ran, ``error`` says why."""
        return cls(None, "", "", 0.0, time.time() if started_at is None else started_at, "",
                   error)


def finish_sample(workload: Workload, variant: Variant, ctx: SampleContext,
                  raw: RawResult, extra: dict[str, Any] | None = None) -> Sample:
    """Turn a raw execution into a Sample: affinity from the probe, metric from the parser."""
    stderr = raw.stderr
    affinity: list[int] | None = None
    match = _PROBE_LINE.search(stderr)
    seen: dict[str, Any] = {}
    if match:
        affinity = cpulist.parse(match.group(1))
        if match.group(2):
            seen["numa"] = {"mems_allowed": cpulist.parse(match.group(2)),
                            "policy": match.group(3) or "unknown"}
        stderr = stderr[: match.start()] + stderr[match.end():]
    error = raw.error
    value: float | None = None
    if error is None and raw.exit_code != 0:
        error = f"exit code {raw.exit_code}: {_last_line(stderr) or _last_line(raw.stdout)}"
    if error is None:
        try:
            if workload.metric.parser == parsers.WALL_TIME:
                value = raw.wall_s
            else:
                value = parsers.parse(workload.metric.parser, raw.stdout + "\n" + stderr,
                                      workload.metric.options)
        except parsers.ParseError as err:
            error = f"output did not parse: {err}"
    failed = error is not None
    return Sample(
        run_id=ctx.run_id,
        seq=ctx.seq,
        workload=workload.name,
        variant=variant.id,
        env=variant.env,
        block=ctx.block,
        position=ctx.position,
        warmup=ctx.warmup,
        status="failed" if failed else "ok",
        value=value,
        unit=workload.metric.unit,
        error=error,
        requested_cpus=list(ctx.cpus),
        affinity=affinity,
        wall_s=round(raw.wall_s, 6),
        started_at=round(raw.started_at, 6),
        instance=raw.instance,
        exit_code=raw.exit_code,
        stdout_tail=raw.stdout[-_TAIL:] if failed else None,
        stderr_tail=stderr[-_TAIL:] if failed else None,
        extra={**raw.extra, **seen, **(extra or {})},
    )


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else ""


def cfs_settings(variant: Variant) -> tuple[float | None, int | None]:
    """A variant's ``quota`` (fraction of the measured CPUs, or None) and ``period`` (ms ->
    microseconds, or None for the default); UserError naming the variant when out of range."""
    from bench.errors import UserError

    quota, period = variant.setting("quota"), variant.setting("period")
    try:
        fraction = float(quota) if quota else None
    except ValueError:
        fraction = -1.0
    if fraction is not None and not 0 < fraction <= 64:
        raise UserError(f"--variants: '{variant.id}': quota must be a fraction of the "
                        f"measured CPUs between 0 and 64, got '{quota}'")
    try:
        period_us = round(float(period) * 1000) if period else None
    except ValueError:
        period_us = 0
    if period_us is not None and not 1000 <= period_us <= 1_000_000:
        raise UserError(f"--variants: '{variant.id}': period must be 1 to 1000 ms, "
                        f"got '{period}'")
    return fraction, period_us


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Environment(ABC):
    """Where samples run. One instance per variant; see STYLE.md's interface."""

    name: ClassVar[str]

    def __init__(self, variant: Variant) -> None:
        self.variant = variant

    def prepare(self, workloads: list[Workload]) -> None:  # noqa: B027 - optional hook
        """Get ready to run these workloads (check images, binaries, ...)."""

    @abstractmethod
    def execute(self, workload: Workload, ctx: SampleContext) -> Sample:
        """Run one sample; never raises for a workload failure (the Sample says failed)."""

    def not_started(self, workload: Workload, ctx: SampleContext, error: str,
                    started_at: float | None = None) -> Sample:
        """The failed sample of an execution that never began (see RawResult.not_started)."""
        return finish_sample(workload, self.variant, ctx,
                             RawResult.not_started(error, started_at))

    def teardown(self) -> None:  # noqa: B027 - optional hook
        """Remove everything this environment created; safe to call twice."""

    def facts(self) -> dict[str, Any]:
        """Facts about this environment that can bias a result (recorded in run.json)."""
        return {}

    def binary_hashes(self, binaries: list[str]) -> dict[str, dict[str, str]]:
        """``{binary: {"path": ..., "sha256": ...}}`` as seen by this environment."""
        return {}

    def own_image_hashes(self, workloads: list[Workload], known: set[str]
                         ) -> dict[str, dict[str, dict[str, str]]]:
        """The binaries of workloads that bring their own image, hashed in that image:
        ``{"<env>:<image>": {binary: ...}}``, leaving out the keys in ``known``. Only
        environments that run such images have any."""
        return {}


@dataclass
class RunSetup:
    """What the environments of one run share while they get ready (bench.runner opens
    each kind in turn; a kind that makes the benchmark image leaves it here for the next)."""

    plan: Plan
    run_id: str
    #: run.json as it is being written: each kind records its facts here.
    doc: dict[str, Any]
    stage: Callable[[str], None]
    #: Connects to the default container engine (None: the engine's own ``connect``;
    #: tests pass one that refuses).
    connect: Callable[[], Any] | None = None
    #: The plan's workloads by name, with the image built for any that brings a recipe.
    workloads: dict[str, Workload] = field(default_factory=dict)
    #: The benchmark image's recipe (``bench.image.Recipe``), once a kind has made it.
    recipe: Any = None
    #: An engine client that holds the benchmark image and can lend its files.
    image_source: Any = None
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.workloads:
            self.workloads = {w.name: w for w in self.plan.workloads}

    def ensure_recipe(self) -> Any:
        """The benchmark image's recipe; without an engine that made it, from the host's
        own packages (installed first, as the image would hold them)."""
        if self.recipe is None:
            packages = image_packages(self.plan.workloads)
            image.ensure_host_packages(packages, self.stage)
            self.recipe = image.recipe_for(packages)
            self.doc["image"] = self.recipe.to_dict()
        return self.recipe

    def ensure_workload_packages(self) -> None:
        """Without an image (whose recipe installed them on the host too), the workloads'
        own packages on the host: native runs need their programs as much as images do."""
        if self.recipe is None:
            image.ensure_host_packages(
                sorted({p for w in self.plan.workloads for p in w.packages}), self.stage)


def now() -> tuple[float, float]:
    """(wall clock for the record, monotonic clock for durations)."""
    return time.time(), time.perf_counter()
