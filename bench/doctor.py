"""``bench doctor``: is this host ready to give trustworthy answers? Each check has a hint."""

from __future__ import annotations

from dataclasses import dataclass

import psutil

from bench import engine, facts, image, tune
from bench.cpulist import default_cpus, format_cpus
from bench.errors import UserError
from bench.workloads import image_packages

NOISE_THRESHOLD = 10.0  # percent busy on a measured CPU with nothing of ours running


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok" | "warn" | "fail"
    message: str
    hint: str = ""


def _engine_checks() -> list[Check]:
    try:
        client = engine.connect(timeout=10)
    except UserError as err:
        return [Check("engine", "fail", str(err).split(";")[0], engine.ENGINE_HINT)]
    info = engine.engine_facts(client)
    checks = [Check("engine", "ok", f"Docker {info['engine_version']} (API "
                    f"{info['api_version']}), storage {info['storage_driver']}, cgroup "
                    f"{info['cgroup_version']}, userland proxy "
                    f"{'on' if info['userland_proxy']['enabled'] else 'off'}")]
    packages = image_packages()
    recipe: image.Recipe | None = None
    try:
        recipe = image.recipe_for(packages)
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
        checks.append(Check("leftovers", "ok", "no labelled containers, networks or volumes"))
    current = recipe.tag if isinstance(recipe, image.Recipe) else None
    stale = engine.stale_images(client, current)
    if stale:
        checks.append(Check("images", "warn", f"{len(stale)} stale benchmark image(s): "
                            f"{', '.join(stale)}", "'bench clean --images' removes them"))
    return checks


def _host_checks() -> list[Check]:
    checks = []
    governors = facts.governors()
    if not governors:
        checks.append(Check("governor", "ok", "cpufreq not exposed (typical in a VM); "
                            "frequency is the hypervisor's"))
    else:
        other = sorted({g for g in governors.values() if g != "performance"})
        if other:
            checks.append(Check("governor", "warn", f"scaling governor {', '.join(other)}",
                                "set 'performance' (cpupower frequency-set -g performance) "
                                "so frequency does not change under load"))
        else:
            checks.append(Check("governor", "ok", "performance on every CPU"))
    smt = facts.smt()
    if smt == "on":
        checks.append(Check("smt", "warn", "SMT (hyper-threading) is on",
                            "choose --cpus that are not siblings of the harness CPU, or "
                            "disable SMT"))
    else:
        checks.append(Check("smt", "ok", f"SMT {smt}"))
    cpus = default_cpus()
    busy = psutil.cpu_percent(interval=1.0, percpu=True)
    noisy = {c: busy[c] for c in cpus if c < len(busy) and busy[c] > NOISE_THRESHOLD}
    if noisy:
        detail = ", ".join(f"CPU {c} {p:.0f}%" for c, p in noisy.items())
        checks.append(Check("noise", "warn", f"measured CPUs busy before any run: {detail}",
                            "stop other work on these CPUs or choose others with --cpus"))
    else:
        checks.append(Check("noise", "ok", f"measured CPUs {format_cpus(cpus)} idle "
                            f"(<{NOISE_THRESHOLD:g}% over 1 s)"))
    checks.append(Check("cgroups", "ok", facts.cgroup_version()))
    virt = facts.virtualization()
    if virt["virtual_machine"]:
        checks.append(Check("virtualization", "warn", f"native = {virt['native_means']}",
                            "results hold for this VM on its host; neighbours' load shows as "
                            "steal and as noise the guest cannot see"))
    left = tune.status(cpus)
    if left["irqs_on_measured_cpus"]:
        checks.append(Check("irqs", "warn", "interrupts on the measured CPUs: "
                            + ", ".join(left["irqs_on_measured_cpus"]),
                            "'bench tune' moves those the kernel lets move"
                            + (" (already tuned: the rest are kernel-managed)"
                               if left["tuned"] else "")))
    else:
        checks.append(Check("irqs", "ok", "no interrupt fires on the measured CPUs"))
    return checks


def _oci_checks() -> list[Check]:
    """The daemonless oci environment: runtime, root filesystem, leftovers."""
    import shutil

    from bench.environments import oci

    checks = []
    runc = shutil.which("runc")
    if runc is None:
        checks.append(Check("oci", "warn", "no runc: oci variants (and the fallback when no "
                            "engine answers) cannot run", "apt-get install runc"))
    else:
        checks.append(Check("oci", "ok", f"{oci.runtime_version(runc)} for oci variants"))
    try:
        recipe = image.recipe_for(image_packages())
    except UserError:
        recipe = None
    if recipe is not None:
        if image.rootfs_present(recipe):
            checks.append(Check("rootfs", "ok", f"root filesystem of {recipe.tag} at "
                                f"{image.rootfs_path(recipe)}"))
        else:
            checks.append(Check("rootfs", "ok", f"root filesystem of {recipe.tag} not made "
                                "yet; the first oci run exports or builds it"))
    stale = image.stale_rootfs(recipe)
    if stale:
        checks.append(Check("rootfs-stale", "warn", f"{len(stale)} root filesystem(s) of older "
                            f"recipes under {image.ROOTFS_DIR}",
                            "'bench clean --images' removes them"))
    from bench.environments import podman

    try:
        facts_ = podman.engine_facts(podman.connect(timeout=10))
    except UserError as err:
        checks.append(Check("podman", "ok", f"{str(err).split(';')[0]} (only podman "
                            "variants need it)", "sudo scripts/podman-up.sh"))
    else:
        checks.append(Check("podman", "ok", f"podman {facts_.get('engine_version')} "
                            f"answers ({facts_.get('oci_runtime')}, "
                            f"{facts_.get('network_backend')})"))
    left = oci.leftovers()
    names = [n for v in left.values() for n in v]
    if names:
        checks.append(Check("oci-leftovers", "warn", f"{len(names)} runc container(s) or "
                            f"network namespace(s): {', '.join(names)}",
                            "'bench clean' removes them (stop running benchmarks first)"))
    return checks


def run_checks() -> list[Check]:
    return _engine_checks() + _oci_checks() + _host_checks()
