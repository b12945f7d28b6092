"""CI gating: ``--fail-on`` of run, analyze and compare, and ``compare --only-changed``."""

from __future__ import annotations

import json

import pytest

from bench import analysis, cli, compare, gating, results
from bench.errors import UsageError, UserError
from bench.report import markdown
from tests.unit.test_compare import load_pair
from tests.unit.test_report import make_run


def test_kinds_are_comma_lists_case_insensitive_and_repeatable():
    parse = gating.parse_kinds
    assert parse(["Regressed, INCONCLUSIVE"], gating.COMPARE_KINDS) == {"regressed",
                                                                       "inconclusive"}
    assert parse(["regressed", "improved"], gating.COMPARE_KINDS) == {"regressed", "improved"}
    assert parse(["changed"], gating.COMPARE_KINDS) == {"regressed", "improved"}
    assert parse(["overhead,"], gating.RUN_KINDS) == {"overhead"}
    assert parse([], gating.RUN_KINDS) == frozenset()


@pytest.mark.parametrize(("values", "valid", "bad"), [
    (["regressed,slower"], gating.COMPARE_KINDS, "'slower'"),
    (["overhead"], gating.COMPARE_KINDS, "'overhead'"),  # a run's verdict, not a change's
    (["regressed"], gating.RUN_KINDS, "'regressed'"),
    (["equivalent"], gating.RUN_KINDS, "'equivalent'"),
])
def test_an_unknown_kind_is_a_usage_error_naming_it_and_the_valid_ones(values, valid, bad):
    with pytest.raises(UsageError) as err:
        gating.parse_kinds(values, valid)
    message = str(err.value)
    assert message.startswith("--fail-on: unknown verdict ") and bad in message
    assert f"(valid: {', '.join(valid)})" in message


def test_an_empty_list_is_a_usage_error():
    with pytest.raises(UsageError, match="no verdict given"):
        gating.parse_kinds([" , "], gating.RUN_KINDS)


def test_a_run_matches_on_its_comparisons_verdicts(tmp_path):
    folder = make_run(tmp_path, variants=("native", "docker", "docker[net=host]"), blocks=20,
                      cv=0.005, effects={"docker": 1.10})
    summary = analysis.summarize(results.load_run(folder))
    verdicts = {r.variant: r.comparison.verdict for r in summary.rows if r.comparison}
    assert verdicts == {"docker": "overhead", "docker[net=host]": "equivalent"}
    assert [str(m) for m in gating.run_matches(summary, frozenset({"overhead"}))] == [
        "cpu.demo docker overhead"]
    assert gating.run_matches(summary, frozenset({"inconclusive", "faster"})) == []
    gating.check([], frozenset({"overhead"}))
    with pytest.raises(UserError) as err:
        gating.check(gating.run_matches(summary, frozenset({"overhead"})),
                     frozenset({"overhead"}))
    assert err.value.exit_code == 1
    assert str(err.value) == "--fail-on overhead: 1 comparison(s) matched: cpu.demo docker overhead"


def test_a_comparison_matches_on_each_change(tmp_path):
    a, b = load_pair(tmp_path, {}, {"effects": {("mem.b", "docker"): 1.06}})
    result = compare.compare_runs(a, b)
    found = [str(m) for m in gating.compare_matches(result, frozenset({"regressed"}))]
    assert found == ["mem.b docker: performance regressed", "mem.b docker: overhead regressed"]
    assert gating.compare_matches(result, frozenset({"improved", "inconclusive"})) == []
    # Rows hidden by --only-changed still count (they are all unchanged, but the gate
    # must not depend on what is shown).
    assert gating.compare_matches(compare.only_changed(result),
                                  frozenset({"regressed"})) == gating.compare_matches(
        result, frozenset({"regressed"}))


def test_only_changed_hides_unchanged_rows_and_says_how_many(tmp_path):
    a, b = load_pair(tmp_path, {}, {"effects": {("mem.b", "docker"): 1.06}})
    full = compare.compare_runs(a, b)
    shown = compare.only_changed(full)
    assert [(r.workload, r.variant) for r in shown.rows] == [("mem.b", "docker")]
    assert len(shown.hidden) == 3 and compare.hidden_line(full) is None
    assert compare.hidden_line(shown).startswith("3 unchanged workload/variant pair(s) not shown")
    assert compare.headline(shown) == compare.headline(full)  # still counts every change
    assert compare.only_changed(shown) == shown


def test_a_row_without_a_change_is_not_unchanged(tmp_path):
    a, b = load_pair(tmp_path, {"blocks": 3, "cv": 0.05}, {"blocks": 3, "cv": 0.05})
    result = compare.only_changed(compare.compare_runs(a, b))
    assert result.hidden == () and len(result.rows) == 4  # all inconclusive: all shown


