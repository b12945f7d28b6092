"""Two-role workloads: the server under test, measured over the client's run.

The metric of a two-role workload comes from its client, but the role under test is the
server, so its resources are what a reader needs (did the server's container get throttled;
did it use the same CPU time natively and in a container?). Totals are read right before
the client starts and right after it ends, so the server's start-up (a database
initialising) and shutdown stay out; gauges (memory, tasks) are polled in between:

- a server in a container (docker, podman, oci) or in a cgroup of its own
  (``native[cgroup=own]``): its cgroup, read as a single-role container's is
  (:class:`bench.metrics.cgroup.CgroupCounters`); ``mem_peak_bytes`` there is the cgroup's
  own high-water mark, start-up included;
- a plain native server: psutil over its live process tree (CPU user and system time,
  context switches, I/O), per process, so that a process started in between counts from
  zero and one that ended in between is left out (``processes_gone`` says how many).

Nothing here fails a sample: what cannot be read is said in ``metrics.error``.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import psutil

from bench.metrics.cgroup import CgroupCounters, CgroupGone, CgroupSet, names_cgroup
from bench.metrics.host import PROC, CpuWindow
from bench.metrics.process import tree
from bench.metrics.sampling import Poller, SamplingConfig

#: Cumulative per-process counters read with psutil, by metric name.
_TREE_COUNTERS = ("cpu_user_s", "cpu_system_s", "ctx_voluntary", "ctx_involuntary",
                  "io_read_bytes", "io_write_bytes", "io_logical_read_bytes",
                  "io_logical_write_bytes", "io_read_syscalls", "io_write_syscalls")


def _process_counters(process: psutil.Process) -> tuple[dict[str, float], int, int]:
    """One process's cumulative counters, and its RSS and thread count right now."""
    with process.oneshot():
        cpu = process.cpu_times()
        switches = process.num_ctx_switches()
        values: dict[str, float] = {"cpu_user_s": cpu.user, "cpu_system_s": cpu.system,
                                    "ctx_voluntary": switches.voluntary,
                                    "ctx_involuntary": switches.involuntary}
        try:
            io = process.io_counters()
        except (psutil.AccessDenied, AttributeError):  # hardened /proc: CPU still stands
            pass
        else:
            values.update(io_read_bytes=io.read_bytes, io_write_bytes=io.write_bytes,
                          io_logical_read_bytes=io.read_chars,
                          io_logical_write_bytes=io.write_chars,
                          io_read_syscalls=io.read_count, io_write_syscalls=io.write_count)
        return values, process.memory_info().rss, process.num_threads()


def tree_snapshot(pid: int, proc: Path = PROC) -> tuple[dict[tuple[int, float], dict[str, float]],
                                                        int, int]:
    """``{(pid, create_time): counters}`` over ``pid``'s live tree, with the summed RSS
    and thread count. psutil.NoSuchProcess when ``pid`` itself is gone."""
    root = psutil.Process(pid)
    snapshot: dict[tuple[int, float], dict[str, float]] = {}
    rss = threads = 0
    for member in tree(pid, proc):
        try:
            process = root if member == pid else psutil.Process(member)
            values, member_rss, member_threads = _process_counters(process)
            snapshot[(member, process.create_time())] = values
        except psutil.NoSuchProcess:
            if member == pid:
                raise
            continue  # exited between the walk and the read
        rss += member_rss
        threads += member_threads
    return snapshot, rss, threads


def tree_delta(before: dict[tuple[int, float], dict[str, float]],
               after: dict[tuple[int, float], dict[str, float]]) -> dict[str, Any]:
    """What the tree did between two snapshots: per process (a PID is matched with its
    start time, so a reused PID is a new process), summed; new processes count from zero."""
    totals = dict.fromkeys(_TREE_COUNTERS, 0.0)
    for key, values in after.items():
        start = before.get(key, {})
        for name in _TREE_COUNTERS:
            if name in values:
                totals[name] += max(0.0, values[name] - start.get(name, 0.0))
    metrics: dict[str, Any] = {}
    for name, value in totals.items():
        metrics[name] = round(value, 6) if name.endswith("_s") else int(value)
    metrics["cpu_total_s"] = round(totals["cpu_user_s"] + totals["cpu_system_s"], 6)
    metrics["processes_gone"] = sum(1 for key in before if key not in after)
    return metrics


