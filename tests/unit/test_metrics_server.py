"""The server under test of a two-role workload, measured over its client's run."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bench.metrics.server import ServerWatch, tree_delta


def test_tree_delta_matches_processes_by_pid_and_start_time():
    before = {(10, 1.0): {"cpu_user_s": 1.0, "cpu_system_s": 0.5, "ctx_voluntary": 5},
              (11, 1.0): {"cpu_user_s": 2.0, "cpu_system_s": 0.0},   # ends in between
              (12, 1.0): {"cpu_user_s": 9.0, "cpu_system_s": 0.0}}   # PID reused below
    after = {(10, 1.0): {"cpu_user_s": 1.5, "cpu_system_s": 0.75, "ctx_voluntary": 9},
             (12, 7.0): {"cpu_user_s": 0.25, "cpu_system_s": 0.0},   # new: counts from 0
             (13, 8.0): {"cpu_user_s": 0.5, "cpu_system_s": 0.25}}
    delta = tree_delta(before, after)
    assert delta["cpu_user_s"] == pytest.approx(0.5 + 0.25 + 0.5)
    assert delta["cpu_system_s"] == pytest.approx(0.25 + 0.25)
    assert delta["cpu_total_s"] == pytest.approx(1.75)
    assert delta["ctx_voluntary"] == 4
    assert delta["processes_gone"] == 2  # 11, and the first 12


def test_native_server_cpu_in_the_window_only():
    """A server that burns 0.6 s of CPU before the window and 0.4 s inside it: the watch
    sees the 0.4 s (startup stays out)."""
    code = ("import sys, time\n"
            "def burn(s):\n"
            "    end = time.process_time() + s\n"
            "    while time.process_time() < end: pass\n"
            "burn(0.6)\nprint('ready', flush=True)\nsys.stdin.readline()\nburn(0.4)\n"
            "print('done', flush=True)\nsys.stdin.readline()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        watch = ServerWatch(proc.pid, False, (0,))
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "done"
        result = watch.finish()
    finally:
        proc.kill()
        proc.wait()
    metrics, host = result["metrics"], result["host"]
    assert metrics["role"] == "server" and metrics["source"].startswith("psutil")
    # The host over the same window, without a noise figure (see bench.metrics.server).
    assert host["cpu_window"] == "client run" and host["cpu_window_s"] >= 0.35
    assert "noise_fraction" not in host
    assert 0.35 <= metrics["cpu_total_s"] <= 0.55, metrics
    assert metrics["processes_gone"] == 0 and metrics["rss_tree_max_bytes"] > 0


def test_a_server_gone_before_the_end_is_said_not_raised():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    watch = ServerWatch(proc.pid, False, (0,))
    proc.kill()
    proc.wait()
    metrics = watch.finish()["metrics"]
    assert metrics["error"] == "the server exited before its client ended"


def test_unknown_pid_or_foreign_cgroup_is_an_error_in_the_metrics():
    assert "PID is not known" in ServerWatch(None, True, (0,)).finish()["metrics"]["error"]
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.05)
        metrics = ServerWatch(proc.pid, True, (0,), container_id="0123456789abcdef"
                              ).finish()["metrics"]
    finally:
        proc.kill()
        proc.wait()
    assert "PID was reused" in metrics["error"]


@pytest.mark.parametrize("text, name, found", [
    ("4:cpu,cpuacct:/bench/r-1\n", "/bench/r-1", True),
    ("4:cpu,cpuacct:/bench/r-10\n", "/bench/r-1", False),   # another sample's cgroup
    ("0::/bench/r-1", "/bench/r-1", True),                    # v2, no trailing newline
    ("0::/machine.slice/libpod-abc123.scope\n", "abc123", True),
    ("3:memory:/docker/abc123/sub\n", "abc123", True),
    ("3:memory:/docker/abc1234\n", "abc123", False),
])
def test_a_cgroup_is_named_as_a_whole_path_component(text, name, found):
    from bench.metrics.cgroup import names_cgroup

    assert names_cgroup(text, name) is found
