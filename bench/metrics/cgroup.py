"""Cgroup readers, v1 and v2: what a container (or ``native[cgroup=own]``) used.

A cgroup is found from a PID (``/proc/<pid>/cgroup`` against the mounted hierarchies in
``/proc/self/mountinfo``), never guessed from an engine's naming scheme, so the same code
serves cgroupfs and systemd drivers, v1, v2 and hybrid hosts. Each resource is read from
the hierarchy that holds its controller (v2 when the controller is enabled there, else v1);
v2's core files (``cpu.stat`` usage, ``*.pressure``) exist on every v2 cgroup, so a hybrid
host adds pressure stall times to the v1 numbers.

Counters are deltas between the first reading and the last; gauges (memory in use, tasks)
are the maximum over every reading; ``mem_peak_bytes`` is the kernel's own high-water mark
(v1 ``memory.max_usage_in_bytes``, v2 ``memory.peak``) of a cgroup made for the sample.

When a container's init process exits, the engine removes its cgroup within milliseconds,
before ``wait`` returns. :class:`ContainerWatch` therefore reads once right after start,
polls at the sampling interval, and reads again the moment the init process exits (a
pidfd becomes readable then), which wins that race in practice; if it ever loses, the last
poll stands and the sample says so (``final_read``).
"""

from __future__ import annotations

import errno
import functools
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.metrics.host import PROC, CpuWindow, parse_flat, parse_pressure
from bench.metrics.sampling import Poller, SamplingConfig

_HZ = os.sysconf("SC_CLK_TCK")
#: Mount options of a v1 hierarchy that are not controllers.
_NOT_CONTROLLERS = {"rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode",
                    "favordynmods", "nsdelegate", "memory_localevents",
                    "memory_recursiveprot", "memory_hugetlb_accounting"}


_OCTAL = re.compile(r"\\([0-7]{3})")


class CgroupGone(Exception):
    """The cgroup's directory disappeared (the engine removed it)."""


# --- where a cgroup lives -------------------------------------------------------------

@dataclass(frozen=True)
class Mount:
    """One mounted cgroup hierarchy."""

    controllers: tuple[str, ...]  # v1: ("cpu", "cpuacct") or ("name=systemd",); v2: ()
    root: str                     # the cgroup mounted there, "/" outside cgroup namespaces
    mountpoint: Path


@dataclass(frozen=True)
class Hierarchies:
    """The cgroup hierarchies mounted on this host (from /proc/self/mountinfo)."""

    v1: tuple[Mount, ...] = ()
    v2: Mount | None = None

    def v1_mount(self, controller: str) -> Mount | None:
        return next((m for m in self.v1 if controller in m.controllers), None)

    @classmethod
    def parse(cls, mountinfo: str) -> Hierarchies:
        v1: list[Mount] = []
        v2 = None
        for line in mountinfo.splitlines():
            left, sep, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if not sep or len(fields) < 5 or len(tail) < 3:
                continue
            root, mountpoint = _unescape(fields[3]), Path(_unescape(fields[4]))
            if tail[0] == "cgroup2" and v2 is None:
                v2 = Mount((), root, mountpoint)
            elif tail[0] == "cgroup":
                controllers = tuple(o for o in tail[2].split(",") if o not in _NOT_CONTROLLERS
                                    and ("=" not in o or o.startswith("name=")))
                if controllers and not any(m.controllers == controllers for m in v1):
                    v1.append(Mount(controllers, root, mountpoint))
        return cls(tuple(v1), v2)


