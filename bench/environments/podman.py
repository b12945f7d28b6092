"""``podman``: the docker environment's code through podman's Docker-compatible API.

The same SDK and the same container options (cpuset pin, labels, read-only root, seccomp,
``net=bridge|host|none``), pointed at podman's socket: what differs is the engine (conmon,
netavark, podman's defaults). Bring-up, including the ``default_ulimits`` fix for hosts
that forbid raising resource limits, is ``scripts/podman-up.sh``'s job; this module only
connects, reports the engine's facts and puts the benchmark image into podman's store.

Checked against Debian 12's podman 4.3.1 (rootful, cgroupfs, netavark, runc): containers,
cgroup metrics (``/libpod_parent/libpod-<id>``), logs, waits, kills and label filters
behave as Docker's; bridge ports are published by iptables DNAT (conmon only holds the
port, nothing proxies it); and the image import needs two workarounds (:func:`ensure_image`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import docker
import docker.errors

from bench import engine, image, signals
from bench.environments.base import RunSetup
from bench.environments.docker import ENGINE_ERRORS, DockerEnvironment, EngineKind
from bench.errors import UsageError, UserError
from bench.health import Check
from bench.plan import Plan
from bench.variants import Variant
from bench.workloads import Workload

#: Where podman's API listens unless BENCH_PODMAN_SOCKET (a path) says otherwise; the same
#: variable and default as scripts/podman-up.sh.
PODMAN_SOCKET = "unix:///run/podman/podman.sock"
PODMAN_HINT = ("start it with 'sudo scripts/podman-up.sh' (installs Debian's podman and "
               "starts 'podman system service', log in /var/log/bench/podman.log), or set "
               "BENCH_PODMAN_SOCKET to the socket of a running podman service")

#: What to do when the service lost its runtime (it was started while that binary existed).
RUNTIME_HINT = ("stop that podman service and start it again with 'sudo scripts/podman-up.sh' "
                "(it picks an installed runtime)")


def socket_url() -> str:
    """The podman API's address: BENCH_PODMAN_SOCKET (a path) or :data:`PODMAN_SOCKET`."""
    path = os.environ.get("BENCH_PODMAN_SOCKET")
    return f"unix://{path}" if path else PODMAN_SOCKET


def connect(timeout: int = 120) -> docker.DockerClient:
    """A Docker SDK client for podman's service; UserError when it does not answer or
    what answers is not podman."""
    url = socket_url()
    path = url.removeprefix("unix://")
    if url.startswith("unix://") and not os.path.exists(path):
        raise UserError(f"no podman service: no socket at {path}; {PODMAN_HINT}")
    try:
        client = docker.DockerClient(base_url=url, timeout=timeout)
        client.ping()
        version = client.version()
    except ENGINE_ERRORS as err:
        reason = str(err).removeprefix("Error while fetching server API version: ")
        raise UserError(f"no podman service answers on {url} ({reason[:200]}); "
                        f"{PODMAN_HINT}") from None
    names = [c.get("Name", "") for c in version.get("Components", [])]
    if not any(name.startswith("Podman") for name in names):
        raise UserError(f"{url} answers, but it is not podman (components: "
                        f"{', '.join(names) or 'none'}); {PODMAN_HINT}")
    return client


def _libpod_info(client: docker.DockerClient) -> dict[str, Any]:
    """Podman's own ``/libpod/info`` (the compat ``/info`` lacks runtime and network
    backend), through the SDK's low-level request helpers."""
    api = client.api
    return api._result(api._get(api._url("/libpod/info")), json=True)


def engine_facts(client: docker.DockerClient) -> dict[str, Any]:
    """Podman facts that can bias a result (fairness rule 6)."""
    info = _libpod_info(client) or {}
    # Any part may be null: podman reports "ociRuntime": null when its runtime's binary is
    # gone (seen: crun removed after the service started), and doctor must still answer.
    host, store = info.get("host") or {}, info.get("store") or {}
    runtime = host.get("ociRuntime") or {}
    security = host.get("security") or {}
    distribution = host.get("distribution") or {}
    compat = client.version()
    return {
        "engine": "podman",
        "engine_version": (info.get("version") or {}).get("Version"),
        "api_version": compat.get("ApiVersion"),
        "oci_runtime": runtime.get("name"),
        "oci_runtime_version": (runtime.get("version") or "").partition("\n")[0] or None,
        "conmon_version": (host.get("conmon") or {}).get("version"),
        "cgroup_manager": host.get("cgroupManager"),
        "cgroup_version": host.get("cgroupVersion"),
        "network_backend": host.get("networkBackend"),
        "storage_driver": store.get("graphDriverName"),
        "log_driver": host.get("logDriver"),
        "rootless": security.get("rootless"),
        "seccomp": security.get("seccompEnabled"),
        "seccomp_profile": security.get("seccompProfilePath"),
        "kernel": host.get("kernel"),
        "operating_system": f"{distribution.get('distribution', '')} "
        f"{distribution.get('version', '')}".strip(),
    }


