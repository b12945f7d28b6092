"""The sections of the HTML report, each a string of HTML: the answer and its notes, the
summary table, the ladder, one section per workload (its plots), resources and noise,
failed samples, the environment and the methods. Every string from a run is escaped.
"""

from __future__ import annotations

import math
import shlex
import statistics
import time
from array import array
from collections.abc import Sequence
from typing import Any

from bench import stats
from bench.analysis import Summary
from bench.plan import recorded
from bench.report.answer import (
    fallback_banner,
    headline,
    native_note,
    retake_note,
    undecided_text,
)
from bench.report.export import (
    baseline_medians,
    correction_text,
    ladder_correction_text,
    verdict_counts,
)
from bench.report.plots import block_overhead_plot, ci_bar, pair_plot, range_of, timeline
from bench.report.series import MAX_POINTS, Collected, Series
from bench.report.svg import Scale, escape, padded
from bench.report.text import ci95, decision_text, margin_text, number, pct, verdict_text
from bench.results import LoadedRun
from bench.tidy import flatten

VERDICT_CLASS = {"equivalent": "equivalent", "overhead": "overhead", "faster": "faster",
                 "inconclusive": "inconclusive"}
KEY_METRICS = ("cpu_total_s", "cpu_user_s", "cpu_system_s", "nr_throttled", "throttled_s",
               "noise_fraction", "noise_cpu_s", "steal_fraction", "mem_peak_bytes",
               "rss_peak_bytes", "loadavg_1m")


def _breakable(value: Any) -> str:
    """Escaped text that may wrap inside long identifiers (``docker[seccomp=unconfined]``,
    ``requests_per_second``): a <wbr> before brackets and after separators."""
    text = escape(value)
    for mark in ("_", ",", "="):
        text = text.replace(mark, mark + "<wbr>")
    return text.replace("[", "<wbr>[")


def _badge(verdict: str | None) -> str:
    if verdict is None:
        return '<span class="badge none">no comparison</span>'
    return f'<span class="badge {VERDICT_CLASS.get(verdict, "none")}">{escape(verdict)}</span>'


def _workload_info(loaded: LoadedRun) -> dict[str, dict[str, Any]]:
    return recorded(loaded.run).workloads


def summary_table(summary: Summary, lo: float, hi: float) -> str:
    """Per workload and variant: medians, the overhead with its intervals and CI bar (axis
    ``lo``..``hi``), the verdict and the row's warnings."""
    base = baseline_medians(summary)
    out = ['<div class="scroll"><table class="summary" id="summary-table"><thead><tr>',
           *(f"<th>{escape(h)}</th>" for h in (
               "workload", "category", "metric", "variant", f"{summary.baseline} median",
               "variant median", "overhead [95% CI]", "", "verdict", "warnings")),
           "</tr></thead><tbody>"]
    for row in summary.rows:
        if row.is_baseline:
            continue
        c = row.comparison
        verdict = c.verdict if c else None
        attrs = (f' data-workload="{escape(row.workload)}" data-variant="{escape(row.variant)}" '
                 f'data-verdict="{escape(verdict or "")}"')
        if c is not None:
            plain = c.plain95 or c.ci95
            attrs += (f' data-overhead="{c.overhead!r}" data-ci-lo="{plain.lo!r}" '
                      f'data-ci-hi="{plain.hi!r}" data-decision-lo="{c.ci95.lo!r}" '
                      f'data-decision-hi="{c.ci95.hi!r}"')
            estimate = (f'{escape(pct(c.overhead))}<br><span class="sub">{escape(ci95(c))}</span>'
                        f'<br><span class="sub">decided on {escape(decision_text(c))}</span>')
            bar = ci_bar(c, lo, hi)
            if c.verdict == "inconclusive":
                estimate += (f'<br><span class="sub">{escape(undecided_text(summary, row))}'
                             "</span>")
            elif c.verdict == "equivalent" and c.significant:
                estimate += '<br><span class="sub">significant but small</span>'
        else:
            estimate, bar = "-", ""
        plural = "s" if len(row.warnings) > 1 else ""
        warnings = (f'<details><summary class="warn">{len(row.warnings)} warning{plural}</summary>'
                    f'<ul class="warnings">{"".join(f"<li>{escape(w)}</li>" for w in row.warnings)}'
                    "</ul></details>" if row.warnings else "")
        failed = f' <span class="bad">({row.n_failed} failed)</span>' if row.n_failed else ""
        out.append(
            f'<tr{attrs}><td class="nowrap"><a href="#w{_anchor(summary, row.workload)}">'
            f"{escape(row.workload)}"
            f"</a></td><td>{escape(row.category)}</td><td>{_breakable(row.metric)}<br>"
            f'<span class="sub">{escape(row.unit)}, {escape(row.better)} is better</span></td>'
            f"<td>{_breakable(row.variant)}</td>"
            f'<td class="num">{escape(number(base.get(row.workload)))}</td>'
            f'<td class="num">{escape(number(row.median))}'
            f'<br><span class="sub">{row.n_ok} blocks{failed}</span></td>'
            f'<td class="num">{estimate}</td><td>{bar}</td><td>{_badge(verdict)}</td>'
            f"<td>{warnings}</td></tr>")
    out.append("</tbody></table></div>")
    if not any(not r.is_baseline for r in summary.rows):
        out.append(f'<p class="sub">Only the baseline ({escape(summary.baseline)}) has samples: '
                   "nothing to compare.</p>")
    return "".join(out)


