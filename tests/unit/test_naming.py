"""One way to name things (issue 17): runs by path or id, output formats by extension,
margins in percent, case-insensitive choices, help that states the real defaults."""

from __future__ import annotations

import json

import click
import pytest

from bench import cli
from bench.environments import registry
from bench.errors import UsageError
from bench.report import formats
from tests.unit.test_report import make_run


def bench(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def run_in_results(tmp_path, monkeypatch):
    """A run folder under results/ of the working directory, as `bench run` leaves it."""
    monkeypatch.chdir(tmp_path)
    return make_run(tmp_path / "results", run_id="20261202-072209-309a")


# ------------------------------------------------------------------------- runs by name


@pytest.mark.parametrize("given", ["20261202-072209-309a", "latest",
                                   "results/20261202-072209-309a/run.json"])
def test_report_takes_a_run_id_latest_or_a_file_in_the_folder(run_in_results, capsys,
                                                               given):
    code, out, err = bench(capsys, "report", given, "--format", "json")
    assert code == 0, err
    written = run_in_results / "summary.json"  # the default name, in the resolved folder
    assert json.loads(written.read_text())["run_id"] == run_in_results.name
    assert f"report: results/{run_in_results.name}/summary.json" in out


def test_analyze_and_compare_take_run_ids(run_in_results, capsys):
    code, out, err = bench(capsys, "analyze", run_in_results.name)
    assert code == 0 and "cpu.demo" in out, err
    code, out, err = bench(capsys, "compare", run_in_results.name, "latest")
    assert code == 0 and "cpu.demo" in out, err


def test_unknown_run_is_one_usage_error(run_in_results, capsys):
    for argv in (["analyze", "nope"], ["report", "nope"], ["compare", "latest", "nope"],
                 ["run", "--resume", "nope"]):
        code, _, err = bench(capsys, *argv)
        assert code == 2
        assert err.strip() == "error: nope: no such run folder (looked in results/ too)"


def test_resume_looks_up_the_id_in_the_out_directory(tmp_path, capsys):
    folder = make_run(tmp_path / "elsewhere", run_id="done")
    code, _, err = bench(capsys, "run", "--resume", "done", "--out", tmp_path / "elsewhere")
    assert code == 2  # found (by id, under --out), and refused for being complete
    assert err.strip() == f"error: {folder}: run is complete; nothing to resume"


def test_clean_run_takes_a_path_or_an_id(run_in_results, capsys, monkeypatch):
    asked = []
    monkeypatch.setattr(registry, "clean",
                        lambda run_id, images: asked.append(run_id) or ([], []))
    for given in (run_in_results, run_in_results / "run.json", run_in_results.name,
                  "an-id-whose-folder-is-gone"):
        assert bench(capsys, "clean", "--run", given)[0] == 0
    assert asked == [run_in_results.name] * 3 + ["an-id-whose-folder-is-gone"]
    code, _, err = bench(capsys, "clean", "--run", "results/gone")
    assert code == 2 and "results/gone: no such run folder" in err


# -------------------------------------------------------------- output files and formats


@pytest.mark.parametrize(("name", "starts"), [("r.md", "## Container overhead"),
                                              ("r.MD", "## Container overhead"),
                                              ("r.html", "<!DOCTYPE html>"),
                                              ("r.json", "{"), ("r.csv", "run_id,")])
def test_report_format_follows_the_output_extension(tmp_path, capsys, name, starts):
    folder = make_run(tmp_path)
    code, _, err = bench(capsys, "report", folder, "-o", tmp_path / name)
    assert code == 0, err
    assert (tmp_path / name).read_text().startswith(starts)


def test_report_format_and_extension_that_disagree_are_a_usage_error(tmp_path, capsys):
    folder = make_run(tmp_path)
    code, _, err = bench(capsys, "report", folder, "--format", "html", "-o", tmp_path / "r.md")
    assert code == 2 and not (tmp_path / "r.md").exists()
    assert f"--format html and --output {tmp_path / 'r.md'} disagree" in err
    # Agreeing, or an extension that names no format: --format decides.
    assert bench(capsys, "report", folder, "--format", "MD", "-o", tmp_path / "r.md")[0] == 0
    assert bench(capsys, "report", folder, "--format", "md", "-o", tmp_path / "r.txt")[0] == 0
    assert (tmp_path / "r.txt").read_text().startswith("## Container overhead")


def test_compare_format_follows_the_output_extension(tmp_path, capsys):
    a, b = make_run(tmp_path, seed=1), make_run(tmp_path, seed=2)
    assert bench(capsys, "compare", a, b, "-o", tmp_path / "c.json")[0] == 0
    assert json.loads((tmp_path / "c.json").read_text())["format"] == "bench-compare"
    assert bench(capsys, "compare", a, b, "-o", tmp_path / "c.md")[0] == 0
    assert (tmp_path / "c.md").read_text().startswith("## Run")
    code, _, err = bench(capsys, "compare", a, b, "-o", tmp_path / "c.csv")
    assert code == 2 and "writes text, md, json, not csv" in err
    code, _, err = bench(capsys, "compare", a, b, "--format", "json", "-o", tmp_path / "c.md")
    assert code == 2 and "--format json and --output" in err and "disagree" in err
    assert bench(capsys, "compare", a, b, "--format", "JSON")[0] == 0


def test_choose_format():
    assert formats.choose(None, None, formats.FORMATS, "html") == "html"
    assert formats.choose(None, "-", formats.FORMATS, "html") == "html"
    assert formats.choose(None, "x/y.report.Markdown", formats.FORMATS, "html") == "md"
    assert formats.choose("CSV", "out.csv", formats.FORMATS, "html") == "csv"
    with pytest.raises(UsageError, match=r"--format csv and --output a\.json disagree"):
        formats.choose("csv", "a.json", formats.FORMATS, "html")


# ------------------------------------------------------------------ margins and choices


@pytest.mark.parametrize("argv", [["analyze", "{run}", "--margin", "0"],
                                  ["report", "{run}", "--margin", "100"],
                                  ["compare", "{run}", "{run}", "--margin", "-2"],
                                  ["run", "--margin", "0"]])
def test_margin_out_of_range_says_percent(tmp_path, capsys, argv):
    folder = make_run(tmp_path)
    code, _, err = bench(capsys, *(a.format(run=folder) for a in argv))
    assert code == 2
    assert "--margin must be greater than 0% and less than 100%" in err
    assert "in percent" in err


def _options():
    def walk(command, path):
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])
        else:
            for param in command.params:
                yield " ".join(path), param
    return list(walk(cli.cli, []))


