"""Markdown for pull requests and wikis: the answer, the table, warnings, facts, method.

Every string from a run is escaped (:func:`cell`), so a workload name cannot break a table
or inject HTML into the page that renders the markdown.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING, Any

from bench.analysis import Summary
from bench.report.answer import (
    fallback_banner,
    headline,
    native_note,
    retake_note,
    undecided_text,
    warning_lines,
)
from bench.report.export import baseline_medians, correction_text, ladder_correction_text
from bench.report.text import (
    ci95,
    decision_text,
    interval,
    margin_text,
    number,
    pct,
    pct_or_dash,
)
from bench.results import LoadedRun

if TYPE_CHECKING:
    from bench.compare import RunComparison

MAX_FAILED_LISTED = 50
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def cell(value: Any) -> str:
    """Escape text for a markdown table cell or paragraph (HTML, pipes, emphasis, links)."""
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text)


def table(header: list[str], rows: list[list[str]], right: set[int] | None = None) -> list[str]:
    right = right or set()
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|"]
    lines.extend("| " + " | ".join(r) + " |" for r in rows)
    return lines


def render(loaded: LoadedRun, summary: Summary) -> str:
    """The run as GitHub-flavoured markdown."""
    run = loaded.run
    host = run.get("host", {})
    plan = run.get("plan", {})
    base = baseline_medians(summary)
    lines = [f"## Container overhead: run {cell(summary.run_id)}", ""]
    banner = fallback_banner(summary)
    if banner is not None:
        lines += [f"> **{cell(banner)}**", ""]
    lines += [f"**{cell(headline(summary))}**", ""]
    lines += [f"_{cell(note)}_" for note in (native_note(summary), retake_note(summary))
              if note]
    lines += [""] if lines[-1] else []
    if summary.status != "complete":
        lines += [f"> Run status: {cell(summary.status)}; the results are partial.", ""]
    rows = []
    for r in summary.rows:
        if r.is_baseline:
            continue
        c = r.comparison
        estimate = "-" if c is None else f"{pct(c.overhead)} {ci95(c)}"
        verdict = "no comparison" if c is None else f"{c.verdict} ({decision_text(c)})"
        if c is not None and c.verdict == "inconclusive":
            verdict += f"; {undecided_text(summary, r)}"
        elif c is not None and c.verdict == "equivalent" and c.significant:
            verdict += " (significant but small)"
        rows.append([cell(r.workload), cell(r.category), cell(f"{r.metric} ({r.unit})"),
                     cell(r.variant), number(base.get(r.workload)), number(r.median),
                     str(r.n_ok) + (f" ({r.n_failed} failed)" if r.n_failed else ""),
                     estimate, f"**{cell(verdict)}**", str(len(r.warnings) or "")])
    lines += table(["workload", "category", "metric", "variant",
                    f"{cell(summary.baseline)} median", "variant median", "blocks",
                    "overhead [95% CI]", "verdict", "warnings"], rows, {4, 5, 6, 7})
    lines += ["", f"Overhead vs {cell(summary.baseline)} per unit of work (+5% = 5% more time "
              "per event); 95% interval: BCa bootstrap over blocks hulled with the t interval, "
              "unadjusted; the verdict's own interval, at its family's adjusted level, in the "
              f"verdict column; equivalent when that interval lies within "
              f"{margin_text(summary.margin)} "
              f"(TOST); {cell(correction_text(summary))} at alpha "
              f"{summary.alpha:g}; seed {cell(plan.get('seed', '?'))}, "
              f"{cell(plan.get('blocks', '?'))} blocks."]
    lines += _ladder(summary)
    warnings = warning_lines(summary)
    if warnings:
        lines += ["", "### Warnings", ""] + [f"- {cell(w)}" for w in warnings]
    failed, n_failed = [], 0
    for s in loaded.samples:  # one pass; only the first few failures are kept
        if not s.ok:
            n_failed += 1
            if len(failed) < MAX_FAILED_LISTED:
                failed.append(s)
    if failed:
        lines += ["", f"### Failed samples ({n_failed})", ""]
        lines += table(["workload", "variant", "block", "reason"],
                       [[cell(s.workload), cell(s.variant), str(s.block),
                         cell(s.error or "no reason recorded")] for s in failed])
        if n_failed > len(failed):
            lines.append(f"\n{n_failed - len(failed)} more in samples.jsonl.")
    engine = run.get("engine", {})
    facts = [("host", host.get("hostname")), ("CPU", host.get("cpu_model")),
             ("kernel", host.get("kernel")), ("OS", host.get("os")),
             ("cgroup", host.get("cgroup_version")), ("SMT", host.get("smt")),
             ("governor", host.get("governors")),
             ("engine", engine.get("engine_version")),
             ("storage driver", engine.get("storage_driver")),
             ("image", run.get("image", {}).get("tag")),
             ("measured CPUs", ",".join(str(c) for c in plan.get("cpus", [])))]
    lines += ["", "### Environment", ""]
    lines += [f"- {k}: {cell(v)}" for k, v in facts if v not in (None, "", {})]
    command = run.get("reproduce") or run.get("command") or []
    if command:
        lines += ["", "Reproduce:", "", "```sh", shlex.join(str(c) for c in command),
                  f"bench run --replay {shlex.quote(str(loaded.folder))}", "```"]
    return "\n".join(lines) + "\n"


def _ladder(summary: Summary) -> list[str]:
    """The ladder, compactly: one attribution line per workload, then the steps' table."""
    ladder = summary.ladder
    if ladder is None or not ladder.workloads:
        return []
    lines = ["", "### Overhead ladder", ""]
    lines += [f"- {cell(w.attribution)}" for w in ladder.workloads]
    rows = []
    for climb in ladder.workloads:
        rows.append([cell(climb.workload), cell(climb.first), "start", "", "", pct(0.0)])
        for step in climb.steps:
            c = step.comparison
            rows.append(["", cell(step.rung), cell(step.adds),
                         "-" if c is None else f"{pct(c.overhead)} {interval(c.ci95)}",
                         "no comparison" if c is None else f"**{cell(c.verdict)}**",
                         "-" if step.cumulative is None else pct(step.cumulative)])
    lines += ["", *table(["workload", "rung", "adds", "added overhead [95% CI]", "verdict",
                          "cumulative"], rows, {3, 5})]
    lines += ["", f"Each rung vs the rung before it that the workload ran in, paired by block "
              f"(same statistics and margin as above); {cell(ladder_correction_text(ladder))} "
              f"at alpha {ladder.alpha:g}; cumulative: vs the workload's first rung."]
    return lines


