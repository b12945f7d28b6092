"""Reports and exports: HTML, markdown, CSV, JSON, bench.load, and the `bench report` command.

The golden fixture is results/example/, a real quick run recorded on the project's machine:
the tests check structural facts of its report (workloads, verdicts, the numbers analysis
computes), never bytes. Synthetic runs are written with RunStore (:func:`make_run`), which
is also how hostile names get in: workload files cannot declare them.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bench
from bench import analysis, cli, results, stats
from bench.errors import UsageError
from bench.report import export, formats, html, markdown, series, svg
from bench.report.answer import headline, pct
from bench.report.text import more_blocks
from bench.results import RunStore, Sample

EXAMPLE = Path(__file__).resolve().parents[2] / "results" / "example"
HOST = {"hostname": "testhost", "cpu_model": "Test CPU 3000", "kernel": "6.1.0-test",
        "os": "Debian GNU/Linux 12 (bookworm)", "cgroup_version": "v2", "smt": "off",
        "logical_cpus": 4, "load_average": [0.1, 0.1, 0.1]}


def make_run(where: Path, *, workloads=("cpu.demo",), variants=("native", "docker"),
             blocks=10, warmup=1, effects=None, cv=0.01, fail_every=0, error="exit code 1",
             extra=None, host=None, engine=None, seed=0, better="higher", status="complete",
             run_id=None, bulk=False) -> Path:
    """Write a run folder as the runner would, with scripted values.

    ``effects`` maps a variant (or ``(workload, variant)``) to a cost factor: 1.05 makes it
    5% more expensive per unit of work. ``fail_every=N`` fails every N-th sample with
    ``error``; ``extra`` (a function of the sample number) fills each sample's resource
    metrics. ``bulk`` writes samples.jsonl in one go (large runs), as the same lines.
    """
    effects = effects or {}
    rng = np.random.default_rng(seed)
    store = RunStore.create(where, run_id or f"run-{seed}-{len(list(where.glob('*')))}")
    plan = {
        "workloads": [{"name": w, "category": w.split(".")[0], "command": ["demo", w],
                       "description": f"scripted {w}",
                       "metric": {"name": "rate", "unit": "ops/s", "better": better,
                                  "parser": "regex", "options": {}}} for w in workloads],
        "variants": list(variants), "cpus": [1], "blocks": blocks, "warmup": warmup,
        "seed": seed, "quick": False, "margin": 0.02, "alpha": 0.05,
    }
    store.write_run({
        "status": status, "started_at": 1_790_000_000.0, "finished_at": 1_790_000_100.0,
        "command": ["bench", "run", "--blocks", str(blocks)], "plan": plan,
        "baseline": variants[0], "host": {**HOST, **(host or {})},
        "engine": engine or {"engine_version": "20.10.24", "storage_driver": "overlay2"},
        "binaries": {"native": {"demo": {"path": "/usr/bin/demo", "sha256": "ab" * 32}},
                     "docker": {"demo": {"path": "/usr/bin/demo", "sha256": "ab" * 32}}},
        "environments": {v: {"scripted": True} for v in variants}, "warnings": [],
    })
    lines, seq = [], 0
    for workload in workloads:
        for block in range(-warmup, blocks):
            for position, index in enumerate(rng.permutation(len(variants))):
                variant = variants[index]
                factor = effects.get((workload, variant), effects.get(variant, 1.0))
                cost = 1000.0 * factor * math.exp(rng.normal(0, cv))
                failing = bool(fail_every) and (seq + 1) % fail_every == 0
                sample = Sample(
                    run_id=store.run_id, seq=seq, workload=workload, variant=variant,
                    env=variant.split("[")[0], block=block, position=position,
                    warmup=block < 0, status="failed" if failing else "ok",
                    value=None if failing else (1e6 / cost if better == "higher" else cost),
                    unit="ops/s", error=error if failing else None, requested_cpus=[1],
                    affinity=[1], wall_s=1.0 + 0.01 * position, started_at=1_790_000_000.0 + seq,
                    instance=f"fake:{seq}", exit_code=1 if failing else 0,
                    stderr_tail="boom\n" if failing else None,
                    extra=extra(seq) if extra else {})
                if bulk:
                    lines.append(json.dumps(sample.to_dict(), separators=(",", ":")))
                else:
                    store.append(sample)
                seq += 1
    if bulk:
        (store.folder / results.SAMPLES_FILE).write_text("\n".join(lines) + "\n")
    store.close()
    return store.folder


class _Rows(HTMLParser):
    """The summary table's rows as dicts of their data-* attributes plus the row's text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self.in_table = False
        self.current: dict[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "summary-table":
            self.in_table = True
        elif tag == "tr" and self.in_table and "data-workload" in attrs:
            self.current = {**attrs, "text": ""}

    def handle_endtag(self, tag):
        if tag == "tr" and self.current is not None:
            self.rows.append(self.current)
            self.current = None
        elif tag == "table" and self.in_table:
            self.in_table = False

    def handle_data(self, data):
        if self.current is not None:
            self.current["text"] += data


def summary_rows(document: str) -> list[dict[str, str]]:
    parser = _Rows()
    parser.feed(document)
    return parser.rows


def render_all(folder: Path) -> tuple[results.LoadedRun, analysis.Summary, dict[str, str]]:
    loaded = results.load_run(folder)
    summary = analysis.summarize(loaded)
    return loaded, summary, {f: formats.render(f, loaded, summary) for f in formats.FORMATS}


# ----------------------------------------------------------------------------- golden


@pytest.fixture(scope="module")
def example():
    assert (EXAMPLE / "run.json").exists(), "results/example is the golden run; keep it"
    return render_all(EXAMPLE)


def test_example_is_a_real_complete_run_with_its_report(example):
    loaded, summary, _ = example
    assert loaded.run["status"] == "complete" and not loaded.warnings
    assert {"native", "docker"} <= {s.variant for s in loaded.samples}
    assert len({s.workload for s in loaded.samples}) >= 3
    hashed = loaded.run["binaries"]
    for name, info in hashed["native"].items():  # same bits wherever both were hashed
        other = hashed["docker"].get(name, {})
        if info.get("sha256") and other.get("sha256"):
            assert info["sha256"] == other["sha256"], name
    committed = (EXAMPLE / "report.html").read_text(encoding="utf-8")
    assert summary.run_id in committed and "summary-table" in committed


def test_example_html_numbers_match_the_analysis(example):
    _, summary, outputs = example
    rows = summary_rows(outputs["html"])
    compared = [r for r in summary.rows if not r.is_baseline]
    assert [(r["data-workload"], r["data-variant"]) for r in rows] == [
        (r.workload, r.variant) for r in compared]
    for shown, row in zip(rows, compared, strict=True):
        c = row.comparison
        assert c is not None
        assert shown["data-verdict"] == c.verdict
        assert float(shown["data-overhead"]) == c.overhead
        plain = c.plain95
        assert (float(shown["data-ci-lo"]), float(shown["data-ci-hi"])) == (plain.lo, plain.hi)
        assert (float(shown["data-decision-lo"]),
                float(shown["data-decision-hi"])) == (c.ci95.lo, c.ci95.hi)
        assert pct(c.overhead) in shown["text"] and c.verdict in shown["text"]
        assert f"[{plain.lo * 100:.1f}, {plain.hi * 100:.1f}]" in shown["text"]


def test_example_html_has_every_section(example):
    loaded, summary, outputs = example
    document = outputs["html"]
    for anchor in ("answer", "summary", "mechanism", "workloads", "resources", "failures",
                   "warnings", "environment", "methods"):
        assert f'id="{anchor}"' in document
    assert svg.escape(headline(summary)) in document
    assert loaded.run["host"]["cpu_model"] in document
    assert loaded.run["binaries"]["native"]["sysbench"]["sha256"] in document
    differing = [name for name, info in loaded.run["binaries"]["native"].items()
                 if info.get("sha256") != loaded.run["binaries"]["docker"].get(name, {}).get(
                     "sha256")]
    assert document.count("differs: results compare different programs") == len(differing)
    assert f"seed {loaded.run['plan']['seed']}" in document
    assert f"bench run --quick --seed {loaded.run['plan']['seed']}" in document  # the command
    assert document.count('<svg class="plot"') >= 1 + 3 * len({r.workload for r in summary.rows})


def test_example_exports_agree_with_the_analysis(example):
    loaded, summary, outputs = example
    data = json.loads(outputs["json"])
    assert data["format"] == "bench-summary" and data["run_id"] == summary.run_id
    for row, original in zip(data["rows"], summary.rows, strict=True):
        assert (row["workload"], row["variant"]) == (original.workload, original.variant)
        if original.comparison is None:
            assert row["comparison"] is None
        else:
            assert row["comparison"]["overhead"] == original.comparison.overhead
            assert row["comparison"]["verdict"] == original.comparison.verdict
    frame = pd.read_csv(io.StringIO(outputs["csv"]))
    assert len(frame) == len(loaded.samples)
    assert set(frame.variant) == {s.variant for s in loaded.samples}
    md = outputs["md"]
    for row in summary.rows:
        if not row.is_baseline:
            assert f"| {markdown.cell(row.workload)} |" in md
            assert f"**{row.comparison.verdict}" in md


def test_bench_load_returns_one_row_per_sample(example):
    loaded, summary, _ = example
    frame = bench.load(EXAMPLE)
    assert isinstance(frame, pd.DataFrame) and len(frame) == len(loaded.samples)
    for column in ("workload", "variant", "block", "warmup", "status", "value", "unit",
                   "category", "metric", "better", "is_baseline", "affinity", "wall_s",
                   "contaminated"):
        assert column in frame.columns
    assert frame.contaminated.any()  # the example's guard re-took samples
    measured = frame[~frame.warmup & (frame.status == "ok") & ~frame.contaminated]
    medians = measured.groupby(["workload", "variant"]).value.median()
    for row in summary.rows:
        assert medians[(row.workload, row.variant)] == pytest.approx(row.median)
    assert frame.attrs["baseline"] == "native"


# ------------------------------------------------------------------------- synthetic runs


def test_every_string_is_escaped(tmp_path):
    hostile = "<script>alert(1)</script>"
    folder = make_run(tmp_path, workloads=(hostile,), variants=("native", "docker[x=<b>]"),
                      fail_every=3, error="<img src=x onerror=alert(2)> | `x` & </td>")
    _, _, outputs = render_all(folder)
    document = outputs["html"]
    assert "<script" not in document.lower()
    assert "<img" not in document.lower() and "<b>" not in document
    assert svg.escape(hostile) in document
    assert "&lt;img src=x onerror=alert(2)&gt;" in document
    md = outputs["md"]
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert "\\|" in md  # a pipe in an error cannot split a table row
    frame = pd.read_csv(io.StringIO(outputs["csv"]))
    assert set(frame.workload) == {hostile}
    assert json.loads(outputs["json"])["rows"][0]["workload"] == hostile


def test_failures_resources_and_verdicts_are_reported(tmp_path):
    folder = make_run(tmp_path, workloads=("cpu.a", "io.b"),
                      variants=("native", "docker", "docker[net=host]"),
                      effects={"docker": 1.10}, blocks=12, fail_every=7,
                      error="exit code 3: no such file",
                      extra=lambda seq: {"cpu": {"user_s": 0.5 + seq * 0.001},
                                         "nr_throttled": seq % 2, "label": "text"})
    loaded, summary, outputs = render_all(folder)
    document = outputs["html"]
    verdicts = {(r.workload, r.variant): r.comparison.verdict
                for r in summary.rows if r.comparison}
    assert verdicts[("cpu.a", "docker")] == "overhead"
    assert '<span class="badge overhead">overhead</span>' in document
    # failed samples with their reasons and output
    failed = [s for s in loaded.samples if not s.ok]
    assert f"{len(failed)} of {len(loaded.samples)} samples failed" in document
    assert "exit code 3: no such file" in document and "boom" in document
    # resource metrics: flattened numeric extra keys, throttling flagged
    assert "<td>cpu.user_s</td>" in document and "<td>nr_throttled</td>" in document
    assert "<td>label</td>" not in document and "No resource metrics" not in document
    assert 'class="num bad"' in document
    frame = pd.read_csv(io.StringIO(outputs["csv"]))
    assert {"extra.cpu.user_s", "extra.nr_throttled", "extra.label"} <= set(frame.columns)
    assert frame.status.eq("failed").sum() == len(failed)
    # the mechanism chart names what each variant changes
    assert "docker: net=host" in document and "geometric mean (2)" in document


def test_mismatched_binaries_and_partial_runs_are_flagged(tmp_path):
    folder = make_run(tmp_path, status="interrupted")
    run = json.loads((folder / "run.json").read_text())
    run["binaries"]["docker"]["demo"]["sha256"] = "cd" * 32
    (folder / "run.json").write_text(json.dumps(run))
    _, _, outputs = render_all(folder)
    assert "differs: results compare different programs" in outputs["html"]
    assert "Run status: interrupted" in outputs["html"]
    assert "Run status: interrupted" in outputs["md"]


def test_baseline_only_renders_and_an_empty_run_is_refused(tmp_path):
    only = make_run(tmp_path, variants=("native",), blocks=3)
    _, _, outputs = render_all(only)
    assert "nothing to compare" in outputs["html"]
    # A run without a single sample is refused in one line (issue 17); it used to render
    # an empty table with exit 0 and "see warnings" with no warning.
    empty = make_run(tmp_path, blocks=0, warmup=0)
    with pytest.raises(UsageError, match=r"samples.jsonl: no samples"):
        render_all(empty)


def test_each_variants_geometric_mean_leaves_start_up_out(tmp_path):
    folder = make_run(tmp_path, workloads=("cpu.a", "startup.s", "memory.m"),
                      variants=("native", "docker", "docker[net=host]"),
                      effects={"docker": 1.05, ("memory.m", "docker"): 1.2,
                               ("startup.s", "docker"): 3.0})
    loaded = results.load_run(folder)
    summary = analysis.summarize(loaded)
    compared = [r for r in summary.rows if r.variant == "docker"]
    steady = [r.comparison.overhead for r in compared if r.category != "startup"]
    mean = summary.variant_means["docker"]
    assert (mean.workloads, mean.startup) == (2, 1)
    assert mean.overhead == stats.geometric_mean_overhead(steady)
    assert math.isclose(mean.overhead, math.sqrt(1.05 * 1.2) - 1, abs_tol=0.01)
    document = html.render(loaded, summary)
    assert "geometric mean (2, start-up excluded)" in document
    assert f"docker: geometric mean over 2 workload(s) {pct(mean.overhead)}" in document
    only_startup = analysis.means_by_variant(r for r in summary.rows if r.category == "startup")
    assert only_startup == {}


def test_long_runs_are_binned_and_the_caption_says_so(tmp_path):
    folder = make_run(tmp_path, blocks=series.MAX_POINTS + 50, warmup=0, bulk=True)
    _, _, outputs = render_all(folder)
    document = outputs["html"]
    assert (f"Sample plots show {series.MAX_POINTS} evenly spaced blocks of "
            f"{series.MAX_POINTS + 50}") in document
    assert "each timeline point is the median of a bin" in document


def test_ten_thousand_samples_report_in_five_seconds_and_five_megabytes(tmp_path):
    folder = make_run(tmp_path, workloads=("cpu.a", "cpu.b"),
                      variants=("native", "docker", "docker[net=host]", "docker[net=none]"),
                      blocks=1250, warmup=0, fail_every=97, bulk=True,
                      extra=lambda seq: {"cpu_time_s": 1.0, "nr_throttled": 0})
    start = time.perf_counter()
    assert cli.main(["report", str(folder)]) == 0
    elapsed = time.perf_counter() - start
    report = folder / "report.html"
    assert len(results.load_run(folder).samples) == 10_000
    size = report.stat().st_size
    print(f"10,000-sample report: {elapsed:.2f} s, {size / 1e6:.2f} MB")
    assert elapsed <= 5.0
    assert size <= 5_000_000


def test_non_finite_numbers_become_null():
    assert export.finite({"a": [math.inf, 1.0], "b": math.nan}) == {"a": [None, 1.0],
                                                                     "b": None}


@pytest.mark.parametrize(("lo", "hi"), [(0.0, 1.0), (-0.037, 0.052), (930.0, 1021.0),
                                        (12_000.0, 13_500.0), (-1.0, -0.5)])
def test_ticks_are_round_and_cover_the_range(lo, hi):
    values, step = svg.ticks(lo, hi)
    assert 3 <= len(values) <= 11
    assert all(lo - 1e-9 <= v <= hi + 1e-9 for v in values)
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1, 2, 2.5, 5)
    labels = [svg.tick_label(v, step) for v in values]
    assert len(set(labels)) == len(labels)