def _anchor(summary: Summary, workload: str) -> int:
    names = list(dict.fromkeys(r.workload for r in summary.rows))
    return names.index(workload) if workload in names else len(names)


def workload_section(summary: Summary, loaded: LoadedRun, workload: str,
                     per: dict[str, Series], index: int) -> str:
    """One workload: what it measures, its verdicts, and its plots (paired samples per
    variant, the timeline, the per-block overhead) with what each one draws."""
    info = _workload_info(loaded).get(workload, {})
    metric = info.get("metric", {})
    rows = {r.variant: r for r in summary.rows if r.workload == workload}
    first = next(iter(rows.values()), None)
    better = metric.get("better") or (first.better if first else "higher")
    unit = metric.get("unit") or (first.unit if first else "")
    order = [summary.baseline, *[v for v in rows if v != summary.baseline],
             *[v for v in per if v not in rows and v != summary.baseline]]
    series = [per[v] for v in order if v in per]
    out = [f'<section class="workload" id="w{index}"><h3>{escape(workload)}</h3>']
    description = info.get("description")
    out.append(f'<p class="sub">{escape(description.rstrip(".")) + ". " if description else ""}'
               f"metric: {escape(metric.get('name', first.metric if first else 'value'))} "
               f"({escape(unit)}, {escape(better)} is better)</p>")
    verdicts = [f"<li>{escape(r.variant)}: {_badge(r.comparison.verdict)} "
                f"{escape(verdict_text(r.comparison))}</li>"
                for r in rows.values() if r.comparison is not None]
    if verdicts:
        out.append(f"<ul>{''.join(verdicts)}</ul>")
    if not series:
        return "".join([*out, "</section>"])
    values = [v for s in series for v in (*s.measured.values(), *s.warmup.values())]
    y_lo, y_hi = padded(values)
    base = next((s for s in series if s.variant == summary.baseline), None)
    others = [s for s in series if s.variant != summary.baseline]
    figures = []
    notes = []
    y = Scale(y_lo, y_hi, 236, 12)
    pairs: list[tuple[Series, Series | None]] = (
        [(base, s) for s in others] if base is not None and others else [(series[0], None)])
    for a, b in pairs:
        n_blocks = len(set(a.measured) | set(b.measured if b else ()))
        if n_blocks > MAX_POINTS and not notes:
            notes.append(f"Sample plots show {MAX_POINTS} evenly spaced blocks of {n_blocks}; "
                         "the statistics use all of them.")
        caption = f"{a.variant} vs {b.variant}: every sample" if b else f"{a.variant} samples"
        figures.append(f"<figure>{pair_plot(a, b, y, unit, better)}"
                       f"<figcaption>{escape(caption)}</figcaption></figure>")
    plot, binned = timeline(series, (y_lo, y_hi), unit)
    if plot:
        figures.append(f"<figure>{plot}<figcaption>per-block timeline (drift)</figcaption>"
                       "</figure>")
    if base is not None and others:
        overhead_plot, overhead_binned = block_overhead_plot(base, others, better, rows,
                                                             summary.margin)
        binned = binned or overhead_binned
        if overhead_plot:
            figures.append(f"<figure>{overhead_plot}<figcaption>overhead per block vs "
                           f"{escape(summary.baseline)}</figcaption></figure>")
    if binned:
        notes.append(f"More than {MAX_POINTS} blocks: each timeline point is the median of a "
                     "bin of consecutive blocks, the band its min-max.")
    out.append(f'<div class="figs">{"".join(figures)}</div>')
    if notes:
        out.append(f'<p class="caption">{escape(" ".join(notes))}</p>')
    out.append("</section>")
    return "".join(out)