def compare(result: RunComparison) -> str:
    """A run-to-run comparison (``bench compare``) as markdown."""
    from bench.compare import change_text, fact_lines, headline, hidden_line
    from bench.compare import warning_lines as change_warnings

    lines = [f"## Run {cell(result.run_b)} vs run {cell(result.run_a)}", ""]
    if result.different_hosts:
        lines += ["> **Different hosts**: the runs were recorded on different machines "
                  "(compared with --allow-different-hosts).", ""]
    lines += [f"**{cell(headline(result))}**", ""]
    rows = [[cell(r.workload), cell(r.variant), number(r.median_a), number(r.median_b),
             cell(r.unit), cell(change_text(r.performance)), pct_or_dash(r.overhead_a),
             pct_or_dash(r.overhead_b),
             "baseline" if r.is_baseline else cell(change_text(r.overhead))]
            for r in result.rows]
    lines += table(["workload", "variant", "median A", "median B", "unit",
                    "performance change [95% CI]", "overhead A", "overhead B",
                    "overhead change [95% CI]"], rows, {2, 3})
    hidden = hidden_line(result)
    if hidden:
        lines += ["", cell(hidden)]
    lines += ["", "Change = cost per unit of work in run B relative to run A (+3% = B is 3% "
              "slower, or carries 3% more overhead); two-sample bootstrap over blocks hulled "
              f"with the Welch t interval; unchanged when the 90% interval lies within "
              f"{margin_text(result.margin)}; Holm over {result.family_size} changes at alpha "
              f"{result.alpha:g}."]
    warnings = change_warnings(result)
    if warnings:
        lines += ["", "### Warnings", ""] + [f"- {cell(w)}" for w in warnings]
    facts = fact_lines(result)
    if facts:
        lines += ["", "### What differs between the runs", ""] + [f"- {cell(f)}" for f in facts]
    return "\n".join(lines) + "\n"
