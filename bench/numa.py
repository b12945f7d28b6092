"""NUMA: memory bound to the measured CPUs' node, in every environment (fairness rule 2).

On a host with several NUMA nodes a workload's memory may land on a node far from its CPUs,
and differently in each environment; the classic container-overhead study bound both with
numactl. Here, when the measured CPUs lie on one node of several, native samples bind their
memory to it (``set_mempolicy(MPOL_BIND)`` between fork and exec) and containers get
``cpuset_mems``; the probe records what the workload saw (``Mems_allowed_list`` and the
policy of its first mapping). On a single-node host nothing is bound and the record says
so. Node topology comes from sysfs (``/sys/devices/system/node``), so a two-node host can be
tested through a fixture tree.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
from pathlib import Path

from bench import cpulist

NODE_ROOT = Path("/sys/devices/system/node")
MPOL_BIND = 2
_SET_MEMPOLICY = {"x86_64": 238, "aarch64": 237}  # asm/unistd.h


def nodes(root: Path = NODE_ROOT) -> dict[int, list[int]]:
    """NUMA node -> its CPUs, from sysfs (empty when the kernel has no NUMA sysfs)."""
    found: dict[int, list[int]] = {}
    for path in sorted(root.glob("node[0-9]*")) if root.is_dir() else []:
        try:
            found[int(path.name[4:])] = cpulist.parse((path / "cpulist").read_text())
        except (OSError, ValueError):
            continue
    return found


def node_of(cpus: tuple[int, ...] | list[int], root: Path = NODE_ROOT) -> int | None:
    """The node holding every measured CPU, or None (no NUMA sysfs, or they span nodes)."""
    homes = {n for n, members in nodes(root).items() if set(cpus) & set(members)}
    return homes.pop() if len(homes) == 1 else None


def binding(cpus: tuple[int, ...] | list[int], root: Path = NODE_ROOT) -> int | None:
    """The node memory is bound to: the measured CPUs' node when the host has several
    nodes, None on a single-node host (nothing to bind) or when the CPUs span nodes."""
    if len(nodes(root)) < 2:
        return None
    return node_of(cpus, root)


def bind_memory(node: int) -> None:
    """``set_mempolicy(MPOL_BIND, {node})`` for the calling process (a child before exec);
    OSError when the kernel refuses."""
    number = _SET_MEMPOLICY.get(platform.machine())
    if number is None:
        raise OSError(f"set_mempolicy: no system call number known for {platform.machine()}")
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    words = node // 64 + 1
    mask = (ctypes.c_ulong * words)()
    mask[node // 64] = 1 << (node % 64)
    # glibc has no wrapper (libnuma's is not a dependency): the raw system call.
    if libc.syscall(ctypes.c_long(number), ctypes.c_int(MPOL_BIND), mask,
                    ctypes.c_ulong(words * 64 + 1)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"set_mempolicy(MPOL_BIND, node {node}): {os.strerror(err)}")
