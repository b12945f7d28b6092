"""The HTML comparison report: one self-contained file, the answer first, then the evidence.

No network, no script: the stylesheet (``style.css``, package data) is inlined and every
plot is inline SVG (``bench.report.plots``), so the file opens offline, prints, and
survives e-mail. A Content-Security-Policy in the page forbids scripts and remote
resources outright. This module assembles the page; its parts are
``bench.report.sections``, where every string from a run is escaped
(``bench.report.svg.escape``).
"""

from __future__ import annotations

import importlib.resources

from bench import __version__
from bench.analysis import Summary
from bench.report import plots, sections, series
from bench.report.answer import warning_lines
from bench.report.export import correction_text
from bench.report.svg import escape
from bench.report.text import margin_text
from bench.results import LoadedRun

CSS = importlib.resources.files(__package__).joinpath("style.css").read_text(encoding="utf-8")
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def render(loaded: LoadedRun, summary: Summary) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    run = loaded.run
    host = run.get("host", {})
    data = series.collect(loaded, summary)
    lo, hi = plots.ci_range(summary)
    workloads = list(dict.fromkeys([*(r.workload for r in summary.rows), *data.series]))
    title = f"Container overhead: run {summary.run_id}"
    nav = [("answer", "Answer"), ("summary", "Summary"), ("mechanism", "By mechanism"),
           *([("ladder", "Ladder")] if summary.ladder is not None else []),
           ("workloads", "Workloads"), ("resources", "Resources"), ("failures", "Failures"),
           ("warnings", "Warnings"), ("environment", "Environment"), ("methods", "Methods")]
    warnings = warning_lines(summary)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="bench {escape(__version__)}">',
        f"<title>{escape(title)}</title><style>\n{CSS}</style></head><body><main>",
        f"<h1>{escape(title)}</h1>",
        sections.fallback(summary),
        f'<p class="sub">host {escape(host.get("hostname", "?"))} \u00b7 '
        f'{escape(host.get("cpu_model", "?"))} \u00b7 kernel {escape(host.get("kernel", "?"))}'
        f' \u00b7 {escape(sections.when(run.get("started_at")))} \u00b7 baseline '
        f"{escape(summary.baseline)}</p>",
        "<nav>" + "".join(f'<a href="#{a}">{escape(t)}</a>' for a, t in nav) + "</nav>",
        '<section id="answer">', sections.answer(summary), "</section>",
        '<section id="summary"><h2>Summary</h2>',
        f'<p class="sub">Overhead of each variant vs {escape(summary.baseline)}, per unit of work '
        f"(+5% = 5% more time per event; negative = faster), with its 95% interval; bar: "
        f"green band {margin_text(summary.margin)} margin, thick: TOST, thin: difference "
        "interval, both at the family-adjusted level the verdict used. "
        f"{escape(correction_text(summary))}.</p>",
        sections.summary_table(summary, lo, hi), "</section>",
        '<section id="mechanism"><h2>Overhead by mechanism</h2>',
        '<p class="sub">Each variant changes one mechanism (network, seccomp, CPU limit, ...); '
        "per variant, every workload's overhead and the geometric mean across them.</p>",
        f"<figure>{plots.forest(summary, lo, hi)}</figure></section>",
        sections.ladder(summary),
        '<section id="workloads"><h2>Workloads</h2>',
        '<p class="sub">Per workload: every sample of the baseline and each variant (dots; a '
        "line joins the two samples of one block, the pair the statistics use; hollow: warmups, "
        "kept but not analysed; red crosses: failed samples; black bars: medians), the values "
        "per block in run order (a trend is drift: thermal, frequency, background load; "
        "interleaving spreads it over every variant), and each block's paired overhead "
        f"(green band: {margin_text(summary.margin)} margin; dashed: the run's estimate).</p>",
        *(sections.workload_section(summary, loaded, w, data.series.get(w, {}), i)
          for i, w in enumerate(workloads)),
        "</section>",
        '<section id="resources"><h2>Resources and noise</h2>', sections.resources(data),
        "</section>",
        '<section id="failures"><h2>Failed samples</h2>', sections.failures(data), "</section>",
        '<section id="warnings"><h2>Warnings</h2>',
        ('<ul class="warnings">' + "".join(f'<li class="warn">{escape(w)}</li>' for w in warnings)
         + "</ul>") if warnings else '<p class="sub">None.</p>',
        "</section>",
        '<section id="environment"><h2>Environment</h2>', sections.environment(loaded),
        "</section>",
        '<section id="methods"><h2>Methods</h2>', sections.methods(summary, loaded, data),
        "</section>",
        f'<p class="sub">bench {escape(__version__)}; a self-contained report: no script, no '
        "network. Data: run.json and samples.jsonl in the run folder.</p>",
        "</main></body></html>\n",
    ]
    return "".join(parts)
