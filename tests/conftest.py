"""Shared fixtures: workload files written on the fly, and a fake workload."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bench.workloads import Metric, Workload

VALID_TOML = textwrap.dedent("""
    name = "cpu.demo"
    category = "cpu"
    description = "a demo"
    command = ["demo", "--threads={threads}", "--time={duration}"]
    binaries = ["demo"]
    packages = []
    duration = 3
    quick_duration = 1
    timeout = 30

    [metric]
    name = "rate"
    unit = "ops/s"
    better = "higher"
    parser = "regex"
    options = { pattern = "rate: ([0-9.]+)" }
""")


@pytest.fixture
def workload_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "workloads"
    directory.mkdir()
    (directory / "cpu.demo.toml").write_text(VALID_TOML)
    return directory


def fake_workload(name: str = "cpu.fake", better: str = "higher") -> Workload:
    return Workload(name=name, category=name.split(".")[0], command=("true",),
                    metric=Metric("value", "ops/s", better, "regex", {"pattern": "(.)"}))
