"""``docker``: the workload in a fresh container per sample, through the Docker SDK.

Every container is pinned with ``cpuset_cpus`` to the measured CPUs, labelled with the
project and run id, and always removed, whatever happened to the sample. Settings:
``net=bridge|host|none`` (the default bridge network is the engine's default) and
``seccomp=default|unconfined``.
"""

from __future__ import annotations

import contextlib
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
    wrap,
)
from bench.errors import UserError
from bench.results import Sample
from bench.suite import Variant, Workload, format_cpus

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

    def prepare(self, workloads: list[Workload]) -> None:
        try:
            self.client.images.get(self.image)
        except docker.errors.ImageNotFound:
            raise UserError(f"benchmark image {self.image} is missing; build it with "
                            "'bench image build'") from None

    def _container_options(self, cpus: tuple[int, ...]) -> dict[str, Any]:
        options: dict[str, Any] = {
            "environment": dict(WORKLOAD_ENV),
            "working_dir": WORKDIR,
            "labels": engine.labels(self.run_id, **{"bench.variant": self.variant.id}),
            "network_mode": self.variant.setting("net", "bridge"),
        }
        if cpus:
            options["cpuset_cpus"] = format_cpus(cpus)
        if self.variant.setting("seccomp") == "unconfined":
            options["security_opt"] = ["seccomp=unconfined"]
        return options

    def _run(self, argv: list[str], cpus: tuple[int, ...], timeout: float,
             name: str) -> RawResult:
        """Create, start, wait for and remove one container; never leaves it behind."""
        started_at, start = now()
        container = None
        try:
            container = self.client.containers.create(
                self.image, command=argv, name=name, detach=True,
                **self._container_options(cpus),
            )
            container.start()
            try:
                status = container.wait(timeout=timeout)
                error = None
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                container.kill()
                status = container.wait(timeout=30)
                error = f"timed out after {timeout:g} s"
            wall = now()[1] - start
            stdout = container.logs(stdout=True, stderr=False).decode(errors="replace")
            stderr = container.logs(stdout=False, stderr=True).decode(errors="replace")
            if status.get("Error"):
                error = error or f"engine error: {status['Error']}"
            return RawResult(status.get("StatusCode"), stdout, stderr, wall, started_at,
                             f"container:{container.short_id}", error)
        except docker.errors.DockerException as err:
            wall = now()[1] - start
            instance = f"container:{container.short_id}" if container else ""
            return RawResult(None, "", "", wall, started_at, instance,
                             f"engine error: {err}")
        finally:
            if container is not None:
                with contextlib.suppress(docker.errors.NotFound):
                    container.remove(force=True)

    def execute(self, workload: Workload, ctx: SampleContext) -> Sample:
        argv = wrap(workload.argv(len(ctx.cpus), ctx.quick))
        raw = self._run(argv, ctx.cpus, workload.timeout, f"bench-{ctx.run_id}-{ctx.seq}")
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
            "pinning": "cpuset_cpus",
            "container_per": "sample (a fresh container per block and variant)",
        }

    def teardown(self) -> None:
        engine.remove_leftovers(self.client, self.run_id)

