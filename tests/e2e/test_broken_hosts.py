"""Broken hosts, as a user meets them: every command answers without a traceback, with the
documented exit code (0 done, 1 failed, 2 usage) and, when it fails, one ``error:`` line on
stderr naming what is wrong. Each host is broken for real, for the command only:

- the engine down: ``DOCKER_HOST`` names a socket nothing listens on;
- podman's runtime gone: a second podman service started with a runtime binary that is
  deleted afterwards (as when crun is removed under a running service);
- runc absent: a ``PATH`` holding every program of this host but runc;
- cgroups unreadable: a private mount namespace with an empty tmpfs over /sys/fs/cgroup.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cpulist import online_cpus

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

RUN = ["run", "-w", "cpu.sysbench", "--quick", "--blocks", "2", "--warmup", "0",
       "--seed", "5"]


def bench(args: list[str], env: dict[str, str] | None = None, prefix: list[str] = (),
          timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "bench", *args],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def words(text: str) -> str:
    """Output with its line wrapping undone (rich wraps at the terminal's width)."""
    return " ".join(text.split())


def answered(proc: subprocess.CompletedProcess, code: int, error: str = "") -> None:
    """No traceback; exit ``code``; on failure exactly one error line, containing ``error``."""
    shown = f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr + proc.stdout, shown
    assert proc.returncode == code, shown
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    if code:
        assert len(errors) == 1 and error in errors[0], shown
        assert proc.stderr.strip().splitlines()[-1] == errors[0], shown
    else:
        assert not errors, shown


def test_engine_down(tmp_path):
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    doctor = bench(["doctor"], env, timeout=120)
    answered(doctor, 1, "doctor found problems")
    assert "no Docker engine answers" in words(doctor.stdout)
    answered(bench(["image", "build"], env), 1, "no Docker engine answers")
    answered(bench(["clean"], env, timeout=120), 0)
    answered(bench(["list"], env, timeout=60), 0)
    # A run falls back to the daemonless oci environment and says so (tests/e2e/test_fallback).
    run = bench([*RUN, "--variants", "native,docker", "--cpus", str(online_cpus()[-1]),
                 "--out", str(tmp_path / "out")], env)
    answered(run, 0)
    assert "the Docker variants ran in the daemonless OCI environment" in words(run.stdout)


@pytest.fixture
def podman_without_runtime(tmp_path):
    """A podman service whose runtime binary was deleted after it started; its socket."""
    runtime = tmp_path / "gone-runtime"
    shutil.copy(shutil.which("runc"), runtime)
    socket = tmp_path / "podman.sock"
    service = subprocess.Popen(["podman", "--runtime", str(runtime), "system", "service",
                                "--time=0", f"unix://{socket}"], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if socket.exists():
                break
            time.sleep(0.1)
        assert socket.exists(), "the second podman service did not start"
        runtime.unlink()
        yield socket
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(30)
        except subprocess.TimeoutExpired:
            service.kill()


@pytest.mark.podman
def test_podman_runtime_gone(tmp_path, podman_without_runtime):
    env = {"BENCH_PODMAN_SOCKET": str(podman_without_runtime)}
    doctor = bench(["doctor"], env, timeout=120)
    assert "Traceback" not in doctor.stderr
    assert doctor.returncode in (0, 1)  # 1 only for other checks of this host
    assert "warn podman: podman" in doctor.stdout, doctor.stdout
    assert "answers but reports no OCI runtime" in words(doctor.stdout), doctor.stdout
    run = bench([*RUN, "--variants", "native,podman", "--cpus", str(online_cpus()[-1]),
                 "--out", str(tmp_path / "out")], env)
    answered(run, 1, "reports no OCI runtime")


def test_runc_absent(tmp_path):
    farm = tmp_path / "bin"
    farm.mkdir()
    for directory in [*os.environ["PATH"].split(":"), "/usr/sbin", "/sbin"]:
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            if entry.name != "runc" and not (farm / entry.name).exists():
                (farm / entry.name).symlink_to(entry.path)
    env = {"PATH": str(farm)}
    doctor = bench(["doctor"], env, timeout=120)
    assert "Traceback" not in doctor.stderr and doctor.returncode in (0, 1)
    (line,) = [x for x in doctor.stdout.splitlines() if x.lstrip().startswith("warn oci")]
    assert "no runc" in line
    run = bench([*RUN, "--variants", "native,oci", "--cpus", str(online_cpus()[-1]),
                 "--out", str(tmp_path / "out")], env)
    answered(run, 1, "no OCI runtime")


def test_cgroups_unreadable(tmp_path):
    hide = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount -t tmpfs none /sys/fs/cgroup && exec "$@"', "hide"]
    doctor = bench(["doctor"], prefix=hide, timeout=120)
    assert "Traceback" not in doctor.stderr and doctor.returncode in (0, 1)
    assert any(x.lstrip().startswith("warn cgroups: no readable cgroup hierarchy")
               for x in doctor.stdout.splitlines()), doctor.stdout
    out = tmp_path / "out"
    run = bench([*RUN, "--variants", "native,docker", "--cpus", str(online_cpus()[-1]),
                 "--out", str(out)], prefix=hide)
    answered(run, 0)
    assert "container cgroup not readable" in words(run.stdout)
    (folder,) = out.iterdir()
    assert (Path(folder) / "samples.jsonl").stat().st_size > 0
