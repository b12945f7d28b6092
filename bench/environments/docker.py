"""``docker``: the workload in a fresh container per sample, through the Docker SDK.

Every container is pinned with ``cpuset_cpus`` to the measured CPUs, labelled with the
project and run id, and always removed, whatever happened to the sample. Settings:
``net=bridge|host|none`` (the default bridge network is the engine's default) and
``seccomp=default|unconfined``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from typing import Any

import docker
import docker.errors
import requests

from bench import engine
from bench.environments.base import (
    WORKDIR,
    WORKLOAD_ENV,
    Environment,
    RawResult,
    SampleContext,
    finish_sample,
    now,
    parse_cpu_list,
    wrap,
)
from bench.errors import UserError
from bench.metrics import ContainerWatch, SamplingConfig
from bench.results import Sample
from bench.suite import Variant, Workload, format_cpus

#: What the SDK raises when the engine fails or stops answering (requests errors are not
#: wrapped in DockerException).
ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)

# Prints "sha256  path" for each binary found on PATH, resolved through links.
_HASH_SCRIPT = ('for b; do p=$(command -v "$b") && p=$(readlink -f "$p") '
                '&& sha256sum "$p" | sed "s|^|$b |"; done; true')


class DockerEnvironment(Environment):
    """Runs each sample in a new container of the benchmark image."""

    name = "docker"

    def __init__(self, variant: Variant, client: docker.DockerClient, image: str,
                 run_id: str) -> None:
        super().__init__(variant)
        self.client = client
        self.image = image
        self.run_id = run_id
        quota = variant.setting("quota")
        try:
            self.quota = float(quota) if quota else None
        except ValueError:
            self.quota = -1.0
        if self.quota is not None and not 0 < self.quota <= 64:
            raise UserError(f"--variants: '{variant.id}': quota must be a fraction of the "
                            f"measured CPUs between 0 and 64, got '{quota}'")

    def prepare(self, workloads: list[Workload]) -> None:
        try:
            self.client.images.get(self.image)
        except docker.errors.ImageNotFound:
            raise UserError(f"benchmark image {self.image} is missing; build it with "
                            "'bench image build'") from None

    def _container_options(self, cpus: tuple[int, ...], read_only: bool = True
                           ) -> dict[str, Any]:
        options: dict[str, Any] = {
            "environment": dict(WORKLOAD_ENV),
            "working_dir": WORKDIR,
            "labels": engine.labels(self.run_id, **{"bench.variant": self.variant.id}),
            "network_mode": self.variant.setting("net", "bridge"),
            # Least privilege: no new privileges, read-only root with a private /tmp.
            "security_opt": ["no-new-privileges"],
            "read_only": read_only,
        }
        if read_only:
            options["tmpfs"] = {WORKDIR: "rw,exec,nosuid,size=512m"}
        unpinned = self.variant.setting("cpu") == "quota"
        if cpus and not unpinned:
            options["cpuset_cpus"] = format_cpus(cpus)
        if cpus and (unpinned or self.quota is not None):
            # CFS quota (--cpus): a fraction of the measured CPUs' time.
            options["nano_cpus"] = int((self.quota or 1.0) * len(cpus) * 1e9)
        if self.variant.setting("seccomp") == "unconfined":
            options["security_opt"].append("seccomp=unconfined")
        return options

    def _run(self, argv: list[str], cpus: tuple[int, ...], timeout: float,
             name: str, read_only: bool = True,
             sampling: SamplingConfig | None = None) -> RawResult:
        """Create, start, wait for and remove one container; never leaves it behind.
        With ``sampling``, its cgroup is read around the run (bench.metrics)."""
        started_at, start = now()
        container = watch = None
        try:
            container = self.client.containers.create(
                self.image, command=argv, name=name, detach=True,
                **self._container_options(cpus, read_only),
            )
            container.start()
            if sampling is not None:
                container.reload()  # the init PID leads to the cgroup
                watch = ContainerWatch(container.attrs["State"]["Pid"], container.id, cpus,
                                       sampling)
            try:
                status = container.wait(timeout=timeout)
                error = None
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                # Unix-socket read timeouts surface as ConnectionError; anything earlier
                # than the timeout is the engine going away.
                if now()[1] - start < timeout:
                    raise
                container.kill()
                status = container.wait(timeout=30)
                error = f"timed out after {timeout:g} s"
            wall = now()[1] - start
            metrics = watch.finish() if watch is not None else {}
            stdout = container.logs(stdout=True, stderr=False).decode(errors="replace")
            stderr = container.logs(stdout=False, stderr=True).decode(errors="replace")
            if status.get("Error"):
                error = error or f"engine error: {status['Error']}"
            error = error or _exit_reason(container, status.get("StatusCode"))
            return RawResult(status.get("StatusCode"), stdout, stderr, wall, started_at,
                             f"container:{container.short_id}", error, extra=metrics)
        except ENGINE_ERRORS as err:
            wall = now()[1] - start
            instance = f"container:{container.short_id}" if container else ""
            return RawResult(None, "", "", wall, started_at, instance,
                             f"engine error: {err}")
        finally:
            if watch is not None:
                watch.stop()
            if container is not None:
                with contextlib.suppress(*ENGINE_ERRORS):
                    container.remove(force=True)

    def execute(self, workload: Workload, ctx: SampleContext) -> Sample:
        argv = wrap(workload.argv(len(ctx.cpus), ctx.quick))
        raw = self._run(argv, ctx.cpus, workload.timeout, f"bench-{ctx.run_id}-{ctx.seq}",
                        read_only=workload.read_only_root, sampling=ctx.sampling)
        if self.variant.setting("cpu") == "quota":
            # Not pinned on purpose: the CPUs the container may use are all the host's.
            ctx = dataclasses.replace(ctx, cpus=tuple(host_cpus()))
        return finish_sample(workload, self.variant, ctx, raw)

    def binary_hashes(self, binaries: list[str]) -> dict[str, dict[str, str]]:
        if not binaries:
            return {}
        raw = self._run(["/bin/sh", "-c", _HASH_SCRIPT, "hash", *binaries], (), 120,
                        f"bench-{self.run_id}-hash-{self.variant.env}")
        if raw.error or raw.exit_code != 0:
            raise UserError(f"cannot hash binaries in image {self.image}: "
                            f"{raw.error or raw.stderr.strip()}")
        found: dict[str, dict[str, str]] = {}
        for line in raw.stdout.splitlines():
            parts = line.split()
            if len(parts) == 3:
                found[parts[0]] = {"path": parts[2], "sha256": parts[1]}
        return {b: found.get(b, {"path": "", "sha256": "", "error": "not found in the image"})
                for b in binaries}

    def facts(self) -> dict[str, Any]:
        image = self.client.images.get(self.image)
        return {
            "image": self.image,
            "image_id": image.id,
            "network": self.variant.setting("net", "bridge"),
            "seccomp": self.variant.setting("seccomp", "default"),
            "pinning": "none (CFS quota)" if self.variant.setting("cpu") == "quota"
            else "cpuset_cpus",
            "cfs_quota_cpus_fraction": self.quota,
            "container_per": "sample (a fresh container per block and variant)",
        }

    def teardown(self) -> None:
        engine.remove_leftovers(self.client, self.run_id)



def _exit_reason(container: Any, code: int | None) -> str | None:
    """Why a container ended abnormally: OOM kill, or a kill from outside (exit 137)."""
    if code in (0, None):
        return None
    try:
        container.reload()
        state = container.attrs.get("State", {})
    except ENGINE_ERRORS:
        state = {}
    if state.get("OOMKilled"):
        return f"OOM-killed (exit {code}): the container ran out of memory"
    if code == 137:
        return "killed (exit 137, SIGKILL): killed from outside or by the kernel"
    return None


def host_cpus() -> list[int]:
    """Every online CPU of the host (not just the harness's own affinity)."""
    try:
        with open("/sys/devices/system/cpu/online") as handle:
            return parse_cpu_list(handle.read())
    except OSError:
        return sorted(os.sched_getaffinity(0))
