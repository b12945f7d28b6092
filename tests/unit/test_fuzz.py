"""Random bytes and random TOML into every loader: clean UsageErrors only, no traceback."""

from __future__ import annotations

import contextlib
import json
import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import analysis, parsers, results
from bench.errors import UsageError
from bench.plan import Plan
from bench.workloads import load_workload
from tests.conftest import VALID_TOML

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

keys = st.sampled_from(["name", "category", "command", "metric", "better", "parser", "unit",
                        "timeout", "duration", "options", "binaries", "packages", "x",
                        "read_only_root", "pattern", "quick_duration", "description"])
scalars = st.one_of(st.text(max_size=12), st.integers(-5, 10**6), st.floats(allow_nan=True),
                    st.booleans())
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)), max_leaves=12)
documents = st.dictionaries(keys, values, max_size=8)


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(doc: dict) -> str:
    return "\n".join(f"{k} = {toml_value(v)}" for k, v in doc.items()) + "\n"


def load_text(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "cpu.fuzz.toml"
    path.write_bytes(data)
    try:
        load_workload(path)
    except UsageError as err:
        assert str(path) in str(err) and "\n" not in str(err)


@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_into_workload_loader(tmp_path, data):
    load_text(tmp_path, data)


@FUZZ
@given(doc=documents)
def test_random_toml_into_workload_loader(tmp_path, doc):
    load_text(tmp_path, toml_document(doc).encode())


@FUZZ
@given(cut=st.integers(0, len(VALID_TOML)), junk=st.text(string.printable, max_size=20))
def test_mangled_valid_workload(tmp_path, cut, junk):
    load_text(tmp_path, (VALID_TOML[:cut] + junk + VALID_TOML[cut:]).encode())


@FUZZ
@given(run_json=st.binary(max_size=300), samples=st.binary(max_size=600))
def test_random_bytes_into_results_loader(tmp_path, run_json, samples):
    folder = tmp_path / "run"
    folder.mkdir(exist_ok=True)
    (folder / "run.json").write_bytes(run_json)
    (folder / "samples.jsonl").write_bytes(samples)
    try:
        results.load_run(folder)
    except UsageError as err:
        assert "\n" not in str(err)


sample_fields = st.dictionaries(
    st.sampled_from(["run_id", "seq", "workload", "variant", "env", "block", "position",
                     "warmup", "status", "value", "unit", "extra", "affinity", "zzz"]),
    values, max_size=14)


@FUZZ
@given(lines=st.lists(sample_fields, max_size=4), plan=documents)
def test_random_json_objects_into_results_and_plan(tmp_path, lines, plan):
    folder = tmp_path / "run"
    folder.mkdir(exist_ok=True)
    (folder / "run.json").write_text(json.dumps({"schema_version": 1, "plan": plan}))
    (folder / "samples.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    try:
        loaded = results.load_run(folder)
    except UsageError:
        return
    try:
        Plan.from_dict(loaded.run["plan"])
    except UsageError as err:
        assert "run.json" in str(err)
    try:
        analysis.summarize(loaded)
    except UsageError as err:
        assert "\n" not in str(err)


@FUZZ
@given(text=st.text(max_size=300), name=st.sampled_from(sorted(parsers.PARSERS)),
       options=st.dictionaries(st.sampled_from(["pattern", "path", "stressor"]), scalars))
def test_random_output_into_parsers(text, name, options):
    with contextlib.suppress(parsers.ParseError):
        parsers.parse(name, text, options)


well_formed = st.fixed_dictionaries({
    "run_id": st.just("r"), "seq": st.integers(0, 50), "workload": st.sampled_from(["a.x", "b.y"]),
    "variant": st.sampled_from(["native", "docker", "<b>odd</b>"]), "env": st.just("native"),
    "block": st.integers(-2, 6), "position": st.integers(0, 3), "warmup": st.booleans(),
    "status": st.sampled_from(["ok", "failed"]),
    "value": st.one_of(st.none(), st.floats(1e-6, 1e9)), "unit": st.just("ops/s"),
    "affinity": st.one_of(st.none(), st.lists(st.integers(0, 3), max_size=2)),
    "requested_cpus": st.lists(st.integers(0, 3), max_size=2),
})


@FUZZ
@given(lines=st.lists(well_formed, max_size=40), plan=documents,
       baseline=st.one_of(st.none(), st.sampled_from(["native", "docker", 3])))
def test_well_formed_samples_with_random_plans_analyse_cleanly(tmp_path, lines, plan, baseline):
    folder = tmp_path / "run"
    folder.mkdir(exist_ok=True)
    (folder / "run.json").write_text(json.dumps({"schema_version": 1, "plan": plan,
                                                 "baseline": baseline}))
    (folder / "samples.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    try:
        loaded = results.load_run(folder)
        summary = analysis.summarize(loaded)
    except UsageError as err:
        assert "\n" not in str(err)
        return
    assert all(row.n_ok >= 0 for row in summary.rows)
