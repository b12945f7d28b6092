"""The runner through the fake environment: exact, fast, no engine."""

from __future__ import annotations

import os
import signal

import pytest

from bench import results, runner
from bench.cpulist import default_cpus
from bench.environments.docker import DockerEnvironment
from bench.plan import make_plan
from bench.variants import parse_variant, parse_variants
from tests.conftest import fake_workload


def plan(variants="fake,fake[scale=1.1]", blocks=5, warmup=1, seed=11, workloads=None):
    return make_plan(workloads or [fake_workload("cpu.a"), fake_workload("memory.b")],
                     parse_variants([variants]), tuple(default_cpus()),
                     blocks=blocks, warmup=warmup, seed=seed)


class Recorder:
    def __init__(self):
        self.stages, self.samples, self.stops, self.total = [], [], [], None

    def stage(self, message):
        self.stages.append(message)

    def begin(self, total):
        self.total = total

    def sample(self, step, sample, done, total):
        self.samples.append((step.seq, sample.seq, done, total))

    def stopped(self, workload, reason, skipped):
        self.stops.append((workload, reason, skipped))


def no_engine():
    raise AssertionError("fake variants must not connect to an engine")


def test_every_step_becomes_a_stored_sample(tmp_path):
    recorder = Recorder()
    outcome = runner.run(plan(), tmp_path, reporter=recorder, connect=no_engine)
    assert outcome.status == "complete"
    loaded = results.load_run(outcome.folder)
    assert len(loaded.samples) == outcome.samples == recorder.total == 2 * 6 * 2
    assert [s.seq for s in loaded.samples] == list(range(24))
    assert sum(s.warmup for s in loaded.samples) == 2 * 1 * 2
    assert all(s.affinity == s.requested_cpus == list(default_cpus())
               for s in loaded.samples)
    run = loaded.run
    assert run["status"] == "complete" and run["samples"] == 24
    assert run["plan"]["seed"] == 11 and run["baseline"] == "fake"
    assert run["host"]["kernel"]


def test_fake_values_are_reproducible_and_scaled(tmp_path):
    first = results.load_run(runner.run(plan(), tmp_path / "a", connect=no_engine).folder)
    again = results.load_run(runner.run(plan(), tmp_path / "b", connect=no_engine).folder)
    assert [s.value for s in first.samples] == [s.value for s in again.samples]
    base = [s.value for s in first.samples if s.variant == "fake"]
    slow = [s.value for s in first.samples if s.variant == "fake[scale=1.1]"]
    assert sum(slow) / len(slow) < sum(base) / len(base)  # higher is better, 10% costlier


def test_failed_samples_are_recorded_and_the_run_goes_on(tmp_path):
    outcome = runner.run(plan("fake,fake[fail=3]"), tmp_path, connect=no_engine)
    loaded = results.load_run(outcome.folder)
    failed = [s for s in loaded.samples if not s.ok]
    assert outcome.status == "complete" and failed and outcome.failed == len(failed)
    assert all(s.variant == "fake[fail=3]" and s.value is None for s in failed)
    assert all("exit code 1" in s.error and "scripted failure" in s.stderr_tail for s in failed)


def test_interrupt_keeps_completed_samples_and_marks_the_run(tmp_path):
    class Interrupting(Recorder):
        def sample(self, step, sample, done, total):
            if done == 5:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run(plan(), tmp_path, reporter=Interrupting(), connect=no_engine)
    (folder,) = tmp_path.iterdir()
    loaded = results.load_run(folder)
    assert loaded.run["status"] == "interrupted"
    assert len(loaded.samples) == 5


def test_binary_mismatch_is_a_warning():
    same = {"native": {"x": {"sha256": "aa"}}, "docker": {"x": {"sha256": "aa"}}}
    assert runner.binary_warnings(same) == []
    differ = {"native": {"x": {"sha256": "aa"}}, "docker": {"x": {"sha256": "bb"}}}
    (warning,) = runner.binary_warnings(differ)
    assert "binary 'x' differs" in warning
    missing = {"native": {"x": {"sha256": "aa"}}, "docker": {"x": {"sha256": "", "error": "e"}}}
    assert runner.binary_warnings(missing)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_write_still_counts_the_written_sample(tmp_path, monkeypatch, sig):
    """The clean-clone CI failure: Ctrl-C landed after a sample reached samples.jsonl but
    before it was counted, so run.json said 2 samples for 3 lines."""
    original = results.RunStore.append
    calls = []

    def append_then_signal(self, sample):
        original(self, sample)
        calls.append(sample.seq)
        if len(calls) == 3:
            os.kill(os.getpid(), sig)  # arrives between the write and the count

    def terminate(_number, _frame):
        raise KeyboardInterrupt

    monkeypatch.setattr(results.RunStore, "append", append_then_signal)
    previous = signal.signal(signal.SIGTERM, terminate)  # as the CLI maps SIGTERM
    try:
        with pytest.raises(KeyboardInterrupt):
            runner.run(plan(), tmp_path, connect=no_engine)
    finally:
        signal.signal(signal.SIGTERM, previous)
    (folder,) = tmp_path.iterdir()
    loaded = results.load_run(folder)
    assert len(loaded.samples) == 3
    assert loaded.run["status"] == "interrupted" and loaded.run["samples"] == 3


def test_a_run_without_an_image_still_installs_the_workloads_packages(tmp_path, monkeypatch):
    """Native-only runs need the workload programs on the host as much as image runs do:
    the same installer, for the plan's workloads only."""
    import dataclasses

    from bench import image

    installed: list[list[str]] = []
    monkeypatch.setattr(image, "ensure_host_packages",
                        lambda packages, progress=None: installed.append(list(packages)))
    workloads = [dataclasses.replace(fake_workload("cpu.a"), packages=("sysbench",)),
                 dataclasses.replace(fake_workload("memory.b"), packages=("hpcc", "sysbench"))]
    runner.run(plan(workloads=workloads, blocks=2), tmp_path, connect=no_engine)
    assert installed == [["hpcc", "sysbench"]]


def test_a_ctrl_c_during_a_container_create_still_removes_the_container():
    """The clean-clone CI failure: SIGINT arrived while the create call was in flight, the
    engine finished making the container after the leftovers sweep, and it stayed."""


    removed = []

    class Container:
        def remove(self, force=False):
            removed.append(force)

    class Containers:
        def create(self, *args, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the engine answers
            return Container()

    class Client:
        containers = Containers()

    env = DockerEnvironment(parse_variant("docker"), client=Client(), image="x",
                            run_id="r")
    with pytest.raises(KeyboardInterrupt):
        env._run(["true"], (0,), 10, "bench-r-0")
    assert removed == [True]
