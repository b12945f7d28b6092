"""``native``: the workload as a plain process on the host, pinned with sched_setaffinity.

``native[cgroup=own]`` runs each sample in a fresh cgroup of its own, made as a container's
is (:class:`bench.metrics.OwnCgroup`): the accounting is then identical to a container's,
and comparing it with plain ``native`` measures what the cgroup alone costs.

The child is waited for through a pidfd rather than ``Popen.wait``, so that its final
counters can be read between its exit and its reaping (:mod:`bench.metrics.process`).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, ClassVar

from bench import parsers
from bench.environments import base, roles
from bench.environments.kind import EnvironmentKind
from bench.metrics import OwnCgroup, ProcessWatch
from bench.metrics.cgroup import CgroupCounters
from bench.results import Sample
from bench.variants import Variant
from bench.workloads import Workload

#: Disk workloads' data directories (``{data}``) on the host: native samples and
#: ``docker[storage=bind]`` get a fresh ``<run-id>/<seq>`` directory here, so both are on
#: the same filesystem.
HOST_DATA_ROOT = Path("/var/tmp/bench-data")


def make_host_data_dir(run_id: str, seq: int) -> str:
    """A fresh, empty data directory for one sample (what a resumed run left is removed)."""
    path = HOST_DATA_ROOT / run_id / str(seq)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return str(path)


def remove_host_data_dir(path: str) -> None:
    """Remove a sample's data directory with its content, and the run's once empty."""
    shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(OSError):
        Path(path).parent.rmdir()


def storage_record(kind: str, stderr: str, **details: str) -> dict[str, Any]:
    """``extra.storage`` of a disk workload's sample: where its data directory was
    (``kind``: host, overlay, volume, bind or tmpfs, plus ``details``) and what the
    workload saw there (its ``bench-storage`` line: path, filesystem type, O_DIRECT)."""
    return {"storage": {"kind": kind, **details, **parsers.storage_probe(stderr)}}


class NativeEnvironment(base.Environment):
    """Runs each sample as a child process pinned to the measured CPUs."""

    name = "native"

    def __init__(self, variant: Variant) -> None:
        super().__init__(variant)
        self.own_cgroup = variant.setting("cgroup", "inherit") == "own"
        self._leftover: list[OwnCgroup] = []

    def execute(self, workload: Workload, ctx: base.SampleContext,
                data: str | None = None) -> Sample:
        if workload.two_role:
            return roles.two_role_sample(
                workload, self.variant, ctx,
                lambda w, c: roles.start_native_server(w, c, self.own_cgroup),
                lambda argv, server, ctx, timeout: roles.run_native(
                    argv, ctx.client_cpus or ctx.cpus, timeout))
        if workload.uses_data and data is None:
            return self._execute_with_data(workload, ctx)
        started_at, start = base.now()
        group = None
        if self.own_cgroup:
            try:
                group = OwnCgroup(f"{ctx.run_id}-{ctx.seq}", ctx.cpus)
            except OSError as err:
                return self.not_started(
                    workload, ctx, f"cannot create the sample's cgroup: {err} "
                    "(native[cgroup=own] needs root and a writable cgroup tree)", started_at)
        try:
            return self._execute(workload, ctx, group, started_at, start, data)
        finally:
            if group is not None:
                try:
                    group.remove()
                except OSError:
                    self._leftover.append(group)

    def _execute_with_data(self, workload: Workload, ctx: base.SampleContext) -> Sample:
        """Disk workloads: ``{data}`` is a fresh directory on the host's filesystem (the
        one docker[storage=bind] mounts), removed with its content after the sample."""
        try:
            data = make_host_data_dir(ctx.run_id, ctx.seq)
        except OSError as err:
            return self.not_started(workload, ctx, "cannot create the data directory under "
                                    f"{HOST_DATA_ROOT}: {err}")
        try:
            return self.execute(workload, ctx, data)
        finally:
            remove_host_data_dir(data)

    def _execute(self, workload: Workload, ctx: base.SampleContext, group: OwnCgroup | None,
                 started_at: float, start: float, data: str | None = None) -> Sample:
        argv = base.wrap(workload.argv(len(ctx.cpus), ctx.quick,
                                       **({"data": data} if data else {})))
        try:
            counters = CgroupCounters(group.group) if group is not None else None
            proc = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(base.WORKLOAD_ENV),
                cwd=base.WORKDIR,
                preexec_fn=roles.child_setup(group, ctx.cpus),
                start_new_session=True,
            )
        except (OSError, subprocess.SubprocessError) as err:
            return self.not_started(workload, ctx, f"cannot start: {err}", started_at)
        watch = None
        try:
            watch = ProcessWatch(proc.pid, ctx.cpus, ctx.sampling, counters)
            out, err_out, timed_out = _communicate(proc, watch, workload.timeout)
        except BaseException:
            _kill(proc, watch)
            raise
        wall = base.now()[1] - start
        error = None
        if timed_out:
            error = f"timed out after {workload.timeout:g} s"
        elif proc.returncode < 0:
            signum = -proc.returncode
            name = signal.Signals(signum).name if signum in signal.valid_signals() else signum
            error = (f"killed by {name}" + (" (from outside, or by the OOM killer)"
                                            if signum == signal.SIGKILL else ""))
        raw = base.RawResult(proc.returncode, out.decode(errors="replace"),
                             err_out.decode(errors="replace"), wall, started_at,
                             f"pid:{proc.pid}", error, extra=watch.extra())
        storage = storage_record("host", raw.stderr) if data else None
        return base.finish_sample(workload, self.variant, ctx, raw, extra=storage)

    def binary_hashes(self, binaries: list[str]) -> dict[str, dict[str, str]]:
        hashes: dict[str, dict[str, str]] = {}
        for binary in binaries:
            found = shutil.which(binary, path=base.WORKLOAD_ENV["PATH"])
            if found is None:
                hashes[binary] = {"path": "", "sha256": "", "error": "not found on the host"}
                continue
            path = os.path.realpath(found)
            hashes[binary] = {"path": path, "sha256": base.sha256_file(path)}
        return hashes

    def facts(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"pinning": "sched_setaffinity",
                                 "metrics": "rusage (wait4) + /proc/<pid>/io at exit"}
        if self.own_cgroup:
            facts["cgroup"] = (f"own: a fresh cgroup per sample, /{OwnCgroup.PARENT}/<run-id>-"
                               "<seq> in every mounted hierarchy, cpuset = measured CPUs")
            facts["metrics"] = "cgroup, plus rusage (wait4) + /proc/<pid>/io at exit"
        else:
            facts["cgroup"] = "inherit: the harness's own"
        return facts

    def teardown(self) -> None:
        for group in self._leftover:
            with contextlib.suppress(OSError):
                group.remove()
        self._leftover = [group for group in self._leftover if group.created]


def _communicate(proc: subprocess.Popen[bytes], watch: ProcessWatch,
                 timeout: float) -> tuple[bytes, bytes, bool]:
    """Read stdout and stderr to their end and wait for the exit, polling the metrics on
    the way; ``Popen.communicate`` would reap the child before its totals can be read.
    At the timeout the process group is killed and the rest collected. Returns
    ``(stdout, stderr, timed_out)``; ``proc.returncode`` is set."""
    assert proc.stdout is not None and proc.stderr is not None
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    deadline = time.monotonic() + timeout
    timed_out = False
    with selectors.DefaultSelector() as selector:
        for fd in chunks:
            selector.register(fd, selectors.EVENT_READ)
        selector.register(watch.exit_fd, selectors.EVENT_READ)
        while selector.get_map():
            wait = watch.poll_due() if watch.returncode is None else None
            if not timed_out:
                left = deadline - time.monotonic()
                if left <= 0:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    timed_out = True
                    continue
                wait = left if wait is None else min(wait, left)
            for key, _ in selector.select(None if wait is None else max(wait, 0.0)):
                if key.fd == watch.exit_fd:
                    selector.unregister(key.fd)
                    proc.returncode = watch.reap()
                    continue
                data = os.read(key.fd, 1 << 16)
                if data:
                    chunks[key.fd].append(data)
                else:
                    selector.unregister(key.fd)
            if watch.returncode is None and watch.poll_due() <= 0:
                watch.poll()
    out, err = b"".join(chunks[out_fd]), b"".join(chunks[err_fd])
    proc.stdout.close()
    proc.stderr.close()
    return out, err, timed_out


def _kill(proc: subprocess.Popen[bytes], watch: ProcessWatch | None) -> None:
    """Kill the whole process group and reap the child (on an interrupt or a bug)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    if watch is not None and watch.returncode is None and watch.exit_fd >= 0:
        proc.returncode = watch.reap()
    elif proc.returncode is None:
        proc.wait()
    if watch is not None:
        watch.close()


class NativeKind(EnvironmentKind):
    """The host itself (asv's ``existing``): nothing to connect to or clean up."""

    name = "native"
    options: ClassVar[dict[str, tuple[str, ...]]] = {
        "cgroup": ("inherit", "own"),  # own: a fresh cgroup per sample, as a container's
        "label": (),  # free-form name only: the same variant twice, for A/A calibration
    }
    order = 40

    def create(self, variant: Variant, setup: base.RunSetup) -> base.Environment:
        return NativeEnvironment(variant)


KIND = NativeKind