# --------------------------------------------------------------------------------- CLI


def test_report_command_formats_and_destinations(tmp_path, capsys):
    folder = make_run(tmp_path)
    for fmt, name in export.DEFAULT_NAMES.items():
        assert cli.main(["report", str(folder), "--format", fmt]) == 0
        assert (folder / name).stat().st_size > 0
        assert f"report: {folder / name}" in capsys.readouterr().out
    assert cli.main(["report", str(folder), "--format", "json", "-o", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == folder.name
    target = tmp_path / "out.md"
    assert cli.main(["report", str(folder), "--format", "md", "-o", str(target),
                     "--margin", "5"]) == 0
    assert "\u00b15%" in target.read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["report", "{missing}"], "no such run folder"),
    (["report", "{run}", "--margin", "0"], "--margin must be greater than 0% and less than 100%"),
    (["report", "{run}", "--format", "pdf"], "Invalid value for '--format'"),
    (["report", "{run}", "-o", "/nonexistent/dir/r.html"], "cannot write"),
])
def test_report_command_errors_are_one_line(tmp_path, capsys, args, message):
    folder = make_run(tmp_path)
    argv = [a.format(missing=tmp_path / "nope", run=folder) for a in args]
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code in (1, 2) and message in err
    assert code == (1 if "cannot write" in message else 2)
    assert err.startswith("error: ") and err.count("error:") == 1 and "Traceback" not in err