def _metric_text(key: str, value: float) -> str:
    """A resource metric with the unit its key names (``mem_peak_bytes`` -> MiB, ...)."""
    if key.endswith("_bytes"):
        return f"{value / 2**20:,.1f} MiB"
    if key.endswith("_fraction"):
        return f"{value:.1%}"
    if key.endswith("_ns"):
        return f"{value / 1e9:.3g} s"
    if key.endswith("_s"):
        return f"{value:.3g} s"
    return number(value)


def _metric_rows(keys: Sequence[str], order: Sequence[str],
                 columns: dict[str, dict[str, array]]) -> str:
    rows = []
    for key in keys:
        cells = []
        for variant in order:
            values = columns[variant].get(key)
            if not values:
                cells.append('<td class="num">-</td>')
                continue
            med, top = statistics.median(values), max(values)
            text = _metric_text(key, med) + (f" ({_metric_text(key, top)})"
                                             if top != med else "")
            flag = "num bad" if "throttl" in key and top > 0 else "num"
            cells.append(f'<td class="{flag}">{escape(text)}</td>')
        label = "wall time (incl. start-up)" if key == "wall_s" else key
        rows.append(f"<tr><td>{escape(label)}</td>{''.join(cells)}</tr>")
    return "".join(rows)


def resources(data: Collected) -> str:
    """Per workload, a metric x variant table of medians (max when it differs) over the
    measured samples: wall time and the key metrics (CPU time, throttling, noise, memory)
    first, every other recorded metric in a collapsed table."""
    out = ['<p class="sub">Per workload, over measured samples: the median of each resource '
           "metric recorded with the samples (max in brackets when it differs). Wall time "
           "includes start-up; the metric itself is self-timed. Two-role workloads (a server "
           "and a client): the server under test, from just before its client started until "
           "the client ended. Red: throttling.</p>"]
    any_metric = False
    for workload, per in data.series.items():
        order = sorted(per, key=data.variants.index)
        columns = {v: {"wall_s": per[v].wall, **per[v].extra} for v in order}
        keys = list(dict.fromkeys(k for v in order for k in columns[v]))
        any_metric = any_metric or len(keys) > 1
        head = ('<div class="scroll"><table class="resources"><thead><tr><th>metric</th>'
                + "".join(f"<th>{escape(v)}</th>" for v in order) + "</tr></thead><tbody>")
        main = ["wall_s", *sorted((k for k in keys if k.rsplit(".", 1)[-1] in KEY_METRICS),
                                  key=lambda k: KEY_METRICS.index(k.rsplit(".", 1)[-1]))]
        rest = [k for k in keys if k not in main]
        out.append(f"<h3>{escape(workload)}</h3>{head}{_metric_rows(main, order, columns)}"
                   "</tbody></table></div>")
        if rest:
            out.append(f"<details><summary>all {len(rest)} other recorded metrics</summary>"
                       f"{head}{_metric_rows(rest, order, columns)}</tbody></table></div>"
                       "</details>")
    if not any_metric:
        out.insert(1, '<p class="sub">No resource metrics (CPU time, throttling, noise) were '
                      "recorded in this run; only wall time.</p>")
    return "".join(out)


