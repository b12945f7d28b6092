"""The SVG kit of the HTML report: escaping, compact coordinates, linear scales, round
ticks and their labels, axes, and the lines and marks plots are made of, each as a string
of inline SVG (no script, no library, nothing from the network).

Every string that comes from a run (workload names, errors, facts) goes through
:func:`escape`, in the plots and the page alike, so a workload named ``<script>...`` is
shown as text.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: A tick label from the tick's value and the step between ticks.
LabelFormat = Callable[[float, float], str]


def escape(value: Any) -> str:
    """Escape anything for HTML text and attribute values."""
    return html.escape(str(value), quote=True)


def coord(value: float) -> str:
    """Compact SVG coordinate."""
    return f"{value:.1f}".rstrip("0").rstrip(".") if math.isfinite(value) else "0"


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


def tick_label(value: float, step: float) -> str:
    """A value axis label, with as many decimals as the step needs."""
    digits = max(0, -math.floor(math.log10(step) + 1e-9))
    if step * 10**digits % 1 > 1e-6:
        digits += 1
    return f"{value:,.{digits}f}"


def pct_label(value: float, step: float) -> str:
    """An overhead axis label in percent: ``+2%``, ``-0.5%``, ``0%``."""
    digits = max(0, -math.floor(math.log10(step * 100) + 1e-9))
    if step * 100 * 10**digits % 1 > 1e-6:
        digits += 1
    return f"{value * 100:+.{digits}f}%" if value else "0%"


def int_label(value: float, step: float) -> str:
    """A block axis label: the whole number."""
    return f"{value:.0f}"


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


def padded(values: Iterable[float], pad: float = 0.08) -> tuple[float, float]:
    """An axis range around the finite values, ``pad`` of their span wider on each side."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    lo, hi = min(finite), max(finite)
    if hi == lo:
        width = abs(lo) * 0.01 or 1.0
        return lo - width, hi + width
    return lo - (hi - lo) * pad, hi + (hi - lo) * pad


def svg_open(width: int, height: int, label: str, css_class: str = "plot") -> str:
    """The opening tag of an inline plot, labelled for screen readers."""
    return (f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(label)}">')


def svg_text(x: float, y: float, text: str, anchor: str = "middle", size: int = 11,
             extra: str = "") -> str:
    """A text label at (x, y); ``extra`` holds further attributes."""
    return (f'<text x="{coord(x)}" y="{coord(y)}" text-anchor="{anchor}" font-size="{size}"'
            f'{extra}>{escape(text)}</text>')


def y_axis(scale: Scale, x0: float, x1: float, label_fmt: LabelFormat, n: int = 5
           ) -> list[str]:
    """Horizontal grid lines at round ticks, labelled left of ``x0``."""
    values, step = ticks(min(scale.lo, scale.hi), max(scale.lo, scale.hi), n)
    out = []
    for v in values:
        y = scale(v)
        out.append(f'<line x1="{coord(x0)}" x2="{coord(x1)}" y1="{coord(y)}" y2="{coord(y)}" '
                   'stroke="#eaeef2"/>')
        out.append(svg_text(x0 - 4, y + 3.5, label_fmt(v, step), "end", 10, ' fill="#59636e"'))
    return out


def x_axis(scale: Scale, y0: float, y1: float, label_fmt: LabelFormat, n: int = 8
           ) -> list[str]:
    """Vertical grid lines at round ticks (whole numbers with :func:`int_label`),
    labelled below ``y1``."""
    values, step = ticks(min(scale.lo, scale.hi), max(scale.lo, scale.hi), n,
                         integer=label_fmt is int_label)
    out = []
    for v in values:
        x = scale(v)
        out.append(f'<line x1="{coord(x)}" x2="{coord(x)}" y1="{coord(y0)}" y2="{coord(y1)}" '
                   'stroke="#eaeef2"/>')
        out.append(svg_text(x, y1 + 13, label_fmt(v, step), "middle", 10, ' fill="#59636e"'))
    return out


def cross(x: float, y: float, title: str, size: float = 3.5) -> str:
    """A red cross with a tooltip: a failed sample."""
    return (f'<path d="M{coord(x - size)} {coord(y - size)}L{coord(x + size)} {coord(y + size)}'
            f'M{coord(x - size)} {coord(y + size)}L{coord(x + size)} {coord(y - size)}" '
            f'stroke="#cf222e" stroke-width="1.6"><title>{escape(title)}</title></path>')


def polyline(points: Sequence[tuple[float, float]], color: str, dashed: bool = False) -> str:
    """A line through pixel points."""
    coords = " ".join(f"{coord(px)},{coord(py)}" for px, py in points)
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    return (f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.5"'
            f'{dash}/>')


def band(bins: Sequence[tuple[float, float, float, float]], x: Scale, y: Scale,
         color: str) -> str:
    """The min-max band of binned points ``(x, median, min, max)``."""
    top = [f"{coord(x(b[0]))},{coord(y(b[3]))}" for b in bins]
    low = [f"{coord(x(b[0]))},{coord(y(b[2]))}" for b in reversed(bins)]
    return (f'<polygon points="{" ".join(top + low)}" fill="{color}" fill-opacity=".15" '
            'stroke="none"/>')
