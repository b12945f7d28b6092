"""Every command in a real terminal (a pseudo-terminal) at 80, 100 and 160 columns: each
workload, variant and verdict of the run appears whole, no line is wider than the terminal,
nothing is cut with an ellipsis (issue 17)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import analysis, compare, results
from bench.report import terminal
from bench.report.text import ci95, pct
from tests.unit.test_width import ROOT, cli_env, in_terminal

pytestmark = pytest.mark.e2e

WIDTHS = (80, 100, 160)
FAKE = ["--variants", "fake,fake[scale=1.2],fake[scale=1.0]", "-w", "cpu.sysbench",
        "-w", "memory.sysbench", "--blocks", "4", "--warmup", "0"]


#: Lines that name a path print it whole, unwrapped, so it can be copied (may pass the edge).
PATH_LINES = ("results: ", "report: ", "> run ", "comparison: ")


def fits(text: str, cols: int, words: list[str]) -> None:
    assert "…" not in text, text
    wide = [line for line in text.splitlines()
            if len(line) > cols and not line.startswith(PATH_LINES)]
    assert not wide, text
    for word in words:
        assert word in text, f"{word!r} cut or missing at {cols} columns:\n{text}"


def summary_words(folder: Path) -> list[str]:
    summary = analysis.summarize(results.load_run(folder))
    words = []
    for row in summary.rows:
        words += [row.workload, row.variant, terminal._value(row.median), row.unit]
        c = row.comparison
        if c is not None:
            words += [c.verdict, pct(c.overhead), ci95(c, bare=True)]
    return words


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two small runs in the fake environment (fast, no engine needed)."""
    out = tmp_path_factory.mktemp("runs")
    folders = []
    for seed in (1, 2):
        proc = subprocess.run([sys.executable, "-m", "bench", "run", *FAKE, "--seed", str(seed),
                               "--out", str(out / str(seed))], cwd=ROOT, capture_output=True,
                              text=True, env=cli_env(), timeout=300)
        assert proc.returncode == 0, proc.stderr
        (folder,) = (out / str(seed)).iterdir()
        folders.append(folder)
    return folders


@pytest.mark.parametrize("cols", WIDTHS)
def test_run_fits_the_terminal(tmp_path, cols):
    code, text = in_terminal(["run", *FAKE, "--seed", "3", "--out", str(tmp_path)], cols)
    assert code == 0, text
    (folder,) = tmp_path.iterdir()
    # The summary is what follows the last progress redraw.
    fits(text.split("\n\n", 1)[1] if "\n\n" in text else text, cols, summary_words(folder))


@pytest.mark.parametrize("cols", WIDTHS)
def test_analyze_report_and_compare_fit_the_terminal(runs, cols):
    a, b = runs
    code, text = in_terminal(["analyze", str(a)], cols)
    assert code == 0
    fits(text, cols, summary_words(a))
    code, text = in_terminal(["report", str(a), "-o", str(a / "r.html")], cols)
    assert code == 0
    # A path is printed whole (unwrapped) so it can be copied: it may pass the edge.
    assert str(a / "r.html") in text
    code, text = in_terminal(["compare", str(a), str(b)], cols)
    assert code == 0, text
    result = compare.compare_runs(results.load_run(a), results.load_run(b))
    words = []
    for row in result.rows:
        words += [row.workload, row.variant]
        words += [c.verdict for c in (row.performance, row.overhead) if c is not None]
    fits(text, cols, words)


@pytest.mark.parametrize("cols", WIDTHS)
def test_list_doctor_and_help_fit_the_terminal(cols):
    from bench.workloads import load_workloads

    code, text = in_terminal(["list"], cols)
    assert code == 0
    fits(text, cols, [w.name for w in load_workloads([])])
    code, text = in_terminal(["doctor"], cols, timeout=120)
    assert code in (0, 1), text  # 1: a check failed on this host, and it says which
    fits(text, cols, ["engine", "image", "cgroups", "noise"])
    for command in ("run", "analyze", "report", "compare", "calibrate", "clean", "tune",
                    "doctor", "list", "image"):
        code, text = in_terminal([command, "--help"], cols, timeout=60)
        assert code == 0
        fits(text, cols, [f"Usage: bench {command}"])