def failures(data: Collected) -> str:
    """The first failed samples: where, the exit code, the reason and the output's tail."""
    if not data.n_failed:
        return '<p class="sub">No sample failed.</p>'
    out = [f"<p>{data.n_failed} of {data.n_samples} samples failed; they are kept in "
           "samples.jsonl and left out of the statistics.</p>",
           '<div class="scroll"><table class="failures"><thead><tr><th>workload</th>'
           "<th>variant</th><th>block</th><th>seq</th><th>exit</th><th>reason</th>"
           "</tr></thead><tbody>"]
    for s in data.failed:
        tail = s.stderr_tail or s.stdout_tail
        detail = (f"<details><summary>output</summary><pre>{escape(tail)}</pre></details>"
                  if tail else "")
        block = f"warmup {s.block}" if s.warmup else str(s.block)
        out.append(f"<tr><td>{escape(s.workload)}</td><td>{escape(s.variant)}</td>"
                   f'<td class="num">{escape(block)}</td><td class="num">{s.seq}</td>'
                   f'<td class="num">{escape(s.exit_code if s.exit_code is not None else "-")}</td>'
                   f"<td>{escape(s.error or 'no reason recorded')}{detail}</td></tr>")
    out.append("</tbody></table></div>")
    if data.n_failed > len(data.failed):
        out.append(f'<p class="sub">{data.n_failed - len(data.failed)} more failed samples '
                   "are in samples.jsonl.</p>")
    return "".join(out)


def _fact_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        if all(isinstance(v, list | tuple) for v in value):
            return ", ".join(" ".join(str(x) for x in v) for v in value)
        return ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, float):
        return f"{value:,.6g}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return f"{value:,}"
    return str(value)


def _facts(data: dict[str, Any]) -> str:
    if not data:
        return '<p class="sub">not recorded</p>'
    items = flatten(data)
    return ('<dl class="facts">' + "".join(f"<dt>{escape(k)}</dt><dd>{escape(_fact_value(v))}</dd>"
                                           for k, v in items.items()) + "</dl>")


