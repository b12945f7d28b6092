"""Variants: an environment plus settings that change one mechanism (``docker[net=host]``),
parsed from ``--variants`` and workload files into canonical ids; and the overhead ladder
(``--variants ladder``), one mechanism added per rung."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bench.errors import UsageError

#: The variants a workload runs in when neither it nor ``--variants`` names any.
DEFAULT_VARIANTS = "native,docker"

#: Environments and the settings (axes) each accepts, with their allowed values.  The
#: first value of each axis is the default.
ENVIRONMENT_AXES: dict[str, dict[str, tuple[str, ...]]] = {
    "native": {
        "cgroup": ("inherit", "own"),  # own: a fresh cgroup per sample, as a container's
        "label": (),  # free-form name only: the same variant twice, for A/A calibration
    },
    "docker": {
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
    },
    # Podman through its Docker-compatible API: the docker environment's code, another
    # engine (rootful, netavark bridge).
    "podman": {
        "net": ("bridge", "host", "none"),
        "seccomp": ("default", "unconfined"),
        "label": (),
    },
    # No daemon: an OCI runtime (runc) run directly on a generated bundle over the image's
    # root filesystem; each mechanism is a switch of the bundle's config.
    "oci": {
        "pid": ("on", "off"),        # own PID namespace
        "ipc": ("on", "off"),        # own IPC namespace
        "uts": ("on", "off"),        # own UTS namespace (hostname)
        "userns": ("off", "on"),     # own user namespace, root mapped to an unprivileged range
        "net": ("host", "veth", "none"),  # host's network, own namespace with a veth, none
        "seccomp": ("unconfined", "default"),  # default: the engines' default profile
        "caps": ("default", "all"),  # the engines' default capability set, or all
        "quota": (),  # free-form: CFS quota as a fraction of the measured CPUs
        "period": (),  # free-form: CFS period in ms for quota (default 100, Docker's)
        "label": (),
    },
    "fake": {
        "scale": (),  # free-form positive number: multiplies the scripted cost
        "cv": (),     # free-form: coefficient of variation of the scripted noise
        "fail": (),   # free-form: fail every n-th sample (n > 0)
        "foreign": (),  # free-form: share of samples that foreign work disturbs (0..1)
    },
}

_VARIANT_RE = re.compile(r"^([a-z]+)(?:\[(.*)\])?$")

#: ``--variants ladder``: from a native process to a Docker container with a published
#: port, one change per rung. Each rung is compared with the rung before it (bench.ladder),
#: so each step's added overhead gets its own confidence interval. Docker uses neither a
#: user namespace nor a veth of its own on the host network, so the ladder takes those off
#: again (on the oci side) before the engine's step, which then adds only the engine's own
#: mechanisms.
LADDER: tuple[tuple[str, str], ...] = (
    ("native", "native process"),
    ("native[cgroup=own]", "+ cgroup of its own (cpuset)"),
    ("oci", "+ pid, mount, ipc, uts, cgroup namespaces, the image's read-only root, "
            "Docker's capability set and masked paths (runc, no daemon)"),
    ("oci[userns=on]", "+ user namespace"),
    ("oci[userns=on,net=veth]", "+ network namespace with a veth pair"),
    ("oci[userns=on,net=veth,seccomp=default]", "+ default seccomp profile"),
    ("oci[seccomp=default]", "- user namespace, - veth: the host's network again, as "
                             "docker[net=host] has"),
    ("docker[net=host]", "+ the Docker engine: containerd-shim, overlay root, Docker's own "
                         "seccomp profile, AppArmor where enabled"),
    ("docker[port=direct]", "+ bridge network, client at the container's address"),
    ("docker", "+ published port on 127.0.0.1 (userland proxy / NAT)"),
)
VARIANT_SETS = {"ladder": tuple(v for v, _ in LADDER)}


@dataclass(frozen=True)
class Variant:
    """An environment plus settings that change one mechanism, e.g. ``docker[net=host]``."""

    env: str
    settings: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        if not self.settings:
            return self.env
        inner = ",".join(f"{k}={v}" for k, v in self.settings)
        return f"{self.env}[{inner}]"

    def setting(self, key: str, default: str = "") -> str:
        return dict(self.settings).get(key, default)


def parse_variant(text: str) -> Variant:
    """Parse ``env`` or ``env[key=value,...]``; UsageError on unknown axes or values."""
    match = _VARIANT_RE.match(text.strip())
    if match is None:
        raise UsageError(f"--variants: cannot parse '{text}' (expected e.g. 'docker[net=host]')")
    env, inner = match.group(1), match.group(2)
    if env not in ENVIRONMENT_AXES:
        raise UsageError(f"--variants: unknown environment '{env}' in '{text}' "
                         f"(known: {', '.join(ENVIRONMENT_AXES)})")
    axes = ENVIRONMENT_AXES[env]
    settings: dict[str, str] = {}
    for part in filter(None, (inner or "").split(",")):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep and len(axes.get(key, ())) == 2:
            sep, value = "=", axes[key][1]  # a bare two-valued axis means its non-default
        if not sep or not key or not value:
            raise UsageError(f"--variants: expected key=value, got '{part}' in '{text}'")
        if key not in axes:
            known = ", ".join(axes) or "none"
            raise UsageError(f"--variants: unknown axis '{key}' for {env} in '{text}' "
                             f"(known: {known})")
        allowed = axes[key]
        if allowed and value not in allowed:
            raise UsageError(f"--variants: unknown value '{value}' for {env} axis '{key}' "
                             f"(known: {', '.join(allowed)})")
        if key in settings:
            raise UsageError(f"--variants: axis '{key}' given twice in '{text}'")
        settings[key] = value
    # Defaults are dropped so that docker and docker[net=bridge] are the same variant.
    canonical = tuple((k, settings[k]) for k in axes
                      if k in settings and not (axes[k] and settings[k] == axes[k][0]))
    return Variant(env, canonical)


def parse_variants(texts: list[str]) -> list[Variant]:
    """Parse a list of variant specs (each may hold several, comma-separated at top level)."""
    variants: list[Variant] = []
    for text in texts:
        specs = _split_top_level(text)
        specs = [v for spec in specs for v in VARIANT_SETS.get(spec, (spec,))]
        for spec in specs:
            variant = parse_variant(spec)
            if variant in variants:
                raise UsageError(f"--variants: '{variant.id}' given twice")
            variants.append(variant)
    if not variants:
        raise UsageError("--variants: no variant given")
    return variants


def ladder_of(variants: list[Variant]) -> tuple[str, ...]:
    """The ladder rungs among ``variants``, in ladder order, when the whole ladder is there
    (``--variants ladder``); else ()."""
    ids = {v.id for v in variants}
    rungs = VARIANT_SETS["ladder"]
    return rungs if set(rungs) <= ids else ()


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]
