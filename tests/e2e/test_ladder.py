"""`bench run --variants ladder` through the real environments: every rung runs (native,
runc, Docker), and the summary, report and JSON give every step with its interval."""

from __future__ import annotations

import html
import json
import subprocess
import sys

import pytest

from bench import engine, results
from bench.cpulist import online_cpus
from bench.environments import oci
from bench.variants import LADDER

pytestmark = [pytest.mark.e2e, pytest.mark.docker]


def test_ladder_run_of_redis_gives_every_step(tmp_path):
    cpu = online_cpus()[-1]
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--variants", "ladder", "-w", "app.redis-get",
         "--quick", "--blocks", "3", "--warmup", "0", "--cpus", str(cpu), "--seed", "4",
         "--out", str(tmp_path)], capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (folder,) = tmp_path.iterdir()
    loaded = results.load_run(folder)
    rungs = [rung for rung, _ in LADDER]
    assert loaded.run["plan"]["ladder"] == rungs
    assert all(s.ok for s in loaded.samples), [s.error for s in loaded.samples if not s.ok]
    assert {s.variant for s in loaded.samples} == set(rungs)
    assert {tuple(s.affinity) for s in loaded.samples} == {(cpu,)}
    # The rungs really differ where they say: server cgroup, runc, veth address, bridge.
    by_rung = {s.variant: s for s in loaded.samples}
    assert by_rung["native[cgroup=own]"].extra["server_cgroup"].startswith("/bench/")
    assert by_rung["oci"].instance.startswith("runc:")
    assert by_rung["oci[userns=on,net=veth]"].extra["server"]["host"].startswith("10.213.")
    assert by_rung["docker[port=direct]"].extra["server"]["host"] != "127.0.0.1"
    assert by_rung["docker"].extra["server"]["host"] == "127.0.0.1"
    # Every step, in the terminal, the report and the JSON summary.
    assert "overhead ladder" in proc.stdout.lower()
    assert "app.redis-get: " in proc.stdout and " total" in proc.stdout
    report = html.unescape((folder / "report.html").read_text())
    for _, adds in LADDER[1:]:
        assert adds in report
    subprocess.run([sys.executable, "-m", "bench", "report", str(folder), "--format", "json",
                    "-o", str(tmp_path / "summary.json")], check=True, capture_output=True)
    ladder = json.loads((tmp_path / "summary.json").read_text())["ladder"]
    (climb,) = ladder["workloads"]
    assert [s["rung"] for s in climb["steps"]] == rungs[1:]
    assert all(s["comparison"] is not None and len(s["ci95"]) == 2 for s in climb["steps"])
    assert not any(oci.leftovers(loaded.run["run_id"]).values())
    assert not any(engine.leftovers(engine.connect(), loaded.run["run_id"]).values())
