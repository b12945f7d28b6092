"""No container engine reachable: `bench run --quick` still completes, in the daemonless oci
environment (runc), and says so at the top of its summary and report."""

from __future__ import annotations

import html
import os
import subprocess
import sys

import pytest

from bench import engine, image, results
from bench.cpulist import online_cpus
from bench.environments import oci
from bench.workloads import image_packages, load_workloads, select_suite

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def rootfs():
    """Set-up: the image's root filesystem, exported from the real engine's image (without
    an engine, the run would debootstrap it, as `bench image build` does)."""
    client = engine.connect()
    recipe, _ = image.ensure_image(client, image_packages())
    return image.ensure_rootfs(recipe, client)


def test_quick_suite_without_an_engine_runs_completely_in_oci(tmp_path, rootfs):
    cpu = online_cpus()[-1]
    unreachable = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--quick", "--blocks", "2", "--warmup", "0",
         "--cpus", str(cpu), "--seed", "9", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=1500, env=unreachable)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    # Said first, before anything is measured.
    first = proc.stdout.lstrip().splitlines()[0]
    assert first.startswith("No Docker engine answers at unix://") and "daemonless OCI" in first
    (folder,) = (tmp_path / "out").iterdir()
    loaded = results.load_run(folder)
    run = loaded.run
    assert run["status"] == "complete"
    record = run["fallback"]
    assert record["environment"] == "oci" and "no Docker engine answers" in record["reason"]
    assert record["mapping"]["docker"] == "oci[net=veth,seccomp=default]"
    # Labelled as such: the variants are oci ones, nothing ran in docker.
    assert {v.split("[")[0] for v in run["plan"]["variants"]} == {"native", "oci"}
    assert "engine" not in run and run["oci"]["root_filesystem"] == str(rootfs)
    # Complete: every workload of the quick suite, every variant of its matrix, all ok.
    quick = {w.name for w in select_suite(load_workloads(), "quick")}
    assert {s.workload for s in loaded.samples} == quick
    assert all(s.ok for s in loaded.samples), [s.error for s in loaded.samples if not s.ok]
    for name, variants in run["plan"]["matrix"].items():
        got = {s.variant for s in loaded.samples if s.workload == name}
        assert got == set(variants) and len(got) >= 2, name
    assert {tuple(s.affinity) for s in loaded.samples} == {(cpu,)}
    # Same bits: the oci root filesystem's binaries are the host's.
    assert run["binaries"]["native"] == run["binaries"]["oci"]
    # The report opens with the same statement.
    report = (folder / "report.html").read_text()
    assert "daemonless OCI" in html.unescape(report)
    assert report.index("daemonless OCI") < report.index("<table")
    assert not any(oci.leftovers(run["run_id"]).values())
