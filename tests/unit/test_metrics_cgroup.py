"""Cgroup readers on fixture trees: real v1 files from a container on the development host,
and v2 files in the kernel's formats (tests/data/cgroup-v*/README.md)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bench import metrics
from bench.metrics import cgroup
from bench.metrics.cgroup import CgroupCounters, CgroupSet, Hierarchies

DATA = Path(__file__).resolve().parent.parent / "data"
V1, V2 = DATA / "cgroup-v1", DATA / "cgroup-v2"
V1_ID = "2ab158b3836a5b731929aa487533c3b0fe681c880d68c6dabcb957d039c64bd7"
V2_ID = "7d1e5a0c9b3f4e28a6c1d0b9e8f7a6c5d4b3a2918f7e6d5c4b3a29187f6e5d4c"
V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "blkio", "pids", "cpuset")


# --- finding a cgroup from a PID ----------------------------------------------------------

def test_hybrid_host_v1_controllers_and_the_unified_tree():
    mounts = Hierarchies.parse((V1 / "mountinfo.txt").read_text())
    assert mounts.v2 is not None and mounts.v2.mountpoint == Path("/sys/fs/cgroup/unified")
    assert mounts.v1_mount("name=systemd").mountpoint == Path("/sys/fs/cgroup/systemd")
    assert len(mounts.v1) == 9
    group = CgroupSet.from_proc_cgroup((V1 / "proc-pid-cgroup.txt").read_text(), mounts)
    assert group.v1["cpu"] == Path(f"/sys/fs/cgroup/cpu/docker/{V1_ID}")
    assert group.v1["memory"] == Path(f"/sys/fs/cgroup/memory/docker/{V1_ID}")
    assert group.v2 == Path(f"/sys/fs/cgroup/unified/docker/{V1_ID}")
    assert group.path == f"/docker/{V1_ID}" and group.version == "v1+v2"


def test_pure_v2_host_systemd_driver():
    mounts = Hierarchies.parse((V2 / "mountinfo.txt").read_text())
    assert mounts.v1 == () and mounts.v2.mountpoint == Path("/sys/fs/cgroup")
    group = CgroupSet.from_proc_cgroup((V2 / "proc-pid-cgroup.txt").read_text(), mounts)
    assert group.v2 == Path(f"/sys/fs/cgroup/system.slice/docker-{V2_ID}.scope")
    assert group.v1 == {} and group.version == "v2"


def test_co_mounted_controllers_escaped_paths_and_options():
    mounts = Hierarchies.parse(
        "40 31 0:37 / /mnt/my\\040cgroups rw - cgroup cgroup rw,cpu,cpuacct\n"
        "41 31 0:38 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
        "42 31 0:39 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,release_agent=/x,cpuset\n")
    assert [m.controllers for m in mounts.v1] == [("cpu", "cpuacct"), ("name=systemd",),
                                                 ("cpuset",)]
    group = CgroupSet.from_proc_cgroup("4:cpu,cpuacct:/a/b\n", mounts)
    assert group.v1 == {"cpu": Path("/mnt/my cgroups/a/b"), "cpuacct": Path("/mnt/my cgroups/a/b")}


def test_cgroup_namespace_maps_paths_below_the_mounted_root():
    mounts = Hierarchies.parse("9 8 0:30 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")
    group = CgroupSet.from_proc_cgroup("0::/docker/abc/inner\n", mounts)
    assert group.v2 == Path("/sys/fs/cgroup/inner")
    assert CgroupSet.from_proc_cgroup("0::/docker/abc\n", mounts).v2 == Path("/sys/fs/cgroup")
    with pytest.raises(LookupError):
        CgroupSet.from_proc_cgroup("0::/elsewhere\n", mounts)


def test_this_process_is_found_on_this_host():
    group = CgroupSet.for_pid(os.getpid())
    assert group.v1 or group.v2 is not None
    assert "cpu_usage_ns" in cgroup.read(group)


# --- reading and deltas -------------------------------------------------------------------

def _live(tmp_path: Path, source: Path, stage: str) -> Path:
    """Copy one stage of a fixture over the 'live' tree, as the kernel would change it."""
    live = tmp_path / "live"
    shutil.copytree(source / stage, live, dirs_exist_ok=True)
    return live


def _v1_group(live: Path) -> CgroupSet:
    return CgroupSet.from_dirs({c: live / c for c in V1_CONTROLLERS}, live / "unified",
                               f"/docker/{V1_ID}")


def test_v1_real_container_readings_become_deltas(tmp_path):
    live = _live(tmp_path, V1, "start")
    counters = CgroupCounters(_v1_group(live))
    for stage in ("middle", "end"):
        _live(tmp_path, V1, stage)
        assert counters.update()
    got = counters.metrics()
    assert got == {
        "cpu_total_s": 0.486898,
        "cpu_user_s": 0.482874,  # tick-sampled split, scaled to the exact total
        "cpu_system_s": 0.004024,
        "nr_periods": 10,
        "nr_throttled": 2,
        "throttled_s": 0.0,
        "faults_major": 7,
        "faults_minor": 785,
        "blkio_read_bytes": 0, "blkio_write_bytes": 0, "blkio_read_ops": 0, "blkio_write_ops": 0,
        "cpu_pressure_some_s": 0.54099,
        "cpu_pressure_full_s": 0.537225,
        "memory_pressure_some_s": 0.0,
        "memory_pressure_full_s": 0.0,
        "io_pressure_some_s": 0.005485,
        "io_pressure_full_s": 0.005486,
        "mem_peak_bytes": 4087808,
        "mem_usage_max_bytes": 3137536,  # the middle reading: gauges are maxima
        "mem_anon_max_bytes": 1974272,
        "mem_file_max_bytes": 487424,
        "mem_swap_max_bytes": 0,
        "tasks_max": 3,
        "cpu_before_first_read_s": 0.024416,
        "cgroup": "v1+v2",
        "cgroup_path": f"/docker/{V1_ID}",
    }


def test_v2_readings_become_deltas_with_the_same_names(tmp_path):
    live = _live(tmp_path, V2, "start")
    group = CgroupSet.from_dirs({}, live, f"/system.slice/docker-{V2_ID}.scope")
    assert group.v2_controllers >= {"cpu", "memory", "io", "pids"}
    counters = CgroupCounters(group)
    for stage in ("middle", "end"):
        _live(tmp_path, V2, stage)
        assert counters.update()
    assert counters.metrics() == {
        "cpu_total_s": 1.000305,
        "cpu_user_s": 0.987379,
        "cpu_system_s": 0.012926,
        "nr_periods": 20,
        "nr_throttled": 20,
        "throttled_s": 1.004321,
        "faults_major": 7,
        "faults_minor": 68254,
        "blkio_read_bytes": 8392704,  # two devices, one new by the end
        "blkio_write_bytes": 8392704,
        "blkio_read_ops": 67,
        "blkio_write_ops": 9,
        "cpu_pressure_some_s": 0.051107,
        "cpu_pressure_full_s": 0.04982,
        "memory_pressure_some_s": 0.0,
        "memory_pressure_full_s": 0.0,
        "io_pressure_some_s": 0.01418,
        "io_pressure_full_s": 0.0132,
        "mem_peak_bytes": 283615232,
        "mem_usage_max_bytes": 283410432,
        "mem_anon_max_bytes": 282132480,
        "mem_file_max_bytes": 811008,
        "mem_swap_max_bytes": 0,
        "tasks_max": 3,
        "cpu_before_first_read_s": 0.031207,
        "cgroup": "v2",
        "cgroup_path": f"/system.slice/docker-{V2_ID}.scope",
    }


def test_v2_without_controllers_reads_the_core_files_only(tmp_path):
    live = _live(tmp_path, V2, "end")
    (live / "cgroup.controllers").write_text("\n")
    raw = cgroup.read(CgroupSet.from_dirs({}, live))
    assert raw["cpu_usage_ns"] == 1031512000 and raw["cpu_pressure_some_us"] == 52311
    assert not {"nr_throttled", "mem_usage_bytes", "blkio_read_bytes", "tasks"} & set(raw)


def test_files_this_kernel_lacks_are_skipped(tmp_path):
    live = _live(tmp_path, V2, "end")
    (live / "memory.peak").unlink()  # before 5.19
    (live / "memory.swap.current").unlink()  # no swap accounting
    raw = cgroup.read(CgroupSet.from_dirs({}, live))
    assert "mem_peak_bytes" not in raw and "mem_swap_bytes" not in raw
    assert raw["mem_usage_bytes"] == 1142784


def test_old_v1_kernels_split_cpu_time_from_ticks(tmp_path):
    live = _live(tmp_path, V1, "end")
    for name in ("cpuacct.usage_user", "cpuacct.usage_sys"):
        (live / "cpuacct" / name).unlink()
    raw = cgroup.read(_v1_group(live))
    hz = os.sysconf("SC_CLK_TCK")
    assert raw["cpu_user_ns"] == 50 * 10**9 // hz and raw["cpu_system_ns"] == 0


def test_a_removed_cgroup_keeps_the_last_reading(tmp_path):
    live = _live(tmp_path, V1, "start")
    counters = CgroupCounters(_v1_group(live))
    _live(tmp_path, V1, "middle")
    assert counters.update()
    shutil.rmtree(live)
    assert not counters.update() and counters.gone
    assert counters.metrics()["cpu_total_s"] == pytest.approx(0.224556, abs=1e-6)


def test_blkio_and_io_stat_sum_over_devices():
    assert cgroup.parse_blkio("8:0 Read 4096\n8:0 Write 10\n8:0 Sync 4106\n8:0 Total 4106\n"
                              "8:16 Read 1\n8:16 Write 2\nTotal 4109\n") == {"read": 4097,
                                                                            "write": 12}
    assert cgroup.parse_io_stat(
        "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n"
        "8:0 rbytes=90430464 wbytes=299008000 rios=8950 wios=1252 dbytes=50331648 dios=3021\n"
    ) == {"rbytes": 91889664, "wbytes": 613781504, "rios": 9142, "wios": 1605}


# --- containers: what is reported when the cgroup cannot be read ------------------------

def test_a_container_that_already_exited_gives_a_reason_not_a_failure():
    watch = metrics.ContainerWatch(0, "0" * 64, (0,), metrics.SamplingConfig())
    extra = watch.finish()
    watch.stop()
    assert "exited before its cgroup could be read" in extra["metrics"]["error"]


def test_a_reused_pid_is_not_taken_for_the_container():
    watch = metrics.ContainerWatch(os.getpid(), "f" * 64, (0,), metrics.SamplingConfig())
    extra = watch.finish()
    assert "PID" in extra["metrics"]["error"] and "not in container" in extra["metrics"]["error"]
