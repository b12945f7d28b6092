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
from pathlib import Path
from typing import Any, ClassVar

import docker
import docker.errors
import docker.types
import requests

from bench import cpulist, engine, image, numa, signals
from bench.cpulist import format_cpus
from bench.environments import roles
from bench.environments.base import (
    WORKDIR,
    WORKLOAD_ENV,
    Environment,
    RawResult,
    RunSetup,
    SampleContext,
    cfs_settings,
    finish_sample,
    now,
    wrap,
)
from bench.environments.container import CONTAINER_DATA_DIR, ContainerEnvironment
from bench.environments.kind import EnvironmentKind
from bench.environments.native import (
    make_host_data_dir,
    remove_host_data_dir,
    storage_record,
)
from bench.errors import UserError
from bench.health import Check
from bench.metrics import ContainerWatch, SamplingConfig
from bench.metrics.server import ServerWatch
from bench.results import Sample
from bench.variants import Variant
from bench.workloads import Workload, image_packages

#: What the SDK raises when the engine fails or stops answering (requests errors are not
#: wrapped in DockerException).
ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)

# Prints "sha256  path" for each binary found on PATH, resolved through links (``which``,
# not ``command -v``, which answers with shell builtins such as ``true``).
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


class DockerEnvironment(ContainerEnvironment):
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
        self.check_network(workloads)
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
                return self.not_started(workload, ctx, f"cannot make the data directory "
                                        f"(storage={self.storage}): {err}")
        try:
            argv = self.container_argv(workload, ctx, data)
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
        return self.hash_table(binaries, found)

    def own_image_hashes(self, workloads: list[Workload], known: set[str]
                         ) -> dict[str, dict[str, dict[str, str]]]:
        found: dict[str, dict[str, dict[str, str]]] = {}
        for workload in workloads:
            key = f"{self.variant.env}:{workload.image}"
            if workload.image and key not in known and key not in found:
                found[key] = self.binary_hashes(list(workload.binaries), image=workload.image)
        return found

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


class EngineKind(EnvironmentKind):
    """What the engine-based kinds share: a client of the engine's API, its labelled
    leftovers, and noticing when it stops answering."""

    #: The engine as a sentence names it ("the Docker engine stopped answering").
    service: str = ""

    def __init__(self) -> None:
        self.client: Any = None
        self.image = ""

    def create(self, variant: Variant, setup: RunSetup) -> Environment:
        return DockerEnvironment(variant, self.client, self.image, setup.run_id)

    def lost(self) -> str | None:
        if self.client is None:
            return None
        try:
            self.client.ping()
        except Exception:  # any failure to answer means the engine is gone
            return f"the {self.service} stopped answering"
        return None

    def connect(self, timeout: int = 120) -> Any:
        return engine.connect(timeout=timeout)

    def clean(self, run_id: str | None = None, images: bool = False) -> list[str]:
        client = self.connect(timeout=10)
        left = engine.leftovers(client, run_id)
        engine.remove_leftovers(client, run_id)
        return [f"removed {self.prefix}{what[:-1]} {name}"
                for what, names in left.items() for name in names]

    #: Put before the object in ``bench clean``'s lines ("removed podman container x").
    prefix = ""


