"""Native samples: the workload's process tree, measured from the kernel's own totals.

Polling a short-lived tree misses its last interval and every process that came and went
in between, and psutil gets nothing from a process that has exited. So totals are read
once, at the exit, from the kernel:

- ``/proc/<pid>/io`` while the child is a zombie (exited, not yet reaped): its final I/O
  counters, which include every descendant it waited for;
- ``wait4`` when reaping it: the rusage of the child and its waited-for descendants (CPU
  user and system time, voluntary and involuntary context switches, page faults, and the
  largest RSS any one of them reached).

psutil polls the live tree at the sampling interval for what exists only while it runs:
the summed RSS of the tree and its number of tasks (threads). The tree is found through
``/proc/<pid>/task/<tid>/children``: psutil's own ``children()`` scans all of /proc, which
costs about a millisecond per poll on a quiet host.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path
from typing import Any

import psutil

from bench.metrics.cgroup import CgroupCounters
from bench.metrics.host import PROC, CpuWindow
from bench.metrics.sampling import SamplingConfig


def rusage_metrics(usage: resource.struct_rusage) -> dict[str, Any]:
    """wait4's rusage -> metrics (ru_maxrss is in KiB on Linux)."""
    return {
        "cpu_user_s": round(usage.ru_utime, 6),
        "cpu_system_s": round(usage.ru_stime, 6),
        "cpu_total_s": round(usage.ru_utime + usage.ru_stime, 6),
        "ctx_voluntary": usage.ru_nvcsw,
        "ctx_involuntary": usage.ru_nivcsw,
        "faults_minor": usage.ru_minflt,
        "faults_major": usage.ru_majflt,
        "rss_peak_bytes": usage.ru_maxrss * 1024,
    }


def parse_proc_io(text: str) -> dict[str, int]:
    """/proc/<pid>/io -> metrics: bytes that reached the storage layer (read_bytes,
    write_bytes), bytes passed through read/write calls (rchar, wchar) and call counts."""
    raw = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if value.strip().isdigit():
            raw[key.strip()] = int(value)
    return {
        "io_read_bytes": raw.get("read_bytes", 0),
        "io_write_bytes": raw.get("write_bytes", 0),
        "io_logical_read_bytes": raw.get("rchar", 0),
        "io_logical_write_bytes": raw.get("wchar", 0),
        "io_read_syscalls": raw.get("syscr", 0),
        "io_write_syscalls": raw.get("syscw", 0),
    }


def tree(pid: int, proc: Path = PROC) -> list[int]:
    """``pid`` and its live descendants, from /proc/<pid>/task/<tid>/children."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            tasks = list((proc / str(current) / "task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                pending.extend(int(p) for p in (task / "children").read_text().split())
            except (OSError, ValueError):
                continue
    return found


class ProcessWatch:
    """Measures one native child from spawn to reaping; the caller drives it.

    The caller (bench.environments.native) waits on :attr:`exit_fd`, calls :meth:`poll`
    when :meth:`poll_due`, and :meth:`reap` once ``exit_fd`` is readable: the final reads
    happen there, between the exit and the reaping. ``group`` is the sample's own cgroup
    (``native[cgroup=own]``), read like a container's.
    """

    def __init__(self, pid: int, measured: tuple[int, ...], config: SamplingConfig,
                 group: CgroupCounters | None = None, proc: Path = PROC) -> None:
        cpu0 = time.thread_time()
        self.pid = pid
        self.config = config
        self.proc = proc
        self.group = group
        self.window = CpuWindow(measured, proc)
        self.exit_fd = os.pidfd_open(pid)
        self.rss_tree_max = 0
        self.tasks_max = 0
        self.series: list[dict[str, float]] = []
        self.io: dict[str, int] = {}
        self.usage: resource.struct_rusage | None = None
        self.returncode: int | None = None
        self.next_poll = self.window.t0 + config.interval_s
        self.cpu_s = time.thread_time() - cpu0

    def poll_due(self) -> float:
        """Seconds until the next poll (<= 0: poll now)."""
        return self.next_poll - time.monotonic()

    def poll(self) -> None:
        """Sum RSS and tasks over the live tree (and read the own cgroup's gauges)."""
        cpu0 = time.thread_time()
        rss = tasks = 0
        for pid in tree(self.pid, self.proc):
            try:
                process = psutil.Process(pid)
                with process.oneshot():
                    rss += process.memory_info().rss
                    tasks += process.num_threads()
            except psutil.Error:  # exited between the walk and the read
                continue
        self.rss_tree_max = max(self.rss_tree_max, rss)
        self.tasks_max = max(self.tasks_max, tasks)
        if self.group is not None:
            self.group.update()
        if self.config.series:
            point = {"t_s": round(time.monotonic() - self.window.t0, 3),
                     "rss_tree_bytes": rss, "tasks": tasks}
            if self.group is not None:
                point.update(self.group.point())
            self.series.append(point)
        self.next_poll = time.monotonic() + self.config.interval_s
        self.cpu_s += time.thread_time() - cpu0

    def reap(self) -> int:
        """Final reads of the exited (zombie) child, then reap it; returns the exit code
        as Popen would (negative: killed by that signal)."""
        cpu0 = time.thread_time()
        self.window.close()
        if self.group is not None:
            self.group.update()
        try:
            self.io = parse_proc_io((self.proc / str(self.pid) / "io").read_text())
        except OSError:  # not readable (hardened /proc): the rest still stands
            self.io = {}
        _, status, self.usage = os.wait4(self.pid, 0)
        self.returncode = os.waitstatus_to_exitcode(status)
        os.close(self.exit_fd)
        self.exit_fd = -1
        self.cpu_s += time.thread_time() - cpu0
        return self.returncode

    def close(self) -> None:
        if self.exit_fd >= 0:
            os.close(self.exit_fd)
            self.exit_fd = -1

    def extra(self) -> dict[str, Any]:
        """``{"metrics": ..., "host": ...[, "series": ...]}`` for the Sample."""
        if self.usage is None:
            return {}
        metrics: dict[str, Any] = {"source": "rusage+procfs", **rusage_metrics(self.usage),
                                   **self.io}
        if self.rss_tree_max:
            metrics["rss_tree_max_bytes"] = self.rss_tree_max
            metrics["tasks_max"] = self.tasks_max
        if self.group is not None:
            # Same accounting as a container: the cgroup's numbers win where both exist.
            metrics.update(self.group.metrics())
            metrics["source"] = f"cgroup {self.group.group.version}+rusage+procfs"
        metrics["collector_cpu_s"] = round(self.cpu_s, 6)
        extra: dict[str, Any] = {
            "metrics": metrics,
            "host": {**self.window.summary(metrics["cpu_total_s"], metrics.get("cpu_user_s")),
                     "cpu_window": "workload"},
        }
        if self.config.series:
            extra["series"] = {"workload": self.series}
        return extra
