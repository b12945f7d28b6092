"""The oci bundle's switches, the seccomp conversion, the ladder set and the fallback plan."""

from __future__ import annotations

import pytest

from bench import fallback, image
from bench.environments import oci
from bench.errors import UsageError, UserError
from bench.plan import Plan, make_plan
from bench.variants import LADDER, ladder_of, parse_variant, parse_variants
from bench.workloads import load_workloads

RECIPE = image.Recipe("debian", "bookworm", "amd64", "http://deb.debian.org/debian", ())


def env(spec: str) -> oci.OciEnvironment:
    made = oci.OciEnvironment(parse_variant(spec), RECIPE, "r1")
    made.root = oci.Path("/var/lib/bench/rootfs/x/root")
    return made


def namespaces(config) -> list[str]:
    return [n["type"] for n in config["linux"]["namespaces"]]


def test_default_oci_is_namespaces_and_a_pinned_cgroup_without_seccomp():
    config = env("oci").config(["true"], "bench-r1-3", (1, 2))
    assert namespaces(config) == ["mount", "pid", "ipc", "uts", "cgroup"]
    assert config["linux"]["cgroupsPath"] == "/bench/bench-r1-3"
    assert config["linux"]["resources"] == {"cpu": {"cpus": "1-2"}}
    assert "seccomp" not in config["linux"] and "uidMappings" not in config["linux"]
    assert config["root"] == {"path": "/var/lib/bench/rootfs/x/root", "readonly": True}
    assert config["process"]["noNewPrivileges"] is True
    assert config["process"]["capabilities"]["bounding"] == list(oci.DEFAULT_CAPS)
    assert any(m["destination"] == "/tmp" and m["type"] == "tmpfs" for m in config["mounts"])


def test_each_switch_changes_only_its_part_of_the_config():
    base = env("oci").config(["true"], "c", (1,))
    off = env("oci[pid=off,ipc=off,uts=off]").config(["true"], "c", (1,))
    assert namespaces(off) == ["mount", "cgroup"] and off["hostname"] is None
    user = env("oci[userns=on]").config(["true"], "c", (1,))
    assert "user" in namespaces(user)
    assert user["linux"]["uidMappings"] == [{"containerID": 0, "hostID": oci.USERNS_HOST_ID,
                                             "size": oci.USERNS_SIZE}]
    sysfs = next(m for m in user["mounts"] if m["destination"] == "/sys")
    assert sysfs["type"] == "none" and "rbind" in sysfs["options"]  # no netns of its own
    veth_env = env("oci[net=veth]")
    veth = veth_env.veth("bench-r1-4")
    net = next(n for n in veth_env.config(["true"], "bench-r1-4", (1,), veth=veth)["linux"]
               ["namespaces"] if n["type"] == "network")
    assert net["path"] == f"/run/netns/{veth.netns}" and veth.netns.startswith("bench-r1-4")
    assert veth.container.startswith(oci.VETH_NET + ".")
    assert len(veth.host_if) <= 15 and veth != veth_env.veth("bench-r1-5")  # one per sample
    none = env("oci[net=none]").config(["true"], "c", (1,))
    assert {"type": "network"} in none["linux"]["namespaces"]
    quota = env("oci[quota=0.5]").config(["true"], "c", (1, 2))
    assert quota["linux"]["resources"]["cpu"] == {"cpus": "1-2", "period": 100000,
                                                  "quota": 100000}
    filtered = env("oci[seccomp=default]")
    filtered.seccomp = oci.seccomp_config(PROFILE, oci.DEFAULT_CAPS)  # as prepare() does
    with_seccomp = filtered.config(["true"], "c", (1,))
    assert with_seccomp["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    for key in ("process", "root", "mounts"):
        assert base[key] == with_seccomp[key]
    assert {k: v for k, v in with_seccomp["linux"].items() if k != "seccomp"} == base["linux"]


def test_settings_that_cannot_work_together_are_refused():
    with pytest.raises(UserError, match="needs its own pid"):
        env("oci[userns=on,pid=off]")


def test_bad_quota_is_a_clear_error():
    with pytest.raises(UserError, match="quota must be"):
        env("oci[quota=lots]")


PROFILE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 38,
    "archMap": [{"architecture": "SCMP_ARCH_X86_64",
                 "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
    "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "args": [], "includes": {},
         "excludes": {}},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
         "includes": {}, "excludes": {}},
        {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "args": [],
         "includes": {"arches": ["amd64", "x32"]}, "excludes": {}},
        {"names": ["sync_file_range2"], "action": "SCMP_ACT_ALLOW", "args": [],
         "includes": {"arches": ["ppc64le"]}, "excludes": {}},
        {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "args": [],
         "includes": {"caps": ["CAP_SYS_ADMIN"]}, "excludes": {}},
        {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "args": [],
         "includes": {}, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["new_call"], "action": "SCMP_ACT_ALLOW", "args": None,
         "includes": {"minKernel": "9.1"}, "excludes": {}},
    ],
}


