"""The daemonless oci environment against the real runc: each switch of the bundle does
what it says, seen from inside the container; pinning, metrics, cleanup, two roles."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from bench import image
from bench.cpulist import online_cpus
from bench.environments import oci
from bench.environments.base import SampleContext
from bench.metrics import SamplingConfig
from bench.variants import parse_variant
from bench.workloads import Metric, Workload, image_packages, load_workloads
from tests import envs


@pytest.fixture(scope="module")
def recipe(bench_image):
    """The image's recipe; its root filesystem is exported from the engine's image."""
    recipe = image.recipe_for(image_packages())
    assert recipe.tag == bench_image
    return recipe


def ctx(run_id: str, cpus: tuple[int, ...], seq: int = 0, sampling=None) -> SampleContext:
    return SampleContext(run_id, seq, 0, 0, False, cpus, quick=True,
                         sampling=sampling or SamplingConfig(), client_cpus=(0,))


def builtin(name: str) -> Workload:
    return next(w for w in load_workloads() if w.name == name)


def probe(script: str, pattern: str, timeout: float = 30.0) -> Workload:
    """A workload that reports something about its own container as its metric."""
    return Workload(name="probe", category="cpu", command=("sh", "-c", script),
                    metric=Metric("seen", "n", "higher", "regex", {"pattern": pattern}),
                    timeout=timeout)


def make(spec: str, recipe, run_id: str):
    env = envs.make(parse_variant(spec), run_id=run_id, recipe=recipe)
    return env


def no_leftovers(run_id: str) -> None:
    left = oci.leftovers(run_id)
    assert not any(left.values()), left
    assert not [p for p in oci.BUNDLES.glob(f"bench-{run_id}-*")]


@pytest.mark.parametrize("spec", ["oci", "oci[userns=on]", "oci[userns=on,net=veth]",
                                  "oci[userns=on,net=veth,seccomp=default]"])
def test_ladder_rungs_run_pinned_with_cgroup_metrics(spec, recipe, measured_cpu):
    env = make(spec, recipe, "it-oci-pin")
    workload = builtin("cpu.sysbench")
    env.prepare([workload])
    try:
        sample = env.execute(workload, ctx("it-oci-pin", (measured_cpu,),
                                           sampling=SamplingConfig(interval_s=0.1)))
    finally:
        env.teardown()
    assert sample.ok, sample.error
    assert sample.affinity == [measured_cpu] and sample.value > 0
    metrics = sample.extra["metrics"]
    assert metrics["source"].startswith("cgroup v"), metrics
    assert "/bench/bench-it-oci-pin-0" in metrics["cgroup_path"]
    assert metrics["final_read"] == "exit"  # runc run --keep: the cgroup outlives the exit
    assert 0.2 < metrics["cpu_total_s"] < sample.wall_s * 1.05
    no_leftovers("it-oci-pin")


@pytest.mark.parametrize("spec, script, expected", [
    # seccomp: the filter mode of the workload's own process (2 = filtered)
    ("oci", "sed -n 's/^Seccomp:[[:space:]]*//p' /proc/self/status", 0),
    ("oci[seccomp=default]", "sed -n 's/^Seccomp:[[:space:]]*//p' /proc/self/status", 2),
    # user namespace: container root is host uid 0, or 200000 and up
    ("oci", "set -- $(cat /proc/self/uid_map); echo $2", 0),
    ("oci[userns=on]", "set -- $(cat /proc/self/uid_map); echo $2", oci.USERNS_HOST_ID),
    # pid namespace: the workload is PID 1 (the probe shell execs it)
    ("oci", "echo $$", 1),
    ("oci[pid=off]", "test $$ -gt 1 && echo 7", 7),
    # network: interfaces other than lo, and the run's veth, seen by the container
    ("oci[net=none]", "grep -v 'lo:' /proc/net/dev | grep -c ':'", 0),
    ("oci[net=veth]", "grep -c 'bc[0-9a-f]*:' /proc/net/dev", 1),
    # capabilities: the bounding set is Docker's default set (0xa80425fb), or more
    ("oci", "grep -c 'CapBnd:[[:space:]]*0*a80425fb$' /proc/self/status", 1),
    ("oci[caps=all]", "grep -c 'CapBnd:[[:space:]]*0*a80425fb$' /proc/self/status", 0),
    # its own /etc/hosts, as an engine writes one: localhost, and its name at its address
    ("oci", "getent ahostsv4 localhost | grep -q '^127[.]0[.]0[.]1 ' && echo 1", 1),
    ("oci", "getent ahostsv4 $(cat /proc/sys/kernel/hostname) | grep -q '^127[.]0[.]1[.]1 '"
     " && echo 1", 1),
    ("oci[net=veth]", "getent ahostsv4 $(cat /proc/sys/kernel/hostname) | grep -q "
     f"'^{oci.VETH_NET}[.]' && echo 1", 1),
])
def test_each_switch_is_seen_from_inside(spec, script, expected, recipe):
    env = make(spec, recipe, "it-oci-switch")
    # The metric must be positive: report the value plus one.
    workload = probe(f'v=$({script}); echo "seen $((v + 1))"', r"seen (\d+)")
    env.prepare([workload])
    try:
        sample = env.execute(workload, ctx("it-oci-switch", (online_cpus()[-1],)))
    finally:
        env.teardown()
    assert sample.ok, (sample.error, sample.stderr_tail)
    assert sample.value == expected + 1
    no_leftovers("it-oci-switch")


def test_default_seccomp_denies_what_docker_denies(recipe):
    """personality(ADDR_NO_RANDOMIZE) is refused by the default profile (only a few
    personalities are allowed)."""
    script = "setarch x86_64 -R true && echo allowed 2 || echo allowed 1"
    for spec, expected in (("oci", 2), ("oci[seccomp=default]", 1)):
        env = make(spec, recipe, "it-oci-deny")
        workload = probe(script, r"allowed (\d)")
        env.prepare([workload])
        try:
            sample = env.execute(workload, ctx("it-oci-deny", (0,)))
        finally:
            env.teardown()
        assert sample.ok, sample.error
        assert sample.value == expected, spec


@pytest.mark.parametrize("spec", ["oci", "oci[userns=on,net=veth,seccomp=default]"])
def test_two_role_redis_in_oci(spec, recipe, measured_cpu):
    env = make(spec, recipe, "it-oci-redis")
    workload = builtin("app.redis-get")
    env.prepare([workload])
    try:
        sample = env.execute(workload, ctx("it-oci-redis", (measured_cpu,)))
    finally:
        env.teardown()
    assert sample.ok, (sample.error, sample.extra.get("server_stderr_tail"))
    assert sample.value > 1000 and sample.affinity == [measured_cpu]
    server = sample.extra["metrics"]  # the server container's cgroup over the client's run
    assert server["role"] == "server" and server["source"].startswith("cgroup"), server
    assert server["cgroup_path"] == "/bench/bench-it-oci-redis-0-server"
    assert server["cpu_total_s"] > 0.05 and server["nr_throttled"] == 0
    if "veth" in spec:
        assert sample.extra["server"]["host"].startswith(oci.VETH_NET + ".")
    else:
        assert sample.extra["server"]["host"] == "127.0.0.1"
    no_leftovers("it-oci-redis")
    veth = env.veth("bench-it-oci-redis-0-server")
    assert not Path(f"/run/netns/{veth.netns}").exists()
    assert subprocess.run(["ip", "link", "show", veth.host_if],
                          capture_output=True).returncode != 0


def test_disk_workload_writes_to_its_data_directory_under_userns(recipe):
    env = make("oci[userns=on]", recipe, "it-oci-disk")
    workload = builtin("disk.fio-seqwrite")
    env.prepare([workload])
    try:
        sample = env.execute(workload, ctx("it-oci-disk", (online_cpus()[-1],)))
    finally:
        env.teardown()
    assert sample.ok, (sample.error, sample.stderr_tail)
    assert sample.extra["storage"]["kind"] == "bind" and sample.value > 0


def test_timeout_kills_the_container_and_leaves_nothing(recipe):
    env = make("oci", recipe, "it-oci-hang")
    workload = probe("sleep 60", r"(\d+)", timeout=2)
    env.prepare([workload])
    try:
        sample = env.execute(workload, ctx("it-oci-hang", (0,)))
    finally:
        env.teardown()
    assert not sample.ok and "timed out after 2 s" in sample.error
    assert sample.wall_s < 15
    no_leftovers("it-oci-hang")


def test_binaries_hashed_in_the_root_filesystem_match_the_host(recipe):
    binaries = ["sysbench", "stress-ng", "redis-server", "true"]
    native = make("native", recipe, "it-oci-hash").binary_hashes(binaries)
    env = make("oci", recipe, "it-oci-hash")
    env.prepare([])
    got = env.binary_hashes(binaries)
    for binary in binaries:
        assert got[binary]["sha256"] == native[binary]["sha256"], binary


def test_runc_failure_is_a_failed_sample_with_runcs_reason(recipe, monkeypatch):
    env = make("oci", recipe, "it-oci-bad")
    env.prepare([])
    monkeypatch.setattr(env, "root", Path("/nonexistent/rootfs"))
    try:
        sample = env.execute(probe("true", r"(\d+)"), ctx("it-oci-bad", (0,)))
    finally:
        env.teardown()
    assert not sample.ok and "exit code 1" in sample.error and "/nonexistent/rootfs" in (
        sample.error + (sample.stderr_tail or ""))
    no_leftovers("it-oci-bad")
    listed = subprocess.run(["runc", "--root", str(oci.RUNTIME_ROOT), "list", "-q"],
                            capture_output=True, text=True).stdout.split()
    assert not [c for c in listed if c.startswith("bench-it-oci-bad-")]


def test_a_hard_killed_runs_leftovers_do_not_block_the_same_samples_again(recipe):
    """After a SIGKILL of the harness, --resume takes the same container ids and network
    names again: what the killed run left is removed first, not an error."""
    env = make("oci[net=veth]", recipe, "it-oci-stale")
    workload = probe("sleep 60", r"(\d+)")
    env.prepare([workload])
    cid = "bench-it-oci-stale-0"
    env.veth(cid).make()  # as left by the killed run, with its container
    env._bundle(cid, env.config(["sleep", "60"], cid, (0,), veth=env.veth(cid)))
    stale = env._start(cid, subprocess.DEVNULL, subprocess.DEVNULL)
    # Running, as a killed run leaves it (not half-created: runc writes the pid file once
    # the container exists; deleting it before that would race with its creation).
    assert env._container_pid(oci.BUNDLES / cid, stale, timeout=30) > 0
    try:
        sample = env.execute(probe("echo ok 5", r"ok (\d)"), ctx("it-oci-stale", (0,)))
    finally:
        stale.wait(timeout=30)
        env.teardown()
    assert sample.ok and sample.value == 5, sample.error
    no_leftovers("it-oci-stale")


@pytest.mark.parametrize("cleanup", ["next sample", "remove_leftovers"])
def test_a_container_whose_creation_was_cut_short_is_cleared(recipe, cleanup):
    """The clean-clone CI run's failure: runc's state of a container went away while its
    `runc init` still waited in the cgroup (runc list no longer shows it). The next sample
    of that id, or the leftovers sweep, kills it and removes the cgroup."""
    import shutil

    run_id = "it-oci-cut"
    env = make("oci", recipe, run_id)
    env.prepare([])
    cid = f"bench-{run_id}-0"
    bundle = env._bundle(cid, env.config(["true"], cid, (0,)))
    subprocess.run(["runc", "--root", str(oci.RUNTIME_ROOT), "create", "--bundle", str(bundle),
                    "--pid-file", str(bundle / "pid"), cid], check=True, timeout=30,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    stuck = int((bundle / "pid").read_text())
    shutil.rmtree(oci.RUNTIME_ROOT / cid)  # runc's state gone, its init still waiting
    assert oci.leftovers(run_id)["cgroups"] and not oci.leftovers(run_id)["containers"]
    try:
        if cleanup == "next sample":
            sample = env.execute(probe("echo ok 3", r"ok (\d)"), ctx(run_id, (0,)))
            assert sample.ok and sample.value == 3, sample.error
        else:
            oci.remove_leftovers(run_id)
    finally:
        env.teardown()
    deadline = time.monotonic() + 5
    while not _gone(stuck) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _gone(stuck), f"runc init {stuck} survived"
    no_leftovers(run_id)


def _gone(pid: int) -> bool:
    """Exited (a zombie waiting for its reaper counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True
