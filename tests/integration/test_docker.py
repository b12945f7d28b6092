"""The docker environment against the real engine: pinning, same bits, cleanup, failures."""

from __future__ import annotations

import pytest

from bench.cpulist import online_cpus
from bench.environments.base import SampleContext
from bench.variants import parse_variant
from bench.workloads import Metric, Workload, load_workloads
from tests import envs
from tests.integration.conftest import leftovers

pytestmark = pytest.mark.docker


def ctx(run_id: str, cpus: tuple[int, ...], seq: int = 0) -> SampleContext:
    return SampleContext(run_id, seq, 0, 0, False, cpus, quick=True)


def sysbench() -> Workload:
    return next(w for w in load_workloads() if w.name == "cpu.sysbench")


def make_env(spec, client, image, run_id):
    return envs.make(parse_variant(spec), run_id=run_id, client=client,
                               image=image)


@pytest.mark.parametrize("spec", ["native", "docker", "docker[net=host,seccomp=unconfined]"])
def test_pinning_is_honoured_and_read_from_inside(spec, client, bench_image, measured_cpu):
    env = make_env(spec, client, bench_image, "it-pin")
    env.prepare([sysbench()])
    for cpus in [(measured_cpu,), (online_cpus()[0],)]:
        sample = env.execute(sysbench(), ctx("it-pin", cpus))
        assert sample.ok, sample.error
        assert sample.affinity == list(cpus)
        assert sample.value > 0
    env.teardown()
    assert not any(leftovers(client, "it-pin").values())


def test_same_binaries_on_host_and_in_image(client, bench_image):
    binaries = sorted({b for w in load_workloads() for b in w.binaries})
    native = make_env("native", client, bench_image, "it-hash").binary_hashes(binaries)
    docker = make_env("docker", client, bench_image, "it-hash").binary_hashes(binaries)
    assert set(native) == set(binaries)
    for binary in binaries:
        assert len(native[binary]["sha256"]) == 64
        assert native[binary]["sha256"] == docker[binary]["sha256"], binary
    assert not any(leftovers(client, "it-hash").values())


def failing(command, parser="sysbench-cpu", timeout=60.0) -> Workload:
    return Workload(name="cpu.broken", category="cpu", command=tuple(command),
                    metric=Metric("events_per_second", "events/s", "higher", parser),
                    timeout=timeout)


@pytest.mark.parametrize("spec", ["native", "docker"])
@pytest.mark.parametrize("command, expected", [
    (["sysbench", "nosuchtest", "run"], "exit code 1"),
    (["sh", "-c", "echo 'all good, no numbers'; echo 'some warning' >&2"],
     "output did not parse"),
    (["sleep", "30"], "timed out after 1 s"),
])
def test_failing_workload_is_a_failed_sample_and_leaves_nothing(
        spec, command, expected, client, bench_image, measured_cpu):
    run_id = f"it-fail-{spec}"
    env = make_env(spec, client, bench_image, run_id)
    timeout = 1.0 if command[0] == "sleep" else 60.0
    sample = env.execute(failing(command, timeout=timeout), ctx(run_id, (measured_cpu,)))
    assert not sample.ok and sample.value is None
    assert expected in sample.error
    if "did not parse" in expected:
        assert "some warning" in sample.stderr_tail
        assert "all good" in sample.stdout_tail
    assert not any(leftovers(client, run_id).values())
    env.teardown()


def test_missing_image_is_a_clear_error(client):
    from bench.errors import UserError

    env = make_env("docker", client, "bench-image:doesnotexist", "it-missing")
    with pytest.raises(UserError, match="bench image build"):
        env.prepare([sysbench()])
