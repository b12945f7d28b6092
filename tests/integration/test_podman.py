"""The podman environment against the real podman (issue 9): never skipped.

The set-up runs scripts/podman-up.sh, as `make test` does: it installs and starts podman
when no service answers, with the default_ulimits fix this host kind needs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench import engine, image
from bench.cpulist import online_cpus
from bench.environments import podman
from bench.environments.base import SampleContext
from bench.environments.native import NativeEnvironment
from bench.environments.podman import PodmanEnvironment
from bench.plan import make_plan
from bench.variants import parse_variant, parse_variants
from bench.workloads import Metric, Workload, image_packages, load_workloads

pytestmark = [pytest.mark.docker, pytest.mark.podman]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def podman_client():
    subprocess.run([str(ROOT / "scripts" / "podman-up.sh")], check=True, timeout=900)
    return podman.connect()


@pytest.fixture(scope="session")
def podman_image(podman_client, client, bench_image) -> str:
    """Docker's benchmark image (host packages installed) imported into podman's store."""
    recipe = image.recipe_for(image_packages())
    assert recipe.tag == bench_image
    return podman.ensure_image(podman_client, recipe, docker_client=client)


def workload(name: str) -> Workload:
    return next(w for w in load_workloads() if w.name == name)


def ctx(run_id: str, cpus: tuple[int, ...], seq: int = 0) -> SampleContext:
    return SampleContext(run_id, seq, 0, 0, False, cpus, quick=True,
                         client_cpus=(online_cpus()[0],))


def make_env(spec: str, client, tag: str, run_id: str) -> PodmanEnvironment:
    return PodmanEnvironment(parse_variant(spec), client, tag, run_id)


def test_service_answers_and_containers_start(podman_client, podman_image):
    """Podman's default ulimits fail every container here ("error setting rlimit"):
    a container that starts and exits 0 shows the set-up handled it."""
    facts = podman.engine_facts(podman_client)
    assert facts["engine"] == "podman" and facts["engine_version"]
    assert facts["rootless"] is False
    assert facts["network_backend"] and facts["oci_runtime"] and facts["cgroup_manager"]
    out = podman_client.containers.run(podman_image, ["sh", "-c", "ulimit -n"], remove=True,
                                       labels=engine.labels("it-podman-up"))
    assert int(out.decode().strip()) > 0
    assert not any(engine.leftovers(podman_client, "it-podman-up").values())


@pytest.mark.parametrize("spec", ["podman", "podman[net=none,seccomp=unconfined]"])
def test_cpu_sample_is_pinned_and_has_cgroup_metrics(spec, podman_client, podman_image,
                                                     measured_cpu):
    run_id = f"it-podman-cpu-{abs(hash(spec)) % 10_000}"
    env = make_env(spec, podman_client, podman_image, run_id)
    sysbench = workload("cpu.sysbench")
    env.prepare([sysbench])
    try:
        sample = env.execute(sysbench, ctx(run_id, (measured_cpu,)))
    finally:
        env.teardown()
    assert sample.ok, (sample.error, sample.stderr_tail)
    assert sample.value > 0
    assert sample.affinity == [measured_cpu]
    metrics = sample.extra["metrics"]
    assert "error" not in metrics, metrics
    assert metrics["source"].startswith("cgroup")
    assert metrics["cpu_total_s"] > 0
    assert "libpod" in metrics["cgroup_path"]
    assert not any(engine.leftovers(podman_client, run_id).values())


def test_two_role_workload_on_podmans_bridge(podman_client, podman_image, measured_cpu):
    """redis-server in podman (port published on 127.0.0.1), redis-benchmark native."""
    run_id = "it-podman-redis"
    env = make_env("podman", podman_client, podman_image, run_id)
    redis = workload("app.redis-get")
    env.prepare([redis])
    try:
        sample = env.execute(redis, ctx(run_id, (measured_cpu,)))
    finally:
        env.teardown()
    assert sample.ok, (sample.error, sample.stdout_tail, sample.extra)
    assert sample.value > 1000  # requests/s
    assert sample.affinity == [measured_cpu]
    assert sample.extra["server"]["host"] == "127.0.0.1"
    server = sample.extra["metrics"]  # the server container's cgroup over the client's run
    assert server["role"] == "server" and server["source"].startswith("cgroup"), server
    assert server["cpu_total_s"] > 0.05
    assert not any(engine.leftovers(podman_client, run_id).values())


def test_same_binaries_as_native_and_facts(podman_client, podman_image):
    run_id = "it-podman-facts"
    env = make_env("podman", podman_client, podman_image, run_id)
    binaries = ["redis-server", "sysbench"]
    hashes = env.binary_hashes(binaries)
    native = NativeEnvironment(parse_variant("native")).binary_hashes(binaries)
    for binary in binaries:
        assert len(hashes[binary]["sha256"]) == 64
        assert hashes[binary]["sha256"] == native[binary]["sha256"], binary
    facts = env.facts()
    assert facts["engine"] == "podman" and facts["pinning"] == "cpuset_cpus"
    assert facts["container_defaults"]["ulimits"] in ([], None)
    env.teardown()
    assert not any(engine.leftovers(podman_client, run_id).values())


def test_failed_sample_and_teardown_leave_nothing(podman_client, podman_image, measured_cpu):
    run_id = "it-podman-leftovers"
    env = make_env("podman", podman_client, podman_image, run_id)
    sleeper = Workload(name="cpu.sleep", category="cpu", command=("sleep", "30"),
                       metric=Metric("events_per_second", "events/s", "higher",
                                     "sysbench-cpu"), timeout=1.0)
    sample = env.execute(sleeper, ctx(run_id, (measured_cpu,)))
    assert not sample.ok and "timed out after 1 s" in sample.error
    # What an interrupted sample could leave behind: teardown finds it by its labels.
    podman_client.containers.create(podman_image, ["sleep", "30"],
                                    name=f"bench-{run_id}-left",
                                    labels=engine.labels(run_id)).start()
    assert engine.leftovers(podman_client, run_id)["containers"]
    env.teardown()
    assert not any(engine.leftovers(podman_client, run_id).values())


def test_missing_image_is_a_clear_error(podman_client):
    from bench.errors import UserError

    env = make_env("podman", podman_client, "bench-image:doesnotexist", "it-podman-missing")
    with pytest.raises(UserError, match="podman's store"):
        env.prepare([workload("cpu.sysbench")])


def test_bench_run_with_podman_and_oci_variants(tmp_path, podman_image):
    """The whole run path: the runner connects to podman, imports the image, records
    podman's facts; podman, docker and oci samples side by side, nothing left behind."""
    from bench import results, runner
    from bench.environments import oci

    plan = make_plan([workload("cpu.sysbench")],
                     parse_variants(["native,docker,podman,oci"]),
                     (online_cpus()[-1],), blocks=2, warmup=0, seed=3, quick=True)
    outcome = runner.run(plan, tmp_path)
    loaded = results.load_run(outcome.folder)
    assert loaded.run["status"] == "complete"
    assert all(s.ok for s in loaded.samples), [s.error for s in loaded.samples]
    assert {s.variant for s in loaded.samples} == {"native", "docker", "podman", "oci"}
    assert loaded.run["podman"]["engine"] == "podman"
    assert loaded.run["binaries"]["podman"] == loaded.run["binaries"]["docker"]
    assert loaded.run["binaries"]["oci"] == loaded.run["binaries"]["native"]
    assert not any(engine.leftovers(podman.connect(), outcome.run_id).values())
    assert not any(oci.leftovers(outcome.run_id).values())