def test_seccomp_profile_keeps_the_rules_that_apply_to_the_arch_caps_and_kernel():
    got = oci.seccomp_config(PROFILE, oci.DEFAULT_CAPS, kernel=(6, 1))
    assert got["defaultAction"] == "SCMP_ACT_ERRNO" and got["defaultErrnoRet"] == 38
    assert got["architectures"][0] == "SCMP_ARCH_X86_64"
    names = [(r["names"][0], r["action"]) for r in got["syscalls"]]
    assert names == [("read", "SCMP_ACT_ALLOW"), ("personality", "SCMP_ACT_ALLOW"),
                     ("arch_prctl", "SCMP_ACT_ALLOW"), ("mount", "SCMP_ACT_ERRNO")]
    assert got["syscalls"][1]["args"] == [{"index": 0, "value": 8, "valueTwo": 0,
                                           "op": "SCMP_CMP_EQ"}]
    assert got["syscalls"][3]["errnoRet"] == 1
    with_admin = oci.seccomp_config(PROFILE, (*oci.DEFAULT_CAPS, "CAP_SYS_ADMIN"),
                                    kernel=(9, 2))
    assert ("mount", "SCMP_ACT_ALLOW") in [(r["names"][0], r["action"])
                                           for r in with_admin["syscalls"]]
    assert "new_call" in [r["names"][0] for r in with_admin["syscalls"]]


def test_ladder_is_a_variant_set_in_rung_order():
    variants = parse_variants(["ladder"])
    assert [v.id for v in variants] == [rung for rung, _ in LADDER]
    assert ladder_of(variants) == tuple(v.id for v in variants)
    assert ladder_of(variants[:3]) == ()
    with pytest.raises(UsageError, match="given twice"):
        parse_variants(["ladder,docker"])


def plan(variants: list[str], ladder: bool = False) -> Plan:
    workload = next(w for w in load_workloads() if w.name == "cpu.sysbench")
    parsed = parse_variants(variants)
    return make_plan([workload], parsed, (1,), ladder=ladder_of(parsed)
                     if ladder else ())


def test_fallback_maps_each_docker_variant_to_the_closest_oci_one():
    new, mapping, differences = fallback.to_oci(plan(
        ["native", "docker", "docker[net=host]", "docker[seccomp=unconfined,quota=0.5]",
         "docker[storage=volume]", "docker[cpu=quota]", "docker[quota=0.8,period=10]",
         "docker[net=host,seccomp=unconfined,label=b]"]))
    assert mapping == {
        "docker": "oci[net=veth,seccomp=default]",
        "docker[net=host]": "oci[seccomp=default]",
        "docker[seccomp=unconfined,quota=0.5]": "oci[net=veth,quota=0.5]",
        # storage has no oci switch: kept apart from plain docker's by a label
        "docker[storage=volume]": "oci[net=veth,seccomp=default,label=docker-storage-volume]",
        "docker[cpu=quota]": "oci[net=veth,seccomp=default,quota=1]",
        "docker[quota=0.8,period=10]": "oci[net=veth,seccomp=default,quota=0.8,period=10]",
        "docker[net=host,seccomp=unconfined,label=b]": "oci[label=b]",
    }
    assert [v.id for v in new.variants] == ["native", *mapping.values()]
    assert not any(v.env == "docker" for v in new.variants)
    # What is not the same is said, not hidden.
    assert differences["docker[storage=volume]"] == [
        "storage=volume: the data directory is a bind mount, not a named volume"]
    assert differences["docker[cpu=quota]"][0].startswith("cpu=quota: pinned")
    assert "docker" not in differences  # cpu.sysbench has no data directory


def test_fallback_keeps_the_ladder_order_and_notes_disk_storage():
    ladder = plan(["ladder"], ladder=True)
    new, mapping, _ = fallback.to_oci(ladder)
    assert new.ladder == tuple(mapping.get(v, v) for v in ladder.ladder)
    assert len(set(new.ladder)) == len(new.ladder)
    disk = next(w for w in load_workloads() if w.name == "disk.fio-seqwrite")
    _, _, differences = fallback.to_oci(make_plan(
        [disk], parse_variants(["native,docker"]), (1,)))
    assert differences["docker"] == [
        "storage=overlay: the data directory is a bind mount, not the container's layer"]


class Answers:
    def close(self) -> None:
        pass


def refused():
    raise UserError("no Docker engine answers at unix:///x.sock (no socket there); start "
                    "one with ...")


def test_fallback_only_when_no_engine_answers_and_none_can_be_set_up():
    ladder = plan(["ladder"], ladder=True)
    _, mapping, _ = fallback.to_oci(ladder)
    assert fallback.resolve(ladder, connect=Answers) == (ladder, None)
    # The set-up brings one up: no fallback.
    calls = iter([refused, Answers])
    assert fallback.resolve(ladder, connect=lambda: next(calls)(),
                            setup=lambda progress: None) == (ladder, None)
    moved, record = fallback.resolve(ladder, connect=refused,
                                     setup=lambda progress: "not installable here")
    assert moved.ladder == tuple(mapping.get(v, v) for v in ladder.ladder)
    assert record["reason"] == ("no Docker engine answers at unix:///x.sock (no socket "
                                "there); not installable here")
    assert record["environment"] == "oci" and record["mapping"] == mapping
    assert fallback.banner(record).startswith(
        "No Docker engine answers at unix:///x.sock (no socket there); not installable "
        "here: the Docker variants ran in the daemonless OCI environment (runc) instead")
    native_only = plan(["native", "oci"])
    assert fallback.resolve(native_only, connect=refused) == (native_only, None)


def test_a_refused_engine_is_an_error_not_a_fallback():
    def denied():
        raise UserError("no Docker engine answers at unix:///var/run/docker.sock "
                        "(permission denied); start one with ...")

    with pytest.raises(UserError, match="permission denied"):
        fallback.resolve(plan(["native", "docker"]), connect=denied,
                         setup=lambda progress: pytest.fail("no set-up for a refusal"))


def test_engine_setup_is_not_tried_for_a_named_engine(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2375")
    assert "DOCKER_HOST names it" in fallback.engine_setup(print)
