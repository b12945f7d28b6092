"""The HTML comparison report: one self-contained file, the answer first, then the evidence.

No network, no script: styles are inline and every plot is inline SVG drawn here, so the file
opens offline, prints, and survives e-mail. A Content-Security-Policy in the page forbids
scripts and remote resources outright. Every string that comes from a run (workload names,
errors, facts) goes through :func:`_e`, so a workload named ``<script>...`` is shown as text.

Large runs stay small and fast: a series with more than ``MAX_POINTS`` blocks is drawn
binned (median line and min-max band per bin), and the paired sample plot shows an evenly
spaced subset of blocks; the statistics always use every sample, and each caption says what
is drawn.
"""

from __future__ import annotations

import html
import math
import shlex
import statistics
import time
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import __version__, stats
from bench.analysis import Row, Summary
from bench.report.answer import (
    STARTUP,
    headline,
    native_note,
    pct,
    retake_note,
    undecided_text,
)
from bench.report.export import (
    baseline_medians,
    correction_text,
    flatten,
    ladder_correction_text,
    numeric_extra,
    verdict_counts,
)
from bench.report.terminal import (
    decision_text,
    fallback_banner,
    verdict_text,
    warning_lines,
)
from bench.results import LoadedRun, Sample

MAX_POINTS = 300  # per series: beyond this a plot is binned (timelines) or subset (pairs)
MAX_FAILED_LISTED = 200
BASELINE_COLOR = "#57606a"
PALETTE = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#1b7c83", "#bf3989",
           "#6e7781", "#4d2d00")
VERDICT_CLASS = {"equivalent": "equivalent", "overhead": "overhead", "faster": "faster",
                 "inconclusive": "inconclusive"}
VERDICT_COLOR = {"equivalent": "#1a7f37", "overhead": "#cf222e", "faster": "#0969da",
                 "inconclusive": "#9a6700"}