def _binaries(binaries: dict[str, dict[str, dict[str, str]]]) -> str:
    if not binaries or not any(binaries.values()):
        return '<p class="sub">No workload binary was hashed in this run.</p>'
    envs = list(binaries)
    names = sorted({b for per in binaries.values() for b in per})
    out = ['<div class="scroll"><table class="binaries"><thead><tr><th>binary</th>',
           *(f"<th>{escape(env)}</th>" for env in envs), "<th></th></tr></thead><tbody>"]
    for name in names:
        infos = [binaries[env].get(name, {}) for env in envs]
        digests = {i.get("sha256") for i in infos}
        same = len(digests) == 1 and None not in digests
        tds = []
        for info in infos:
            digest = info.get("sha256")
            where = info.get("path", "")
            text = (f'<span class="mono" title="{escape(digest)}">{escape(digest[:16])}\u2026'
                    "</span>" if digest
                    else f'<span class="bad">{escape(info.get("error", "missing"))}</span>')
            tds.append(f'<td>{text}<br><span class="sub">{escape(where)}</span></td>')
        status = ("same bits" if same
                  else '<span class="bad">differs: results compare different programs</span>')
        out.append(f"<tr><td>{escape(name)}</td>{''.join(tds)}<td>{status}</td></tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def environment(loaded: LoadedRun) -> str:
    """Host, engine, image and variant facts, and the binary hashes per environment."""
    run = loaded.run
    out = ['<div class="cols"><div><h3>Host</h3>', _facts(run.get("host", {})), "</div>"]
    if run.get("engine"):
        out += ["<div><h3>Container engine</h3>", _facts(run["engine"]), "</div>"]
    if run.get("image"):
        out += ["<div><h3>Benchmark image</h3>", _facts(run["image"]), "</div>"]
    for variant, facts in run.get("environments", {}).items():
        out += [f"<div><h3>Variant {escape(variant)}</h3>", _facts(facts), "</div>"]
    out += ["</div><h3>Binary hashes (same bits)</h3>", _binaries(run.get("binaries", {}))]
    if run.get("harness_cpus") is not None:
        out.append(f'<p class="sub">harness CPUs: {escape(_fact_value(run["harness_cpus"]))}</p>')
    return "".join(out)


def when(timestamp: Any) -> str:
    """A run.json timestamp as UTC text (``unknown`` when absent)."""
    if not isinstance(timestamp, int | float):
        return "unknown"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


def methods(summary: Summary, loaded: LoadedRun, data: Collected) -> str:
    """How the numbers were made (effect, interval, margin, alpha, correction, blocks, seed)
    and how to reproduce the run and this report."""
    run = loaded.run
    plan = run.get("plan", {})
    compared = [r.comparison for r in summary.rows if r.comparison is not None]
    alphas = sorted({c.alpha for c in compared})
    adjusted = ("-" if not alphas else f"{alphas[0]:.4g}" if len(alphas) == 1
                else f"{alphas[0]:.4g} to {alphas[-1]:.4g}")
    margin_note = ""
    if plan.get("margin") is not None and not math.isclose(plan["margin"], summary.margin):
        margin_note = f" (re-analysed; the run planned {margin_text(plan['margin'])})"
    items = [
        ("baseline", summary.baseline),
        ("effect", "overhead = exp(mean d_b) - 1, d_b = ln cost(variant, b) - ln cost(baseline,"
                   " b) per block; cost = 1/metric when higher is better (METHOD \u00a71)"),
        ("interval", f"decision interval = hull of the BCa bootstrap over blocks "
                     f"({stats.MIN_RESAMPLES:,} resamples, seed {recorded(run).seed}) and the "
                     "Student-t interval (METHOD \u00a72)"),
        ("equivalence margin", f"{margin_text(summary.margin)}{margin_note}: equivalent when "
                               "the 90% interval (TOST) lies inside it (METHOD \u00a73)"),
        ("alpha", f"{summary.alpha:g} family-wise"),
        ("correction", f"{correction_text(summary)}; alpha per comparison {adjusted}"),
        *([("ladder", f"each rung vs the previous rung the workload ran in, paired by block; "
                      f"the steps are a family of their own: "
                      f"{ladder_correction_text(summary.ladder)}")]
          if summary.ladder is not None else []),
        ("blocks", f"{plan.get('blocks', '?')} planned, {plan.get('warmup', 0)} warmup round(s) "
                   "per workload, variants in seeded random order within each block"),
        ("seed", plan.get("seed", "?")),
        ("CPUs", _fact_value(plan.get("cpus", []))),
        ("quick", plan.get("quick", False)),
        ("samples", f"{data.n_samples} ({data.n_failed} failed)"),
        ("started", when(run.get("started_at"))),
        ("finished", when(run.get("finished_at"))),
        ("status", run.get("status", "unknown")),
    ]
    out = ['<dl class="facts">' + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>"
                                          for k, v in items) + "</dl>"]
    command = run.get("command") or []
    reproduce = run.get("reproduce") or command
    out.append("<h3>Reproduce</h3>")
    if reproduce:
        out.append("<p>The full command of this run's plan (seed, CPUs, workloads, variants, "
                   "blocks, margin):</p>"
                   f"<pre>{escape(shlex.join(str(c) for c in reproduce))}</pre>")
    if command and command != reproduce:
        out.append("<p>As it was typed:</p>"
                   f"<pre>{escape(shlex.join(str(c) for c in command))}</pre>")
    out.append("<p>The same plan (workloads, variants, CPUs, seed) again, here or on another "
               "host, and this report rebuilt from the run folder:</p>"
               f"<pre>bench run --replay {escape(shlex.quote(str(loaded.folder)))}\n"
               f"bench report {escape(shlex.quote(str(loaded.folder)))}</pre>")
    if run.get("replay_of"):
        out.append(f'<p class="sub">This run replays {escape(run["replay_of"])}.</p>')
    return "".join(out)


def fallback(summary: Summary) -> str:
    """The banner that opens the page when Docker variants ran without Docker."""
    banner = fallback_banner(summary)
    if banner is None:
        return ""
    return f'<p class="fallback" id="fallback" role="note">{escape(banner)}</p>'