def ensure_image(client: docker.DockerClient, recipe: image.Recipe,
                 progress: image.Progress = lambda _: None,
                 docker_client: Any = None) -> str:
    """The benchmark image for ``recipe`` in podman's store, under docker's tag; returns it.

    The files are the cached root filesystem of the recipe (:func:`bench.image.ensure_rootfs`;
    ``docker_client``, when given, lets it export Docker's image of the recipe instead of
    running debootstrap), packed and imported through the compat API. Podman 4.3's import
    ignores the ``tag`` parameter (it tags ``latest``) and reads ``LABEL a=1 b=2`` as the
    one label ``a`` = ``1 b=2``, so the tag goes with the repository and each label is its
    own change (Docker accepts both forms too).
    """
    if image.image_present(client, recipe):
        return recipe.tag
    root = image.ensure_rootfs(recipe, docker_client, progress)
    workdir = Path(tempfile.mkdtemp(prefix="bench-podman-image-", dir="/var/tmp"))
    try:
        tarball = workdir / "rootfs.tar"
        image.pack_rootfs(root, tarball, progress)
        progress(f"importing into podman as {recipe.tag}")
        changes = [f"LABEL {engine.PROJECT_LABEL}={engine.PROJECT}",
                   f"LABEL bench.recipe={recipe.digest}", *image.IMPORT_CHANGES]
        client.api.import_image_from_file(str(tarball), repository=recipe.tag,
                                          changes=changes)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not image.image_present(client, recipe):
        raise UserError(f"podman did not keep the imported image {recipe.tag}")
    return recipe.tag


class PodmanEnvironment(DockerEnvironment):
    """Each sample in a new container of the benchmark image, run by podman."""

    name = "podman"

    def prepare(self, workloads: list[Workload]) -> None:
        try:
            self.client.images.get(self.image)
        except docker.errors.ImageNotFound:
            raise UserError(f"benchmark image {self.image} is not in podman's store; "
                            "'bench run' imports it (bench.environments.podman.ensure_image)"
                            ) from None
        super().prepare(workloads)

    def facts(self) -> dict[str, Any]:
        return {
            **super().facts(),
            "engine": "podman",
            "port_publishing": "iptables DNAT by the network backend; conmon holds the "
            "host port, nothing proxies it" if self.net == "bridge" else "none",
            "container_defaults": self._container_defaults(),
        }

    def _container_defaults(self) -> dict[str, Any]:
        """What podman adds to this variant's containers on its own (its defaults differ
        from Docker's: a pids limit, no ulimits with bench.conf, a smaller /dev/shm), read
        from a created, never started, container."""
        container = None
        try:
            with signals.deferred():  # a Ctrl-C waits for the handle: removed below
                container = self.client.containers.create(
                    self.image, command=["true"], name=f"bench-{self.run_id}-defaults-"
                    f"{self.network_name.rsplit('-', 1)[-1]}", **self._container_options(()))
            config = container.attrs.get("HostConfig", {})
            return {"pids_limit": config.get("PidsLimit"), "ulimits": config.get("Ulimits"),
                    "shm_size_bytes": config.get("ShmSize")}
        finally:
            if container is not None:
                with contextlib.suppress(*ENGINE_ERRORS):
                    container.remove(force=True)


class PodmanKind(EngineKind):
    """Podman's service, through its Docker-compatible API (rootful, netavark bridge)."""

    name = "podman"
    options: ClassVar[dict[str, tuple[str, ...]]] = {
        "net": ("bridge", "host", "none"),
        "seccomp": ("default", "unconfined"),
        "label": (),
    }
    order = 30
    service = "podman service"
    restart_hint = "restart it (scripts/podman-up.sh)"
    prefix = "podman "

    def check(self, plan: Plan) -> None:
        for workload in plan.workloads:
            if workload.dockerfile and any(v.env == self.name
                                           for v in plan.variants_for(workload)):
                raise UsageError(f"{workload.source}: key 'dockerfile': podman variants need "
                                 "the image in podman's store; build it there and give "
                                 "'image' instead")

    def open(self, setup: RunSetup) -> None:
        recipe = setup.ensure_recipe()
        setup.stage("connecting to podman")
        self.client = connect()
        setup.doc["podman"] = facts = engine_facts(self.client)
        if not facts.get("oci_runtime"):
            raise UserError(f"podman {facts.get('engine_version')} on {socket_url()} reports "
                            f"no OCI runtime (its runtime's binary is gone): {RUNTIME_HINT}")
        engine.remove_leftovers(self.client, setup.run_id)
        self.image = ensure_image(self.client, recipe, setup.stage,
                                  docker_client=setup.image_source)

    def create(self, variant: Variant, setup: RunSetup) -> PodmanEnvironment:
        return PodmanEnvironment(variant, self.client, self.image, setup.run_id)

    def connect(self, timeout: int = 120) -> docker.DockerClient:
        return connect(timeout=timeout)

    def clean(self, run_id: str | None = None, images: bool = False) -> list[str]:
        try:
            return super().clean(run_id, images)
        except UserError:  # no podman service: nothing of ours can be in it
            return []

    def doctor(self) -> list[Check]:
        try:
            found = engine_facts(connect(timeout=10))
        except UserError as err:
            return [Check("podman", "ok", f"{str(err).split(';')[0]} (only podman variants "
                          "need it)", "sudo scripts/podman-up.sh")]
        if not found.get("oci_runtime"):
            return [Check("podman", "warn", f"podman {found.get('engine_version')} answers "
                          "but reports no OCI runtime (its runtime's binary is gone): podman "
                          "variants cannot run", RUNTIME_HINT)]
        return [Check("podman", "ok", f"podman {found.get('engine_version')} answers "
                      f"({found.get('oci_runtime')}, {found.get('network_backend')})")]


KIND = PodmanKind
