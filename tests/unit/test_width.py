"""Terminal output fits the width: names and numbers are never cut or ellipsised. Wide
enough, the summary, ladder and compare tables print as tables; narrower, as one block per
comparison. Every console takes its width from ``terminal_width()`` (tty, COLUMNS, 160)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from rich.console import Console

from bench import analysis, compare, results
from bench.report import fit, terminal
from bench.report.text import ci95, pct
from tests.unit.test_ladder import RUNGS
from tests.unit.test_ladder import fake_ladder as fake_ladder
from tests.unit.test_report import EXAMPLE, make_run

ROOT = Path(__file__).resolve().parents[2]
WIDTHS = (60, 80, 100, 160)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
LONG = ("native", "docker", "docker[storage=volume]", "oci[userns=on,seccomp=off]")


def render(renderables, width: int) -> str:
    console = Console(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    for r in renderables:
        console.print(r)
    return console.export_text()


def summary_words(summary) -> list[str]:
    """Every identity cell and number the summary table shows."""
    words = []
    for row in summary.rows:
        words += [row.workload, row.variant, terminal._value(row.median), row.unit]
        c = row.comparison
        if c is not None:
            words += [c.verdict, pct(c.overhead), ci95(c, bare=True)]
    return words


def assert_whole(text: str, words, width: int | None = None) -> None:
    assert "…" not in text
    for word in words:
        assert word in text, f"{word!r} cut or missing at width {width}"


@pytest.fixture(scope="module")
def example():
    return analysis.summarize(results.load_run(EXAMPLE))


@pytest.fixture(scope="module")
def long_labels(tmp_path_factory):
    folder = make_run(tmp_path_factory.mktemp("long"), variants=LONG,
                      workloads=("network.sockperf-latency", "cpu.demo"),
                      effects={"docker": 1.05, "docker[storage=volume]": 1.0})
    return results.load_run(folder)


@pytest.mark.parametrize("width", WIDTHS)
def test_summary_of_the_example_run_keeps_every_name_and_number_whole(example, width):
    text = render([terminal.summary_table(example)], width)
    assert_whole(text, summary_words(example), width)
    assert max(len(line) for line in text.splitlines()) <= width
    stacked = "┃" not in text
    assert stacked == (width < 160)
    if stacked:
        assert "  verdict: equivalent" in text and "cpu.sysbench  docker  vs native\n" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_summary_keeps_long_variant_labels_whole(long_labels, width):
    summary = analysis.summarize(long_labels)
    text = render([terminal.summary_table(summary)], width)
    assert_whole(text, [*summary_words(summary), *LONG], width)


@pytest.mark.parametrize("width", WIDTHS)
def test_ladder_keeps_rungs_and_numbers_whole(fake_ladder, width):
    _, summary = fake_ladder
    text = render([terminal.ladder_table(summary)], width)
    words = list(RUNGS)
    for climb in summary.ladder.workloads:
        words.append(climb.workload)
        for step in climb.steps:
            c = step.comparison
            words += [step.rung, step.adds]
            if c is not None:
                words += [c.verdict, pct(c.overhead), ci95(c, bare=True)]
            if step.cumulative is not None:
                words.append(pct(step.cumulative))
    assert_whole(text, words, width)
    if "┃" not in text:  # stacked: rungs after the first carry their workload
        assert "memory.b  fake[scale=1.1]  vs fake\n" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_keeps_names_and_numbers_whole(long_labels, width):
    result = compare.compare_runs(long_labels, long_labels)
    text = render(compare.summary_tables(result), width)
    words = []
    for row in result.rows:
        words += [row.workload, row.variant, compare._number(row.median_a),
                  compare._number(row.median_b)]
        for change in (row.performance, row.overhead):
            if change is not None:
                words += [change.verdict, compare.pct_or_dash(change.estimate),
                          compare.interval(change.ci95)]
    assert_whole(text, words, width)


def test_terminal_width_tty_then_columns_then_wide(monkeypatch, tmp_path):
    with open(tmp_path / "out", "w") as pipe:
        monkeypatch.setenv("COLUMNS", "72")
        assert fit.terminal_width(pipe) == 72
        monkeypatch.setenv("COLUMNS", "junk")
        assert fit.terminal_width(pipe) == fit.PIPE_WIDTH
        monkeypatch.delenv("COLUMNS")
        assert fit.terminal_width(pipe) == fit.PIPE_WIDTH
    leader, follower = pty.openpty()
    try:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 93, 0, 0))
        monkeypatch.setenv("COLUMNS", "72")  # a tty's own width wins
        with os.fdopen(os.dup(follower), "w") as tty:
            assert fit.terminal_width(tty) == 93
    finally:
        os.close(leader)
        os.close(follower)


def cli_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def in_terminal(args, cols: int, timeout: float = 60) -> tuple[int, str]:
    """Run ``bench ARGS`` on a pseudo-terminal ``cols`` wide: (exit code, the screen's text
    without escape sequences)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, cols, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=ROOT,
                            stdin=follower, stdout=follower, stderr=follower,
                            env=cli_env(TERM="xterm-256color"), close_fds=True)
    os.close(follower)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], timeout)
            if not ready:
                break
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(leader)
        proc.wait(timeout=60)
    text = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")).replace("\r", "")
    return proc.returncode, text


def run_in_pty(args, cols: int) -> str:
    code, text = in_terminal(args, cols)
    assert code == 0
    return text


@pytest.mark.parametrize("cols", (80, 100, 160))
def test_cli_analyze_in_a_terminal_fits_its_width(example, cols):
    text = run_in_pty(["analyze", str(EXAMPLE)], cols)
    assert_whole(text, summary_words(example), cols)
    assert max(len(line) for line in text.splitlines()) <= cols
    assert ("┃" in text) == (cols >= 160)


def test_cli_analyze_piped_honours_columns(example):
    out = subprocess.run([sys.executable, "-m", "bench", "analyze", str(EXAMPLE)], cwd=ROOT,
                         capture_output=True, text=True, env=cli_env(COLUMNS="80"),
                         check=True).stdout
    assert_whole(out, summary_words(example), 80)
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "┃" not in out and "\x1b[" not in out
    wide = subprocess.run([sys.executable, "-m", "bench", "analyze", str(EXAMPLE)], cwd=ROOT,
                          capture_output=True, text=True, env=cli_env(), check=True).stdout
    assert "┃" in wide  # no COLUMNS: a wide default, the table
    assert_whole(wide, summary_words(example), 160)