def ladder(summary: Summary) -> str:
    """Per workload: each step up the ladder (the rung, what it adds, the added overhead
    with its CI bar and verdict, the cumulative overhead) and the attribution sentence."""
    ladder = summary.ladder
    if ladder is None:
        return ""
    out = ['<section id="ladder"><h2>Overhead ladder</h2>',
           '<p class="sub">Each rung changes one thing (most add a mechanism; the built-in '
           "ladder takes the user namespace and veth off again before the engine's step) "
           "and is compared with the rung before it that the workload ran in, paired by "
           "block, with the same statistics as "
           "the summary: the overhead that step adds, with its 95% interval (bar: green band "
           f"{margin_text(ladder.margin)} margin, thick: TOST, thin: difference "
           "interval, at the family-adjusted level). Cumulative: "
           "vs the workload's first rung. Share of the total: in log space, where steps add "
           f"up. {escape(ladder_correction_text(ladder))} at alpha {ladder.alpha:g}.</p>"]
    if not ladder.workloads:
        out.append('<p class="sub">No workload has data in two rungs: no step to show.</p>')
    steps = [s.comparison for w in ladder.workloads for s in w.steps
             if s.comparison is not None]
    lo, hi = range_of(steps, ladder.margin)
    for climb in ladder.workloads:
        out.append(f'<div class="ladder-workload"><h3>{escape(climb.workload)}</h3>'
                   f'<p class="attribution">{escape(climb.attribution)}</p>'
                   '<div class="scroll"><table class="ladder"><thead><tr>'
                   + "".join(f"<th>{escape(h)}</th>" for h in (
                       "rung", "adds", "added overhead [95% CI]", "", "verdict",
                       "cumulative")) + "</tr></thead><tbody>")
        out.append(f'<tr data-workload="{escape(climb.workload)}" '
                   f'data-rung="{escape(climb.first)}">'
                   f"<td>{_breakable(climb.first)}</td>"
                   f'<td>{escape(ladder.descriptions.get(climb.first, climb.first))}'
                   '<br><span class="sub">first rung</span></td><td class="num">-</td>'
                   f'<td></td><td></td><td class="num">{escape(pct(0.0))}</td></tr>')
        for step in climb.steps:
            c = step.comparison
            attrs = (f' data-workload="{escape(climb.workload)}" data-rung="{escape(step.rung)}" '
                     f'data-previous="{escape(step.previous)}" '
                     f'data-verdict="{escape(step.verdict or "")}"')
            if step.cumulative is not None:
                attrs += f' data-cumulative="{step.cumulative!r}"'
            if c is not None:
                attrs += (f' data-overhead="{c.overhead!r}" data-ci-lo="{c.ci95.lo!r}" '
                          f'data-ci-hi="{c.ci95.hi!r}"')
                estimate = (f'{escape(pct(c.overhead))}<br><span class="sub">{escape(ci95(c))}'
                            "</span>")
                if step.share is not None:
                    estimate += (f'<br><span class="sub">{step.share * 100:.0f}% of the total'
                                 "</span>")
                bar = ci_bar(c, lo, hi)
            else:
                estimate, bar = "-", ""
            note = f'<br><span class="sub">{escape(step.note)}</span>' if step.note else ""
            cumulative = "-" if step.cumulative is None else pct(step.cumulative)
            out.append(f"<tr{attrs}><td>{_breakable(step.rung)}</td>"
                       f'<td>{escape(step.adds)}{note}</td><td class="num">{estimate}</td>'
                       f"<td>{bar}</td><td>{_badge(step.verdict)}</td>"
                       f'<td class="num">{escape(cumulative)}</td></tr>')
        out.append("</tbody></table></div></div>")
    out.append("</section>")
    return "".join(out)


def answer(summary: Summary) -> str:
    """The headline, the verdict counts, the notes and a partial run's status."""
    counts = verdict_counts(summary)
    badges = "".join(f'<span class="badge {VERDICT_CLASS[v]}">{n} {escape(v)}</span>'
                     for v, n in counts.items() if n)
    status = ""
    if summary.status != "complete":
        status = (f'<p class="bad">Run status: {escape(summary.status)}; the results are '
                  "partial.</p>")
    notes = "".join(f'<p class="sub">{escape(note)}</p>'
                    for note in (native_note(summary), retake_note(summary)) if note)
    return (f'<p class="answer" id="headline">{escape(headline(summary))}</p>'
            f'<div class="counts">{badges}</div>{notes}{status}')
