"""Host preparation and the facts that change what "native" means: bench tune (on fixture
/proc trees and a real child process), NUMA binding on a two-node sysfs fixture and on the
real single node, virtualization, mitigations and CPU isolation facts, the probe's record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import cpulist, facts, numa, tune
from bench.environments import base, roles
from bench.environments.docker import DockerEnvironment
from bench.errors import UserError
from bench.variants import parse_variant
from bench.workloads import Metric, Workload


def two_nodes(tmp_path: Path) -> Path:
    root = tmp_path / "node"
    for node, cpus in (("node0", "0-3"), ("node1", "4-7")):
        (root / node).mkdir(parents=True)
        (root / node / "cpulist").write_text(cpus + "\n")
    return root


def test_numa_binding_is_the_measured_cpus_node_on_a_two_node_host(tmp_path):
    root = two_nodes(tmp_path)
    assert numa.nodes(root) == {0: [0, 1, 2, 3], 1: [4, 5, 6, 7]}
    assert numa.binding((5, 6), root) == 1
    assert numa.binding((0,), root) == 0
    assert numa.binding((3, 4), root) is None  # spans both nodes: nothing sensible to bind


def test_single_node_host_binds_nothing():
    real = numa.nodes()
    assert len(real) >= 1  # this host's own sysfs
    if len(real) == 1:
        assert numa.binding(tuple(os.sched_getaffinity(0))) is None


def test_native_children_bind_memory_and_containers_get_cpuset_mems(tmp_path, monkeypatch):
    root = two_nodes(tmp_path)
    monkeypatch.setattr(numa, "NODE_ROOT", root)
    monkeypatch.setattr(numa.binding, "__defaults__", (root,))
    bound = []
    monkeypatch.setattr(numa, "bind_memory", bound.append)
    monkeypatch.setattr(os, "sched_setaffinity", lambda pid, cpus: None)
    roles.child_setup(None, (5,))()
    assert bound == [1]
    env = DockerEnvironment(parse_variant("docker"), client=None, image="x",
                            run_id="r")
    assert env._container_options((5,))["cpuset_mems"] == "1"
    assert env._container_options((0, 1))["cpuset_mems"] == "0"
    bundle = env_oci().config(["true"], "c", (6,))
    assert bundle["linux"]["resources"]["cpu"] == {"cpus": "6", "mems": "1"}


def env_oci():
    from tests.unit.test_oci import env
    return env("oci")


def test_bind_memory_really_binds_on_this_host():
    code = ("from bench import numa; numa.bind_memory(0); "
            "print(open('/proc/self/numa_maps').readline().split()[1])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip().startswith("bind:0")


def test_the_probe_records_the_memory_nodes_and_policy_the_workload_saw():
    done = subprocess.run(base.wrap(["true"]), capture_output=True, text=True, check=True)
    line = done.stderr.strip()
    assert line.startswith("bench-probe cpus=") and " mems=" in line and " policy=" in line
    workload = Workload(name="cpu.t", category="cpu", command=("true",),
                        metric=Metric("v", "s", "lower", "wall_time"))
    ctx = base.SampleContext("r", 0, 0, 0, False, (0,), True)
    raw = base.RawResult(0, "", done.stderr, 0.1, time.time(), "x")
    sample = base.finish_sample(workload, parse_variant("native"), ctx, raw)
    assert sample.extra["numa"]["mems_allowed"] == cpulist.parse(
        Path("/sys/devices/system/node/online").read_text())
    assert sample.extra["numa"]["policy"] == "default"
    assert "bench-probe" not in (sample.stderr_tail or "")


def test_virtualization_mitigations_and_isolation_facts():
    flagged = facts.virtualization("flags\t\t: fpu vme hypervisor sse\n")
    assert flagged["virtual_machine"] and flagged["hypervisor_cpu_flag"]
    assert "virtual machine" in flagged["native_means"]
    host = facts.host_facts()
    assert isinstance(host["mitigations"], dict)
    assert host["numa_nodes"]
    iso = facts.cpu_isolation("quiet isolcpus=2-3 nohz_full=2-3 mitigations=off")
    assert (iso["isolcpus"], iso["nohz_full"], iso["mitigations_arg"]) == ("2-3", "2-3", "off")


def fixture_proc(tmp_path: Path) -> Path:
    proc = tmp_path / "proc"
    for irq, cpus in (("30", "0-1"), ("31", "0"), ("36", "1")):
        (proc / "irq" / irq).mkdir(parents=True)
        (proc / "irq" / irq / "smp_affinity_list").write_text(cpus + "\n")
        (proc / "irq" / irq / "effective_affinity_list").write_text(cpus + "\n")
    (proc / "irq" / "default_smp_affinity").write_text("3\n")
    (proc / "interrupts").write_text(" 30: 0 0 PCI-MSIX virtio0-config\n"
                                     " 36: 0 9 PCI-MSIX virtio1-req.0\n")
    return proc


def test_tune_moves_irqs_and_tasks_off_and_reset_puts_them_back(tmp_path):
    assert (os.cpu_count() or 1) >= 2, "this project's machines have two CPUs"
    proc = fixture_proc(tmp_path)
    state = tmp_path / "tune.json"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             preexec_fn=lambda: os.sched_setaffinity(0, {0, 1}))
    try:
        # Only the child is a task of the fixture: link its real /proc entry.
        (proc / str(child.pid)).symlink_to(f"/proc/{child.pid}")
        measured = 1
        changes = tune.apply((measured,), proc=proc, sys_cpu=tmp_path / "cpu", state=state,
                             me=os.getpid())
        kinds = {c.kind for c in changes}
        assert {"irq", "irq-default", "task"} <= kinds
        assert measured not in os.sched_getaffinity(child.pid)
        assert (proc / "irq" / "36" / "smp_affinity_list").read_text() == "0"
        assert (proc / "irq" / "30" / "smp_affinity_list").read_text() == "0"
        assert (proc / "irq" / "31" / "smp_affinity_list").read_text() == "0\n"  # untouched
        assert json.loads(state.read_text())["cpus"] == [measured]
        with pytest.raises(UserError, match="already tuned"):
            tune.apply((measured,), proc=proc, sys_cpu=tmp_path / "cpu", state=state)
        tune.reset(proc=proc, state=state)
        assert measured in os.sched_getaffinity(child.pid)
        assert (proc / "irq" / "36" / "smp_affinity_list").read_text() == "1"
        assert not state.exists()
        with pytest.raises(UserError, match="nothing to reset"):
            tune.reset(proc=proc, state=state)
    finally:
        child.kill()
        child.wait()


def test_status_lists_irqs_left_on_the_measured_cpus(tmp_path):
    proc = fixture_proc(tmp_path)
    left = tune.status((1,), proc=proc, state=tmp_path / "none.json")
    assert left == {"tuned": False, "irqs_on_measured_cpus": ["30 (virtio0-config)",
                                                              "36 (virtio1-req.0)"]}


def test_podman_facts_survive_null_parts_of_its_info(monkeypatch):
    """Seen: podman reports "ociRuntime": null once its runtime's binary is removed; doctor
    crashed on it (issue 17)."""
    from bench.environments import podman

    monkeypatch.setattr(podman, "_libpod_info", lambda client: {
        "host": {"ociRuntime": None, "conmon": None, "security": None}, "version": None})

    class Client:
        def version(self):
            return {"ApiVersion": "1.41"}

    got = podman.engine_facts(Client())
    assert got["oci_runtime"] is None and got["engine_version"] is None
    assert got["api_version"] == "1.41"
