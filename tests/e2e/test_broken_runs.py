"""Broken run folders, as a user meets them: one line on stderr, no traceback, the
documented exit code (2: bad input), for every command that reads a run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "results" / "example"


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True,
                          text=True, timeout=300)


def broken(tmp_path: Path, how: str) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(EXAMPLE, folder)
    run_path, samples_path = folder / "run.json", folder / "samples.jsonl"
    if how == "no plan":
        run = json.loads(run_path.read_text())
        del run["plan"]
        run_path.write_text(json.dumps(run))
    elif how == "no direction":
        run = json.loads(run_path.read_text())
        for workload in run["plan"]["workloads"]:
            workload["metric"].pop("better", None)
        run_path.write_text(json.dumps(run))
    elif how == "empty samples":
        samples_path.write_text("")
    elif how == "no samples file":
        samples_path.unlink()
    elif how == "bad run.json":
        run_path.write_text("{bad")
    elif how == "no run.json":
        run_path.unlink()
    return folder


CASES = {
    "no plan": "no metric direction",
    "no direction": "no metric direction",
    "empty samples": "no samples",
    "no samples file": "no samples",
    "bad run.json": "not valid JSON",
    "no run.json": "missing",
}


@pytest.mark.parametrize("how", list(CASES))
@pytest.mark.parametrize("command", ["analyze", "report"])
def test_a_broken_run_folder_is_one_line_exit_2(tmp_path, how, command):
    folder = broken(tmp_path, how)
    proc = bench(command, str(folder))
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert CASES[how] in lines[0] and str(folder) in lines[0], lines[0]
    # Nothing already there is lost or overwritten by the refusal.
    assert not (folder / "report.html").exists() or command == "analyze" or \
        (folder / "report.html").read_bytes() == (EXAMPLE / "report.html").read_bytes()


def test_a_run_missing_its_plan_is_never_guessed_faster(tmp_path):
    """Before: with no plan every metric was taken as higher-is-better, so start-up and
    latency came out "faster" with exit 0."""
    proc = bench("compare", str(EXAMPLE), str(broken(tmp_path, "no plan")))
    assert proc.returncode == 2 and "no metric direction" in proc.stderr
    assert "Traceback" not in proc.stderr
