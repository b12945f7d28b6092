"""``docker``: the workload in a fresh container per sample, through the Docker SDK.

Every container is pinned with ``cpuset_cpus`` to the measured CPUs, labelled with the
project and run id, and always removed, whatever happened to the sample. Settings:
``net=bridge|host|none`` (the default bridge network is the engine's default; a server's
port is published on 127.0.0.1, or with ``port=direct`` reached at the container's address),
``seccomp=default|unconfined`` and, for disk workloads, ``storage=overlay|volume|bind|tmpfs``:
what their data directory ``{data}`` (``/var/tmp`` in the container) is, fresh per sample.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import time
from typing import Any

import docker
import docker.errors
import docker.types
import requests

from bench import cpulist, engine, numa, signals
from bench.cpulist import format_cpus
from bench.environments import roles
from bench.environments.base import (
    WORKDIR,
    WORKLOAD_ENV,
    Environment,
    RawResult,
    SampleContext,
    cfs_settings,
    finish_sample,
    now,
    wrap,
)
from bench.environments.native import (
    make_host_data_dir,
    remove_host_data_dir,
    storage_record,
)
from bench.errors import UserError
from bench.metrics import ContainerWatch, SamplingConfig
from bench.metrics.server import ServerWatch
from bench.results import Sample
from bench.variants import Variant
from bench.workloads import Workload

#: What the SDK raises when the engine fails or stops answering (requests errors are not
#: wrapped in DockerException).
ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)

# Prints "sha256  path" for each binary found on PATH, resolved through links (``which``,
# not ``command -v``, which answers with shell builtins such as ``true``).
#: A disk workload's data directory ({data}) in the container, whatever the storage: in
#: every Debian root, so it is in the writable layer (overlay) unless mounted over.
CONTAINER_DATA_DIR = "/var/tmp"
#: The tmpfs of docker[storage=tmpfs]: room for the fio files (256 MiB) and more.
DATA_TMPFS_OPTIONS = "rw,nosuid,nodev,size=1g"


@dataclasses.dataclass(frozen=True)
class DataDir:
    """One docker sample's data directory: the container options that make it, what the
    sample records about it, and what to remove afterwards."""

    options: dict[str, Any]
    details: dict[str, str]
    host_path: str | None = None
    volume: Any = None


_HASH_SCRIPT = ('for b; do p=$(which "$b") && p=$(readlink -f "$p") '
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
        self.net = variant.setting("net", "bridge")
        self.storage = variant.setting("storage", "overlay")
        digest = hashlib.sha256(variant.id.encode()).hexdigest()[:8]
        self.network_name = f"bench-{run_id}-{digest}"
        self._own_addresses: set[str] = set()
        self.quota, self.period_us = cfs_settings(variant)

    def prepare(self, workloads: list[Workload]) -> None:
        try:
            self.client.images.get(self.image)
        except docker.errors.ImageNotFound:
            raise UserError(f"benchmark image {self.image} is missing; build it with "
                            "'bench image build'") from None
        for workload in workloads:
            if workload.image:
                try:
                    self.client.images.get(workload.image)
                except docker.errors.ImageNotFound:
                    raise UserError(f"{workload.source}: image '{workload.image}' is not in the "
                                    "local engine; build or load it first") from None
        two_role = [w.name for w in workloads if w.two_role]
        if two_role and self.net == "none":
            raise UserError(f"--variants: '{self.variant.id}' has no network, but "
                            f"{', '.join(two_role)} need one (server and client)")
        if self.net == "container":
            # The run's own network: client and server containers talk over it.
            self.client.networks.create(self.network_name, driver="bridge",
                                        labels=engine.labels(self.run_id))

    def _start_server(self, workload: Workload, ctx: SampleContext) -> roles.Server:
        """The server container; bridge publishes its port on 127.0.0.1 only."""
        assert workload.server is not None
        role = workload.server
        options = self._container_options(ctx.cpus, workload.read_only_root)
        host_port = roles.free_port()
        direct = self.variant.setting("port") == "direct"
        if self.net == "bridge" and not direct:
            options["ports"] = {f"{role.port}/tcp": ("127.0.0.1", host_port)}
            values = {"port": str(role.port), "bind": "0.0.0.0"}
        elif self.net == "host":
            values = {"port": str(host_port), "bind": "127.0.0.1"}
        else:  # container: reached on the run's own network
            values = {"port": str(role.port), "bind": "0.0.0.0"}
        argv = wrap(workload.argv(len(ctx.cpus), ctx.quick, command=role.command, **values))
        container = None
        try:
            with signals.deferred():  # a Ctrl-C waits for the handle: removed below
                container = self.client.containers.create(
                    workload.image or self.image, command=argv,
                    name=f"bench-{ctx.run_id}-{ctx.seq}-server",
                    detach=True, **options)
            started_at, start = now()
            container.start()
            container.reload()
        except BaseException:
            if container is not None:
                with contextlib.suppress(*ENGINE_ERRORS):
                    container.remove(force=True)
            raise
        host, port, ready_at = "127.0.0.1", host_port, None
        if self.net == "container":
            host = container.attrs["NetworkSettings"]["Networks"][self.network_name]["IPAddress"]
            port = role.port
            self._own_addresses.add(host)
        elif self.net == "bridge":
            # Readiness at the container itself: the userland proxy accepts early.
            address = container.attrs["NetworkSettings"]["IPAddress"]
            self._own_addresses.add(address)
            ready_at = (address, role.port)
            if direct:  # port=direct: the client too goes to the container's address
                host, port, ready_at = address, role.port, None

        def alive() -> bool:
            try:
                container.reload()
            except ENGINE_ERRORS:
                return False
            return container.status in ("created", "running")

        def stop() -> RawResult:
            try:
                # SIGKILL: the server is discarded after its sample, and a server that is
                # PID 1 of its namespace ignores SIGTERM without a handler (sockperf),
                # which cost every sample the whole stop timeout.
                container.kill()
                status = container.wait(timeout=30)
                out = container.logs(stdout=True, stderr=False).decode(errors="replace")
                err = container.logs(stdout=False, stderr=True).decode(errors="replace")
                return RawResult(status.get("StatusCode"), out, err, now()[1] - start,
                                 started_at, f"container:{container.short_id}")
            except ENGINE_ERRORS as err:
                return RawResult(None, "", "", now()[1] - start, started_at,
                                 f"container:{container.short_id}", f"engine error: {err}")
            finally:
                with contextlib.suppress(*ENGINE_ERRORS):
                    container.remove(force=True)

        def watch() -> ServerWatch:  # the container's cgroup, from its init PID
            return ServerWatch(container.attrs.get("State", {}).get("Pid"), True, ctx.cpus,
                               container_id=container.id, config=ctx.sampling)

        return roles.Server(host, port, f"container:{container.short_id}", alive, stop,
                            self.network_name if self.net == "container" else None, ready_at,
                            watch)

    def _run_client(self, argv: list[str], server: roles.Server, ctx: SampleContext,
                    timeout: float) -> RawResult:
        """Natively on the harness CPUs; in a container of its own with net=container."""
        cpus = ctx.client_cpus or ctx.cpus
        if self.net == "container":
            return self._run(argv, cpus, timeout, f"bench-{ctx.run_id}-{ctx.seq}-client")
        return roles.run_native(argv, cpus, timeout)

    def _container_options(self, cpus: tuple[int, ...], read_only: bool = True,
                           data: DataDir | None = None) -> dict[str, Any]:
        options: dict[str, Any] = {
            "environment": dict(WORKLOAD_ENV),
            "working_dir": WORKDIR,
            "labels": engine.labels(self.run_id, **{"bench.variant": self.variant.id}),

            # Least privilege: no new privileges, read-only root with a private /tmp.
            "security_opt": ["no-new-privileges"],
            "read_only": read_only,
        }
        if read_only:
            options["tmpfs"] = {WORKDIR: "rw,exec,nosuid,size=512m"}
        if self.net == "container":
            options["network"] = self.network_name
        else:
            options["network_mode"] = self.net
        unpinned = self.variant.setting("cpu") == "quota"
        if cpus and not unpinned:
            options["cpuset_cpus"] = format_cpus(cpus)
        node = numa.binding(cpus) if cpus else None
        if node is not None:  # several NUMA nodes: memory on the measured CPUs' node
            options["cpuset_mems"] = str(node)
        if cpus and (unpinned or self.quota is not None):
            # CFS quota (--cpus): a fraction of the measured CPUs' time, per period.
            fraction = (self.quota or 1.0) * len(cpus)
            if self.period_us is None:
                options["nano_cpus"] = int(fraction * 1e9)
            else:
                options["cpu_period"] = self.period_us
                options["cpu_quota"] = int(fraction * self.period_us)
        if self.variant.setting("seccomp") == "unconfined":
            options["security_opt"].append("seccomp=unconfined")
        if data is not None:  # a disk workload's {data}: a mount, or nothing (overlay)
            if "mounts" in data.options:
                options["mounts"] = data.options["mounts"]
            if "tmpfs" in data.options:
                options["tmpfs"] = {**options.get("tmpfs", {}), **data.options["tmpfs"]}
        return options

    def _make_data_dir(self, ctx: SampleContext) -> DataDir:
        """The sample's data directory, fresh as native's: overlay = a directory of the
        container's writable layer, volume = a new named volume labelled with the run
        (removed after the sample, or at teardown), bind = a new host directory under
        native's root, tmpfs = a tmpfs mount."""
        if self.storage == "tmpfs":
            return DataDir({"tmpfs": {CONTAINER_DATA_DIR: DATA_TMPFS_OPTIONS}},
                           {"tmpfs_options": DATA_TMPFS_OPTIONS})
        if self.storage == "bind":
            host_path = make_host_data_dir(ctx.run_id, ctx.seq)
            mount = docker.types.Mount(CONTAINER_DATA_DIR, host_path, type="bind")
            return DataDir({"mounts": [mount]}, {"host_path": host_path}, host_path=host_path)
        if self.storage == "volume":
            volume = self.client.volumes.create(
                name=f"bench-{ctx.run_id}-{ctx.seq}-data", driver="local",
                labels=engine.labels(self.run_id, **{"bench.variant": self.variant.id}))
            mount = docker.types.Mount(CONTAINER_DATA_DIR, volume.name, type="volume")
            return DataDir({"mounts": [mount]}, {"volume": volume.name, "driver": "local"},
                           volume=volume)
        return DataDir({}, {})  # overlay: the directory is already in the image

    @staticmethod
    def _remove_data_dir(data: DataDir) -> None:
        """After the container is gone; teardown removes a volume left here."""
        if data.host_path is not None:
            remove_host_data_dir(data.host_path)
        if data.volume is not None:
            with contextlib.suppress(*ENGINE_ERRORS):
                data.volume.remove(force=True)

    def _run(self, argv: list[str], cpus: tuple[int, ...], timeout: float,
             name: str, read_only: bool = True,
             sampling: SamplingConfig | None = None, data: DataDir | None = None,
             image: str | None = None) -> RawResult:
        """Create, start, wait for and remove one container; never leaves it behind.
        With ``sampling``, its cgroup is read around the run (bench.metrics); with
        ``data``, a disk workload's data directory is mounted."""
        started_at, start = now()
        container = watch = None
        try:
            # A Ctrl-C during the create call left a container the engine finished making
            # after the leftovers sweep (the clean-clone CI failure): hold it until the
            # handle exists, so the finally below always removes it.
            with signals.deferred():
                container = self.client.containers.create(
                    image or self.image, command=argv, name=name, detach=True,
                    **self._container_options(cpus, read_only, data),
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
        if workload.two_role:
            return roles.two_role_sample(workload, self.variant, ctx, self._start_server,
                                         self._run_client, lambda: self._own_addresses)
        data = None
        if workload.uses_data:
            try:
                data = self._make_data_dir(ctx)
            except (OSError, *ENGINE_ERRORS) as err:
                raw = RawResult(None, "", "", 0.0, now()[0], "", f"cannot make the data "
                                f"directory (storage={self.storage}): {err}")
                return finish_sample(workload, self.variant, ctx, raw)
        try:
            argv = wrap(workload.argv(len(ctx.cpus), ctx.quick,
                                      **({"data": CONTAINER_DATA_DIR} if data else {})))
            # overlay: the data directory is in the container's own layer, so writable.
            read_only = workload.read_only_root and not (data and self.storage == "overlay")
            raw = self._run(argv, ctx.cpus, workload.timeout, f"bench-{ctx.run_id}-{ctx.seq}",
                            read_only=read_only, sampling=ctx.sampling, data=data,
                            image=workload.image or None)
        finally:
            if data is not None:
                self._remove_data_dir(data)
        if self.variant.setting("cpu") == "quota":
            # Not pinned on purpose: the CPUs the container may use are all the host's.
            ctx = dataclasses.replace(ctx, cpus=tuple(host_cpus()))
        extra = storage_record(self.storage, raw.stderr, **data.details) if data else None
        return finish_sample(workload, self.variant, ctx, raw, extra=extra)

    def binary_hashes(self, binaries: list[str], image: str | None = None
                      ) -> dict[str, dict[str, str]]:
        if not binaries:
            return {}
        suffix = hashlib.sha256((image or "").encode()).hexdigest()[:6]
        raw = self._run(["/bin/sh", "-c", _HASH_SCRIPT, "hash", *binaries], (), 120,
                        f"bench-{self.run_id}-hash-{self.variant.env}-{suffix}", image=image)
        if raw.error or raw.exit_code != 0:
            raise UserError(f"cannot hash binaries in image {image or self.image}: "
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
            "network": self.net + (f" ({self.network_name})" if self.net == "container"
                                   else ""),
            "server_port": ("the container's bridge address" if self.variant.setting("port")
                            == "direct" else "published on 127.0.0.1") if self.net == "bridge"
            else None,
            "seccomp": self.variant.setting("seccomp", "default"),
            "pinning": "none (CFS quota)" if self.variant.setting("cpu") == "quota"
            else "cpuset_cpus",
            "cfs_quota_cpus_fraction": self.quota,
            "cfs_period_us": self.period_us or 100_000,
            "container_per": "sample (a fresh container per block and variant)",
            "storage": f"{self.storage}: disk workloads' data directory {CONTAINER_DATA_DIR} is "
            + {"overlay": "in the container's writable layer (storage driver)",
               "volume": "a fresh named volume (local driver) per sample",
               "bind": "a fresh host directory per sample, on native's filesystem",
               "tmpfs": f"a tmpfs ({DATA_TMPFS_OPTIONS})"}[self.storage],
        }

    def teardown(self) -> None:
        engine.remove_leftovers(self.client, self.run_id)
        # An interrupted create call may still be completed by the engine after the first
        # sweep: look once more, a moment later.
        time.sleep(0.5)
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
            return cpulist.parse(handle.read())
    except OSError:
        return sorted(os.sched_getaffinity(0))