class ServerWatch:
    """The server's resources between :meth:`__init__` (right before the client starts)
    and :meth:`finish` (right after it ends), gauges (memory, tasks) polled in between at
    the sampling interval, off the measured CPUs.

    ``cgroup``: read the cgroup of ``pid`` (a container's init, or a native server in its
    own cgroup); ``container_id``, when given, must name that cgroup, so that a reused PID
    is never mistaken for the server. Otherwise psutil reads ``pid``'s tree.
    """

    def __init__(self, pid: int | None, cgroup: bool, measured: tuple[int, ...],
                 container_id: str | None = None, config: SamplingConfig | None = None,
                 proc: Path = PROC) -> None:
        cpu0 = time.thread_time()
        self.window = CpuWindow(measured, proc)
        self.pid = pid
        self.proc = proc
        self.error: str | None = None
        self.counters: CgroupCounters | None = None
        self.before: dict[tuple[int, float], dict[str, float]] | None = None
        self.rss_max = self.threads_max = 0
        self.poller: Poller | None = None
        self.t0 = time.monotonic()
        try:
            if pid is None or pid <= 0:
                raise LookupError("the server's PID is not known")
            if cgroup:
                text = (proc / str(pid) / "cgroup").read_text()
                if container_id and not names_cgroup(text, container_id):
                    raise LookupError(f"PID {pid} is not in {container_id[:12]}'s cgroup "
                                      "(the server exited and the PID was reused)")
                self.counters = CgroupCounters(CgroupSet.for_pid(pid, proc, None, text))
            else:
                self.before, self.rss_max, self.threads_max = tree_snapshot(pid, proc)
        except (OSError, LookupError, CgroupGone, psutil.Error) as err:
            self.error = f"server {'cgroup' if cgroup else 'process tree'} not readable: {err}"
        else:
            config = config or SamplingConfig()
            self.poller = Poller("bench-server-watch", config.interval_s, measured, self._tick)
        self.cpu_s = time.thread_time() - cpu0

    def _tick(self) -> None:
        """Gauges only: a cgroup's are kept by its counters; a tree's summed here."""
        if self.counters is not None:
            self.counters.update()
        elif self.pid is not None:
            with contextlib.suppress(psutil.Error):
                _, rss, threads = tree_snapshot(self.pid, self.proc)
                self.rss_max = max(self.rss_max, rss)
                self.threads_max = max(self.threads_max, threads)

    def finish(self) -> dict[str, Any]:
        """``{"metrics": ..., "host": ...}`` for the sample, marked ``role: server``."""
        cpu0 = time.thread_time()
        if self.poller is not None:
            self.poller.stop()
            self.cpu_s += self.poller.cpu_s
            error, self.poller = self.poller.error, None
            if error is not None:
                raise error  # a bug in _tick
        window = round(time.monotonic() - self.t0, 3)
        metrics: dict[str, Any] = {"role": "server", "window": "client run",
                                   "window_s": window}
        if self.counters is not None:
            if self.counters.update():
                metrics.update(source=f"cgroup {self.counters.group.version}",
                               **self.counters.metrics())
            else:
                metrics["error"] = ("the server's cgroup was gone before its client ended "
                                    "(the server stopped early)")
        elif self.before is not None and self.pid is not None:
            try:
                after, rss, threads = tree_snapshot(self.pid, self.proc)
            except psutil.NoSuchProcess:
                metrics["error"] = "the server exited before its client ended"
            except psutil.Error as err:
                metrics["error"] = f"server process tree not readable: {err}"
            else:
                metrics.update(source="psutil (server process tree)",
                               **tree_delta(self.before, after),
                               rss_tree_max_bytes=max(self.rss_max, rss),
                               tasks_max=max(self.threads_max, threads))
        else:
            metrics["error"] = self.error
        # The host over the same window. No noise figure: the kernel's network work for
        # the server (softirq) and an engine's proxy use the measured CPUs without being
        # the server's own CPU time, so "busy minus the server" would not be other programs.
        host = {**self.window.summary(None), "cpu_window": "client run"}
        self.cpu_s += time.thread_time() - cpu0
        metrics["collector_cpu_s"] = round(self.cpu_s, 6)
        return {"metrics": metrics, "host": host}

    def stop(self) -> None:
        """End the polling thread (a client that raised); safe to call twice."""
        if self.poller is not None:
            self.poller.stop()
            self.poller = None
