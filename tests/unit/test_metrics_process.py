"""Native samples: rusage and /proc I/O totals of the whole tree, read at the exit, and the
native environment's own waiting (pipes, timeout, signals) that makes that possible."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from bench import metrics
from bench.cpulist import online_cpus
from bench.environments.base import SampleContext
from bench.metrics import process
from bench.variants import parse_variant
from bench.workloads import Metric, Workload
from tests import envs


def test_rusage_metrics_units():
    usage = resource.struct_rusage((1.5, 0.25, 2048, 0, 0, 0, 10, 1, 0, 0, 0, 0, 0, 0, 7, 3))
    assert process.rusage_metrics(usage) == {
        "cpu_user_s": 1.5, "cpu_system_s": 0.25, "cpu_total_s": 1.75,
        "ctx_voluntary": 7, "ctx_involuntary": 3, "faults_minor": 10, "faults_major": 1,
        "rss_peak_bytes": 2048 * 1024,
    }


def test_proc_io_format():
    text = ("rchar: 41989136\nwchar: 41943940\nsyscr: 246\nsyscw: 209\n"
            "read_bytes: 159744\nwrite_bytes: 20983808\ncancelled_write_bytes: 0\n")
    assert process.parse_proc_io(text) == {
        "io_read_bytes": 159744, "io_write_bytes": 20983808,
        "io_logical_read_bytes": 41989136, "io_logical_write_bytes": 41943940,
        "io_read_syscalls": 246, "io_write_syscalls": 209,
    }


def test_tree_finds_children_and_grandchildren():
    proc = subprocess.Popen(["sh", "-c", "sh -c 'sleep 5 & wait' & sleep 5 & wait"],
                            start_new_session=True)
    try:
        for _ in range(200):
            found = process.tree(proc.pid)
            if len(found) == 4:  # sh, its sleep, the inner sh and its sleep
                break
            time.sleep(0.01)
        assert found[0] == proc.pid and len(found) == 4
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# A child that burns CPU in a grandchild it waits for, writes 1 MiB, then reports its pid.
_TREE = textwrap.dedent("""
    import os, sys, time
    pid = os.fork()
    if pid == 0:
        end = time.process_time() + 0.3
        while time.process_time() < end:
            pass
        with open(os.devnull, "wb") as f:
            f.write(b"x" * (1 << 20))
        os._exit(0)
    os.waitpid(pid, 0)
    sys.exit(3)
""")


def test_totals_include_the_waited_for_grandchild_read_at_the_exit():
    proc = subprocess.Popen([sys.executable, "-c", _TREE])
    watch = process.ProcessWatch(proc.pid, (0,), metrics.SamplingConfig(interval_s=0.05))
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(watch.exit_fd, selectors.EVENT_READ)
        while not selector.select(watch.poll_due()):
            watch.poll()
    assert watch.reap() == 3
    proc.returncode = 3
    got = watch.extra()
    m = got["metrics"]
    assert m["source"] == "rusage+procfs"
    # Each value is rounded to the microsecond on its own, so the sum may differ in the last digit.
    assert m["cpu_user_s"] + m["cpu_system_s"] == pytest.approx(m["cpu_total_s"], abs=2e-6)
    assert 0.3 <= m["cpu_total_s"] < 2.0
    assert m["io_logical_write_bytes"] >= 1 << 20  # the grandchild's write, via its parent
    assert m["rss_peak_bytes"] > 1 << 20 and m["tasks_max"] >= 1
    assert m["collector_cpu_s"] > 0
    assert got["host"]["cpu_window"] == "workload" and got["host"]["cpu_window_s"] >= 0.3


# --- the native environment's waiting ---------------------------------------------------

def shell(script: str, timeout: float = 30.0) -> Workload:
    return Workload(name="cpu.shell", category="cpu", command=("sh", "-c", script),
                    metric=Metric("rate", "ops/s", "higher", "regex",
                                  {"pattern": r"rate: ([0-9.]+)"}), timeout=timeout)


def run_native(workload: Workload, spec: str = "native"):
    env = envs.make(parse_variant(spec), run_id="ut-native")
    cpu = online_cpus()[-1]
    ctx = SampleContext("ut-native", 0, 0, 0, False, (cpu,), True,
                        metrics.SamplingConfig(interval_s=0.05))
    try:
        return env.execute(workload, ctx)
    finally:
        env.teardown()


def test_output_larger_than_a_pipe_is_collected_without_deadlock():
    sample = run_native(shell("head -c 300000 /dev/zero | tr '\\0' a; echo; "
                              "head -c 300000 /dev/zero | tr '\\0' b >&2; echo 'rate: 7'"))
    assert sample.ok and sample.value == 7.0, sample.error
    assert sample.affinity == sample.requested_cpus
    assert sample.extra["metrics"]["cpu_total_s"] > 0
    assert sample.extra["metrics"]["io_logical_write_bytes"] >= 600000


def test_exit_code_signal_and_timeout_are_reported():
    failed = run_native(shell("echo oops >&2; exit 4"))
    assert failed.exit_code == 4 and "exit code 4: oops" in failed.error
    assert failed.extra["metrics"]["cpu_total_s"] >= 0  # metrics even for failures
    killed = run_native(shell("kill -TERM $$"))
    assert killed.exit_code == -signal.SIGTERM and "killed by SIGTERM" in killed.error
    slow = run_native(shell("sleep 30 & sleep 30; echo 'rate: 1'", timeout=0.5))
    assert "timed out after 0.5 s" in slow.error and slow.wall_s < 5
    assert slow.exit_code == -signal.SIGKILL


def test_a_missing_program_cannot_start():
    workload = Workload(name="cpu.none", category="cpu", command=("x",),
                        metric=Metric("rate", "ops/s", "higher", "wall_time"))
    env = envs.make(parse_variant("native"), run_id="ut-native")
    ctx = SampleContext("ut-native", 0, 0, 0, False, (0,), True)
    # The probe shell starts; the tool is missing: exit code 127, a failed sample.
    sample = env.execute(workload, ctx)
    assert sample.exit_code == 127 and not sample.ok


def test_interrupt_kills_and_reaps_the_whole_group(monkeypatch):
    from bench.environments import native

    started = []

    def interrupted(proc, watch, timeout):
        started.append(proc.pid)
        time.sleep(0.1)  # the shell has started its sleep
        raise KeyboardInterrupt

    monkeypatch.setattr(native, "_communicate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_native(shell("sleep 30 & sleep 30"))
    with pytest.raises(ProcessLookupError):
        os.kill(started[0], 0)  # reaped
    # Nothing of its group is left once init has reaped the killed grandchildren.
    for _ in range(200):
        try:
            os.killpg(started[0], 0)
        except ProcessLookupError:
            break
        time.sleep(0.01)
    else:
        pytest.fail("processes of the interrupted sample survived")
