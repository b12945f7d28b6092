"""Storage: append-as-you-go, never overwrite, versioned, tolerant of a truncated tail."""

from __future__ import annotations

import json
from pathlib import Path

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


# ------------------------------------------------------------------ naming a run (issue 17)


def run_folder(results_dir, run_id, started_at=None):
    store = results.RunStore.create(results_dir, run_id)
    store.write_run({"status": "complete"} if started_at is None
                    else {"status": "complete", "started_at": started_at})
    store.append(sample(0))
    store.close()
    return store.folder


def test_resolve_run_takes_a_folder_a_file_in_it_or_an_id(tmp_path):
    folder = run_folder(tmp_path / "results", "20261202-072209-309a")
    given = [folder, str(folder), folder / "run.json", folder / "samples.jsonl"]
    assert {results.resolve_run(g, tmp_path / "results") for g in given} == {folder}
    assert results.resolve_run("20261202-072209-309a", tmp_path / "results") == folder


def test_resolve_run_finds_ids_in_results_of_the_working_directory(tmp_path, monkeypatch):
    run_folder(tmp_path / "results", "abc")
    monkeypatch.chdir(tmp_path)
    assert results.resolve_run("abc") == Path("results/abc")
    assert [s.seq for s in results.load_run("abc").samples] == [0]
    assert results.load_run("results/abc/run.json").folder == Path("results/abc")


def test_latest_is_the_run_started_last(tmp_path):
    where = tmp_path / "results"
    run_folder(where, "zzz-old", started_at=1_000.0)
    newest = run_folder(where, "aaa-new", started_at=2_000.0)
    run_folder(where, "mmm-mid", started_at=1_500.0)
    assert results.resolve_run("latest", where) == newest
    latest = run_folder(where, "latest", started_at=0.0)  # a run named so wins
    assert results.resolve_run("latest", where) == latest


@pytest.mark.parametrize("given", ["nope", "latest", "sub/nope"])
def test_unknown_run_names_what_was_tried(tmp_path, given):
    with pytest.raises(UsageError) as err:
        results.resolve_run(given, tmp_path / "results")
    where = tmp_path / "results"
    assert str(err.value) == f"{given}: no such run folder (looked in {where}/ too)"


def test_unknown_absolute_path(tmp_path):
    with pytest.raises(UsageError, match=r"nope: no such run folder$"):
        results.resolve_run(tmp_path / "nope", tmp_path / "results")


def test_run_id_of_a_folder_a_file_or_a_gone_id(tmp_path):
    where = tmp_path / "results"
    folder = run_folder(where, "the-id")
    renamed = folder.rename(where / "renamed")
    assert results.run_id_of(str(renamed), where) == "the-id"  # run.json says
    assert results.run_id_of(str(renamed / "run.json"), where) == "the-id"
    assert results.run_id_of("renamed", where) == "the-id"
    assert results.run_id_of("gone-id", where) == "gone-id"  # its leftovers may remain
    with pytest.raises(UsageError, match="no such run folder"):
        results.run_id_of("results/gone-id", where)