def _unescape(text: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (``\\040``)."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), text)


@functools.cache
def hierarchies(proc: Path = PROC) -> Hierarchies:
    """This host's hierarchies (read once per process: they do not move during a run)."""
    return Hierarchies.parse((proc / "self" / "mountinfo").read_text())


def _under(mount: Mount, path: str) -> Path | None:
    relative = os.path.relpath(path, mount.root)
    if relative.startswith(".."):
        return None  # outside what this mount shows (another cgroup namespace)
    return mount.mountpoint if relative == "." else mount.mountpoint / relative


@dataclass(frozen=True)
class CgroupSet:
    """One cgroup's directory in every hierarchy it belongs to."""

    v1: Mapping[str, Path] = field(default_factory=dict)  # controller -> directory
    v2: Path | None = None
    v2_controllers: frozenset[str] = frozenset()
    path: str = ""

    @classmethod
    def from_dirs(cls, v1: Mapping[str, Path], v2: Path | None, path: str = "") -> CgroupSet:
        controllers: frozenset[str] = frozenset()
        if v2 is not None:
            try:
                controllers = frozenset((v2 / "cgroup.controllers").read_text().split())
            except OSError:
                controllers = frozenset()
        return cls(dict(v1), v2, controllers, path)

    @classmethod
    def for_pid(cls, pid: int, proc: Path = PROC, mounts: Hierarchies | None = None,
                text: str | None = None) -> CgroupSet:
        """The cgroup of process ``pid`` (``text``: its /proc/<pid>/cgroup, if already read)."""
        mounts = mounts or hierarchies(proc)
        text = (proc / str(pid) / "cgroup").read_text() if text is None else text
        return cls.from_proc_cgroup(text, mounts)

    @classmethod
    def from_proc_cgroup(cls, text: str, mounts: Hierarchies) -> CgroupSet:
        v1: dict[str, Path] = {}
        v2, v2_path, v1_path = None, "", ""
        for line in text.splitlines():
            hierarchy_id, _, rest = line.partition(":")
            controllers, _, path = rest.partition(":")
            if hierarchy_id == "0" and not controllers:
                if mounts.v2 is not None:
                    v2, v2_path = _under(mounts.v2, path), path
                continue
            for controller in controllers.split(","):
                mount = mounts.v1_mount(controller)
                directory = _under(mount, path) if mount else None
                if directory is not None:
                    v1[controller] = directory
                    if controller in ("cpu", "cpuacct") or not v1_path:
                        v1_path = path
        if not v1 and v2 is None:
            raise LookupError("no mounted cgroup hierarchy holds this process")
        return cls.from_dirs(v1, v2, v1_path or v2_path)

    @property
    def version(self) -> str:
        if self.v1 and self.v2 is not None:
            return "v1+v2"
        return "v1" if self.v1 else "v2"

    def uses_v2(self, controller: str) -> bool:
        return self.v2 is not None and controller in self.v2_controllers


# --- reading ----------------------------------------------------------------------------

def names_cgroup(proc_cgroup: str, name: str) -> bool:
    """Whether a /proc/<pid>/cgroup text puts the process in a cgroup named by ``name`` (a
    container id or a path) as a whole path component: ``/bench/r-1`` is not ``/bench/r-10``
    (the ``.scope`` of a systemd-managed container still counts)."""
    return re.search(re.escape(name) + r"(?=[/.\n]|$)", proc_cgroup) is not None


def _text(directory: Path, name: str) -> str | None:
    """A cgroup file's text; None when this kernel lacks the file; CgroupGone when the
    cgroup itself has gone."""
    try:
        return (directory / name).read_text()
    except FileNotFoundError:
        if not directory.is_dir():
            raise CgroupGone(str(directory)) from None
        return None
    except OSError as err:
        if err.errno == errno.ENODEV:  # removed while being read
            raise CgroupGone(str(directory)) from None
        raise


def _int(directory: Path, name: str) -> int | None:
    text = _text(directory, name)
    return int(text) if text is not None and text.strip().isdigit() else None


def parse_blkio(text: str) -> dict[str, int]:
    """v1 ``blkio.throttle.io_service_bytes`` / ``io_serviced``: ``MAJ:MIN Read N`` lines
    -> ``{"read": sum, "write": sum}`` over devices."""
    sums = {"read": 0, "write": 0}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in ("Read", "Write") and parts[2].isdigit():
            sums[parts[1].lower()] += int(parts[2])
    return sums


def parse_io_stat(text: str) -> dict[str, int]:
    """v2 ``io.stat``: ``MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=..`` -> sums over devices."""
    sums = {"rbytes": 0, "wbytes": 0, "rios": 0, "wios": 0}
    for line in text.splitlines():
        for item in line.split()[1:]:
            key, _, value = item.partition("=")
            if key in sums and value.isdigit():
                sums[key] += int(value)
    return sums


def read(group: CgroupSet) -> dict[str, int]:
    """One reading of every counter the cgroup exposes, in the kernel's units."""
    raw: dict[str, int] = {}
    v1, v2 = group.v1, group.v2
    # CPU time: cpuacct (v1), else cpu.stat's usage, which every v2 cgroup has.
    if "cpuacct" in v1 and not group.uses_v2("cpu"):
        usage = _int(v1["cpuacct"], "cpuacct.usage")
        if usage is not None:
            raw["cpu_usage_ns"] = usage
        user, system = _int(v1["cpuacct"], "cpuacct.usage_user"), _int(v1["cpuacct"],
                                                                       "cpuacct.usage_sys")
        if user is None or system is None:  # older kernels: USER_HZ ticks only
            ticks = parse_flat(_text(v1["cpuacct"], "cpuacct.stat") or "")
            user = ticks.get("user", 0) * 10**9 // _HZ
            system = ticks.get("system", 0) * 10**9 // _HZ
        raw["cpu_user_ns"], raw["cpu_system_ns"] = user, system
    v2_cpu = parse_flat(_text(v2, "cpu.stat") or "") if v2 is not None else {}
    if "cpu_usage_ns" not in raw and "usage_usec" in v2_cpu:
        raw["cpu_usage_ns"] = v2_cpu["usage_usec"] * 1000
        raw["cpu_user_ns"] = v2_cpu.get("user_usec", 0) * 1000
        raw["cpu_system_ns"] = v2_cpu.get("system_usec", 0) * 1000
    # CFS bandwidth (quota) throttling: the cpu controller's cpu.stat.
    if group.uses_v2("cpu"):
        for key in ("nr_periods", "nr_throttled"):
            raw[key] = v2_cpu.get(key, 0)
        raw["throttled_ns"] = v2_cpu.get("throttled_usec", 0) * 1000
    elif "cpu" in v1:
        stat = parse_flat(_text(v1["cpu"], "cpu.stat") or "")
        for key in ("nr_periods", "nr_throttled"):
            raw[key] = stat.get(key, 0)
        raw["throttled_ns"] = stat.get("throttled_time", 0)
    # Memory.
    if group.uses_v2("memory"):
        assert v2 is not None
        stat = parse_flat(_text(v2, "memory.stat") or "")
        _put(raw, "mem_usage_bytes", _int(v2, "memory.current"))
        _put(raw, "mem_peak_bytes", _int(v2, "memory.peak"))
        _put(raw, "mem_swap_bytes", _int(v2, "memory.swap.current"))
        for key, name in (("mem_anon_bytes", "anon"), ("mem_file_bytes", "file"),
                          ("pgfault", "pgfault"), ("pgmajfault", "pgmajfault")):
            _put(raw, key, stat.get(name))
    elif "memory" in v1:
        directory = v1["memory"]
        stat = parse_flat(_text(directory, "memory.stat") or "")
        _put(raw, "mem_usage_bytes", _int(directory, "memory.usage_in_bytes"))
        _put(raw, "mem_peak_bytes", _int(directory, "memory.max_usage_in_bytes"))
        for key, name in (("mem_anon_bytes", "rss"), ("mem_file_bytes", "cache"),
                          ("mem_swap_bytes", "swap"), ("pgfault", "pgfault"),
                          ("pgmajfault", "pgmajfault")):
            _put(raw, key, stat.get(f"total_{name}", stat.get(name)))
    # Block I/O.
    if group.uses_v2("io"):
        assert v2 is not None
        io = parse_io_stat(_text(v2, "io.stat") or "")
        raw.update(blkio_read_bytes=io["rbytes"], blkio_write_bytes=io["wbytes"],
                   blkio_read_ops=io["rios"], blkio_write_ops=io["wios"])
    elif "blkio" in v1:
        size = parse_blkio(_text(v1["blkio"], "blkio.throttle.io_service_bytes") or "")
        ops = parse_blkio(_text(v1["blkio"], "blkio.throttle.io_serviced") or "")
        raw.update(blkio_read_bytes=size["read"], blkio_write_bytes=size["write"],
                   blkio_read_ops=ops["read"], blkio_write_ops=ops["write"])
    # Tasks (threads included).
    if group.uses_v2("pids"):
        assert v2 is not None
        _put(raw, "tasks", _int(v2, "pids.current"))
    elif "pids" in v1:
        _put(raw, "tasks", _int(v1["pids"], "pids.current"))
    # Pressure stall information: time some (or all) of the cgroup's tasks waited.
    if v2 is not None:
        for resource in ("cpu", "memory", "io"):
            for kind, total in parse_pressure(_text(v2, f"{resource}.pressure") or "").items():
                raw[f"{resource}_pressure_{kind}_us"] = total
    return raw


def _put(raw: dict[str, int], key: str, value: int | None) -> None:
    if value is not None:
        raw[key] = value


#: Counters: metric name and scale from the raw reading; reported as last - first.
COUNTERS: dict[str, tuple[str, float]] = {
    "cpu_usage_ns": ("cpu_total_s", 1e-9),
    "cpu_user_ns": ("cpu_user_s", 1e-9),
    "cpu_system_ns": ("cpu_system_s", 1e-9),
    "nr_periods": ("nr_periods", 1),
    "nr_throttled": ("nr_throttled", 1),
    "throttled_ns": ("throttled_s", 1e-9),
    "pgmajfault": ("faults_major", 1),
    "blkio_read_bytes": ("blkio_read_bytes", 1),
    "blkio_write_bytes": ("blkio_write_bytes", 1),
    "blkio_read_ops": ("blkio_read_ops", 1),
    "blkio_write_ops": ("blkio_write_ops", 1),
    **{f"{r}_pressure_{k}_us": (f"{r}_pressure_{k}_s", 1e-6)
       for r in ("cpu", "memory", "io") for k in ("some", "full")},
}
#: Gauges: reported as the maximum over every reading.
GAUGES = {
    "mem_usage_bytes": "mem_usage_max_bytes",
    "mem_anon_bytes": "mem_anon_max_bytes",
    "mem_file_bytes": "mem_file_max_bytes",
    "mem_swap_bytes": "mem_swap_max_bytes",
    "tasks": "tasks_max",
}


def delta_metrics(first: Mapping[str, int], last: Mapping[str, int],
                  peaks: Mapping[str, int]) -> dict[str, Any]:
    """Readings -> metrics with units in the names (see the module docstring)."""
    metrics: dict[str, Any] = {}
    for key, (name, scale) in COUNTERS.items():
        if key in first and key in last:
            value = last[key] - first[key]
            metrics[name] = round(value * scale, 6) if scale != 1 else value
    user, system = metrics.get("cpu_user_s"), metrics.get("cpu_system_s")
    if user is not None and system is not None and user + system > 0:
        # The user/system split is tick-sampled (cpuacct.usage_user, and v1 and v2 alike
        # before scaling), the total exact: scale the split to the total, as the kernel
        # does for rusage and for v2's user_usec/system_usec.
        total = metrics["cpu_total_s"]
        metrics["cpu_user_s"] = round(total * user / (user + system), 6)
        metrics["cpu_system_s"] = round(total * system / (user + system), 6)
    if "pgfault" in first and "pgfault" in last:
        metrics["faults_minor"] = (last["pgfault"] - first["pgfault"]
                                   - metrics.get("faults_major", 0))
    if "mem_peak_bytes" in last:
        metrics["mem_peak_bytes"] = last["mem_peak_bytes"]
    for key, name in GAUGES.items():
        if key in peaks:
            metrics[name] = peaks[key]
    if "cpu_usage_ns" in first:
        metrics["cpu_before_first_read_s"] = round(first["cpu_usage_ns"] * 1e-9, 6)
    return metrics


class CgroupCounters:
    """The first, last and peak readings of one cgroup over a sample."""

    def __init__(self, group: CgroupSet) -> None:
        self.group = group
        self.first = read(group)
        self.last = self.first
        self.peaks = {k: v for k, v in self.first.items() if k in GAUGES}
        self.t_first = self.t_last = time.monotonic()
        self.gone = False

    def update(self) -> bool:
        """Read again; False (keeping the last reading) once the cgroup has gone."""
        if self.gone:
            return False
        try:
            values = read(self.group)
        except CgroupGone:
            self.gone = True
            return False
        self.last, self.t_last = values, time.monotonic()
        for key in GAUGES:
            if key in values:
                self.peaks[key] = max(self.peaks.get(key, 0), values[key])
        return True

    def point(self) -> dict[str, float]:
        """The last reading as a time-series point."""
        point: dict[str, float] = {"t_s": round(self.t_last - self.t_first, 3)}
        if "cpu_usage_ns" in self.last:
            point["cpu_s"] = round(self.last["cpu_usage_ns"] * 1e-9, 6)
        for key in ("mem_usage_bytes", "tasks", "nr_throttled"):
            if key in self.last:
                point[key] = self.last[key]
        return point

    def metrics(self) -> dict[str, Any]:
        return {**delta_metrics(self.first, self.last, self.peaks),
                "cgroup": self.group.version, "cgroup_path": self.group.path}


# --- containers -------------------------------------------------------------------------

class ContainerWatch:
    """A running container's cgroup, from its init PID, until that process exits.

    Start it right after the container starts; call :meth:`finish` after the engine
    reports the exit and before the container is removed; :meth:`stop` in a ``finally``.
    Nothing here fails a sample: when the cgroup cannot be read, the metrics say why.
    """

    def __init__(self, pid: int, container_id: str, measured: tuple[int, ...],
                 config: SamplingConfig, proc: Path = PROC,
                 mounts: Hierarchies | None = None) -> None:
        cpu0 = time.thread_time()
        self.config = config
        self.error: str | None = None
        self.counters: CgroupCounters | None = None
        self.window: CpuWindow | None = None
        self.poller: Poller | None = None
        self.series: list[dict[str, float]] = []
        self.exit_read: bool | None = None
        self.t_exit: float | None = None
        self.pidfd = -1
        try:
            if pid <= 0:
                raise LookupError("the container exited before its cgroup could be read")
            self.pidfd = os.pidfd_open(pid)
            text = (proc / str(pid) / "cgroup").read_text()
            if not names_cgroup(text, container_id):
                raise LookupError(f"PID {pid} is not in container {container_id[:12]}'s "
                                  "cgroup (it exited and the PID was reused)")
            self.window = CpuWindow(measured, proc)
            self.counters = CgroupCounters(CgroupSet.for_pid(pid, proc, mounts, text))
        except (OSError, LookupError, CgroupGone) as err:
            self.error = f"container cgroup not readable: {err}"
            self._close()
        else:
            self.poller = Poller("bench-cgroup-watch", config.interval_s, measured,
                                 self._tick, self.pidfd, self._exited)
        self.cpu_s = time.thread_time() - cpu0

    def _tick(self) -> None:
        assert self.counters is not None
        if self.counters.update() and self.config.series:
            self.series.append(self.counters.point())

    def _exited(self) -> None:
        assert self.counters is not None and self.window is not None
        self.t_exit = time.monotonic()
        self.exit_read = self.counters.update()
        self.window.close()

    def _close(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1

    def finish(self, timeout: float = 10.0) -> dict[str, Any]:
        """``{"metrics": ..., "host": ...[, "series": ...]}`` once the container exited."""
        if self.poller is not None:
            self.poller.join(timeout)
            self.stop()
        if self.counters is None or self.window is None:
            return {"metrics": {"source": "cgroup", "error": self.error,
                                "collector_cpu_s": round(self.cpu_s, 6)}}
        metrics: dict[str, Any] = {"source": f"cgroup {self.counters.group.version}",
                                   **self.counters.metrics()}
        if self.exit_read:
            metrics["final_read"] = "exit"
        else:
            # The engine removed the cgroup first (or the exit was never seen): the last
            # poll stands, up to one interval before the exit.
            metrics["final_read"] = "last poll"
            end = self.t_exit or time.monotonic()
            metrics["final_read_lag_s"] = round(end - self.counters.t_last, 3)
        metrics["collector_cpu_s"] = round(self.cpu_s, 6)
        extra: dict[str, Any] = {
            "metrics": metrics,
            "host": {**self.window.summary(metrics.get("cpu_total_s"),
                                           metrics.get("cpu_user_s")),
                     "cpu_window": "workload"},
        }
        if self.config.series:
            extra["series"] = {"workload": self.series}
        return extra

    def stop(self) -> None:
        """End the polling thread and release the pidfd; safe to call twice."""
        if self.poller is not None:
            self.poller.stop()
            self.cpu_s += self.poller.cpu_s
            error, self.poller = self.poller.error, None
            self._close()
            if error is not None:
                raise error
        self._close()


# --- native[cgroup=own] -----------------------------------------------------------------

class OwnCgroup:
    """A fresh cgroup for one native sample, made as runc makes a container's.

    ``bench/<name>`` at the root of every mounted hierarchy (depth 2, like docker's
    ``docker/<id>``), cpuset.cpus set to the measured CPUs; the child joins it between fork
    and exec (:meth:`join`), so the workload never runs outside it. The ``bench`` parents
    stay, as ``docker`` does; the leaf is removed after the sample (:meth:`remove`).
    """

    PARENT = "bench"

    def __init__(self, name: str, cpus: tuple[int, ...],
                 mounts: Hierarchies | None = None) -> None:
        mounts = mounts or hierarchies()
        self.created: list[Path] = []
        v1: dict[str, Path] = {}
        v2 = None
        cpu_list = ",".join(str(c) for c in sorted(cpus))
        try:
            for mount in mounts.v1:
                leaf = self._make_v1(mount, name, cpu_list)
                v1.update({controller: leaf for controller in mount.controllers})
            if mounts.v2 is not None:
                v2 = self._make_v2(mounts.v2, name, cpu_list)
        except OSError:
            self.remove()
            raise
        self.group = CgroupSet.from_dirs(v1, v2, f"/{self.PARENT}/{name}")
        self._procs = [os.fsencode(d / "cgroup.procs") for d in self.created]

    def _make_v1(self, mount: Mount, name: str, cpu_list: str) -> Path:
        parent = mount.mountpoint / self.PARENT
        parent.mkdir(exist_ok=True)
        cpuset = "cpuset" in mount.controllers
        if cpuset:  # a new v1 cpuset is empty until cpus and mems are written
            for key in ("cpuset.cpus", "cpuset.mems"):
                if not (parent / key).read_text().strip():
                    (parent / key).write_text((mount.mountpoint / key).read_text())
        leaf = parent / name
        leaf.mkdir()
        self.created.append(leaf)
        if cpuset:
            (leaf / "cpuset.cpus").write_text(cpu_list)
            (leaf / "cpuset.mems").write_text((parent / "cpuset.mems").read_text())
        return leaf

    def _make_v2(self, mount: Mount, name: str, cpu_list: str) -> Path:
        parent = mount.mountpoint / self.PARENT
        parent.mkdir(exist_ok=True)
        for controller in (mount.mountpoint / "cgroup.subtree_control").read_text().split():
            try:  # what the root delegates to children, the parent delegates to its leaves
                (parent / "cgroup.subtree_control").write_text(f"+{controller}")
            except OSError:
                continue
        leaf = parent / name
        leaf.mkdir()
        self.created.append(leaf)
        if "cpuset" in (leaf / "cgroup.controllers").read_text().split():
            (leaf / "cpuset.cpus").write_text(cpu_list)
        return leaf

    def join(self) -> None:
        """Move the calling process into the cgroup. Runs in the child between fork and
        exec (preexec_fn): plain system calls only."""
        for procs in self._procs:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)

    def remove(self) -> None:
        """Remove the leaf everywhere (after the child was reaped); safe to call twice."""
        for leaf in reversed(self.created):
            for _ in range(50):
                try:
                    leaf.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as err:
                    if err.errno != errno.EBUSY:
                        raise
                    time.sleep(0.02)  # the last task is still being released
        self.created = [leaf for leaf in self.created if leaf.exists()]
