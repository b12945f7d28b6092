"""The kernel's list format (``0-2,5``), as in Cpus_allowed_list, cpulist and
smp_affinity_list: one parser for every reader."""

from __future__ import annotations


def parse(text: str) -> list[int]:
    """``0-2,5`` -> ``[0, 1, 2, 5]``."""
    out: list[int] = []
    for part in filter(None, text.strip().split(",")):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out
