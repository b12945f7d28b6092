"""Variants: an environment plus settings that change one mechanism (``docker[net=host]``),
parsed from ``--variants`` and workload files into canonical ids; and the overhead ladder
(``--variants ladder``), one mechanism added per rung."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bench.environments import registry
from bench.errors import UsageError

#: The variants a workload runs in when neither it nor ``--variants`` names any.
DEFAULT_VARIANTS = "native,docker"
#: What ``--variants`` takes, as its help shows it.
EXAMPLE_VARIANTS = "native,docker,docker[net=host]"

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
    if env not in registry.names():
        raise UsageError(f"--variants: unknown environment '{env}' in '{text}' "
                         f"(known: {', '.join(registry.names())})")
    axes = registry.options(env)  # each environment module declares its own
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
