"""``bench doctor``: is this host ready to give trustworthy answers? Each check has a hint."""

from __future__ import annotations

import psutil

from bench import facts, tune
from bench.cpulist import default_cpus, format_cpus
from bench.environments import registry
from bench.health import Check

NOISE_THRESHOLD = 10.0  # percent busy on a measured CPU with nothing of ours running


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
    version = facts.cgroup_version()
    if version == "none":
        checks.append(Check("cgroups", "warn", "no readable cgroup hierarchy under "
                            "/sys/fs/cgroup: containers' CPU, memory and I/O metrics and "
                            "the contamination guard's container figures are unavailable",
                            "mount cgroups (cgroup2 on /sys/fs/cgroup, or the v1 controllers)"))
    else:
        checks.append(Check("cgroups", "ok", version))
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


def run_checks() -> list[Check]:
    """Every environment's checks (bench.environments.registry), then the host's."""
    return registry.doctor() + _host_checks()
