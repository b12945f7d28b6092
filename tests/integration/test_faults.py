"""Faults injected against the real engine: a container killed mid-sample, Ctrl-C then
--resume, the engine stopped mid-run. Each checks that no completed sample is lost and
that no labelled leftover remains."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from bench import engine, results
from bench.cpulist import parse_cpus

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
# Fault handling counts samples exactly: no retakes (the guard has tests of its own).
RUN = ["run", "-w", "cpu.sysbench", "--variants", "native,docker", "--quick", "--warmup", "0",
       "--seed", "4", "--no-retake"]


def start_bench(*args: str, sigint_ignored: bool = False) -> subprocess.Popen:
    """``sigint_ignored``: as a shell script starts a background job (SIGINT ignored)."""
    return subprocess.Popen([sys.executable, "-m", "bench", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
                            if sigint_ignored else None)


def wait_for(predicate, timeout: float = 120.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def run_folder(out: Path) -> Path | None:
    folders = list(out.glob("*/run.json")) if out.exists() else []
    return folders[0].parent if folders else None


def sample_lines(folder: Path) -> list[str]:
    path = folder / results.SAMPLES_FILE
    return path.read_text().splitlines() if path.exists() else []


def no_leftovers(run_id: str) -> None:
    left = engine.leftovers(engine.connect(), run_id)
    assert not any(left.values()), left


def test_container_killed_mid_sample_is_a_failed_sample_and_the_run_goes_on(tmp_path):
    client = engine.connect()
    proc = start_bench(*RUN, "--blocks", "3", "--out", str(tmp_path))
    folder = wait_for(lambda: run_folder(tmp_path), what="run folder")
    run_id = folder.name

    def running_container():
        found = client.containers.list(filters={"label": f"bench.run={run_id}",
                                                "status": "running"})
        return [c for c in found if "-hash-" not in c.name]

    (victim,) = wait_for(running_container, what="a running sample container")
    time.sleep(0.5)
    victim.kill()  # SIGKILL from outside, mid-sample
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-2000:] + err[-2000:]
    loaded = results.load_run(folder)
    assert loaded.run["status"] == "complete"
    assert len(loaded.samples) == 6
    failed = [s for s in loaded.samples if not s.ok]
    assert len(failed) == 1 and failed[0].env == "docker"
    assert "killed" in failed[0].error
    assert f"bench-{run_id}-{failed[0].seq}" == victim.name
    no_leftovers(run_id)


@pytest.mark.parametrize("sigint_ignored", [False, True])
def test_sigint_mid_run_then_resume_loses_nothing(tmp_path, sigint_ignored):
    proc = start_bench(*RUN, "--blocks", "4", "--out", str(tmp_path),
                       sigint_ignored=sigint_ignored)
    folder = wait_for(lambda: run_folder(tmp_path), what="run folder")
    wait_for(lambda: len(sample_lines(folder)) >= 3, what="three samples")
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - started < 10, "the run must stop within a few seconds"
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    kept = sample_lines(folder)
    assert len(kept) >= 3
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "interrupted" and run["samples"] == len(kept)
    no_leftovers(folder.name)

    resumed = subprocess.run([sys.executable, "-m", "bench", "run", "--resume", str(folder)],
                             capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    lines = sample_lines(folder)
    assert lines[: len(kept)] == kept  # nothing measured before is lost or rewritten
    loaded = results.load_run(folder)
    assert loaded.run["status"] == "complete" and loaded.run["resumes"]
    assert sorted(s.seq for s in loaded.samples) == list(range(8))
    assert all(s.ok for s in loaded.samples)
    no_leftovers(folder.name)


def test_sigterm_stops_the_run_like_ctrl_c(tmp_path):
    proc = start_bench(*RUN, "--blocks", "4", "--out", str(tmp_path))
    folder = wait_for(lambda: run_folder(tmp_path), what="run folder")
    wait_for(lambda: len(sample_lines(folder)) >= 1, what="one sample")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert json.loads((folder / "run.json").read_text())["status"] == "interrupted"
    no_leftovers(folder.name)


def dockerd() -> psutil.Process | None:
    for process in psutil.process_iter(["name"]):
        if process.info["name"] == "dockerd":
            return process
    return None


def test_engine_stopped_mid_run_ends_clearly_and_resume_completes(tmp_path):
    daemon = dockerd()
    assert daemon is not None, "this test stops and restarts a local dockerd"
    proc = start_bench(*RUN, "--blocks", "6", "--out", str(tmp_path))
    folder = wait_for(lambda: run_folder(tmp_path), what="run folder")
    wait_for(lambda: len(sample_lines(folder)) >= 3, what="three samples")
    try:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
        out, err = proc.communicate(timeout=120)
    finally:
        subprocess.run([str(ROOT / "scripts/engine-up.sh")], check=True, timeout=180,
                       env={**os.environ})
    assert proc.returncode == 1, out[-2000:] + err[-2000:]
    assert "engine stopped answering" in err and "--resume" in err
    assert "Traceback" not in err
    kept = sample_lines(folder)
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "failed" and len(kept) >= 3

    resumed = subprocess.run([sys.executable, "-m", "bench", "run", "--resume", str(folder)],
                             capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert sample_lines(folder)[: len(kept)] == kept
    loaded = results.load_run(folder)
    assert loaded.run["status"] == "complete"
    ok_seqs = {s.seq for s in loaded.samples if s.ok or not s.extra.get("retry_on_resume")}
    assert ok_seqs == set(range(12))
    no_leftovers(folder.name)


def test_resume_of_a_complete_run_is_refused(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench", "run", "--variants", "fake,fake",
                           "--blocks", "2", "--out", str(tmp_path)], capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode == 2 and "given twice" in done.stderr
    ok = subprocess.run([sys.executable, "-m", "bench", "run", "--variants",
                         "fake,fake[scale=2]", "--blocks", "2", "-w", "cpu.sysbench",
                         "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    folder = run_folder(tmp_path)
    again = subprocess.run([sys.executable, "-m", "bench", "run", "--resume", str(folder)],
                           capture_output=True, text=True, cwd=ROOT)
    assert again.returncode == 2 and "nothing to resume" in again.stderr


def test_cpu_list_is_checked_before_anything_runs():
    with pytest.raises(Exception, match="not online"):
        parse_cpus("9999")
