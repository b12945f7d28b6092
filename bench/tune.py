"""``bench tune``: prepare the host for measuring, reversibly (like pyperf's system tune).

What it changes, where the host allows it, each change recorded with its old value in
``/var/lib/bench/tune.json`` so that ``bench tune --reset`` puts it back:

- **IRQs** off the measured CPUs (``/proc/irq/N/smp_affinity_list`` and the default for new
  ones); IRQs the kernel manages itself (virtio queues, NVMe) refuse, and stay listed;
- **movable tasks** off the measured CPUs: every user process whose affinity includes
  them (kernel threads and bench itself excepted), restored on reset if still alive;
- **CPU governor** ``performance`` and **turbo** off where cpufreq exposes them (a VM
  usually does not).

``status`` says what is left on the measured CPUs (``bench doctor`` prints it); runs record
the tune state in run.json's host facts. Pure reads and writes of procfs/sysfs under a
root that tests can point at a fixture tree.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import cpulist
from bench.errors import UserError

STATE = Path("/var/lib/bench/tune.json")
_PF_KTHREAD = 0x00200000


@dataclass(frozen=True)
class Change:
    """One setting: what it is, its file (or pid), the value before and after."""

    kind: str  # "irq" | "irq-default" | "task" | "governor" | "turbo"
    target: str
    old: str
    new: str
    applied: bool = True
    error: str | None = None


def _cpu_list(cpus: set[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def _mask(cpus: set[int]) -> str:
    return format(sum(1 << c for c in cpus), "x")


def _cpus(text: str) -> set[int]:
    return set(cpulist.parse(text))


def _write(path: Path, value: str) -> str | None:
    try:
        path.write_text(value)
    except OSError as err:
        return err.strerror or str(err)
    return None


def _irq_name(proc: Path, irq: str) -> str:
    for line in (proc / "interrupts").read_text().splitlines() if (
            proc / "interrupts").exists() else []:
        head, _, rest = line.partition(":")
        if head.strip() == irq:
            return rest.split()[-1] if rest.split() else irq
    return irq


def _tasks(proc: Path) -> list[tuple[int, str, float]]:
    """(pid, comm, start time) of user processes (kernel threads left out)."""
    out = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            flags, start = int(fields[6]), float(fields[19])
            comm = (entry / "comm").read_text().strip()
        except (OSError, IndexError, ValueError):
            continue
        if not flags & _PF_KTHREAD:
            out.append((int(entry.name), comm, start))
    return out


def apply(cpus: tuple[int, ...], proc: Path = Path("/proc"),
          sys_cpu: Path = Path("/sys/devices/system/cpu"), state: Path = STATE,
          me: int | None = None) -> list[Change]:
    """Move what can be moved off ``cpus``; record every change (and every refusal)."""
    if state.exists():
        raise UserError(f"the host is already tuned ({state}); run 'bench tune --reset' first")
    measured = set(cpus)
    allowed = set(range(os.cpu_count() or 1))
    spare = allowed - measured
    if not spare:
        raise UserError(f"no CPU is left for the rest of the host besides {sorted(measured)}")
    changes: list[Change] = []
    for path in sorted((proc / "irq").glob("[0-9]*/smp_affinity_list")):
        old = path.read_text().strip()
        if not _cpus(old) & measured:
            continue
        new = _cpu_list(_cpus(old) - measured or spare)
        error = _write(path, new)
        changes.append(Change("irq", f"{path.parent.name} ({_irq_name(proc, path.parent.name)})",
                              old, new, error is None, error))
    default = proc / "irq" / "default_smp_affinity"
    if default.exists():
        old = default.read_text().strip()
        error = _write(default, _mask(spare))
        changes.append(Change("irq-default", str(default), old, _mask(spare), error is None,
                              error))
    me = os.getpid() if me is None else me
    for pid, comm, start in _tasks(proc):
        if pid == me:
            continue
        try:
            old_set = os.sched_getaffinity(pid)
        except OSError:
            continue
        if not old_set & measured or not old_set - measured:
            continue
        try:
            os.sched_setaffinity(pid, old_set - measured)
            error = None
        except OSError as err:
            error = err.strerror
        changes.append(Change("task", f"{pid}:{start:g}:{comm}", _cpu_list(old_set),
                              _cpu_list(old_set - measured), error is None, error))
    for cpu in sorted(measured):
        path = sys_cpu / f"cpu{cpu}" / "cpufreq" / "scaling_governor"
        if path.exists() and path.read_text().strip() != "performance":
            old = path.read_text().strip()
            error = _write(path, "performance")
            changes.append(Change("governor", str(path), old, "performance", error is None,
                                  error))
    for path, off in ((sys_cpu / "intel_pstate" / "no_turbo", "1"),
                      (sys_cpu / "cpufreq" / "boost", "0")):
        if path.exists() and path.read_text().strip() != off:
            old = path.read_text().strip()
            error = _write(path, off)
            changes.append(Change("turbo", str(path), old, off, error is None, error))
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"cpus": sorted(measured), "at": time.time(),
                                 "changes": [asdict(c) for c in changes]}, indent=2) + "\n")
    return changes


def reset(proc: Path = Path("/proc"), state: Path = STATE) -> list[Change]:
    """Put back what ``apply`` changed (tasks only where the same process still runs)."""
    if not state.exists():
        raise UserError(f"nothing to reset: the host was not tuned by bench ({state} absent)")
    recorded = json.loads(state.read_text())
    restored = []
    for item in recorded.get("changes", []):
        change = Change(**item)
        if not change.applied:
            continue
        if change.kind == "task":
            pid, start, _comm = change.target.split(":", 2)
            alive = [t for t in _tasks(proc) if t[0] == int(pid) and f"{t[2]:g}" == start]
            if not alive:
                continue
            try:
                os.sched_setaffinity(int(pid), _cpus(change.old))
                error = None
            except OSError as err:
                error = err.strerror
        else:
            path = (proc / "irq" / change.target.split()[0] / "smp_affinity_list"
                    if change.kind == "irq" else Path(change.target))
            error = _write(path, change.old)
        restored.append(Change(change.kind, change.target, change.new, change.old,
                               error is None, error))
    state.unlink()
    return restored


def status(cpus: tuple[int, ...], proc: Path = Path("/proc"),
           state: Path = STATE) -> dict[str, Any]:
    """What still runs on the measured CPUs: IRQs that fire there, whether bench tuned."""
    measured = set(cpus)
    irqs = []
    for path in sorted((proc / "irq").glob("[0-9]*/effective_affinity_list")):
        try:
            if _cpus(path.read_text()) & measured:
                irqs.append(f"{path.parent.name} ({_irq_name(proc, path.parent.name)})")
        except (OSError, ValueError):
            continue
    return {"tuned": state.exists(), "irqs_on_measured_cpus": irqs}


def format_changes(changes: list[Change]) -> list[str]:
    lines = []
    for c in changes:
        verdict = "done" if c.applied else f"refused ({c.error})"
        lines.append(f"{c.kind:<11} {c.target}: {c.old} -> {c.new}: {verdict}")
    return lines or ["nothing to change"]
