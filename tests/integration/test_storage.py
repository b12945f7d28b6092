"""The storage axis against the real engine: one disk workload natively and in docker with
each ``storage=`` value. Every sample succeeds, records the filesystem its data directory
was on as the workload itself saw it, and leaves no directory or volume behind."""

from __future__ import annotations

import dataclasses
import subprocess

import pytest

from bench.cpulist import online_cpus
from bench.environments.base import SampleContext
from bench.environments.native import HOST_DATA_ROOT
from bench.variants import parse_variant
from bench.workloads import Workload, load_workloads
from tests import envs
from tests.integration.conftest import leftovers

pytestmark = pytest.mark.docker

STORAGES = ["overlay", "volume", "bind", "tmpfs"]


def fs_type(path: str) -> str:
    """The filesystem type as the workloads' script names it (coreutils ``stat -f``)."""
    return subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture(scope="module")
def randread() -> Workload:
    workload = next(w for w in load_workloads() if w.name == "disk.fio-randread")
    return dataclasses.replace(workload, quick_duration=1)


@pytest.fixture(scope="module")
def samples(client, bench_image, randread):
    """One sample natively and one per storage, each environment torn down after it."""
    run_id = "it-storage"
    cpus = (online_cpus()[-1],)
    found = {}
    for seq, spec in enumerate(["native", *(f"docker[storage={s}]" for s in STORAGES)]):
        variant = parse_variant(spec)  # docker[storage=overlay] is plain docker
        env = envs.make(variant, run_id=run_id, client=client, image=bench_image)
        env.prepare([randread])
        sample = env.execute(randread, SampleContext(run_id, seq, 0, 0, False, cpus, True))
        # Removed right after the sample, before teardown.
        found[variant.id] = (sample, leftovers(client, run_id)["volumes"])
        env.teardown()
    return found


def storage_of(samples, spec) -> dict:
    sample, _ = samples[spec]
    assert sample.ok, f"{spec}: {sample.error}\n{sample.stderr_tail}"
    assert sample.value > 0
    return sample.extra["storage"]


def test_native_uses_a_fresh_host_directory(samples):
    storage = storage_of(samples, "native")
    assert storage["kind"] == "host"
    assert storage["path"] == f"{HOST_DATA_ROOT}/it-storage/0"
    assert storage["fs"] == fs_type("/var/tmp")
    assert isinstance(storage["direct_io"], bool)


@pytest.mark.parametrize("storage_value", STORAGES)
def test_each_storage_is_the_filesystem_it_claims(samples, client, storage_value):
    spec = f"docker[storage={storage_value}]"
    storage = storage_of(samples, "docker" if storage_value == "overlay" else spec)
    native = storage_of(samples, "native")
    assert storage["kind"] == storage_value
    assert storage["path"] == "/var/tmp"
    expected = {
        "overlay": "overlayfs",
        "tmpfs": "tmpfs",
        "bind": native["fs"],  # the same host filesystem as native's directory
        "volume": fs_type(client.info()["DockerRootDir"]),
    }[storage_value]
    assert storage["fs"] == expected
    if storage_value == "bind":
        assert storage["host_path"].startswith(f"{HOST_DATA_ROOT}/it-storage/")
        assert storage["direct_io"] == native["direct_io"]
    if storage_value == "volume":
        assert storage["volume"].startswith("bench-it-storage-")


def test_overlay_is_not_the_filesystem_of_the_mounts(samples):
    kinds = {spec: storage_of(samples, spec)["fs"]
             for spec in ["docker", "docker[storage=tmpfs]", "docker[storage=bind]"]}
    assert len(set(kinds.values())) == 3, kinds


def test_nothing_is_left_behind(samples, client):
    for spec, (_, volumes) in samples.items():
        assert volumes == [], f"{spec} left {volumes} after its sample"
    assert not any(leftovers(client, "it-storage").values())
    assert not (HOST_DATA_ROOT / "it-storage").exists()


def test_teardown_removes_a_volume_left_by_an_interrupted_sample(client, bench_image):
    env = envs.make(parse_variant("docker[storage=volume]"),
                              run_id="it-storage-left", client=client, image=bench_image)
    client.volumes.create(name="bench-it-storage-left-0-data",
                          labels={"bench.project": "container-overhead-bench",
                                  "bench.run": "it-storage-left"})
    assert leftovers(client, "it-storage-left")["volumes"]
    env.teardown()
    assert not any(leftovers(client, "it-storage-left").values())


def test_read_only_root_stays_read_only_with_a_mounted_data_directory(
        client, bench_image, randread):
    workload = dataclasses.replace(randread, read_only_root=True)
    env = envs.make(parse_variant("docker[storage=tmpfs]"),
                              run_id="it-storage-ro", client=client, image=bench_image)
    sample = env.execute(workload, SampleContext("it-storage-ro", 0, 0, 0, False,
                                                 (online_cpus()[-1],), True))
    env.teardown()
    assert sample.ok, sample.error
    assert sample.extra["storage"]["fs"] == "tmpfs"