def test_compare_fail_on_exit_codes_and_messages(tmp_path, capsys):
    same = make_run(tmp_path, variants=("native", "docker"), blocks=20, cv=0.005)
    assert cli.main(["compare", str(same), str(same), "--fail-on", "changed,inconclusive"]) == 0
    a, b = load_pair(tmp_path, {}, {"effects": {("mem.b", "docker"): 1.06}})
    pair = [str(a.folder), str(b.folder)]
    capsys.readouterr()
    assert cli.main(["compare", *pair, "--fail-on", "REGRESSED"]) == 1
    captured = capsys.readouterr()
    assert "raw performance" in captured.out  # the comparison is printed before the gate
    err = captured.err.strip()
    assert err == ("error: --fail-on regressed: 2 comparison(s) matched: mem.b docker: "
                   "performance regressed; mem.b docker: overhead regressed")
    assert cli.main(["compare", *pair, "--fail-on", "improved"]) == 0
    assert cli.main(["compare", *pair, "--fail-on", "improved", "--fail-on", "changed"]) == 1
    capsys.readouterr()
    assert cli.main(["compare", *pair, "--format", "json", "--fail-on", "regressed"]) == 1
    assert json.loads(capsys.readouterr().out)["format"] == "bench-compare"
    assert cli.main(["compare", *pair, "--fail-on", "regressed,worse"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "'worse'" in err
    assert "regressed, inconclusive, improved, changed" in err


def test_fail_on_regression_is_still_an_alias(tmp_path, capsys):
    a, b = load_pair(tmp_path, {}, {"effects": {("mem.b", "docker"): 1.06}})
    assert cli.main(["compare", str(a.folder), str(b.folder), "--fail-on-regression"]) == 1
    assert "error: --fail-on regressed: 2 comparison(s)" in capsys.readouterr().err
    assert "--fail-on-regression" not in cli.cli.commands["compare"].get_help(
        cli.cli.make_context("bench", ["compare", "a", "b"]))


def test_compare_only_changed_in_every_format(tmp_path, capsys):
    a, b = load_pair(tmp_path, {}, {"effects": {("mem.b", "docker"): 1.06}})
    pair = [str(a.folder), str(b.folder), "--only-changed"]
    assert cli.main(["compare", *pair]) == 0
    out = capsys.readouterr().out
    assert "3 unchanged workload/variant pair(s) not shown" in out
    assert "mem.b" in out and "cpu.a" not in out
    assert cli.main(["compare", *pair, "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert "| mem.b | docker |" in md and "| cpu.a |" not in md
    assert "3 unchanged workload/variant pair(s) not shown" in md
    assert cli.main(["compare", *pair, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hidden_unchanged"] == 3
    assert [(r["workload"], r["variant"]) for r in data["rows"]] == [("mem.b", "docker")]
    assert markdown.compare(compare.compare_runs(a, b)).count("| cpu.a |") == 2


def test_analyze_fail_on_prints_then_exits_1(tmp_path, capsys):
    folder = make_run(tmp_path, blocks=20, cv=0.005, effects={"docker": 1.10})
    assert cli.main(["analyze", str(folder), "--fail-on", "inconclusive,faster"]) == 0
    capsys.readouterr()
    assert cli.main(["analyze", str(folder), "--fail-on", "Overhead"]) == 1
    captured = capsys.readouterr()
    assert "cpu.demo" in captured.out and "overhead" in captured.out
    assert captured.err.strip() == ("error: --fail-on overhead: 1 comparison(s) matched: "
                                    "cpu.demo docker overhead")
    assert cli.main(["analyze", str(folder), "--fail-on", "regressed"]) == 2
    assert "unknown verdict 'regressed' (valid: overhead, inconclusive, faster)" in (
        capsys.readouterr().err)


def test_run_fail_on_keeps_the_run_then_exits_1(tmp_path, capsys):
    args = ["run", "--variants", "fake,fake[scale=1.2]", "-w", "cpu.sysbench", "--blocks", "4",
            "--warmup", "0", "--seed", "3"]
    bad = tmp_path / "bad"
    assert cli.main([*args, "--out", str(bad), "--fail-on", "overhead,slow"]) == 2
    assert not bad.exists()  # refused before measuring anything
    out = tmp_path / "out"
    assert cli.main([*args, "--out", str(out), "--fail-on", "overhead"]) == 1
    (folder,) = out.iterdir()
    assert (folder / "report.html").exists()
    assert results.load_run(folder).run["status"] == "complete"
    captured = capsys.readouterr()
    assert f"report: {folder / 'report.html'}" in captured.out
    assert "error: --fail-on overhead: 1 comparison(s) matched: cpu.sysbench fake[scale=1.2] " \
           "overhead" in captured.err
