"""No container engine: the Docker variants run in the daemonless ``oci`` environment.

``bench run`` needs no daemon to answer its question. When no Docker engine answers, the
project's engine set-up is tried first (``scripts/engine-up.sh``, as root, for the local
engine only); when that cannot give one either, each ``docker[...]`` variant is mapped to
the closest ``oci`` variant (namespaces, a network namespace with a veth pair for the
bridge, the default seccomp profile, the CFS quota), the run says so at the top of its
summary and report, and ``run.json`` records why, the mapping, and what has no oci
equivalent (``fallback``).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import engine
from bench.errors import UserError
from bench.plan import Plan
from bench.report.text import fallback_text
from bench.variants import Variant, parse_variant

ENGINE_UP = Path(__file__).resolve().parent.parent / "scripts" / "engine-up.sh"

#: docker net -> oci net.
_NET = {"bridge": "veth", "container": "veth", "host": "host", "none": "none"}
#: docker settings the oci environment has no switch for, and what runs instead.
_NO_EQUIVALENT = {
    ("net", "container"): "the client runs natively, not in a container of its own",
    ("storage", "overlay"): "the data directory is a bind mount, not the container's layer",
    ("storage", "volume"): "the data directory is a bind mount, not a named volume",
    ("storage", "tmpfs"): "the data directory is a bind mount, not a tmpfs",
    ("port", "direct"): "the client reaches the server at its veth address either way",
}


def oci_equivalent(variant: Variant, disk: bool = False) -> tuple[dict[str, str], list[str]]:
    """The settings of the oci variant closest to a docker one, and what differs (``disk``:
    disk workloads run in it, whose data directory is then a bind mount)."""
    settings = {"net": _NET[variant.setting("net", "bridge")],
                "seccomp": "unconfined" if variant.setting("seccomp") == "unconfined"
                else "default"}
    differs = []
    if variant.setting("cpu") == "quota":  # oci always pins: the quota of every CPU
        settings["quota"] = variant.setting("quota") or "1"
        differs.append("cpu=quota: pinned to the measured CPUs as well as the CFS quota")
    for key in ("quota", "period", "label"):
        if variant.setting(key):
            settings[key] = variant.setting(key)
    given = dict(variant.settings)
    if disk and "storage" not in given:
        given["storage"] = "overlay"
    for key, value in given.items():
        if (key, value) in _NO_EQUIVALENT:
            differs.append(f"{key}={value}: {_NO_EQUIVALENT[(key, value)]}")
    return settings, differs


def _variant(settings: dict[str, str]) -> Variant:
    inner = ",".join(f"{k}={v}" for k, v in settings.items())
    return parse_variant(f"oci[{inner}]")


def to_oci(plan: Plan) -> tuple[Plan, dict[str, str], dict[str, list[str]]]:
    """The plan with its docker variants replaced by oci ones; the mapping by id; what
    differs per docker variant. Two that map to the same oci variant keep apart by a
    label (the docker variant's id)."""
    mapping: dict[str, str] = {}
    differences: dict[str, list[str]] = {}
    taken = {v.id for v in plan.variants if v.env != "docker"}
    variants: list[Variant] = []
    for variant in plan.variants:
        if variant.env == "docker":
            disk = any(w.uses_data and variant in plan.variants_for(w) for w in plan.workloads)
            settings, differs = oci_equivalent(variant, disk)
            new = _variant(settings)
            if new.id in taken:
                settings["label"] = "".join(c if c.isalnum() else "-"
                                            for c in variant.id).strip("-")
                new = _variant(settings)
            mapping[variant.id] = new.id
            if differs:
                differences[variant.id] = differs
            variant = new
        taken.add(variant.id)
        variants.append(variant)
    matrix = None if plan.matrix is None else {
        name: tuple(mapping.get(v, v) for v in ids) for name, ids in plan.matrix.items()}
    ladder = tuple(mapping.get(v, v) for v in plan.ladder)
    return (dataclasses.replace(plan, variants=tuple(variants), matrix=matrix, ladder=ladder),
            mapping, differences)


def engine_setup(progress: Callable[[str], None]) -> str | None:
    """Try the project's engine bring-up for the local engine; None when it succeeded,
    else why no engine could be had."""
    if os.geteuid() != 0:
        return "not root, so none could be installed or started"
    if os.environ.get("DOCKER_HOST"):
        return "DOCKER_HOST names it, so no local engine was started instead"
    if not ENGINE_UP.is_file():
        return f"no {ENGINE_UP} to set one up"
    progress(f"no Docker engine answers: trying {ENGINE_UP}")
    try:
        proc = subprocess.run([str(ENGINE_UP)], capture_output=True, text=True, timeout=900,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"the engine set-up failed: {err}"
    for line in proc.stdout.splitlines():
        progress(f"  {line}")
    if proc.returncode == 0:
        return None
    lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
    return f"the engine set-up failed: {lines[-1].strip() if lines else proc.returncode}"


def resolve(plan: Plan, connect: Callable[[], Any] = engine.connect,
            setup: Callable[[Callable[[str], None]], str | None] = engine_setup,
            progress: Callable[[str], None] = lambda _: None,
            ) -> tuple[Plan, dict[str, Any] | None]:
    """``(plan, None)`` when the plan needs no Docker engine or one answers (after the
    set-up, if needed); else the oci plan and the ``fallback`` record for run.json.
    A refused engine (permission) is an error, not a reason to run something else."""
    if not any(v.env == "docker" for v in plan.variants):
        return plan, None
    try:
        connect().close()
        return plan, None
    except UserError as err:
        if "permission denied" in str(err):
            raise
        error = err
    why_not = setup(progress)
    if why_not is None:
        try:
            connect().close()
            return plan, None
        except UserError as err:
            error, why_not = err, "the engine set-up ran, but still none answers"
    if os.geteuid() != 0:
        raise UserError(f"{str(error).split(';')[0]}, and the daemonless oci fallback needs "
                        f"root; {engine.ENGINE_HINT}")
    new_plan, mapping, differences = to_oci(plan)
    return new_plan, {"reason": f"{str(error).split(';')[0]}; {why_not}",
                      "environment": "oci", "mapping": mapping, "differences": differences}


#: The line that opens the summary and the report of a fallback run; the reports word it
#: (``bench.report.text``), the run prints it before measuring.
banner = fallback_text