class DockerKind(EngineKind):
    """The Docker engine, through the SDK; it builds the benchmark image the other kinds
    then use (and a workload's own ``dockerfile`` FROM it)."""

    name = "docker"
    options: ClassVar[dict[str, tuple[str, ...]]] = {
        # bridge: the default network, server port published on 127.0.0.1 (through the
        # userland proxy or NAT); container: client in a container on a network of the run
        "net": ("bridge", "host", "none", "container"),
        "seccomp": ("default", "unconfined"),
        # Where a disk workload's {data} directory lives: the container's writable layer,
        # a named volume, a bind mount of a host directory (as native's) or a tmpfs.
        "storage": ("overlay", "volume", "bind", "tmpfs"),
        "cpu": ("cpuset", "quota"),  # quota: CFS quota of the measured CPU count, no pin
        "quota": (),  # free-form: CFS quota as a fraction of the measured CPUs (pin kept)
        "period": (),  # free-form: CFS period in ms for quota (default: the engine's 100)
        # Two-role workloads on the bridge: the client reaches the server through the port
        # published on 127.0.0.1 (userland proxy / NAT), or directly at the container's
        # bridge address (the bridge and veth alone).
        "port": ("published", "direct"),
        "label": (),
    }
    order = 10
    service = "Docker engine"
    restart_hint = "restart it (scripts/engine-up.sh)"

    def open(self, setup: RunSetup) -> None:
        setup.stage("connecting to the Docker engine")
        self.client = (setup.connect or engine.connect)()
        setup.doc["engine"] = engine.engine_facts(self.client)
        # A resumed run may find containers of its own from before an engine restart.
        engine.remove_leftovers(self.client, setup.run_id)
        packages = image_packages(setup.plan.workloads)
        recipe, built = image.ensure_image(self.client, packages, progress=setup.stage)
        self.image = recipe.tag
        setup.stage(f"image {recipe.tag} {'built' if built else 'present (cached)'}")
        if setup.doc.get("image", {}).get("tag", recipe.tag) != recipe.tag:
            setup.warnings.append(f"image changed on resume: {setup.doc['image']['tag']} -> "
                                  f"{recipe.tag}")
        setup.doc["image"] = recipe.to_dict()
        setup.recipe, setup.image_source = recipe, self.client
        self._build_user_images(setup)

    def _build_user_images(self, setup: RunSetup) -> None:
        """Workloads with a ``dockerfile`` get ``image`` set to the image built for them
        FROM the benchmark image; the tags go into run.json (``user_images``)."""
        for workload in setup.plan.workloads:
            if not workload.dockerfile:
                continue
            setup.stage(f"image of {workload.name} from {workload.dockerfile}")
            tag = image.build_user_image(self.client, Path(workload.dockerfile), self.image,
                                         setup.stage)
            setup.workloads[workload.name] = dataclasses.replace(workload, image=tag)
            setup.doc.setdefault("user_images", {})[workload.name] = {
                "dockerfile": workload.dockerfile, "tag": tag, "from": self.image}

    def clean(self, run_id: str | None = None, images: bool = False) -> list[str]:
        removed = super().clean(run_id, images)
        if images:
            client = self.connect(timeout=10)
            try:
                recipe = image.recipe_for(image_packages())
            except UserError:
                recipe = None
            for tag in engine.stale_images(client, recipe.tag if recipe else None):
                client.images.remove(tag)
                removed.append(f"removed image {tag}")
        return removed

    def doctor(self) -> list[Check]:
        try:
            client = engine.connect(timeout=10)
        except UserError as err:
            return [Check("engine", "fail", str(err).split(";")[0], engine.ENGINE_HINT)]
        info = engine.engine_facts(client)
        checks = [Check("engine", "ok", f"Docker {info['engine_version']} (API "
                        f"{info['api_version']}), storage {info['storage_driver']}, cgroup "
                        f"{info['cgroup_version']}, userland proxy "
                        f"{'on' if info['userland_proxy']['enabled'] else 'off'}")]
        recipe: image.Recipe | None = None
        try:
            recipe = image.recipe_for(image_packages())
        except UserError as err:
            checks.append(Check("image", "warn", str(err), "run 'bench image build' as root"))
        else:
            if image.image_present(client, recipe):
                checks.append(Check("image", "ok", f"{recipe.tag} present"))
            else:
                checks.append(Check("image", "warn", f"{recipe.tag} not built yet",
                                    "'bench image build' (also done by the first 'bench run')"))
        left = engine.leftovers(client)
        count = sum(len(v) for v in left.values())
        if count:
            names = ", ".join(n for v in left.values() for n in v)
            checks.append(Check("leftovers", "warn", f"{count} labelled object(s): {names}",
                                "'bench clean' removes them (stop running benchmarks first)"))
        else:
            checks.append(Check("leftovers", "ok",
                                "no labelled containers, networks or volumes"))
        stale = engine.stale_images(client, recipe.tag if recipe is not None else None)
        if stale:
            checks.append(Check("images", "warn", f"{len(stale)} stale benchmark image(s): "
                                f"{', '.join(stale)}", "'bench clean --images' removes them"))
        return checks


KIND = DockerKind