#: Resource metrics shown up front (by the last part of their key); others are collapsed.
KEY_METRICS = ("cpu_total_s", "cpu_user_s", "cpu_system_s", "nr_throttled", "throttled_s",
               "noise_fraction", "noise_cpu_s", "steal_fraction", "mem_peak_bytes",
               "rss_peak_bytes", "loadavg_1m")
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--soft:#f6f8fa;
--eq:#1a7f37;--ov:#cf222e;--fa:#0969da;--in:#9a6700}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:var(--fg);background:var(--bg);margin:0}
main{max-width:1400px;margin:0 auto;padding:16px 24px 64px}
h1{font-size:1.5em;margin:.4em 0 .1em}h2{font-size:1.25em;margin:2em 0 .5em;
border-bottom:1px solid var(--line);padding-bottom:.2em}h3{font-size:1.05em;margin:1.4em 0 .4em}
.sub,.caption,figcaption{color:var(--muted);font-size:.88em}
nav{font-size:.9em;margin:.6em 0 1em}nav a{margin-right:1em;color:var(--fa);text-decoration:none}
.answer{font-size:1.2em;font-weight:600;background:var(--soft);border:1px solid var(--line);
border-left:6px solid var(--fa);padding:12px 16px;border-radius:6px;margin:1em 0}
.counts{margin:.4em 0 1em}.counts .badge{margin-right:.5em;font-size:.95em}
table{border-collapse:collapse;margin:.4em 0;font-size:.9em}
th,td{border-bottom:1px solid var(--line);padding:4px 7px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600;white-space:nowrap}
td.nowrap{white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.scroll{overflow-x:auto}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:.85em;
font-weight:600;white-space:nowrap}
.badge.equivalent{background:var(--eq)}.badge.overhead{background:var(--ov)}
.badge.faster{background:var(--fa)}.badge.inconclusive{background:var(--in)}
.badge.none{background:var(--muted)}
.warn{color:#9a6700}.bad{color:var(--ov);font-weight:600}
.fallback{background:#fff8c5;border:1px solid #d4a72c;border-left:6px solid #9a6700;
padding:10px 14px;border-radius:6px;margin:.8em 0;font-weight:600}
.attribution{margin:.3em 0 .5em}
ul.warnings li{margin:.2em 0}
figure{margin:.6em 0;display:inline-block;vertical-align:top}
.figs{display:flex;flex-wrap:wrap;gap:8px 20px}
svg.plot{background:#fff;max-width:100%;height:auto}
svg text{font-family:system-ui,"DejaVu Sans",sans-serif}
code,pre,.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.88em}
pre{background:var(--soft);padding:8px;border-radius:4px;white-space:pre-wrap;
word-break:break-all;margin:.3em 0}
.cols{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:0 32px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:.3em 0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
details summary{cursor:pointer;color:var(--muted)}
@media print{nav{display:none}h2{break-before:auto}figure{break-inside:avoid}}
"""


def _e(value: Any) -> str:
    """Escape anything for HTML text and attribute values."""
    return html.escape(str(value), quote=True)


def _breakable(value: Any) -> str:
    """Escaped text that may wrap inside long identifiers (``docker[seccomp=unconfined]``,
    ``requests_per_second``): a <wbr> before brackets and after separators."""
    text = _e(value)
    for mark in ("_", ",", "="):
        text = text.replace(mark, mark + "<wbr>")
    return text.replace("[", "<wbr>[")


def _f(value: float) -> str:
    """Compact SVG coordinate."""
    return f"{value:.1f}".rstrip("0").rstrip(".") if math.isfinite(value) else "0"


def _value(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def ticks(lo: float, hi: float, n: int = 5, integer: bool = False) -> tuple[list[float], float]:
    """About ``n`` round tick values covering [lo, hi], and their step (a whole number
    with ``integer``, for block axes)."""
    span = hi - lo
    if not span > 0:
        return [lo], 1.0
    raw = max(span / n, 1.0) if integer else span / n
    magnitude = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5) if integer else (1, 2, 2.5, 5)
    step = next((m * magnitude for m in steps if m * magnitude >= raw), 10 * magnitude)
    first = math.ceil(lo / step - 1e-9)
    values = []
    k = first
    while k * step <= hi + step * 1e-9:
        values.append(k * step)
        k += 1
    return values, step


def _tick_label(value: float, step: float) -> str:
    digits = max(0, -math.floor(math.log10(step) + 1e-9))
    if step * 10**digits % 1 > 1e-6:
        digits += 1
    return f"{value:,.{digits}f}"


def _pct_label(value: float, step: float) -> str:
    digits = max(0, -math.floor(math.log10(step * 100) + 1e-9))
    if step * 100 * 10**digits % 1 > 1e-6:
        digits += 1
    return f"{value * 100:+.{digits}f}%" if value else "0%"


@dataclass(frozen=True)
class Scale:
    """Linear map from data [lo, hi] to pixels [a, b]."""

    lo: float
    hi: float
    a: float
    b: float

    def __call__(self, value: float) -> float:
        if self.hi == self.lo:
            return (self.a + self.b) / 2
        clipped = min(max(value, self.lo), self.hi)
        return self.a + (clipped - self.lo) / (self.hi - self.lo) * (self.b - self.a)


def _padded(values: Iterable[float], pad: float = 0.08) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    lo, hi = min(finite), max(finite)
    if hi == lo:
        width = abs(lo) * 0.01 or 1.0
        return lo - width, hi + width
    return lo - (hi - lo) * pad, hi + (hi - lo) * pad


def _jitter(block: int, width: float) -> float:
    """Deterministic horizontal offset, the same for a block in every column (pairing)."""
    return ((block * 0.6180339887) % 1 - 0.5) * width


def _svg_open(width: int, height: int, label: str, css_class: str = "plot") -> str:
    return (f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{_e(label)}">')


def _text(x: float, y: float, text: str, anchor: str = "middle", size: int = 11,
          extra: str = "") -> str:
    return (f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}" font-size="{size}"'
            f'{extra}>{_e(text)}</text>')


def _y_axis(scale: Scale, x0: float, x1: float, label_fmt, n: int = 5) -> list[str]:
    values, step = ticks(min(scale.lo, scale.hi), max(scale.lo, scale.hi), n)
    out = []
    for v in values:
        y = scale(v)
        out.append(f'<line x1="{_f(x0)}" x2="{_f(x1)}" y1="{_f(y)}" y2="{_f(y)}" '
                   'stroke="#eaeef2"/>')
        out.append(_text(x0 - 4, y + 3.5, label_fmt(v, step), "end", 10, ' fill="#59636e"'))
    return out


def _x_axis(scale: Scale, y0: float, y1: float, label_fmt, n: int = 8) -> list[str]:
    values, step = ticks(min(scale.lo, scale.hi), max(scale.lo, scale.hi), n,
                         integer=label_fmt is _int_label)
    out = []
    for v in values:
        x = scale(v)
        out.append(f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{_f(y0)}" y2="{_f(y1)}" '
                   'stroke="#eaeef2"/>')
        out.append(_text(x, y1 + 13, label_fmt(v, step), "middle", 10, ' fill="#59636e"'))
    return out


def _int_label(value: float, step: float) -> str:
    return f"{value:.0f}"


def _cross(x: float, y: float, title: str, size: float = 3.5) -> str:
    return (f'<path d="M{_f(x - size)} {_f(y - size)}L{_f(x + size)} {_f(y + size)}'
            f'M{_f(x - size)} {_f(y + size)}L{_f(x + size)} {_f(y - size)}" '
            f'stroke="#cf222e" stroke-width="1.6"><title>{_e(title)}</title></path>')


# ----------------------------------------------------------------------------- data


@dataclass
class _Series:
    """One workload in one variant, reduced to what the report draws: values by block
    (measured and warmup), the first failures, wall times and resource metrics as compact
    arrays. Samples are read once and not kept (a run may hold 100,000 of them)."""

    variant: str
    color: str = BASELINE_COLOR
    measured: dict[int, float] = field(default_factory=dict)  # block -> value
    warmup: dict[int, float] = field(default_factory=dict)
    failed: list[tuple[int, str]] = field(default_factory=list)  # (block, reason), capped
    contaminated: int = 0  # re-taken samples (bench.guard), left out of every series
    wall: array = field(default_factory=lambda: array("d"))
    extra: dict[str, array] = field(default_factory=dict)

    def add(self, s: Sample) -> None:
        if not s.ok or s.value is None:
            if len(self.failed) < MAX_POINTS:
                self.failed.append((s.block, s.error or "no reason recorded"))
            return
        if s.warmup:
            self.warmup[s.block] = float(s.value)
            return
        if s.contaminated:
            self.contaminated += 1
            return
        self.measured[s.block] = float(s.value)
        if s.wall_s:
            self.wall.append(s.wall_s)
        for key, value in numeric_extra(s).items():
            self.extra.setdefault(key, array("d")).append(value)


@dataclass
class _Collected:
    """The run in one pass: series per workload and variant, the first failed samples."""

    series: dict[str, dict[str, _Series]] = field(default_factory=dict)
    variants: list[str] = field(default_factory=list)
    failed: list[Sample] = field(default_factory=list)  # the first MAX_FAILED_LISTED
    n_failed: int = 0
    n_samples: int = 0


def _collect(loaded: LoadedRun, summary: Summary) -> _Collected:
    out = _Collected()
    out.variants = list(dict.fromkeys([summary.baseline, *(r.variant for r in summary.rows)]))
    for sample in loaded.samples:
        out.n_samples += 1
        if sample.variant not in out.variants:
            out.variants.append(sample.variant)
        per = out.series.setdefault(sample.workload, {})
        per.setdefault(sample.variant, _Series(sample.variant)).add(sample)
        if not sample.ok:
            out.n_failed += 1
            if len(out.failed) < MAX_FAILED_LISTED:
                out.failed.append(sample)
    colors = _colors(summary.baseline, out.variants)
    for per in out.series.values():
        for series in per.values():
            series.color = colors[series.variant]
    return out


def _colors(baseline: str, variants: Sequence[str]) -> dict[str, str]:
    colors = {baseline: BASELINE_COLOR}
    others = [v for v in variants if v != baseline]
    colors.update({v: PALETTE[i % len(PALETTE)] for i, v in enumerate(others)})
    return colors


def _log_cost(value: float, better: str) -> float:
    return -math.log(value) if better == "higher" else math.log(value)


def _block_overheads(base: _Series, other: _Series, better: str) -> dict[int, float]:
    """Per paired block: exp(d_b) - 1, the variant's overhead in that block alone."""
    out = {}
    for block, value in other.measured.items():
        ref = base.measured.get(block)
        if ref is not None and ref > 0 and value > 0:
            out[block] = math.expm1(_log_cost(value, better) - _log_cost(ref, better))
    return out


def _bins(points: Sequence[tuple[int, float]], max_points: int
          ) -> list[tuple[float, float, float, float]]:
    """(x, median, min, max) per bin of consecutive points; one point per bin when small."""
    size = max(1, math.ceil(len(points) / max_points))
    out = []
    for i in range(0, len(points), size):
        chunk = points[i:i + size]
        ys = [y for _, y in chunk]
        x = statistics.fmean(x for x, _ in chunk)
        out.append((x, statistics.median(ys), min(ys), max(ys)))
    return out


def _subset(blocks: Sequence[int], limit: int) -> list[int]:
    """At most ``limit`` evenly spaced blocks (all of them when there are few)."""
    if len(blocks) <= limit:
        return list(blocks)
    step = len(blocks) / limit
    return [blocks[int(i * step)] for i in range(limit)]


# ----------------------------------------------------------------------------- plots


def _ci_range(summary: Summary) -> tuple[float, float]:
    """A common overhead axis for the table's CI bars and the mechanism chart.

    It covers the margin and most intervals; one huge effect (container start-up costs
    +1000%) would flatten every other bar, so the axis stops at 1.2x the 80th percentile
    of the interval ends and longer bars end in an arrow (their numbers are in the text).
    """
    return _range_of([r.comparison for r in summary.rows if r.comparison is not None],
                     summary.margin)


def _range_of(comparisons: Sequence[stats.Comparison], margin: float) -> tuple[float, float]:
    """The axis of :func:`_ci_range` for any set of comparisons (the ladder's steps too)."""
    ends = [abs(v) for c in comparisons for v in (c.ci95.lo, c.ci95.hi) if math.isfinite(v)]
    reach = margin * 2.5
    if ends:
        reach = max(reach, 1.2 * float(statistics.quantiles(ends, n=5)[-1])
                    if len(ends) > 1 else 1.2 * ends[0])
    values = [margin * 1.6, -margin * 1.6]
    for c in comparisons:
        values.extend(min(max(v, -reach), reach) for v in (c.ci95.lo, c.ci95.hi)
                      if not math.isnan(v))
    lo, hi = _padded(values, 0.05)
    return max(lo, -1.0), hi


def _interval_marks(x: Scale, c: stats.Comparison, y: float, color: str, radius: float,
                    thick: float) -> str:
    """95% (thin) and 90% (thick) intervals and the estimate at height y; parts beyond the
    axis end in an arrow."""
    out = [f'<line x1="{_f(x(c.ci95.lo))}" x2="{_f(x(c.ci95.hi))}" y1="{_f(y)}" y2="{_f(y)}" '
           f'stroke="{color}" stroke-width="{thick / 3:.1f}"/>',
           f'<line x1="{_f(x(c.ci90.lo))}" x2="{_f(x(c.ci90.hi))}" y1="{_f(y)}" y2="{_f(y)}" '
           f'stroke="{color}" stroke-width="{thick:.1f}" stroke-opacity=".55"/>',
           f'<circle cx="{_f(x(c.overhead))}" cy="{_f(y)}" r="{radius}" fill="{color}"/>']
    for end, side in ((c.ci95.hi, 1), (c.ci95.lo, -1)):
        edge = x.hi if side > 0 else x.lo
        if (end > edge) if side > 0 else (end < edge):
            tip = x(edge)
            out.append(f'<path d="M{_f(tip)} {_f(y)}L{_f(tip - 7 * side)} {_f(y - 4)}'
                       f'L{_f(tip - 7 * side)} {_f(y + 4)}Z" fill="{color}"/>')
    return "".join(out)


def ci_bar(comparison: stats.Comparison, lo: float, hi: float, width: int = 160,
           height: int = 22) -> str:
    """A small overhead bar: margin band, zero, 90% and 95% intervals, the estimate."""
    x = Scale(lo, hi, 4, width - 4)
    m = comparison.margin
    c = comparison
    color = VERDICT_COLOR.get(c.verdict, BASELINE_COLOR)
    title = verdict_text(c)
    mid = height / 2
    return "".join([
        _svg_open(width, height, f"overhead {pct(c.overhead)}", "cibar"),
        f"<title>{_e(title)}</title>",
        f'<rect x="{_f(x(-m))}" y="2" width="{_f(x(m) - x(-m))}" height="{height - 4}" '
        'fill="#dafbe1"/>',
        f'<line x1="{_f(x(0))}" x2="{_f(x(0))}" y1="1" y2="{height - 1}" stroke="#8c959f"/>',
        _interval_marks(x, c, mid, color, 3.5, 6),
        "</svg>",
    ])


def _mechanism_label(variant: str) -> str:
    """What a variant changes: ``docker[net=host]`` -> ``docker: net=host``."""
    if "[" not in variant:
        return f"{variant}: default settings"
    env, inner = variant.split("[", 1)
    return f"{env}: {inner.rstrip(']').replace(',', ', ')}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def forest(summary: Summary, lo: float, hi: float) -> str:
    """Overhead by mechanism: per variant, every workload's estimate with its intervals,
    and the geometric mean across the variant's workloads (METHOD §1)."""
    groups: dict[str, list[Row]] = {}
    for row in summary.rows:
        if row.comparison is not None:
            groups.setdefault(row.variant, []).append(row)
    if not groups:
        return '<p class="sub">No comparison could be made, so there is nothing to chart.</p>'
    row_h, head_h, left, width = 20, 24, 230, 860
    lines = sum(len(rows) + 1 for rows in groups.values())
    height = 30 + lines * row_h + len(groups) * head_h + 24
    x = Scale(lo, hi, left, width - 20)
    m = summary.margin
    out = [_svg_open(width, height, "overhead by mechanism")]
    top, bottom = 24, height - 24
    out.append(f'<rect x="{_f(x(-m))}" y="{top}" width="{_f(x(m) - x(-m))}" '
               f'height="{bottom - top}" fill="#dafbe1"/>')
    out.extend(_x_axis(x, top, bottom, _pct_label))
    out.append(f'<line x1="{_f(x(0))}" x2="{_f(x(0))}" y1="{top}" y2="{bottom}" '
               'stroke="#8c959f"/>')
    out.append(_text(x(0), 14, f"overhead vs {summary.baseline} (shaded: \u00b1{m * 100:g}% "
                     "margin; thick: TOST, thin: difference interval, at the adjusted level)",
                     "middle", 11, ' fill="#59636e"'))
    y = top + 4
    for variant, rows in groups.items():
        y += head_h - 6
        out.append(_text(8, y, _mechanism_label(variant), "start", 12,
                         ' font-weight="600"'))
        y += 6
        for row in rows:
            c = row.comparison
            assert c is not None
            color = VERDICT_COLOR.get(c.verdict, BASELINE_COLOR)
            cy = y + row_h / 2
            out.append(f"<g><title>{_e(f'{row.workload} {row.variant}: ' + verdict_text(c))}"
                       "</title>")
            out.append(_text(20, cy + 4, _clip(row.workload, 34), "start", 11))
            out.append(_interval_marks(x, c, cy, color, 4, 5))
            if not x.lo <= c.overhead <= x.hi:
                out.append(_text(x(c.overhead) - (8 if c.overhead > x.hi else -8), cy - 5,
                                 pct(c.overhead), "end" if c.overhead > x.hi else "start",
                                 10, f' fill="{color}"'))
            out.append("</g>")
            y += row_h
        # Start-up is seconds per container, not a cost per unit of work: never averaged
        # with steady-state overheads.
        steady = [r.comparison.overhead for r in rows
                  if r.comparison is not None and r.category != STARTUP]
        if not steady:
            continue
        gmean = stats.geometric_mean_overhead(steady)
        cy = y + row_h / 2
        gx = x(gmean)
        out.append(f'<g><title>{_e(f"{variant}: geometric mean over {len(steady)} workload(s)")}'
                   f' {_e(pct(gmean))}</title>')
        out.append(_text(20, cy + 4, f"geometric mean ({len(steady)}, start-up excluded)"
                         if len(steady) < len(rows) else f"geometric mean ({len(steady)})",
                         "start", 11, ' font-style="italic" fill="#59636e"'))
        out.append(f'<path d="M{_f(gx)} {_f(cy - 6)}L{_f(gx + 6)} {_f(cy)}L{_f(gx)} '
                   f'{_f(cy + 6)}L{_f(gx - 6)} {_f(cy)}Z" fill="#1f2328"/></g>')
        y += row_h
    out.append("</svg>")
    return "".join(out)


def pair_plot(base: _Series, other: _Series | None, y: Scale, unit: str, better: str,
              width: int = 250, height: int = 260) -> str:
    """Every sample of the baseline and one variant, a line joining each block's pair
    (``other`` None: the baseline alone)."""
    x0 = 82
    x1 = x0 + max(110, 3.4 * (len(base.variant) + len(other.variant if other else "")))
    width = max(width, math.ceil(x1 + 3.4 * len(other.variant if other else "") + 10))
    columns = [(x0, base)] if other is None else [(x0, base), (x1, other)]
    blocks = sorted({b for _, s in columns for b in s.measured})
    shown = _subset(blocks, MAX_POINTS)
    label = " vs ".join(s.variant for _, s in columns)
    out = [_svg_open(width, height, f"{label} samples")]
    out.extend(_y_axis(y, 54, width - 8, _tick_label))
    out.append(_text(10, height / 2, f"{unit} ({better} is better)", "middle", 10,
                     f' fill="#59636e" transform="rotate(-90 10 {_f(height / 2)})"'))
    bottom = height - 26
    for cx, series in columns:
        out.append(_text(cx, height - 8, series.variant, "middle", 11,
                         f' fill="{series.color}" font-weight="600"'))
    paths = []
    for block in shown if other is not None else ():
        a, b = base.measured.get(block), other.measured.get(block)
        if a is not None and b is not None:
            j = _jitter(block, 18)
            paths.append(f"M{_f(x0 + j)} {_f(y(a))}L{_f(x1 + j)} {_f(y(b))}")
    if paths and other is not None:
        out.append(f'<path d="{"".join(paths)}" stroke="{other.color}" stroke-opacity=".3" '
                   'fill="none"/>')
    for cx, series in columns:
        for block in shown:
            value = series.measured.get(block)
            if value is not None:
                out.append(f'<circle cx="{_f(cx + _jitter(block, 18))}" cy="{_f(y(value))}" '
                           f'r="2.6" fill="{series.color}"><title>{_e(series.variant)} block '
                           f"{block}: {_e(_value(value))} {_e(unit)}</title></circle>")
        for block, value in series.warmup.items():
            out.append(f'<circle cx="{_f(cx + 16)}" cy="{_f(y(value))}" r="2.6" fill="none" '
                       f'stroke="#8c959f"><title>warmup {block}: {_e(_value(value))} '
                       f"{_e(unit)} (not analysed)</title></circle>")
        for block, reason in series.failed:
            out.append(_cross(cx + _jitter(block, 18), bottom,
                              f"failed, block {block}: {reason}"))
        if series.measured:
            med = statistics.median(series.measured.values())
            out.append(f'<line x1="{_f(cx - 16)}" x2="{_f(cx + 16)}" y1="{_f(y(med))}" '
                       f'y2="{_f(y(med))}" stroke="#1f2328" stroke-width="2.5">'
                       f"<title>median {_e(_value(med))}</title></line>")
    out.append("</svg>")
    return "".join(out)


def _polyline(points: Sequence[tuple[float, float]], color: str, dashed: bool = False) -> str:
    coords = " ".join(f"{_f(px)},{_f(py)}" for px, py in points)
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    return (f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.5"'
            f'{dash}/>')


def _band(bins: Sequence[tuple[float, float, float, float]], x: Scale, y: Scale,
          color: str) -> str:
    top = [f"{_f(x(b[0]))},{_f(y(b[3]))}" for b in bins]
    low = [f"{_f(x(b[0]))},{_f(y(b[2]))}" for b in reversed(bins)]
    return (f'<polygon points="{" ".join(top + low)}" fill="{color}" fill-opacity=".15" '
            'stroke="none"/>')


def _legend(series: Sequence[_Series], left: float, right: float) -> tuple[list[str], float]:
    """Colour keys in rows that fit between left and right; returns them and their height."""
    out: list[str] = []
    x, y = left, 14.0
    for s in series:
        step = 24 + 6.5 * len(s.variant)
        if x > left and x + step > right:
            x, y = left, y + 15
        out.append(f'<rect x="{_f(x)}" y="{_f(y - 8)}" width="10" height="10" '
                   f'fill="{s.color}"/>')
        out.append(_text(x + 14, y + 1, s.variant, "start", 11))
        x += step
    return out, y + 12


def timeline(series: Sequence[_Series], y_range: tuple[float, float], unit: str,
             width: int = 520, height: int = 240) -> tuple[str, bool]:
    """Each variant's value per block, in run order (warmups shaded): reveals drift."""
    blocks = sorted({b for s in series for b in (*s.measured, *s.warmup)}
                    | {block for s in series for block, _ in s.failed})
    if not blocks:
        return "", False
    left, right = 62, width - 12
    legend, top = _legend(series, left, right)
    height += round(top) - 26
    bottom = height - 30
    x = Scale(min(blocks) - 0.5, max(blocks) + 0.5, left, right)
    y = Scale(*y_range, bottom, top)
    out = [_svg_open(width, height, "per-block timeline"), *legend]
    out.extend(_y_axis(y, left, right, _tick_label))
    out.extend(_x_axis(x, top, bottom, _int_label))
    out.append(_text((left + right) / 2, height - 2, "block (run order)", "middle", 10,
                     ' fill="#59636e"'))
    out.append(_text(12, (top + bottom) / 2, unit, "middle", 10,
                     f' fill="#59636e" transform="rotate(-90 12 {_f((top + bottom) / 2)})"'))
    if min(blocks) < 0:
        out.append(f'<rect x="{_f(x(min(blocks) - 0.5))}" y="{top}" '
                   f'width="{_f(x(-0.5) - x(min(blocks) - 0.5))}" height="{bottom - top}" '
                   'fill="#eaeef2" fill-opacity=".7"><title>warmup (not analysed)</title></rect>')
    binned = False
    for s in series:
        points = sorted({**s.warmup, **s.measured}.items())
        if len(points) > MAX_POINTS:
            binned = True
            bins = _bins(points, MAX_POINTS)
            out.append(_band(bins, x, y, s.color))
            out.append(_polyline([(x(b[0]), y(b[1])) for b in bins], s.color))
        elif points:
            out.append(_polyline([(x(b), y(v)) for b, v in points], s.color))
            out.extend(f'<circle cx="{_f(x(b))}" cy="{_f(y(v))}" r="2" fill="{s.color}"/>'
                       for b, v in points)
        for block, reason in s.failed:
            out.append(_cross(x(block), bottom - 4,
                              f"{s.variant} failed, block {block}: {reason}"))
    out.append("</svg>")
    return "".join(out), binned


def block_overhead_plot(base: _Series, others: Sequence[_Series], better: str,
                        rows: dict[str, Row], margin: float, width: int = 520,
                        height: int = 240) -> tuple[str, bool]:
    """Per block, each variant's overhead vs the baseline in that block, with the margin
    band and the run's estimate (dashed): paired differences and their drift."""
    per = {s.variant: _block_overheads(base, s, better) for s in others}
    values = [v for d in per.values() for v in d.values()]
    if not values:
        return "", False
    blocks = sorted({b for d in per.values() for b in d})
    left, right = 62, width - 12
    legend, top = _legend(others, left, right)
    height += round(top) - 26
    bottom = height - 30
    x = Scale(min(blocks) - 0.5, max(blocks) + 0.5, left, right)
    lo, hi = _padded([*values, margin * 1.3, -margin * 1.3], 0.06)
    y = Scale(max(lo, -1.0), hi, bottom, top)
    out = [_svg_open(width, height, "per-block overhead"), *legend]
    out.append(f'<rect x="{left}" y="{_f(y(margin))}" width="{right - left}" '
               f'height="{_f(y(-margin) - y(margin))}" fill="#dafbe1"/>')
    out.extend(_y_axis(y, left, right, _pct_label))
    out.extend(_x_axis(x, top, bottom, _int_label))
    out.append(f'<line x1="{left}" x2="{right}" y1="{_f(y(0))}" y2="{_f(y(0))}" '
               'stroke="#8c959f"/>')
    out.append(_text((left + right) / 2, height - 2, "block (run order)", "middle", 10,
                     ' fill="#59636e"'))
    binned = False
    for s in others:
        points = sorted(per[s.variant].items())
        if not points:
            continue
        if len(points) > MAX_POINTS:
            binned = True
            bins = _bins(points, MAX_POINTS)
            out.append(_band(bins, x, y, s.color))
            out.append(_polyline([(x(b[0]), y(b[1])) for b in bins], s.color))
        else:
            out.append(_polyline([(x(b), y(v)) for b, v in points], s.color))
            out.extend(f'<circle cx="{_f(x(b))}" cy="{_f(y(v))}" r="2" fill="{s.color}">'
                       f"<title>{_e(s.variant)} block {b}: {_e(pct(v))}</title></circle>"
                       for b, v in points)
        row = rows.get(s.variant)
        if row is not None and row.comparison is not None:
            level = y(row.comparison.overhead)
            out.append(_polyline([(left, level), (right, level)], s.color, dashed=True))
    out.append("</svg>")
    return "".join(out), binned


# ----------------------------------------------------------------------------- sections


def _badge(verdict: str | None) -> str:
    if verdict is None:
        return '<span class="badge none">no comparison</span>'
    return f'<span class="badge {VERDICT_CLASS.get(verdict, "none")}">{_e(verdict)}</span>'


def _interval(c: stats.Comparison) -> str:
    """The plain 95% interval (what "95% CI" means everywhere)."""
    def end(v: float) -> str:
        return f"{v * 100:.1f}" if math.isfinite(v) else ("+inf" if v > 0 else "-inf")

    ci = c.plain95 or c.ci95
    return f"[{end(ci.lo)}, {end(ci.hi)}]"


def _workload_info(loaded: LoadedRun) -> dict[str, dict[str, Any]]:
    return {w.get("name"): w for w in loaded.run.get("plan", {}).get("workloads", [])}


def _summary_table(summary: Summary, lo: float, hi: float) -> str:
    base = baseline_medians(summary)
    out = ['<div class="scroll"><table class="summary" id="summary-table"><thead><tr>',
           *(f"<th>{_e(h)}</th>" for h in (
               "workload", "category", "metric", "variant", f"{summary.baseline} median",
               "variant median", "overhead [95% CI]", "", "verdict", "warnings")),
           "</tr></thead><tbody>"]
    for row in summary.rows:
        if row.is_baseline:
            continue
        c = row.comparison
        verdict = c.verdict if c else None
        attrs = (f' data-workload="{_e(row.workload)}" data-variant="{_e(row.variant)}" '
                 f'data-verdict="{_e(verdict or "")}"')
        if c is not None:
            plain = c.plain95 or c.ci95
            attrs += (f' data-overhead="{c.overhead!r}" data-ci-lo="{plain.lo!r}" '
                      f'data-ci-hi="{plain.hi!r}" data-decision-lo="{c.ci95.lo!r}" '
                      f'data-decision-hi="{c.ci95.hi!r}"')
            estimate = (f'{_e(pct(c.overhead))}<br><span class="sub">{_e(_interval(c))}</span>'
                        f'<br><span class="sub">decided on {_e(decision_text(c))}</span>')
            bar = ci_bar(c, lo, hi)
            if c.verdict == "inconclusive":
                estimate += (f'<br><span class="sub">{_e(undecided_text(summary, row))}'
                             "</span>")
            elif c.verdict == "equivalent" and c.significant:
                estimate += '<br><span class="sub">significant but small</span>'
        else:
            estimate, bar = "-", ""
        plural = "s" if len(row.warnings) > 1 else ""
        warnings = (f'<details><summary class="warn">{len(row.warnings)} warning{plural}</summary>'
                    f'<ul class="warnings">{"".join(f"<li>{_e(w)}</li>" for w in row.warnings)}'
                    "</ul></details>" if row.warnings else "")
        failed = f' <span class="bad">({row.n_failed} failed)</span>' if row.n_failed else ""
        out.append(
            f'<tr{attrs}><td class="nowrap"><a href="#w{_anchor(summary, row.workload)}">'
            f"{_e(row.workload)}"
            f"</a></td><td>{_e(row.category)}</td><td>{_breakable(row.metric)}<br>"
            f'<span class="sub">{_e(row.unit)}, {_e(row.better)} is better</span></td>'
            f"<td>{_breakable(row.variant)}</td>"
            f'<td class="num">{_e(_value(base.get(row.workload)))}</td>'
            f'<td class="num">{_e(_value(row.median))}'
            f'<br><span class="sub">{row.n_ok} blocks{failed}</span></td>'
            f'<td class="num">{estimate}</td><td>{bar}</td><td>{_badge(verdict)}</td>'
            f"<td>{warnings}</td></tr>")
    out.append("</tbody></table></div>")
    if not any(not r.is_baseline for r in summary.rows):
        out.append(f'<p class="sub">Only the baseline ({_e(summary.baseline)}) has samples: '
                   "nothing to compare.</p>")
    return "".join(out)


def _anchor(summary: Summary, workload: str) -> int:
    names = list(dict.fromkeys(r.workload for r in summary.rows))
    return names.index(workload) if workload in names else len(names)


def _workload_section(summary: Summary, loaded: LoadedRun, workload: str,
                      per: dict[str, _Series], index: int) -> str:
    info = _workload_info(loaded).get(workload, {})
    metric = info.get("metric", {})
    rows = {r.variant: r for r in summary.rows if r.workload == workload}
    first = next(iter(rows.values()), None)
    better = metric.get("better") or (first.better if first else "higher")
    unit = metric.get("unit") or (first.unit if first else "")
    order = [summary.baseline, *[v for v in rows if v != summary.baseline],
             *[v for v in per if v not in rows and v != summary.baseline]]
    series = [per[v] for v in order if v in per]
    out = [f'<section class="workload" id="w{index}"><h3>{_e(workload)}</h3>']
    description = info.get("description")
    out.append(f'<p class="sub">{_e(description.rstrip(".")) + ". " if description else ""}'
               f"metric: {_e(metric.get('name', first.metric if first else 'value'))} "
               f"({_e(unit)}, {_e(better)} is better)</p>")
    verdicts = [f"<li>{_e(r.variant)}: {_badge(r.comparison.verdict)} "
                f"{_e(verdict_text(r.comparison))}</li>"
                for r in rows.values() if r.comparison is not None]
    if verdicts:
        out.append(f"<ul>{''.join(verdicts)}</ul>")
    if not series:
        return "".join([*out, "</section>"])
    values = [v for s in series for v in (*s.measured.values(), *s.warmup.values())]
    y_lo, y_hi = _padded(values)
    base = next((s for s in series if s.variant == summary.baseline), None)
    others = [s for s in series if s.variant != summary.baseline]
    figures = []
    notes = []
    y = Scale(y_lo, y_hi, 236, 12)
    pairs: list[tuple[_Series, _Series | None]] = (
        [(base, s) for s in others] if base is not None and others else [(series[0], None)])
    for a, b in pairs:
        n_blocks = len(set(a.measured) | set(b.measured if b else ()))
        if n_blocks > MAX_POINTS and not notes:
            notes.append(f"Sample plots show {MAX_POINTS} evenly spaced blocks of {n_blocks}; "
                         "the statistics use all of them.")
        caption = f"{a.variant} vs {b.variant}: every sample" if b else f"{a.variant} samples"
        figures.append(f"<figure>{pair_plot(a, b, y, unit, better)}"
                       f"<figcaption>{_e(caption)}</figcaption></figure>")
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
                           f"{_e(summary.baseline)}</figcaption></figure>")
    if binned:
        notes.append(f"More than {MAX_POINTS} blocks: each timeline point is the median of a "
                     "bin of consecutive blocks, the band its min-max.")
    out.append(f'<div class="figs">{"".join(figures)}</div>')
    if notes:
        out.append(f'<p class="caption">{_e(" ".join(notes))}</p>')
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
    return _value(value)


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
            cells.append(f'<td class="{flag}">{_e(text)}</td>')
        label = "wall time (incl. start-up)" if key == "wall_s" else key
        rows.append(f"<tr><td>{_e(label)}</td>{''.join(cells)}</tr>")
    return "".join(rows)


def _resources(data: _Collected) -> str:
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
                + "".join(f"<th>{_e(v)}</th>" for v in order) + "</tr></thead><tbody>")
        main = ["wall_s", *sorted((k for k in keys if k.rsplit(".", 1)[-1] in KEY_METRICS),
                                  key=lambda k: KEY_METRICS.index(k.rsplit(".", 1)[-1]))]
        rest = [k for k in keys if k not in main]
        out.append(f"<h3>{_e(workload)}</h3>{head}{_metric_rows(main, order, columns)}"
                   "</tbody></table></div>")
        if rest:
            out.append(f"<details><summary>all {len(rest)} other recorded metrics</summary>"
                       f"{head}{_metric_rows(rest, order, columns)}</tbody></table></div>"
                       "</details>")
    if not any_metric:
        out.insert(1, '<p class="sub">No resource metrics (CPU time, throttling, noise) were '
                      "recorded in this run; only wall time.</p>")
    return "".join(out)