def test_a_service_started_from_a_deleted_checkout_is_restarted(podman_client, podman_image,
                                                                tmp_path):
    """CI deletes the clone a podman service was started from; the service still answers,
    but conmon inherits its working directory and every container start fails. The set-up
    script restarts such a service, and starts its own from /."""
    import shutil
    import time

    socket = "unix:///run/podman/podman.sock"
    subprocess.run(["pkill", "-f", f"^podman system service --time=0 {socket}$"], check=False)
    time.sleep(2)
    checkout = tmp_path / "clone"
    checkout.mkdir()
    subprocess.Popen(["podman", "system", "service", "--time=0", socket], cwd=checkout,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while not _answers(podman_client) and time.monotonic() < deadline:
        time.sleep(0.5)
    shutil.rmtree(checkout)
    name = "bench-it-podman-deleted-cwd"
    try:
        with pytest.raises(Exception, match=r"working directory|broken pipe|500"):
            podman_client.containers.run(podman_image, ["true"], name=name, remove=True)
    finally:  # created, never started: not removed by remove=True
        subprocess.run(["podman", "rm", "-f", name], capture_output=True, check=False)
    out = subprocess.run([str(ROOT / "scripts" / "podman-up.sh")], capture_output=True,
                         text=True, timeout=300, check=True).stdout
    assert "runs in a deleted directory; restarting it" in out, out
    assert podman_client.containers.run(podman_image, ["sh", "-c", "echo ok"],
                                        remove=True).strip() == b"ok"


def _answers(client) -> bool:
    try:
        client.ping()
    except Exception:  # not up yet
        return False
    return True
