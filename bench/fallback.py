"""No container engine: the Docker variants run in the daemonless ``oci`` environment.

``bench run`` needs no daemon to answer its question: when no Docker engine answers (and
the set-up could not start one), each ``docker[...]`` variant is mapped to the ``oci``
variant with the same mechanisms (namespaces, a network namespace with a veth pair for the
bridge, the default seccomp profile, the CFS quota), the run says so at the top of its
summary and report, and ``run.json`` records why and the mapping (``fallback``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from bench import engine, suite
from bench.errors import UserError
from bench.suite import Plan, Variant

#: docker axis value -> oci settings with the same mechanism.
_NET = {"bridge": "veth", "container": "veth", "host": "host", "none": "none"}


def oci_equivalent(variant: Variant) -> Variant:
    """The oci variant closest to a docker one: same namespaces, network kind, seccomp and
    quota (storage and ports have no oci switch: the data directory is a bind mount)."""
    settings = {"net": _NET[variant.setting("net", "bridge")],
                "seccomp": "unconfined" if variant.setting("seccomp") == "unconfined"
                else "default"}
    for key in ("quota", "label"):
        if variant.setting(key):
            settings[key] = variant.setting(key)
    spec = ",".join(f"{k}={v}" for k, v in settings.items())
    return suite.parse_variant(f"oci[{spec}]")


def to_oci(plan: Plan) -> tuple[Plan, dict[str, str]]:
    """The plan with its docker variants replaced by oci ones; and the mapping by id.
    Two docker variants that map to the same oci variant keep apart by a label."""
    mapping: dict[str, str] = {}
    taken = {v.id for v in plan.variants if v.env != "docker"}
    variants: list[Variant] = []
    for variant in plan.variants:
        if variant.env == "docker":
            new = oci_equivalent(variant)
            if new.id in taken:
                label = "".join(c if c.isalnum() else "-" for c in variant.id).strip("-")
                new = suite.parse_variant(new.id[:-1] + f",label={label}]")
            mapping[variant.id] = new.id
            variant = new
        taken.add(variant.id)
        variants.append(variant)
    matrix = None if plan.matrix is None else {
        name: tuple(mapping.get(v, v) for v in ids) for name, ids in plan.matrix.items()}
    ladder = tuple(mapping.get(v, v) for v in plan.ladder)
    return dataclasses.replace(plan, variants=tuple(variants), matrix=matrix,
                               ladder=ladder), mapping


def resolve(plan: Plan, connect: Callable[[], Any] = engine.connect
            ) -> tuple[Plan, dict[str, Any] | None]:
    """``(plan, None)`` when the plan needs no Docker engine or one answers; else the oci
    plan and the ``fallback`` record for run.json."""
    if not any(v.env == "docker" for v in plan.variants):
        return plan, None
    try:
        connect().close()
    except UserError as err:
        reason = str(err).split(";")[0]
        new_plan, mapping = to_oci(plan)
        return new_plan, {"reason": reason, "environment": "oci", "mapping": mapping}
    return plan, None


def banner(record: dict[str, Any]) -> str:
    """The line that opens the summary and the report of a fallback run."""
    pairs = ", ".join(f"{a} -> {b}" for a, b in record.get("mapping", {}).items())
    reason = record.get("reason") or "no container engine answered"
    return (f"{reason[:1].upper()}{reason[1:]}: the Docker variants ran in the daemonless "
            f"OCI environment (runc) instead: {pairs}")
