"""Two-role workloads against the real engine: server under test, client pinned natively
(or in a container), every address loopback or the run's own containers."""

from __future__ import annotations

import ipaddress

import pytest

from bench import engine
from bench.cpulist import online_cpus
from bench.environments import roles
from bench.environments.base import SampleContext
from bench.variants import parse_variant
from bench.workloads import Workload, load_workloads
from tests import envs

pytestmark = pytest.mark.docker


def redis_get() -> Workload:
    return next(w for w in load_workloads() if w.name == "app.redis-get")


def one_redis_sample(spec: str, run_id: str, client, bench_image):
    """One app.redis-get sample in the variant ``spec``, environment torn down after."""
    env = envs.make(parse_variant(spec), run_id=run_id, client=client,
                              image=bench_image)
    workload = redis_get()
    env.prepare([workload])
    try:
        return env.execute(workload, ctx(run_id))
    finally:
        env.teardown()


def ctx(run_id: str, seq: int = 0) -> SampleContext:
    cpus = online_cpus()
    return SampleContext(run_id, seq, 0, 0, False, (cpus[-1],), True,
                         client_cpus=(cpus[0],))


@pytest.mark.parametrize("spec", ["native", "native[cgroup=own]", "docker",
                                  "docker[net=host]", "docker[port=direct]",
                                  "docker[net=container]"])
def test_redis_server_under_test_client_pinned(spec, client, bench_image):
    run_id = f"it-roles-{abs(hash(spec)) % 10_000}"
    sample = one_redis_sample(spec, run_id, client, bench_image)
    assert sample.ok, (sample.error, sample.stdout_tail, sample.extra)
    assert sample.value > 1000  # requests/s
    assert sample.affinity == [online_cpus()[-1]]  # the server's own, from its probe
    assert sample.extra["client_cpus"] == [online_cpus()[0]]
    host = ipaddress.ip_address(sample.extra["server"]["host"])
    if spec in ("docker[net=container]", "docker[port=direct]"):
        assert host.is_private and not host.is_loopback  # the run's own container
    else:
        assert host.is_loopback
    if spec == "native[cgroup=own]":  # the server under test in a cgroup of its own
        assert sample.extra["server_cgroup"] == f"/bench/{run_id}-0"
    # The server's resources over the client's run: its cgroup, or natively its process tree.
    server = sample.extra["metrics"]
    assert server["role"] == "server" and server["cpu_total_s"] > 0.05, server
    cgroup = spec != "native"
    assert server["source"].startswith("cgroup" if cgroup else "psutil"), server
    if cgroup:
        assert server["nr_throttled"] == 0
    assert not any(engine.leftovers(client, run_id).values())


def test_a_server_under_a_cpu_quota_is_seen_throttled(client, bench_image):
    """docker[quota=0.25]: Redis's container gets a quarter of the measured CPU; its cgroup
    shows throttled periods over the client's run, and the catalogue warns."""
    from bench import metrics

    run_id = "it-roles-quota"
    sample = one_redis_sample("docker[quota=0.25]", run_id, client, bench_image)
    assert sample.ok, (sample.error, sample.extra)
    server = sample.extra["metrics"]
    assert server["role"] == "server" and server["nr_throttled"] > 0, server
    assert any("CPU throttling" in w for w in metrics.resource_warnings([sample]))
    assert not any(engine.leftovers(client, run_id).values())


def test_native_server_in_its_own_cgroup_while_it_runs():
    """native[cgroup=own] puts the server, not only single-role workloads, in the cgroup."""
    from pathlib import Path

    server = roles.start_native_server(redis_get(), ctx("it-roles-cg", 7), own_cgroup=True)
    try:
        pid = int(server.instance.split(":")[1])
        assert roles.wait_ready(server.host, server.port, 10, server.alive) is None
        assert "/bench/it-roles-cg-7" in Path(f"/proc/{pid}/cgroup").read_text()
    finally:
        raw = server.stop()
    assert raw.extra["server_cgroup"] == "/bench/it-roles-cg-7"
    assert not list(Path("/sys/fs/cgroup").glob("*/bench/it-roles-cg-7"))


def test_every_network_workload_uses_only_loopback_or_own_containers(client, bench_image):
    """Each two-role workload in each network variant: the addresses the client and the
    readiness check used are loopback, or addresses of containers this run created."""
    run_id = "it-addresses"
    workloads = [w for w in load_workloads() if w.two_role]
    assert {w.category for w in workloads} >= {"app", "network"}
    for spec in ("native", "docker", "docker[net=host]", "docker[net=container]"):
        env = envs.make(parse_variant(spec), run_id=run_id, client=client,
                                  image=bench_image)
        env.prepare(workloads)
        seen: list[tuple[str, str]] = []
        original = roles.check_address

        def recording(host, own=None, seen=seen, original=original):
            seen.append((host, ",".join(sorted(own or ()))))
            return original(host, own)

        roles.check_address = recording
        try:
            for seq, workload in enumerate(workloads):
                sample = env.execute(workload, ctx(run_id, seq))
                assert sample.ok, (spec, workload.name, sample.error)
        finally:
            roles.check_address = original
            env.teardown()
        assert seen
        for host, own in seen:
            address = ipaddress.ip_address(host)
            assert address.is_loopback or host in own.split(","), (spec, host)
    assert not any(engine.leftovers(client, run_id).values())


@pytest.mark.parametrize("host, ok", [("127.0.0.1", True), ("::1", True), ("127.3.4.5", True),
                                      ("10.0.0.1", False), ("8.8.8.8", False),
                                      ("172.17.0.2", False), ("localhost", False)])
def test_check_address(host, ok):
    if ok:
        assert roles.check_address(host) == host
    else:
        with pytest.raises(roles.UnsafeAddress):
            roles.check_address(host)
    assert roles.check_address("172.17.0.2", {"172.17.0.2"}) == "172.17.0.2"


def test_net_none_refuses_two_role_workloads(client, bench_image):
    from bench.errors import UserError

    env = envs.make(parse_variant("docker[net=none]"), run_id="it-none",
                              client=client, image=bench_image)
    with pytest.raises(UserError, match="has no network"):
        env.prepare([redis_get()])
