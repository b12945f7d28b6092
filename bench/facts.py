"""Host facts that can bias a result (fairness rule 6), read once per run."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import psutil

_CPU = Path("/sys/devices/system/cpu")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_model() -> str:
    for line in (_read(Path("/proc/cpuinfo")) or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def governors() -> dict[str, str]:
    """scaling_governor per CPU, where cpufreq is exposed (often not in VMs)."""
    found = {}
    for path in sorted(_CPU.glob("cpu[0-9]*/cpufreq/scaling_governor")):
        found[path.parent.parent.name] = path.read_text().strip()
    return found


def smt() -> str:
    """'on', 'off', 'notsupported' or 'unknown' (from /sys/devices/system/cpu/smt)."""
    active = _read(_CPU / "smt/active")
    control = _read(_CPU / "smt/control")
    if active is not None:
        return "on" if active == "1" else (control or "off")
    return "unknown"


def cgroup_version() -> str:
    """'v2' (unified), 'v1+v2 (hybrid)' or 'v1'."""
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        return "v2"
    if (root / "unified/cgroup.controllers").exists():
        return "v1+v2 (hybrid)"
    return "v1"


def host_facts() -> dict[str, Any]:
    """CPU, kernel, cgroups, load: what a comparison across runs must match."""
    uname = platform.uname()
    frequency = psutil.cpu_freq()
    return {
        "hostname": uname.node,
        "cpu_model": cpu_model(),
        "logical_cpus": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "online_cpus": sorted(os.sched_getaffinity(0)),
        "smt": smt(),
        "governors": governors() or "not exposed (no cpufreq)",
        "frequency_mhz": ({"current": frequency.current, "min": frequency.min,
                           "max": frequency.max} if frequency else None),
        "kernel": uname.release,
        "os": _os_pretty(),
        "machine": uname.machine,
        "memory_bytes": psutil.virtual_memory().total,
        "cgroup_version": cgroup_version(),
        "load_average": list(os.getloadavg()),
        "python": platform.python_version(),
    }


def _os_pretty() -> str:
    for line in (_read(Path("/etc/os-release")) or "").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()