def test_markdown_cells_cannot_break_tables():
    assert markdown.cell("a|b") == "a\\|b"
    assert markdown.cell("<b>x</b>") == "&lt;b&gt;x&lt;/b&gt;"
    assert markdown.cell("two\nlines") == "two lines"
    assert re.fullmatch(r"[^|]*(\\\|[^|]*)*", markdown.cell("x | y | z"))


def test_bench_run_ends_with_the_report_path(tmp_path):
    """`bench run` writes report.html into the run folder and prints its path last."""
    proc = subprocess.run([sys.executable, "-m", "bench", "run", "--variants",
                           "fake,fake[scale=1.05]", "--blocks", "4", "--warmup", "0",
                           "--seed", "3", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (folder,) = tmp_path.iterdir()
    assert proc.stdout.strip().splitlines()[-1] == f"report: {folder / 'report.html'}"
    assert summary_rows((folder / "report.html").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("lo", "hi"), [(-1.5, 4.5), (-0.5, 2.5), (-0.5, 1249.5)])
def test_block_axes_tick_whole_blocks(lo, hi):
    values, step = svg.ticks(lo, hi, 8, integer=True)
    assert step >= 1 and all(float(v).is_integer() for v in values)


def test_the_correction_used_is_named(tmp_path):
    loaded = results.load_run(make_run(tmp_path))
    summary = analysis.summarize(loaded)
    assert "Holm-Bonferroni over 1 comparison;" in html.render(loaded, summary)
    adaptive = dataclasses.replace(summary, correction="group-sequential")
    for text in (html.render(loaded, adaptive), markdown.render(loaded, adaptive)):
        assert "adaptive looks (each comparison spends" in text and "Holm" not in text
    assert json.loads(export.summary_json(adaptive, loaded))["correction"] == "group-sequential"


def test_blocks_still_needed_are_counted_in_good_english():
    assert more_blocks(1) == "1 more block"
    assert more_blocks(14) == "14 more blocks"


def test_another_margin_or_alpha_is_labelled_post_hoc_everywhere(tmp_path):
    loaded = results.load_run(make_run(tmp_path))
    primary = analysis.summarize(loaded)
    assert primary.post_hoc is None and not headline(primary).startswith("POST HOC")
    later = analysis.summarize(loaded, margin=0.05)
    assert later.post_hoc == {"margin": 0.02, "alpha": 0.05}
    assert headline(later).startswith("POST HOC (margin ±5%, alpha 0.05; recorded before "
                                      "the run: ±2%, alpha 0.05): ")
    for text in (html.render(loaded, later), markdown.render(loaded, later)):
        assert "POST HOC" in text
    assert "POST HOC" in json.loads(export.summary_json(later, loaded))["headline"]


def test_verdict_lines_give_the_cost_ratio_and_the_basis_is_said_where_medians_differ():
    from bench import analysis, results
    from bench.report import answer, terminal

    example = Path(__file__).resolve().parents[2] / "results" / "example"
    summary = analysis.summarize(results.load_run(example))
    compared = [r for r in summary.rows if r.comparison is not None]
    for row, line in zip(compared, terminal.verdict_lines(summary), strict=True):
        c = row.comparison
        ci = c.plain95 or c.ci95
        ratio = line.rsplit("= ", 1)[1]
        value, lo, hi = (float(x) for x in ratio.split(" times")[0].replace("[", "")
                         .replace("]", "").replace(",", "").split())
        assert abs(value - (1 + c.overhead)) < 0.01 * (1 + c.overhead)
        assert lo <= value <= hi and abs(lo - (1 + ci.lo)) < 0.01 * (1 + ci.lo)
        assert ratio.endswith(f"times {row.baseline}'s cost")
    note = answer.basis_note(summary)
    base = {r.workload: r.median for r in summary.rows if r.is_baseline}
    for row in compared:
        plain = answer.medians_overhead(row, base[row.workload])
        named = f"{row.workload} {row.variant} " in note
        assert named == (abs(plain - row.comparison.overhead) * 100
                         > answer.BASIS_NOTE_POINTS), row.workload
    # Where the medians agree with the estimate, nothing is said.
    agreeing = dataclasses.replace(summary, rows=tuple(
        dataclasses.replace(r, median=base[r.workload] * (1 + r.comparison.overhead)
                            if r.better == "lower" else base[r.workload]
                            / (1 + r.comparison.overhead))
        if r.comparison is not None else r for r in summary.rows))
    assert answer.basis_note(agreeing) is None
