"""``native``: the workload as a plain process on the host, pinned with sched_setaffinity."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from typing import Any

from bench.environments.base import (
    WORKDIR,
    WORKLOAD_ENV,
    Environment,
    RawResult,
    SampleContext,
    finish_sample,
    now,
    sha256_file,
    wrap,
)
from bench.results import Sample
from bench.suite import Workload


class NativeEnvironment(Environment):
    """Runs each sample as a child process pinned to the measured CPUs."""

    name = "native"

    def execute(self, workload: Workload, ctx: SampleContext) -> Sample:
        argv = wrap(workload.argv(len(ctx.cpus), ctx.quick))
        cpus = set(ctx.cpus)
        started_at, start = now()
        error = None
        try:
            proc = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(WORKLOAD_ENV),
                cwd=WORKDIR,
                # Pinned before exec, so the workload never runs elsewhere.
                preexec_fn=lambda: os.sched_setaffinity(0, cpus),
                start_new_session=True,
            )
        except OSError as err:
            raw = RawResult(None, "", "", 0.0, started_at, "", f"cannot start: {err}")
            return finish_sample(workload, self.variant, ctx, raw)
        try:
            out, err_out = proc.communicate(timeout=workload.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err_out = proc.communicate()
            error = f"timed out after {workload.timeout:g} s"
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        wall = now()[1] - start
        raw = RawResult(proc.returncode, out.decode(errors="replace"),
                        err_out.decode(errors="replace"), wall, started_at,
                        f"pid:{proc.pid}", error)
        return finish_sample(workload, self.variant, ctx, raw)

    def binary_hashes(self, binaries: list[str]) -> dict[str, dict[str, str]]:
        hashes: dict[str, dict[str, str]] = {}
        for binary in binaries:
            found = shutil.which(binary, path=WORKLOAD_ENV["PATH"])
            if found is None:
                hashes[binary] = {"path": "", "sha256": "", "error": "not found on the host"}
                continue
            path = os.path.realpath(found)
            hashes[binary] = {"path": path, "sha256": sha256_file(path)}
        return hashes

    def facts(self) -> dict[str, Any]:
        return {"pinning": "sched_setaffinity"}
