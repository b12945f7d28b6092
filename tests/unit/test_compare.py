"""Run-to-run comparison: changes with intervals and verdicts, hosts never mixed silently."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bench import cli, compare, results
from bench.errors import UsageError
from bench.report import export, markdown
from tests.unit.test_report import make_run


def load_pair(tmp_path, a: dict, b: dict):
    base = {"workloads": ("cpu.a", "mem.b"), "variants": ("native", "docker"), "blocks": 20,
            "cv": 0.005}
    first = make_run(tmp_path, **{**base, "seed": 1, **a})
    second = make_run(tmp_path, **{**base, "seed": 2, **b})
    return results.load_run(first), results.load_run(second)


def by_key(result):
    return {(r.workload, r.variant): r for r in result.rows}


def test_the_same_run_is_unchanged_everywhere(tmp_path):
    folder = make_run(tmp_path, variants=("native", "docker"), blocks=20, cv=0.005)
    run = results.load_run(folder)
    result = compare.compare_runs(run, run)
    assert result.family_size == 3 and not result.different_hosts
    for row in result.rows:
        for c in (row.performance, row.overhead):
            if c is not None:
                assert c.estimate == pytest.approx(0, abs=1e-12)
                assert c.verdict == "unchanged"
    assert result.fact_changes == ()
    assert "overhead 1 unchanged; raw performance 2 unchanged" in compare.headline(result)


def test_a_slower_host_regresses_performance_but_not_overhead(tmp_path):
    a, b = load_pair(tmp_path, {}, {"effects": {"native": 1.08, "docker": 1.08}})
    rows = by_key(compare.compare_runs(a, b))
    for workload in ("cpu.a", "mem.b"):
        for variant in ("native", "docker"):
            perf = rows[(workload, variant)].performance
            assert perf.verdict == "regressed"
            assert perf.ci95.lo < 0.08 < perf.ci95.hi
        assert rows[(workload, "docker")].overhead.verdict == "unchanged"


def test_overhead_changes_are_found_in_both_directions(tmp_path):
    a, b = load_pair(tmp_path, {"effects": {("cpu.a", "docker"): 1.06}},
                     {"effects": {("mem.b", "docker"): 1.06}})
    rows = by_key(compare.compare_runs(a, b))
    cpu, mem = rows[("cpu.a", "docker")], rows[("mem.b", "docker")]
    assert cpu.overhead.verdict == "improved" and mem.overhead.verdict == "regressed"
    assert cpu.overhead_a == pytest.approx(0.06, abs=0.01)
    assert cpu.overhead_b == pytest.approx(0.0, abs=0.01)
    expected = 1 / 1.06 - 1
    assert cpu.overhead.ci95.lo < expected < cpu.overhead.ci95.hi
    assert rows[("cpu.a", "native")].performance.verdict == "unchanged"


def test_few_blocks_are_inconclusive_not_unchanged(tmp_path):
    a, b = load_pair(tmp_path, {"blocks": 3, "cv": 0.05}, {"blocks": 3, "cv": 0.05})
    result = compare.compare_runs(a, b)
    verdicts = {c.verdict for r in result.rows for c in (r.performance, r.overhead) if c}
    assert verdicts == {"inconclusive"}


def test_different_hosts_need_a_flag_and_are_then_reported(tmp_path):
    a, b = load_pair(tmp_path, {}, {"host": {"hostname": "elsewhere", "kernel": "6.9"}})
    with pytest.raises(UsageError, match="--allow-different-hosts") as err:
        compare.compare_runs(a, b)
    assert "'elsewhere'" in str(err.value) and "\n" not in str(err.value)
    result = compare.compare_runs(a, b, allow_different_hosts=True)
    assert result.different_hosts
    assert "DIFFERENT HOSTS" in compare.headline(result)
    assert any("different hosts" in w for w in result.warnings)
    changed = {f.key: (f.a, f.b) for f in result.fact_changes}
    assert changed["host.kernel"] == ("6.1.0-test", "6.9")
    assert "host.load_average" not in changed
    assert "**Different hosts**" in markdown.compare(result)


def test_what_changed_between_runs_is_listed(tmp_path):
    a, b = load_pair(tmp_path, {}, {"engine": {"engine_version": "24.0.5",
                                               "storage_driver": "overlay2"}})
    result = compare.compare_runs(a, b)
    assert "engine.engine_version: 20.10.24 -> 24.0.5" in compare.fact_lines(result)


def test_runs_sharing_nothing_are_refused(tmp_path):
    a, b = load_pair(tmp_path, {"workloads": ("cpu.a",)}, {"workloads": ("cpu.z",)})
    with pytest.raises(UsageError, match="share no workload"):
        compare.compare_runs(a, b)


def test_partly_overlapping_runs_say_what_was_left_out(tmp_path):
    a, b = load_pair(tmp_path, {"variants": ("native", "docker", "docker[net=host]")}, {})
    result = compare.compare_runs(a, b)
    assert "only in run A (not compared): cpu.a docker[net=host], mem.b docker[net=host]" in (
        result.warnings)
    assert len(result.rows) == 4


def test_change_interval_and_verdicts_on_known_data():
    rng = np.random.default_rng(3)
    xa = rng.normal(0.0, 0.01, 30)
    xb = xa + 0.05  # run B costs exp(0.05) - 1 = 5.1% more, exactly
    c = compare.change(xa, xb, margin=0.02)
    assert c.estimate == pytest.approx(math.expm1(0.05))
    assert c.verdict == "regressed" and c.ci95.lo < c.estimate < c.ci95.hi
    assert c.ci90.lo >= c.ci95.lo and c.ci90.hi <= c.ci95.hi
    assert compare.change(xb, xa).verdict == "improved"
    with pytest.raises(ValueError, match="at least 2 blocks"):
        compare.change([0.1], [0.1, 0.2])


def test_false_claims_under_no_change_stay_below_alpha():
    """Calibration: two runs of the same set-up (10 blocks each, sd 2%) should rarely be
    called regressed or improved; the rate must stay <= alpha (0.05), with slack for 400
    simulations."""
    rng = np.random.default_rng(2024)
    claims = 0
    runs = 400
    for i in range(runs):
        c = compare.change(rng.normal(0, 0.02, 10), rng.normal(0, 0.02, 10), seed=i)
        claims += c.verdict in ("regressed", "improved")
    assert claims / runs <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / runs)


def test_compare_exports(tmp_path):
    a, b = load_pair(tmp_path, {}, {})
    result = compare.compare_runs(a, b)
    data = json.loads(export.compare_json(result))
    assert data["format"] == "bench-compare" and len(data["rows"]) == 4
    assert data["rows"][0]["performance"]["verdict"] in compare.CHANGE_VERDICTS
    md = markdown.compare(result)
    assert md.startswith(f"## Run {b.run['run_id']} vs run {a.run['run_id']}")
    assert "| cpu.a | docker |" in md


def test_compare_command(tmp_path, capsys):
    a = make_run(tmp_path, seed=1, blocks=8)
    b = make_run(tmp_path, seed=2, blocks=8)
    assert cli.main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "raw performance" in out and "overhead vs the baseline" in out and "cpu.demo" in out
    assert cli.main(["compare", str(a), str(b), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["run_a"] == a.name
    target = tmp_path / "c.md"
    assert cli.main(["compare", str(a), str(b), "--format", "md", "-o", str(target)]) == 0
    assert target.read_text().startswith("## Run")
    assert cli.main(["compare", str(a), str(b), "-o", str(tmp_path / "c.txt")]) == 2
    assert "--output needs --format md or json" in capsys.readouterr().err


def test_compare_command_refuses_other_hosts_with_exit_2(tmp_path, capsys):
    a = make_run(tmp_path, seed=1)
    b = make_run(tmp_path, seed=2, host={"cpu_model": "Other CPU"})
    assert cli.main(["compare", str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert "--allow-different-hosts" in err and err.count("error:") == 1
    assert cli.main(["compare", str(a), str(b), "--allow-different-hosts"]) == 0
    assert "different hosts" in capsys.readouterr().out


def test_fail_on_regression_gates_a_ci_job(tmp_path, capsys):
    same = make_run(tmp_path, variants=("native", "docker"), blocks=20, cv=0.005)
    assert cli.main(["compare", str(same), str(same), "--fail-on-regression"]) == 0
    a, b = load_pair(tmp_path, {}, {"effects": {"native": 1.08, "docker": 1.08}})
    assert cli.main(["compare", str(a.folder), str(b.folder)]) == 0  # reports, no gate
    assert cli.main(["compare", str(a.folder), str(b.folder), "--fail-on-regression"]) == 1
    assert "4 comparison(s) matched: cpu.a native: performance regressed" in (
        capsys.readouterr().err)
    assert cli.main(["compare", str(a.folder), str(b.folder), "--format", "json",
                     "--fail-on-regression"]) == 1


def test_several_runs_against_the_first_share_alpha_and_one_table(tmp_path):
    from click.testing import CliRunner

    from bench.cli import cli

    a = make_run(tmp_path, seed=1, run_id="ref")
    same = make_run(tmp_path, seed=2, run_id="same")
    slower = make_run(tmp_path, seed=3, run_id="slower",
                      effects={"docker": 1.3, "native": 1.3})
    loaded = [results.load_run(p) for p in (a, same, slower)]
    found = compare.compare_many(loaded[0], loaded[1:])
    assert [c.run_b for c in found] == ["same", "slower"]
    assert all(math.isclose(c.alpha, 0.05 / 2) for c in found)  # Bonferroni over the runs
    (row,) = [r for r in found[1].rows if r.variant == "docker"]
    assert row.performance.verdict == "regressed"
    result = CliRunner().invoke(cli, ["compare", str(a), str(same), str(slower),
                                      "--fail-on", "regressed"], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    for word in ("run same", "run slower", "cpu.demo", "regressed"):
        assert word in result.output
    message = str(result.exception)  # the CLI's entry point prints it as one error line
    assert "cpu.demo docker (run slower): performance regressed" in message
    assert "(run same)" not in message
    data = json.loads(CliRunner().invoke(cli, ["compare", str(a), str(same), str(slower),
                                               "--format", "json"]).output)
    assert [c["run_b"] for c in data["comparisons"]] == ["same", "slower"]
