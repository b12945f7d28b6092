"""CPU lists in the kernel's format (``0-2,5``), parsed and formatted in one place: the
kernel's own (Cpus_allowed_list, cpulist, smp_affinity_list), ``--cpus`` (checked against
the CPUs this process may use), and the sets written to cgroups and engines."""

from __future__ import annotations

import os
from collections.abc import Iterable

from bench.errors import UsageError


def _parts(text: str) -> list[str]:
    return [part for part in (p.strip() for p in text.split(",")) if part]


def _span(part: str) -> tuple[int, int]:
    """``lo-hi`` or ``n`` -> its first and last CPU; ValueError when it is neither."""
    lo, sep, hi = part.partition("-")
    return int(lo), int(hi) if sep else int(lo)


def parse(text: str) -> list[int]:
    """A list the kernel wrote: ``0-2,5`` -> ``[0, 1, 2, 5]``."""
    cpus: list[int] = []
    for part in _parts(text):
        first, last = _span(part)
        cpus.extend(range(first, last + 1))
    return cpus


def online_cpus() -> list[int]:
    """CPUs this process may run on (online and allowed)."""
    return sorted(os.sched_getaffinity(0))


def parse_cpus(text: str) -> tuple[int, ...]:
    """Parse a CPU list such as ``1``, ``0-3`` or ``1,3-4``; check each is online."""
    cpus: set[int] = set()
    for part in _parts(text):
        try:
            first, last = _span(part)
        except ValueError:
            raise UsageError(f"--cpus: cannot parse '{part}' in '{text}' "
                             "(expected e.g. '1', '0-3' or '1,3')") from None
        if first < 0 or last < first:
            raise UsageError(f"--cpus: bad range '{part}' in '{text}'")
        cpus.update(range(first, last + 1))
    if not cpus:
        raise UsageError("--cpus: empty CPU list")
    online = set(online_cpus())
    missing = sorted(cpus - online)
    if missing:
        raise UsageError(f"--cpus: CPU {missing[0]} is not online or not allowed "
                         f"(available: {format_cpus(online)})")
    return tuple(sorted(cpus))


def default_cpus() -> tuple[int, ...]:
    """All allowed CPUs but the first, which stays for the harness and the engine."""
    cpus = online_cpus()
    return tuple(cpus[1:]) if len(cpus) > 1 else tuple(cpus)


def format_cpus(cpus: Iterable[int]) -> str:
    """Compact CPU list: ``{0, 1, 2, 5}`` -> ``0-2,5``."""
    items = sorted(cpus)
    ranges: list[str] = []
    start = prev = None
    for cpu in [*items, None]:
        if start is not None and (cpu is None or cpu != prev + 1):
            ranges.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if cpu is not None and start is None:
            start = cpu
        prev = cpu
    return ",".join(ranges)
