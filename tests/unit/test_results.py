"""Storage: append-as-you-go, never overwrite, versioned, tolerant of a truncated tail."""

from __future__ import annotations

import json

import pytest

from bench import results
from bench.errors import UsageError


def sample(seq: int, value: float = 1.0) -> results.Sample:
    return results.Sample(run_id="r", seq=seq, workload="cpu.x", variant="native",
                          env="native", block=seq, position=0, warmup=False, status="ok",
                          value=value, unit="ops/s", requested_cpus=[1], affinity=[1])


def test_samples_are_on_disk_as_soon_as_appended(tmp_path):
    store = results.RunStore.create(tmp_path, "run-1")
    store.write_run({"status": "running"})
    store.append(sample(0))
    # A second reader sees the sample before the store is closed.
    loaded = results.load_run(tmp_path / "run-1")
    assert [s.seq for s in loaded.samples] == [0]
    store.append(sample(1, 2.0))
    store.close()
    loaded = results.load_run(tmp_path / "run-1")
    assert [s.value for s in loaded.samples] == [1.0, 2.0]
    assert loaded.run["schema_version"] == results.SCHEMA_VERSION


def test_run_folder_is_never_overwritten(tmp_path):
    results.RunStore.create(tmp_path, "same")
    with pytest.raises(UsageError, match="never overwritten"):
        results.RunStore.create(tmp_path, "same")


def test_truncated_last_line_is_skipped_with_a_warning(tmp_path):
    store = results.RunStore.create(tmp_path, "cut")
    store.write_run({"status": "interrupted"})
    store.append(sample(0))
    store.close()
    with open(tmp_path / "cut" / results.SAMPLES_FILE, "a") as handle:
        handle.write('{"run_id": "r", "seq": 1, "workl')
    loaded = results.load_run(tmp_path / "cut")
    assert len(loaded.samples) == 1
    assert "truncated last line" in loaded.warnings[0]


def test_corrupt_middle_line_is_an_error_naming_the_line(tmp_path):
    store = results.RunStore.create(tmp_path, "bad")
    store.write_run({})
    store.append(sample(0))
    store.close()
    path = tmp_path / "bad" / results.SAMPLES_FILE
    path.write_text("garbage\n" + path.read_text())
    with pytest.raises(UsageError, match=r"samples.jsonl:1: not a valid sample"):
        results.load_run(tmp_path / "bad")


def test_newer_schema_is_refused(tmp_path):
    folder = tmp_path / "future"
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(UsageError, match="newer than this bench"):
        results.load_run(folder)


def test_older_schema_is_migrated(tmp_path, monkeypatch):
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"schema_version": 0, "x": 1}))
    monkeypatch.setitem(results.MIGRATIONS, 0, lambda run: {**run, "migrated": True})
    loaded = results.load_run(folder)
    assert loaded.run["migrated"] is True and loaded.run["schema_version"] == 1


@pytest.mark.parametrize("content, message", [
    (None, "missing; not a run folder"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"schema_version": "1"}', "not an integer"),
])
def test_bad_run_json(tmp_path, content, message):
    folder = tmp_path / "r"
    folder.mkdir()
    if content is not None:
        (folder / "run.json").write_text(content)
    with pytest.raises(UsageError, match=message):
        results.load_run(folder)


def test_missing_folder(tmp_path):
    with pytest.raises(UsageError, match="no such run folder"):
        results.load_run(tmp_path / "nope")