def test_every_choice_is_case_insensitive():
    choices = [(cmd, p.name) for cmd, p in _options() if isinstance(p.type, click.Choice)]
    assert len(choices) >= 3  # run --suite, report --format, compare --format
    for cmd, p in _options():
        if isinstance(p.type, click.Choice):
            assert not p.type.case_sensitive, (cmd, p.name)


def test_upper_case_choice_is_accepted(capsys):
    code, _, err = bench(capsys, "run", "--suite", "QUICK", "--margin", "0")
    assert code == 2 and "--margin must be greater" in err  # --suite passed


def test_margin_options_all_take_percent():
    margins = [(cmd, p) for cmd, p in _options() if p.name == "margin"]
    assert {cmd for cmd, _ in margins} == {"run", "analyze", "report", "compare"}
    assert all(p.metavar == "PCT" and "percent" in p.help for _, p in margins)


def test_help_states_the_real_defaults(capsys):
    code, out, _ = bench(capsys, "run", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "Default: all." not in text
    assert "Default: the standard suite (quick with --quick)" in text
    assert "(default 5; 6 with --quick)" in text and "Default: none (5 min with --quick)" in text
    assert "Directory that receives the run folder (a directory, not a file" in text
    code, out, _ = bench(capsys, "report", "--help")
    text = " ".join(out.split())
    assert "Default: from the --output extension, else html." in text
