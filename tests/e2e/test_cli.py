"""The bench CLI as a user runs it: real processes, real engine, exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import engine, results

pytestmark = pytest.mark.e2e


def bench(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True,
                          text=True, timeout=timeout)


def only_run_folder(out: Path) -> Path:
    (folder,) = out.iterdir()
    return folder


@pytest.mark.docker
def test_quick_suite_end_to_end_pinned_to_one_cpu(tmp_path):
    """`bench run --quick --cpus N`: >= 3 workloads x {native, docker}, summary, folder."""
    from bench.cpulist import online_cpus

    cpu = online_cpus()[-1]
    proc = bench("run", "--quick", "--cpus", str(cpu), "--seed", "5", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "comparisons decided" in proc.stdout and "native = " in proc.stdout
    assert "Traceback" not in proc.stderr
    loaded = results.load_run(only_run_folder(tmp_path))
    assert loaded.run["status"] == "complete"
    workloads = {s.workload for s in loaded.samples}
    assert len(workloads) >= 3
    matrix = loaded.run["plan"]["matrix"]
    for name in workloads:
        variants = {s.variant for s in loaded.samples if s.workload == name and s.ok}
        assert {"native", "docker"} <= variants == set(matrix[name]), name
        assert f"{name}" in proc.stdout
    assert {w.split(".")[0] for w in workloads} >= {"cpu", "memory", "app", "network"}
    # Every sample's affinity, read from inside the workload process (the server's, for
    # two-role workloads), is exactly {cpu}.
    assert {tuple(s.affinity) for s in loaded.samples} == {(cpu,)}
    # Same bits recorded for both environments, and the facts a reader needs.
    binaries = loaded.run["binaries"]
    assert binaries["native"] == binaries["docker"]
    assert {"sysbench", "redis-server"} <= set(binaries["native"])
    for key in ("cpu_model", "kernel", "cgroup_version", "smt", "governors"):
        assert key in loaded.run["host"]
    for key in ("engine_version", "storage_driver", "seccomp", "userland_proxy"):
        assert key in loaded.run["engine"]
    assert not any(engine.leftovers(engine.connect(), loaded.run["run_id"]).values())


@pytest.mark.docker
def test_run_whose_workload_fails_leaves_nothing(tmp_path):
    workloads = tmp_path / "workloads"
    workloads.mkdir()
    (workloads / "cpu.broken.toml").write_text(
        'name = "cpu.broken"\ncategory = "cpu"\n'
        'command = ["sysbench", "cpu", "--no-such-option", "run"]\n'
        'binaries = ["sysbench"]\npackages = ["sysbench"]\n'
        '[metric]\nname = "eps"\nunit = "events/s"\nbetter = "higher"\nparser = "sysbench-cpu"\n')
    out = tmp_path / "out"
    proc = bench("run", "--workload-dir", str(workloads), "-w", "cpu.broken", "--blocks", "2",
                 "--warmup", "0", "--out", str(out))
    assert proc.returncode == 1
    assert "every sample failed" in proc.stderr
    loaded = results.load_run(only_run_folder(out))
    assert len(loaded.samples) == 4 and not any(s.ok for s in loaded.samples)
    assert all("exit code" in s.error for s in loaded.samples)
    assert not any(engine.leftovers(engine.connect(), loaded.run["run_id"]).values())
    # No seed was typed: the recorded full command names the one drawn, and everything else.
    reproduce = loaded.run["reproduce"]
    assert reproduce[reproduce.index("--seed") + 1] == str(loaded.run["plan"]["seed"])
    for part in (["-w", "cpu.broken"], ["--workload-dir", str(workloads)], ["--blocks", "2"],
                 ["--warmup", "0"]):
        assert any(reproduce[i:i + 2] == part for i in range(len(reproduce))), reproduce


def test_replay_runs_the_same_plan(tmp_path):
    first = tmp_path / "first"
    proc = bench("run", "--variants", "fake,fake[scale=1.2]", "-w", "cpu.sysbench",
                 "--blocks", "4", "--seed", "9", "--out", str(first))
    assert proc.returncode == 0, proc.stderr
    original = only_run_folder(first)
    second = tmp_path / "second"
    proc = bench("run", "--replay", str(original), "--out", str(second))
    assert proc.returncode == 0, proc.stderr
    a, b = results.load_run(original), results.load_run(only_run_folder(second))
    assert b.run["reproduce"] == a.run["reproduce"]  # a replay is made by the same command
    assert a.run["plan"] == b.run["plan"]
    assert b.run["replay_of"] == str(original)
    assert [(s.variant, s.block, s.value) for s in a.samples] == \
        [(s.variant, s.block, s.value) for s in b.samples]
    assert "overhead +" in proc.stdout


def test_analyze_reanalyses_with_another_margin(tmp_path):
    proc = bench("run", "--variants", "fake,fake[scale=1.03]", "-w", "cpu.sysbench",
                 "--blocks", "10", "--seed", "1", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    proc = bench("analyze", str(only_run_folder(tmp_path)), "--margin", "10")
    assert proc.returncode == 0, proc.stderr
    assert "within +/-10%" in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["run", "--cpus", "4096"], "--cpus: CPU 4096 is not online"),
    (["run", "--variants", "docker[net=wifi]"], "unknown value 'wifi'"),
    (["run", "--workload", "gpu.*"], "matches no workload"),
    (["run", "--margin", "0"], "--margin must be greater than 0% and less than 100%"),
    (["run", "--alpha", "2"], "--alpha must be between"),
    (["run", "--blocks", "1"], "--blocks must be at least 2"),
    (["run", "--metrics-interval", "0"], "metrics interval must be between 0.01 and 60 s"),
    (["run", "--max-blocks", "9"], "--max-blocks goes with --adaptive"),
    (["run", "--budget", "soon"], "--budget: cannot parse 'soon'"),
    (["run", "--resume", "/nonexistent", "--replay", "/x"], "exclude each other"),
    (["run", "--blocks", "many"], "'many' is not a valid integer"),
    (["run", "--workload-dir", "/nonexistent"], "workload directory not found"),
    (["analyze", "/nonexistent"], "no such run folder"),
    (["analyze", "no-such-run"], "no-such-run: no such run folder (looked in results/ too)"),
    (["clean", "--run", "results/no-such-run"], "no such run folder"),
    (["report", "results/example", "--format", "html", "-o", "/nonexistent/r.md"],
     "--format html and --output /nonexistent/r.md disagree"),
    (["compare", "example", "example", "-o", "/nonexistent/c.csv"], "not csv"),
    (["report", "example", "--format", "pdf"], "Invalid value for '--format'"),
    (["frobnicate"], "No such command"),
])
def test_bad_input_is_one_line_exit_2_no_traceback(args, message):
    proc = bench(*args, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert message in lines[0]


def test_runs_by_id_or_file_and_outputs_by_extension(tmp_path):
    """The committed example run, named by id and by its run.json; -o picks the format."""
    proc = bench("analyze", "results/example/run.json", "--margin", "5", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "within +/-5%" in proc.stdout
    for name, starts in (("r.md", "## Container overhead"), ("r.JSON", "{"),
                         ("r.csv", "run_id,")):
        proc = bench("report", "example", "-o", str(tmp_path / name), timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / name).read_text().startswith(starts)
    proc = bench("compare", "example", "results/example", "-o", str(tmp_path / "c.md"),
                 timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "c.md").read_text().startswith("## Run")
    proc = bench("report", "example", "--format", "MD", "-o", "-", timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("## Container overhead")


def test_bad_workload_file_names_file_and_key(tmp_path):
    (tmp_path / "cpu.x.toml").write_text('name = "cpu.x"\ncategory = "cpu"\ncommand = ["x"]\n'
                                         '[metric]\nname = "m"\nunit = "u"\nbetter = "up"\n'
                                         'parser = "regex"\n')
    proc = bench("list", "--workload-dir", str(tmp_path), timeout=60)
    assert proc.returncode == 2
    assert f"{tmp_path / 'cpu.x.toml'}: key 'metric.better'" in proc.stderr


def test_newer_results_are_refused(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"schema_version": 99}))
    proc = bench("analyze", str(tmp_path), timeout=60)
    assert proc.returncode == 2 and "newer than this bench" in proc.stderr


@pytest.mark.parametrize("columns", ["80", "160"])
def test_list_shows_workloads_and_variants(columns, monkeypatch):
    # Piped, the width is COLUMNS: at 80 the table turns into one block per workload.
    monkeypatch.setenv("COLUMNS", columns)
    proc = bench("list", timeout=60)
    assert proc.returncode == 0
    for text in ("cpu.sysbench", "memory.sysbench", "events/s", "net=bridge|host|none"):
        assert text in proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines()) <= int(columns)


@pytest.mark.parametrize("command", [["run"], ["analyze"], ["report"], ["compare"],
                                     ["clean"], ["list"], ["doctor"], ["image", "build"]])
def test_help_on_each_command(command):
    proc = bench(*command, "--help", timeout=60)
    assert proc.returncode == 0 and "Usage:" in proc.stdout


@pytest.mark.docker
def test_doctor_reports_engine_and_image():
    proc = bench("doctor", timeout=120)
    assert "engine: Docker" in proc.stdout, proc.stdout + proc.stderr
    assert "image:" in proc.stdout and "governor" in proc.stdout


@pytest.mark.docker
def test_doctor_lists_and_clean_removes_labelled_leftovers():
    client = engine.connect()
    from bench import image
    from bench.workloads import image_packages

    packages = image_packages()
    tag = image.recipe_for(packages).tag
    container = client.containers.create(tag, ["true"], name="bench-leftover-test",
                                         labels=engine.labels("leftover-test"))
    try:
        proc = bench("doctor", timeout=120)
        assert "bench-leftover-test" in proc.stdout
        proc = bench("clean", "--run", "leftover-test", timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "removed container bench-leftover-test" in proc.stdout
        assert not any(engine.leftovers(client, "leftover-test").values())
    finally:
        import contextlib

        import docker.errors

        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


@pytest.mark.docker
def test_user_workload_from_outside_the_repo_native_and_docker(tmp_path):
    """A user's own workload file (outside the repo), one in the benchmark image and one in
    the user's own image tag, runs natively and in docker and is reported like the rest."""
    from bench import image
    from bench.workloads import image_packages

    client = engine.connect()
    packages = image_packages()
    own_tag = "bench-user-test:1"
    client.images.get(image.recipe_for(packages).tag).tag("bench-user-test", "1")
    mine = tmp_path / "my-workloads"
    mine.mkdir()
    loop = ["sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo done"]
    for name, extra in (("cpu.user-loop", ""), ("cpu.user-own-image", f'image = "{own_tag}"\n')):
        (mine / f"{name}.toml").write_text(
            f'name = "{name}"\ncategory = "cpu"\ndescription = "a shell loop"\n'
            f"command = {json.dumps(loop)}\nbinaries = [\"sh\"]\n{extra}"
            '[metric]\nname = "elapsed"\nunit = "s"\nbetter = "lower"\nparser = "wall_time"\n')
    out = tmp_path / "out"
    try:
        proc = bench("run", "--workload-dir", str(mine), "-w", "cpu.user-*", "--blocks", "3",
                     "--warmup", "0", "--out", str(out))
    finally:
        client.images.remove(own_tag)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for name in ("cpu.user-loop", "cpu.user-own-image"):
        assert name in proc.stdout
    loaded = results.load_run(only_run_folder(out))
    done = {(s.workload, s.variant) for s in loaded.samples if s.ok}
    assert done == {(w, v) for w in ("cpu.user-loop", "cpu.user-own-image")
                    for v in ("native", "docker")}
    assert f"docker:{own_tag}" in loaded.run["binaries"]
    assert loaded.run["plan"]["workloads"][0]["source"].startswith(str(mine))