def _failures(data: _Collected) -> str:
    if not data.n_failed:
        return '<p class="sub">No sample failed.</p>'
    out = [f"<p>{data.n_failed} of {data.n_samples} samples failed; they are kept in "
           "samples.jsonl and left out of the statistics.</p>",
           '<div class="scroll"><table class="failures"><thead><tr><th>workload</th>'
           "<th>variant</th><th>block</th><th>seq</th><th>exit</th><th>reason</th>"
           "</tr></thead><tbody>"]
    for s in data.failed:
        tail = s.stderr_tail or s.stdout_tail
        detail = (f"<details><summary>output</summary><pre>{_e(tail)}</pre></details>"
                  if tail else "")
        block = f"warmup {s.block}" if s.warmup else str(s.block)
        out.append(f"<tr><td>{_e(s.workload)}</td><td>{_e(s.variant)}</td>"
                   f'<td class="num">{_e(block)}</td><td class="num">{s.seq}</td>'
                   f'<td class="num">{_e(s.exit_code if s.exit_code is not None else "-")}</td>'
                   f"<td>{_e(s.error or 'no reason recorded')}{detail}</td></tr>")
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
    return ('<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(_fact_value(v))}</dd>"
                                           for k, v in items.items()) + "</dl>")


def _binaries(binaries: dict[str, dict[str, dict[str, str]]]) -> str:
    if not binaries or not any(binaries.values()):
        return '<p class="sub">No workload binary was hashed in this run.</p>'
    envs = list(binaries)
    names = sorted({b for per in binaries.values() for b in per})
    out = ['<div class="scroll"><table class="binaries"><thead><tr><th>binary</th>',
           *(f"<th>{_e(env)}</th>" for env in envs), "<th></th></tr></thead><tbody>"]
    for name in names:
        infos = [binaries[env].get(name, {}) for env in envs]
        digests = {i.get("sha256") for i in infos}
        same = len(digests) == 1 and None not in digests
        tds = []
        for info in infos:
            digest = info.get("sha256")
            where = info.get("path", "")
            text = (f'<span class="mono" title="{_e(digest)}">{_e(digest[:16])}\u2026</span>'
                    if digest else f'<span class="bad">{_e(info.get("error", "missing"))}</span>')
            tds.append(f'<td>{text}<br><span class="sub">{_e(where)}</span></td>')
        status = ("same bits" if same
                  else '<span class="bad">differs: results compare different programs</span>')
        out.append(f"<tr><td>{_e(name)}</td>{''.join(tds)}<td>{status}</td></tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _environment(loaded: LoadedRun) -> str:
    run = loaded.run
    out = ['<div class="cols"><div><h3>Host</h3>', _facts(run.get("host", {})), "</div>"]
    if run.get("engine"):
        out += ["<div><h3>Container engine</h3>", _facts(run["engine"]), "</div>"]
    if run.get("image"):
        out += ["<div><h3>Benchmark image</h3>", _facts(run["image"]), "</div>"]
    for variant, facts in run.get("environments", {}).items():
        out += [f"<div><h3>Variant {_e(variant)}</h3>", _facts(facts), "</div>"]
    out += ["</div><h3>Binary hashes (same bits)</h3>", _binaries(run.get("binaries", {}))]
    if run.get("harness_cpus") is not None:
        out.append(f'<p class="sub">harness CPUs: {_e(_fact_value(run["harness_cpus"]))}</p>')
    return "".join(out)


def _when(timestamp: Any) -> str:
    if not isinstance(timestamp, int | float):
        return "unknown"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


def _methods(summary: Summary, loaded: LoadedRun, data: _Collected) -> str:
    run = loaded.run
    plan = run.get("plan", {})
    compared = [r.comparison for r in summary.rows if r.comparison is not None]
    alphas = sorted({c.alpha for c in compared})
    adjusted = ("-" if not alphas else f"{alphas[0]:.4g}" if len(alphas) == 1
                else f"{alphas[0]:.4g} to {alphas[-1]:.4g}")
    margin_note = ""
    if plan.get("margin") is not None and not math.isclose(plan["margin"], summary.margin):
        margin_note = f" (re-analysed; the run planned \u00b1{plan['margin'] * 100:g}%)"
    items = [
        ("baseline", summary.baseline),
        ("effect", "overhead = exp(mean d_b) - 1, d_b = ln cost(variant, b) - ln cost(baseline,"
                   " b) per block; cost = 1/metric when higher is better (METHOD \u00a71)"),
        ("interval", f"decision interval = hull of the BCa bootstrap over blocks "
                     f"({stats.MIN_RESAMPLES:,} resamples, seed {plan.get('seed', 0)}) and the "
                     "Student-t interval (METHOD \u00a72)"),
        ("equivalence margin", f"\u00b1{summary.margin * 100:g}%{margin_note}: equivalent when "
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
        ("started", _when(run.get("started_at"))),
        ("finished", _when(run.get("finished_at"))),
        ("status", run.get("status", "unknown")),
    ]
    out = ['<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>"
                                          for k, v in items) + "</dl>"]
    command = run.get("command") or []
    out.append("<h3>Reproduce</h3>")
    if command:
        out.append("<p>The command that made this run:</p>"
                   f"<pre>{_e(shlex.join(str(c) for c in command))}</pre>")
    out.append("<p>The same plan (workloads, variants, CPUs, seed) again, here or on another "
               "host, and this report rebuilt from the run folder:</p>"
               f"<pre>bench run --replay {_e(shlex.quote(str(loaded.folder)))}\n"
               f"bench report {_e(shlex.quote(str(loaded.folder)))}</pre>")
    if run.get("replay_of"):
        out.append(f'<p class="sub">This run replays {_e(run["replay_of"])}.</p>')
    return "".join(out)


def _fallback(summary: Summary) -> str:
    """The banner that opens the page when Docker variants ran without Docker."""
    banner = fallback_banner(summary)
    if banner is None:
        return ""
    return f'<p class="fallback" id="fallback" role="note">{_e(banner)}</p>'


def _ladder(summary: Summary) -> str:
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
           f"\u00b1{ladder.margin * 100:g}% margin, thick: TOST, thin: difference "
           "interval, at the family-adjusted level). Cumulative: "
           "vs the workload's first rung. Share of the total: in log space, where steps add "
           f"up. {_e(ladder_correction_text(ladder))} at alpha {ladder.alpha:g}.</p>"]
    if not ladder.workloads:
        out.append('<p class="sub">No workload has data in two rungs: no step to show.</p>')
    steps = [s.comparison for w in ladder.workloads for s in w.steps
             if s.comparison is not None]
    lo, hi = _range_of(steps, ladder.margin)
    for climb in ladder.workloads:
        out.append(f'<div class="ladder-workload"><h3>{_e(climb.workload)}</h3>'
                   f'<p class="attribution">{_e(climb.attribution)}</p>'
                   '<div class="scroll"><table class="ladder"><thead><tr>'
                   + "".join(f"<th>{_e(h)}</th>" for h in (
                       "rung", "adds", "added overhead [95% CI]", "", "verdict",
                       "cumulative")) + "</tr></thead><tbody>")
        out.append(f'<tr data-workload="{_e(climb.workload)}" data-rung="{_e(climb.first)}">'
                   f"<td>{_breakable(climb.first)}</td>"
                   f'<td>{_e(ladder.descriptions.get(climb.first, climb.first))}'
                   '<br><span class="sub">first rung</span></td><td class="num">-</td>'
                   f'<td></td><td></td><td class="num">{_e(pct(0.0))}</td></tr>')
        for step in climb.steps:
            c = step.comparison
            attrs = (f' data-workload="{_e(climb.workload)}" data-rung="{_e(step.rung)}" '
                     f'data-previous="{_e(step.previous)}" data-verdict="{_e(step.verdict or "")}"')
            if step.cumulative is not None:
                attrs += f' data-cumulative="{step.cumulative!r}"'
            if c is not None:
                attrs += (f' data-overhead="{c.overhead!r}" data-ci-lo="{c.ci95.lo!r}" '
                          f'data-ci-hi="{c.ci95.hi!r}"')
                estimate = (f'{_e(pct(c.overhead))}<br><span class="sub">{_e(_interval(c))}'
                            "</span>")
                if step.share is not None:
                    estimate += (f'<br><span class="sub">{step.share * 100:.0f}% of the total'
                                 "</span>")
                bar = ci_bar(c, lo, hi)
            else:
                estimate, bar = "-", ""
            note = f'<br><span class="sub">{_e(step.note)}</span>' if step.note else ""
            cumulative = "-" if step.cumulative is None else pct(step.cumulative)
            out.append(f"<tr{attrs}><td>{_breakable(step.rung)}</td>"
                       f'<td>{_e(step.adds)}{note}</td><td class="num">{estimate}</td>'
                       f"<td>{bar}</td><td>{_badge(step.verdict)}</td>"
                       f'<td class="num">{_e(cumulative)}</td></tr>')
        out.append("</tbody></table></div></div>")
    out.append("</section>")
    return "".join(out)


