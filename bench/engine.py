"""The Docker Engine: connecting through the official SDK, and the facts it reports.

Bring-up (installing docker.io and starting dockerd when no engine answers) is the job of
``scripts/engine-up.sh``, which the README's commands call; this module only connects and
says how to get an engine when none answers. A running engine is used, never reconfigured.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import docker
import docker.errors
import psutil

from bench.errors import UserError

PROJECT_LABEL = "bench.project"
PROJECT = "container-overhead-bench"
RUN_LABEL = "bench.run"
ENGINE_HINT = ("start one with 'sudo scripts/engine-up.sh' (installs Debian's docker.io and "
               "starts dockerd, log in /var/log/bench/dockerd.log), or point DOCKER_HOST at "
               "a running engine")


def connect(timeout: int = 120) -> docker.DockerClient:
    """A client for the engine named by the environment (DOCKER_HOST or the local socket)."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as err:
        where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        raise UserError(f"no Docker engine answers at {where} ({_why(str(err))}); "
                        f"{ENGINE_HINT}") from None
    return client


def _why(text: str) -> str:
    """The SDK's error in a few words."""
    for needle, words in (("No such file", "no socket there"),
                          ("Connection refused", "connection refused"),
                          ("Permission denied", "permission denied"),
                          ("timed out", "timed out")):
        if needle in text:
            return words
    return text.split("(")[0].strip(" :") or "no answer"


def userland_proxy() -> dict[str, Any]:
    """Whether published ports go through docker-proxy (userland) or hairpin NAT only.

    The API does not report it; read the daemon's command line, then daemon.json; the
    engine's default is on.
    """
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "dockerd":
            for arg in proc.info["cmdline"] or []:
                if arg.startswith("--userland-proxy="):
                    return {"enabled": arg.split("=", 1)[1] != "false", "source": "dockerd flag"}
            break
    daemon_json = Path("/etc/docker/daemon.json")
    try:
        config = json.loads(daemon_json.read_text())
        if isinstance(config, dict) and "userland-proxy" in config:
            return {"enabled": bool(config["userland-proxy"]), "source": str(daemon_json)}
    except (OSError, ValueError):
        pass
    return {"enabled": True, "source": "engine default"}


def engine_facts(client: docker.DockerClient) -> dict[str, Any]:
    """Engine facts that can bias a result (fairness rule 6)."""
    info = client.info()
    version = client.version()
    components = {c.get("Name"): c.get("Version") for c in version.get("Components", [])}
    return {
        "engine_version": version.get("Version"),
        "api_version": version.get("ApiVersion"),
        "containerd_version": components.get("containerd"),
        "runc_version": components.get("runc"),
        "storage_driver": info.get("Driver"),
        "cgroup_driver": info.get("CgroupDriver"),
        "cgroup_version": info.get("CgroupVersion"),
        "security_options": info.get("SecurityOptions", []),
        "seccomp": any("seccomp" in opt for opt in info.get("SecurityOptions", [])),
        "userland_proxy": userland_proxy(),
        "kernel": info.get("KernelVersion"),
        "operating_system": info.get("OperatingSystem"),
    }


def labels(run_id: str, **extra: str) -> dict[str, str]:
    """The labels every object the harness creates carries (so cleanup can find it)."""
    return {PROJECT_LABEL: PROJECT, RUN_LABEL: run_id, **extra}


def leftovers(client: docker.DockerClient, run_id: str | None = None) -> dict[str, list[str]]:
    """Containers, networks and volumes labelled by the project (optionally one run)."""
    label = f"{RUN_LABEL}={run_id}" if run_id else f"{PROJECT_LABEL}={PROJECT}"
    filters = {"label": label}
    return {
        "containers": [c.name for c in client.containers.list(all=True, filters=filters)],
        "networks": [n.name for n in client.networks.list(filters=filters)],
        "volumes": [v.name for v in client.volumes.list(filters=filters)],
    }


def remove_leftovers(client: docker.DockerClient, run_id: str | None = None) -> int:
    """Remove what :func:`leftovers` finds; returns how many objects were removed."""
    label = f"{RUN_LABEL}={run_id}" if run_id else f"{PROJECT_LABEL}={PROJECT}"
    filters = {"label": label}
    removed = 0
    for container in client.containers.list(all=True, filters=filters):
        try:
            container.remove(force=True)
            removed += 1
        except docker.errors.NotFound:
            pass
    for network in client.networks.list(filters=filters):
        network.remove()
        removed += 1
    for volume in client.volumes.list(filters=filters):
        volume.remove(force=True)
        removed += 1
    return removed


def project_images(client: docker.DockerClient) -> list[Any]:
    """Benchmark images built by the project (labelled at import)."""
    return client.images.list(filters={"label": f"{PROJECT_LABEL}={PROJECT}"})


def stale_images(client: docker.DockerClient, current: str | None) -> list[str]:
    """Tags of project images other than ``current`` (older recipes)."""
    stale = []
    for image in project_images(client):
        tags = image.tags or [image.short_id]
        if current not in tags:
            stale.extend(tags)
    return stale