@pytest.mark.docker
def test_user_workload_with_its_own_dockerfile(tmp_path):
    """A user workload with ``dockerfile``: bench builds it FROM the benchmark image (no
    registry), runs the docker samples in it, hashes its binaries there, records the tag,
    and reuses the image on the next run; a broken Dockerfile is a one-line error."""
    mine = tmp_path / "my-workloads"
    (mine / "image").mkdir(parents=True)
    (mine / "image" / "Dockerfile").write_text(
        "ARG BENCH_IMAGE\nFROM ${BENCH_IMAGE}\n"
        "COPY rate.sh /usr/local/bin/bench-user-rate\n")
    (mine / "image" / "rate.sh").write_text('#!/bin/sh\necho "rate: 42"\n')
    (mine / "image" / "rate.sh").chmod(0o755)
    # Natively the program is absent and the fallback says 7: the value shows where it ran.
    script = ("if command -v bench-user-rate >/dev/null; then bench-user-rate; "
              "else echo 'rate: 7'; fi")
    (mine / "cpu.user-dockerfile.toml").write_text(
        'name = "cpu.user-dockerfile"\ncategory = "cpu"\n'
        f'command = ["sh", "-c", {json.dumps(script)}]\nbinaries = ["sh"]\n'
        'dockerfile = "image/Dockerfile"\n'
        '[metric]\nname = "rate"\nunit = "n"\nbetter = "higher"\nparser = "regex"\n'
        'options = { pattern = "rate: ([0-9]+)" }\n')
    runs = []
    for out in (tmp_path / "out1", tmp_path / "out2"):
        proc = bench("run", "--workload-dir", str(mine), "-w", "cpu.user-dockerfile",
                     "--blocks", "2", "--warmup", "0", "--out", str(out))
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        runs.append((proc, results.load_run(only_run_folder(out))))
    (first, loaded), (second, again) = runs
    values = {(s.variant, s.value) for s in loaded.samples}
    assert values == {("native", 7.0), ("docker", 42.0)}
    built = loaded.run["user_images"]["cpu.user-dockerfile"]
    assert built["tag"].startswith("bench-user:") and built["from"] == loaded.run["image"]["tag"]
    assert f"docker:{built['tag']}" in loaded.run["binaries"]
    assert "Step 1/" in first.stdout + first.stderr or "building" in first.stdout
    assert again.run["user_images"]["cpu.user-dockerfile"]["tag"] == built["tag"]
    assert "building" not in second.stdout  # cached by the hash of its build context
    (mine / "image" / "Dockerfile").write_text(
        "ARG BENCH_IMAGE\nFROM ${BENCH_IMAGE}\nRUN exit 3\n")
    proc = bench("run", "--workload-dir", str(mine), "-w", "cpu.user-dockerfile",
                 "--blocks", "2", "--warmup", "0", "--out", str(tmp_path / "out3"))
    assert proc.returncode != 0
    assert "Dockerfile: docker build failed" in proc.stderr and "Traceback" not in proc.stderr
    engine.connect().images.remove(built["tag"])