def _answer(summary: Summary) -> str:
    counts = verdict_counts(summary)
    badges = "".join(f'<span class="badge {VERDICT_CLASS[v]}">{n} {_e(v)}</span>'
                     for v, n in counts.items() if n)
    status = ""
    if summary.status != "complete":
        status = (f'<p class="bad">Run status: {_e(summary.status)}; the results are '
                  "partial.</p>")
    notes = "".join(f'<p class="sub">{_e(note)}</p>'
                    for note in (native_note(summary), retake_note(summary)) if note)
    return (f'<p class="answer" id="headline">{_e(headline(summary))}</p>'
            f'<div class="counts">{badges}</div>{notes}{status}')


def render(loaded: LoadedRun, summary: Summary) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    run = loaded.run
    host = run.get("host", {})
    data = _collect(loaded, summary)
    lo, hi = _ci_range(summary)
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
        f'<meta name="generator" content="bench {_e(__version__)}">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        _fallback(summary),
        f'<p class="sub">host {_e(host.get("hostname", "?"))} \u00b7 '
        f'{_e(host.get("cpu_model", "?"))} \u00b7 kernel {_e(host.get("kernel", "?"))}'
        f' \u00b7 {_e(_when(run.get("started_at")))} \u00b7 baseline '
        f"{_e(summary.baseline)}</p>",
        "<nav>" + "".join(f'<a href="#{a}">{_e(t)}</a>' for a, t in nav) + "</nav>",
        '<section id="answer">', _answer(summary), "</section>",
        '<section id="summary"><h2>Summary</h2>',
        f'<p class="sub">Overhead of each variant vs {_e(summary.baseline)}, per unit of work '
        f"(+5% = 5% more time per event; negative = faster), with its 95% interval; bar: "
        f"green band \u00b1{summary.margin * 100:g}% margin, thick: TOST, thin: difference "
        "interval, both at the family-adjusted level the verdict used. "
        f"{_e(correction_text(summary))}.</p>",
        _summary_table(summary, lo, hi), "</section>",
        '<section id="mechanism"><h2>Overhead by mechanism</h2>',
        '<p class="sub">Each variant changes one mechanism (network, seccomp, CPU limit, ...); '
        "per variant, every workload's overhead and the geometric mean across them.</p>",
        f"<figure>{forest(summary, lo, hi)}</figure></section>",
        _ladder(summary),
        '<section id="workloads"><h2>Workloads</h2>',
        '<p class="sub">Per workload: every sample of the baseline and each variant (dots; a '
        "line joins the two samples of one block, the pair the statistics use; hollow: warmups, "
        "kept but not analysed; red crosses: failed samples; black bars: medians), the values "
        "per block in run order (a trend is drift: thermal, frequency, background load; "
        "interleaving spreads it over every variant), and each block's paired overhead "
        f"(green band: \u00b1{summary.margin * 100:g}% margin; dashed: the run's estimate).</p>",
        *(_workload_section(summary, loaded, w, data.series.get(w, {}), i)
          for i, w in enumerate(workloads)),
        "</section>",
        '<section id="resources"><h2>Resources and noise</h2>', _resources(data),
        "</section>",
        '<section id="failures"><h2>Failed samples</h2>', _failures(data), "</section>",
        '<section id="warnings"><h2>Warnings</h2>',
        ('<ul class="warnings">' + "".join(f'<li class="warn">{_e(w)}</li>' for w in warnings)
         + "</ul>") if warnings else '<p class="sub">None.</p>',
        "</section>",
        '<section id="environment"><h2>Environment</h2>', _environment(loaded), "</section>",
        '<section id="methods"><h2>Methods</h2>', _methods(summary, loaded, data), "</section>",
        f'<p class="sub">bench {_e(__version__)}; a self-contained report: no script, no '
        "network. Data: run.json and samples.jsonl in the run folder.</p>",
        "</main></body></html>\n",
    ]
    return "".join(parts)
