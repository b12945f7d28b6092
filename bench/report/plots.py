"""The report's plots as inline SVG: the overhead bar of a table row, overhead by
mechanism (a forest of every comparison, with each variant's geometric mean from the
analysis), and per workload the paired samples, the per-block timeline and the per-block
overhead.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from bench import stats
from bench.analysis import Row, Summary
from bench.report.series import (
    BASELINE_COLOR,
    MAX_POINTS,
    Series,
    bin_points,
    block_overheads,
    subset,
)
from bench.report.svg import (
    Scale,
    band,
    coord,
    cross,
    escape,
    int_label,
    padded,
    pct_label,
    polyline,
    svg_open,
    svg_text,
    tick_label,
    x_axis,
    y_axis,
)
from bench.report.text import margin_text, number, pct, verdict_text

VERDICT_COLOR = {"equivalent": "#1a7f37", "overhead": "#cf222e", "faster": "#0969da",
                 "inconclusive": "#9a6700"}


def ci_range(summary: Summary) -> tuple[float, float]:
    """A common overhead axis for the table's CI bars and the mechanism chart.

    It covers the margin and most intervals; one huge effect (container start-up costs
    +1000%) would flatten every other bar, so the axis stops at 1.2x the 80th percentile
    of the interval ends and longer bars end in an arrow (their numbers are in the text).
    """
    return range_of([r.comparison for r in summary.rows if r.comparison is not None],
                    summary.margin)


def range_of(comparisons: Sequence[stats.Comparison], margin: float) -> tuple[float, float]:
    """The axis of :func:`ci_range` for any set of comparisons (the ladder's steps too)."""
    ends = [abs(v) for c in comparisons for v in (c.ci95.lo, c.ci95.hi) if math.isfinite(v)]
    reach = margin * 2.5
    if ends:
        reach = max(reach, 1.2 * float(statistics.quantiles(ends, n=5)[-1])
                    if len(ends) > 1 else 1.2 * ends[0])
    values = [margin * 1.6, -margin * 1.6]
    for c in comparisons:
        values.extend(min(max(v, -reach), reach) for v in (c.ci95.lo, c.ci95.hi)
                      if not math.isnan(v))
    lo, hi = padded(values, 0.05)
    return max(lo, -1.0), hi


def _interval_marks(x: Scale, c: stats.Comparison, y: float, color: str, radius: float,
                    thick: float) -> str:
    """95% (thin) and 90% (thick) intervals and the estimate at height y; parts beyond the
    axis end in an arrow."""
    out = [f'<line x1="{coord(x(c.ci95.lo))}" x2="{coord(x(c.ci95.hi))}" y1="{coord(y)}" '
           f'y2="{coord(y)}" stroke="{color}" stroke-width="{thick / 3:.1f}"/>',
           f'<line x1="{coord(x(c.ci90.lo))}" x2="{coord(x(c.ci90.hi))}" y1="{coord(y)}" '
           f'y2="{coord(y)}" stroke="{color}" stroke-width="{thick:.1f}" stroke-opacity=".55"/>',
           f'<circle cx="{coord(x(c.overhead))}" cy="{coord(y)}" r="{radius}" fill="{color}"/>']
    for end, side in ((c.ci95.hi, 1), (c.ci95.lo, -1)):
        edge = x.hi if side > 0 else x.lo
        if (end > edge) if side > 0 else (end < edge):
            tip = x(edge)
            out.append(f'<path d="M{coord(tip)} {coord(y)}L{coord(tip - 7 * side)} {coord(y - 4)}'
                       f'L{coord(tip - 7 * side)} {coord(y + 4)}Z" fill="{color}"/>')
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
        svg_open(width, height, f"overhead {pct(c.overhead)}", "cibar"),
        f"<title>{escape(title)}</title>",
        f'<rect x="{coord(x(-m))}" y="2" width="{coord(x(m) - x(-m))}" height="{height - 4}" '
        'fill="#dafbe1"/>',
        f'<line x1="{coord(x(0))}" x2="{coord(x(0))}" y1="1" y2="{height - 1}" stroke="#8c959f"/>',
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
    and the variant's geometric mean across its workloads (``Summary.variant_means``)."""
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
    out = [svg_open(width, height, "overhead by mechanism")]
    top, bottom = 24, height - 24
    out.append(f'<rect x="{coord(x(-m))}" y="{top}" width="{coord(x(m) - x(-m))}" '
               f'height="{bottom - top}" fill="#dafbe1"/>')
    out.extend(x_axis(x, top, bottom, pct_label))
    out.append(f'<line x1="{coord(x(0))}" x2="{coord(x(0))}" y1="{top}" y2="{bottom}" '
               'stroke="#8c959f"/>')
    out.append(svg_text(x(0), 14, f"overhead vs {summary.baseline} (shaded: {margin_text(m)} "
                        "margin; thick: TOST, thin: difference interval, at the adjusted level)",
                        "middle", 11, ' fill="#59636e"'))
    y = top + 4
    for variant, rows in groups.items():
        y += head_h - 6
        out.append(svg_text(8, y, _mechanism_label(variant), "start", 12,
                            ' font-weight="600"'))
        y += 6
        for row in rows:
            c = row.comparison
            assert c is not None
            color = VERDICT_COLOR.get(c.verdict, BASELINE_COLOR)
            cy = y + row_h / 2
            out.append(f"<g><title>{escape(f'{row.workload} {row.variant}: ' + verdict_text(c))}"
                       "</title>")
            out.append(svg_text(20, cy + 4, _clip(row.workload, 34), "start", 11))
            out.append(_interval_marks(x, c, cy, color, 4, 5))
            if not x.lo <= c.overhead <= x.hi:
                out.append(svg_text(x(c.overhead) - (8 if c.overhead > x.hi else -8), cy - 5,
                                    pct(c.overhead), "end" if c.overhead > x.hi else "start",
                                    10, f' fill="{color}"'))
            out.append("</g>")
            y += row_h
        mean = summary.variant_means.get(variant)  # start-up is left out (bench.analysis)
        if mean is None:
            continue
        cy = y + row_h / 2
        gx = x(mean.overhead)
        title = f"{variant}: geometric mean over {mean.workloads} workload(s)"
        out.append(f"<g><title>{escape(title)} {escape(pct(mean.overhead))}</title>")
        out.append(svg_text(20, cy + 4, f"geometric mean ({mean.workloads}, start-up excluded)"
                            if mean.startup else f"geometric mean ({mean.workloads})",
                            "start", 11, ' font-style="italic" fill="#59636e"'))
        out.append(f'<path d="M{coord(gx)} {coord(cy - 6)}L{coord(gx + 6)} {coord(cy)}L{coord(gx)} '
                   f'{coord(cy + 6)}L{coord(gx - 6)} {coord(cy)}Z" fill="#1f2328"/></g>')
        y += row_h
    out.append("</svg>")
    return "".join(out)


def _jitter(block: int, width: float) -> float:
    """Deterministic horizontal offset, the same for a block in every column (pairing)."""
    return ((block * 0.6180339887) % 1 - 0.5) * width


def pair_plot(base: Series, other: Series | None, y: Scale, unit: str, better: str,
              width: int = 250, height: int = 260) -> str:
    """Every sample of the baseline and one variant, a line joining each block's pair
    (``other`` None: the baseline alone)."""
    x0 = 82
    x1 = x0 + max(110, 3.4 * (len(base.variant) + len(other.variant if other else "")))
    width = max(width, math.ceil(x1 + 3.4 * len(other.variant if other else "") + 10))
    columns = [(x0, base)] if other is None else [(x0, base), (x1, other)]
    blocks = sorted({b for _, s in columns for b in s.measured})
    shown = subset(blocks, MAX_POINTS)
    label = " vs ".join(s.variant for _, s in columns)
    out = [svg_open(width, height, f"{label} samples")]
    out.extend(y_axis(y, 54, width - 8, tick_label))
    out.append(svg_text(10, height / 2, f"{unit} ({better} is better)", "middle", 10,
                        f' fill="#59636e" transform="rotate(-90 10 {coord(height / 2)})"'))
    bottom = height - 26
    for cx, series in columns:
        out.append(svg_text(cx, height - 8, series.variant, "middle", 11,
                            f' fill="{series.color}" font-weight="600"'))
    paths = []
    for block in shown if other is not None else ():
        a, b = base.measured.get(block), other.measured.get(block)
        if a is not None and b is not None:
            j = _jitter(block, 18)
            paths.append(f"M{coord(x0 + j)} {coord(y(a))}L{coord(x1 + j)} {coord(y(b))}")
    if paths and other is not None:
        out.append(f'<path d="{"".join(paths)}" stroke="{other.color}" stroke-opacity=".3" '
                   'fill="none"/>')
    for cx, series in columns:
        for block in shown:
            value = series.measured.get(block)
            if value is not None:
                out.append(f'<circle cx="{coord(cx + _jitter(block, 18))}" cy="{coord(y(value))}" '
                           f'r="2.6" fill="{series.color}"><title>{escape(series.variant)} block '
                           f"{block}: {escape(number(value))} {escape(unit)}</title></circle>")
        for block, value in series.warmup.items():
            out.append(f'<circle cx="{coord(cx + 16)}" cy="{coord(y(value))}" r="2.6" fill="none" '
                       f'stroke="#8c959f"><title>warmup {block}: {escape(number(value))} '
                       f"{escape(unit)} (not analysed)</title></circle>")
        for block, reason in series.failed:
            out.append(cross(cx + _jitter(block, 18), bottom,
                             f"failed, block {block}: {reason}"))
        if series.measured:
            med = statistics.median(series.measured.values())
            out.append(f'<line x1="{coord(cx - 16)}" x2="{coord(cx + 16)}" y1="{coord(y(med))}" '
                       f'y2="{coord(y(med))}" stroke="#1f2328" stroke-width="2.5">'
                       f"<title>median {escape(number(med))}</title></line>")
    out.append("</svg>")
    return "".join(out)


def _legend(series: Sequence[Series], left: float, right: float) -> tuple[list[str], float]:
    """Colour keys in rows that fit between left and right; returns them and their height."""
    out: list[str] = []
    x, y = left, 14.0
    for s in series:
        step = 24 + 6.5 * len(s.variant)
        if x > left and x + step > right:
            x, y = left, y + 15
        out.append(f'<rect x="{coord(x)}" y="{coord(y - 8)}" width="10" height="10" '
                   f'fill="{s.color}"/>')
        out.append(svg_text(x + 14, y + 1, s.variant, "start", 11))
        x += step
    return out, y + 12


def timeline(series: Sequence[Series], y_range: tuple[float, float], unit: str,
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
    out = [svg_open(width, height, "per-block timeline"), *legend]
    out.extend(y_axis(y, left, right, tick_label))
    out.extend(x_axis(x, top, bottom, int_label))
    out.append(svg_text((left + right) / 2, height - 2, "block (run order)", "middle", 10,
                        ' fill="#59636e"'))
    out.append(svg_text(12, (top + bottom) / 2, unit, "middle", 10,
                        f' fill="#59636e" transform="rotate(-90 12 {coord((top + bottom) / 2)})"'))
    if min(blocks) < 0:
        out.append(f'<rect x="{coord(x(min(blocks) - 0.5))}" y="{top}" '
                   f'width="{coord(x(-0.5) - x(min(blocks) - 0.5))}" height="{bottom - top}" '
                   'fill="#eaeef2" fill-opacity=".7"><title>warmup (not analysed)</title></rect>')
    binned = False
    for s in series:
        points = sorted({**s.warmup, **s.measured}.items())
        if len(points) > MAX_POINTS:
            binned = True
            bins = bin_points(points, MAX_POINTS)
            out.append(band(bins, x, y, s.color))
            out.append(polyline([(x(b[0]), y(b[1])) for b in bins], s.color))
        elif points:
            out.append(polyline([(x(b), y(v)) for b, v in points], s.color))
            out.extend(f'<circle cx="{coord(x(b))}" cy="{coord(y(v))}" r="2" fill="{s.color}"/>'
                       for b, v in points)
        for block, reason in s.failed:
            out.append(cross(x(block), bottom - 4,
                             f"{s.variant} failed, block {block}: {reason}"))
    out.append("</svg>")
    return "".join(out), binned


def block_overhead_plot(base: Series, others: Sequence[Series], better: str,
                        rows: dict[str, Row], margin: float, width: int = 520,
                        height: int = 240) -> tuple[str, bool]:
    """Per block, each variant's overhead vs the baseline in that block, with the margin
    band and the run's estimate (dashed): paired differences and their drift."""
    per = {s.variant: block_overheads(base, s, better) for s in others}
    values = [v for d in per.values() for v in d.values()]
    if not values:
        return "", False
    blocks = sorted({b for d in per.values() for b in d})
    left, right = 62, width - 12
    legend, top = _legend(others, left, right)
    height += round(top) - 26
    bottom = height - 30
    x = Scale(min(blocks) - 0.5, max(blocks) + 0.5, left, right)
    lo, hi = padded([*values, margin * 1.3, -margin * 1.3], 0.06)
    y = Scale(max(lo, -1.0), hi, bottom, top)
    out = [svg_open(width, height, "per-block overhead"), *legend]
    out.append(f'<rect x="{left}" y="{coord(y(margin))}" width="{right - left}" '
               f'height="{coord(y(-margin) - y(margin))}" fill="#dafbe1"/>')
    out.extend(y_axis(y, left, right, pct_label))
    out.extend(x_axis(x, top, bottom, int_label))
    out.append(f'<line x1="{left}" x2="{right}" y1="{coord(y(0))}" y2="{coord(y(0))}" '
               'stroke="#8c959f"/>')
    out.append(svg_text((left + right) / 2, height - 2, "block (run order)", "middle", 10,
                        ' fill="#59636e"'))
    binned = False
    for s in others:
        points = sorted(per[s.variant].items())
        if not points:
            continue
        if len(points) > MAX_POINTS:
            binned = True
            bins = bin_points(points, MAX_POINTS)
            out.append(band(bins, x, y, s.color))
            out.append(polyline([(x(b[0]), y(b[1])) for b in bins], s.color))
        else:
            out.append(polyline([(x(b), y(v)) for b, v in points], s.color))
            out.extend(f'<circle cx="{coord(x(b))}" cy="{coord(y(v))}" r="2" fill="{s.color}">'
                       f"<title>{escape(s.variant)} block {b}: {escape(pct(v))}</title></circle>"
                       for b, v in points)
        row = rows.get(s.variant)
        if row is not None and row.comparison is not None:
            level = y(row.comparison.overhead)
            out.append(polyline([(left, level), (right, level)], s.color, dashed=True))
    out.append("</svg>")
    return "".join(out), binned
