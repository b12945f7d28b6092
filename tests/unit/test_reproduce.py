"""The report's "Reproduce" command is the whole plan: parsed again by ``bench run``, it
makes the same plan (workloads, variants, matrix, CPUs, seed, blocks, margin, alpha,
retake rule), whatever the user typed and whatever chance or this host chose."""

from __future__ import annotations

import pytest

from bench import planning
from bench.cli import plan_options, run_command
from bench.cpulist import default_cpus, format_cpus

CPU = format_cpus(default_cpus()[:1])


def plan_of(args: list[str]):
    with run_command.make_context("run", list(args)) as ctx:
        options = plan_options(**ctx.params)
    return options, planning.from_options(**options)


@pytest.mark.parametrize("typed", [
    ["--quick"],
    ["--quick", "--blocks", "4"],
    ["-w", "cpu.*", "--variants", "native,docker,docker[net=host]", "--blocks", "3"],
    ["--variants", "ladder", "-w", "cpu.sysbench", "--margin", "1.5", "--alpha", "0.1"],
    ["--suite", "standard", "--adaptive", "--min-blocks", "4", "--max-blocks", "12",
     "--budget", "10m", "--warmup", "2"],
    ["-w", "memory.*", "--no-retake", "--retake-threshold", "7", "--steal-threshold", "20",
     "--cpus", CPU],
])
def test_the_reproduce_command_makes_the_same_plan(typed, workload_dir):
    typed = [*typed, "--workload-dir", str(workload_dir)]
    options, made = plan_of(typed)
    command = planning.reproduce_command(options, made)
    assert command[:2] == ["bench", "run"]
    for spelled in ("--seed", "--cpus", "--warmup", "--margin", "--alpha"):
        assert spelled in command
    assert "-w" in command or "--suite" in command
    _, again = plan_of(command[2:])
    assert again.to_dict() == made.to_dict()
    # The seed was drawn at random when none was typed: the command names it.
    assert command[command.index("--seed") + 1] == str(made.seed)
