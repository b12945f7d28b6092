"""asv tracks the overhead: ``asv check``, a quick ``asv run`` in the existing environment
against the real engine, ``asv publish``, then the published data read back.

Everything asv writes goes to a temporary directory: a copy of asv.conf.json whose
directories point there, and HOME there for asv's machine file (``~/.asv-machine.json``).
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from bench import analysis, engine, results
from bench.workloads import load_workloads

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
MACHINE = "bench-asv-test"
WORKLOAD = "cpu.sysbench"


def call(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=1200)
    assert proc.returncode == 0, f"{args}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def asv_home(home: Path, **variables: str) -> tuple[list[str], dict[str, str]]:
    """asv.conf.json copied into ``home`` with its directories there; the machine recorded.

    Returns the ``--config`` arguments and the environment for asv.
    """
    config = json.loads((REPO / "asv.conf.json").read_text())
    config.update(repo=str(REPO), benchmark_dir=str(REPO / config["benchmark_dir"]),
                  results_dir=str(home / "results"), html_dir=str(home / "html"),
                  env_dir=str(home / "env"))
    branch = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.strip()
    if branch != "HEAD":  # not detached: publish the branch being tested
        config["branches"] = [branch]
    (home / "asv.conf.json").write_text(json.dumps(config, indent=2))
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_ASV_")}
    env = {**inherited, "HOME": str(home), "BENCH_ASV_OUT": str(home / "runs"), **variables}
    call("-m", "bench.tracking", "machine", "--machine", MACHINE, env=env, cwd=home)
    return ["--config", str(home / "asv.conf.json")], env


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """Check, run quick on one workload, publish: the README's steps in a temporary home."""
    home = tmp_path_factory.mktemp("asv")
    conf, env = asv_home(home, BENCH_ASV_QUICK="1", BENCH_ASV_WORKLOADS=WORKLOAD)
    call("-m", "asv", "check", *conf, env=env, cwd=home)
    call("-m", "asv", "run", *conf, "--machine", MACHINE, "--set-commit-hash", "HEAD",
         "--show-stderr", env=env, cwd=home)  # exit code 2 when a benchmark fails
    call("-m", "asv", "publish", *conf, env=env, cwd=home)
    return home


def graph(home: Path, name: str) -> list:
    """The published series of benchmark ``name`` on MACHINE: [[revision, values], ...]."""
    (path,) = [p for p in (home / "html" / "graphs").rglob(f"{name}.json")
               if f"machine-{MACHINE}" in p.parts]
    return json.loads(path.read_text())


def by_params(index: dict, name: str, values: list) -> dict[tuple[str, ...], float | None]:
    """A parameterised benchmark's values keyed by (workload, variant), quotes removed."""
    params = [[p.strip("'") for p in axis] for axis in index["benchmarks"][name]["params"]]
    return dict(zip(itertools.product(*params), values, strict=True))


def test_published_data_holds_the_tracked_overhead(published):
    index = json.loads((published / "html" / "index.json").read_text())
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                          text=True, check=True).stdout.strip()
    (folder,) = (published / "runs").iterdir()  # one measurement for every tracked value
    summary = analysis.summarize(results.load_run(folder))
    expected = {(row.workload, row.variant): row for row in summary.rows}

    overhead = index["benchmarks"]["overhead.track_overhead"]
    assert overhead["unit"] == "%"
    assert overhead["param_names"] == ["workload", "variant"]
    ((revision, values),) = graph(published, "overhead.track_overhead")
    assert index["revision_to_hash"][str(revision)] == head
    tracked = by_params(index, "overhead.track_overhead", values)
    # Every known workload is a parameter; the ones not selected are skipped (no value).
    assert {w for w, _ in tracked} == {w.name for w in load_workloads()}
    assert {k: v for k, v in tracked.items() if v is not None}.keys() == {(WORKLOAD, "docker")}
    value = tracked[(WORKLOAD, "docker")]
    assert value == pytest.approx(expected[(WORKLOAD, "docker")].comparison.overhead * 100,
                                  abs=1e-3)
    assert value > -100  # a cost ratio is positive; noise on a busy host can be large

    ((_, costs),) = graph(published, "overhead.track_relative_cost")
    cost = by_params(index, "overhead.track_relative_cost", costs)[(WORKLOAD, "docker")]
    assert index["benchmarks"]["overhead.track_relative_cost"]["unit"] == "% of native"
    assert cost == pytest.approx(100 + value)

    metric = "metric.cpu_sysbench.track_median"
    assert index["benchmarks"][metric]["unit"] == "events/s"
    ((_, medians),) = graph(published, metric)
    for (workload, variant), median in by_params(index, metric, medians).items():
        assert median == pytest.approx(expected[(workload, variant)].median)
        assert median > 0


def test_host_facts_are_in_the_machine_record(published):
    index = json.loads((published / "html" / "index.json").read_text())
    facts = engine.engine_facts(engine.connect())
    os_field = index["machines"][MACHINE]["os"]
    for fact in (f"Linux {platform.release()}", f"Docker {facts['engine_version']}",
                 facts["storage_driver"]):
        assert fact in os_field
    assert os_field in index["params"]["os"]  # a graph parameter: a change splits the series


def test_a_value_that_could_not_be_measured_fails_with_the_runs_reason(tmp_path):
    """Every sample of the variant fails (fake environment): asv reports why, exit code 2."""
    conf, env = asv_home(tmp_path, BENCH_ASV_WORKLOADS=WORKLOAD,
                         BENCH_ASV_VARIANTS="fake,fake[fail=1]")
    proc = subprocess.run([sys.executable, "-m", "asv", "run", *conf, "--machine", MACHINE,
                           "--set-commit-hash", "HEAD", "--show-stderr", "-b", "track_overhead"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 2, proc.stdout[-4000:]
    assert "cpu.sysbench fake[fail=1]: no overhead" in proc.stdout
    assert "scripted failure" in proc.stdout
