"""Host facts that can bias a result (fairness rule 6), read once per run."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
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
    """'v2' (unified), 'v1+v2 (hybrid)', 'v1', or 'none' when /sys/fs/cgroup holds no
    readable hierarchy (not mounted, or hidden: containers' metrics cannot be read)."""
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        return "v2"
    if (root / "unified/cgroup.controllers").exists():
        return "v1+v2 (hybrid)"
    if any((root / name / "tasks").exists() for name in ("cpu", "cpuacct", "cpu,cpuacct",
                                                          "memory", "cpuset")):
        return "v1"
    return "none"


def _detect_virt(flag: str) -> str | None:
    """``systemd-detect-virt --vm`` / ``--container``: the technology, or None for none."""
    tool = shutil.which("systemd-detect-virt")
    if tool is None:
        return None
    try:
        done = subprocess.run([tool, flag], capture_output=True, text=True, timeout=5,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = done.stdout.strip()
    return None if not found or found == "none" else found


def virtualization(cpuinfo: str | None = None) -> dict[str, Any]:
    """Is "native" a virtual machine's kernel? The hypervisor CPU flag and systemd's
    detection (which also names a container the host itself may be running in)."""
    text = cpuinfo if cpuinfo is not None else (_read(Path("/proc/cpuinfo")) or "")
    flag = any("hypervisor" in line.split() for line in text.splitlines()
               if line.startswith("flags"))
    vm = _detect_virt("--vm")
    virtual = flag or vm is not None
    return {
        "virtual_machine": virtual,
        "hypervisor_cpu_flag": flag,
        "vm": vm,
        "container": _detect_virt("--container"),
        "native_means": (f"this virtual machine's kernel ({vm or 'hypervisor flag set'}): "
                         "the physical host and its other guests are outside the "
                         "measurement" if virtual else "the host's own kernel"),
    }


def mitigations(root: Path = _CPU / "vulnerabilities") -> dict[str, str]:
    """CPU vulnerability mitigations in force (they change what a system call costs)."""
    found = {}
    for path in sorted(root.glob("*")) if root.is_dir() else []:
        text = _read(path)
        if text is not None:
            found[path.name] = text
    return found


def cpu_isolation(cmdline: str | None = None) -> dict[str, Any]:
    """isolcpus / nohz_full / rcu_nocbs from the kernel command line and sysfs."""
    line = cmdline if cmdline is not None else (_read(Path("/proc/cmdline")) or "")
    args = dict(a.split("=", 1) for a in line.split() if "=" in a)
    return {
        "isolcpus": args.get("isolcpus"),
        "nohz_full": args.get("nohz_full"),
        "rcu_nocbs": args.get("rcu_nocbs"),
        "isolated": _read(_CPU / "isolated") or None,
        "mitigations_arg": args.get("mitigations"),
    }


def numa_nodes(root: Path = Path("/sys/devices/system/node")) -> dict[str, str]:
    """NUMA node -> its CPU list (one node on most VMs)."""
    nodes = {}
    for path in sorted(root.glob("node[0-9]*")) if root.is_dir() else []:
        cpus = _read(path / "cpulist")
        if cpus is not None:
            nodes[path.name] = cpus
    return nodes


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
        "virtualization": virtualization(),
        "mitigations": mitigations(),
        "cpu_isolation": cpu_isolation(),
        "numa_nodes": numa_nodes(),
        "tuned": _tune_state(),
    }


def _tune_state() -> dict[str, Any] | None:
    """What 'bench tune' changed, if it did (its state file), for the run's record."""
    text = _read(Path("/var/lib/bench/tune.json"))
    if text is None:
        return None
    try:
        state = json.loads(text)
    except ValueError:
        return {"state": "unreadable"}
    changes = state.get("changes", [])
    return {"cpus": state.get("cpus"), "at": state.get("at"),
            "applied": sum(1 for c in changes if c.get("applied")),
            "refused": sum(1 for c in changes if not c.get("applied"))}


def _os_pretty() -> str:
    for line in (_read(Path("/etc/os-release")) or "").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()
