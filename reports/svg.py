"""Hand-written inline SVG charts: attack MSE against the floor (log scale) and line charts."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from privaudit.reports.table import format_float

FONT = 'font-family="system-ui, sans-serif" font-size="12"'
LABEL_W, BAR_H, PLOT_W = 150, 22, 440
_XOf = Callable[[float], float]  # value -> pixel


@dataclass(frozen=True)
class Bar:
    """One row of the bar chart: a label and a value, or a note when there is no value."""

    label: str
    value: float | None
    note: str = ""
    reference: bool = False  # a reference reconstruction (prior, label, nearest), hatched grey


def _log_range(values: Sequence[float]) -> tuple[float, float]:
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    if not positive:
        return 1e-4, 1.0
    lo = math.floor(math.log10(min(positive)))
    hi = math.ceil(math.log10(max(positive)))
    return 10.0**lo, 10.0 ** max(hi, lo + 1)


def mse_chart(bars: Sequence[Bar], floor: float | None, certified: float | None) -> str:
    """Horizontal bars of each attack's MSE on a log axis, with the floor(s) as vertical lines.

    Args:
        bars: one per attack or reference; a bar without a value shows its note (e.g.
            "skipped"); reference bars are drawn hatched grey.
        floor: the MSE floor; drawn only when positive (0 = vacuous bound).
        certified: the certified floor; drawn only when positive and different from `floor`.

    Returns:
        An ``<svg>`` element; every label is escaped.
    """
    candidates = [(floor, "floor", "#c0392b"), (certified, "certified floor", "#7f8c8d")]
    marks = [(v, name, c) for v, name, c in candidates if v is not None and v > 0]
    if len(marks) == 2 and math.isclose(marks[0][0], marks[1][0]):
        marks = marks[:1]
    values = [b.value for b in bars if b.value is not None] + [v for v, _, _ in marks]
    lo, hi = _log_range(values)

    def x_of(v: float) -> float:
        clipped = min(max(v, lo), hi)
        return LABEL_W + PLOT_W * math.log10(clipped / lo) / math.log10(hi / lo)

    top, height = 40, 40 + BAR_H * len(bars) + 30
    parts = [_svg_open(LABEL_W + PLOT_W + 70, height, "attack MSE against the floor, log scale")]
    parts += _decade_ticks(lo, hi, x_of, top, top + BAR_H * len(bars))
    for i, bar in enumerate(bars):
        parts.append(_bar_row(bar, top + i * BAR_H, x_of))
    for k, (value, name, colour) in enumerate(marks):
        x, y_end = x_of(value), top + BAR_H * len(bars)
        anchor = "end" if x > LABEL_W + 0.6 * PLOT_W else "start"
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 16 - 14 * k}" x2="{x:.1f}" y2="{y_end}" '
            f'stroke="{colour}" stroke-width="2" stroke-dasharray="5,3"/>'
            f'<text x="{x + (3 if anchor == "start" else -3):.1f}" y="{top - 6 - 14 * k}" '
            f'text-anchor="{anchor}" fill="{colour}" {FONT}>{escape(name)} {format_float(value)}'
            "</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _svg_open(width: int, height: int, title: str) -> str:
    return (
        f'<svg viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    )


def _decade_ticks(lo: float, hi: float, x_of: _XOf, top: int, bottom: int) -> list[str]:
    parts = []
    for e in range(round(math.log10(lo)), round(math.log10(hi)) + 1):
        x = x_of(10.0**e)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#ddd"/>'
            f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" {FONT}>1e{e}</text>'
        )
    return parts


def _bar_row(bar: Bar, y: int, x_of: _XOf) -> str:
    label = (
        f'<text x="{LABEL_W - 8}" y="{y + 15}" text-anchor="end" {FONT}>{escape(bar.label)}</text>'
    )
    if bar.value is None:
        note = f'<text x="{LABEL_W + 4}" y="{y + 15}" fill="#888" {FONT}>{escape(bar.note)}</text>'
        return label + note
    x0, x1 = x_of(0.0), x_of(bar.value)
    fill = 'fill="#d5dbdb" stroke="#7f8c8d" stroke-dasharray="3,2"' if bar.reference else (
        'fill="#2e86c1"')
    return label + (
        f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 1.0):.1f}" height="{BAR_H - 8}" '
        f'{fill}/><text x="{x1 + 4:.1f}" y="{y + 15}" {FONT}>'
        f"{format_float(bar.value)}</text>"
    )


def line_chart(
    points: Sequence[tuple[float, float | None]], title: str, x_label: str, *, log_y: bool = False
) -> str:
    """A small line chart with dots; points whose y is None (or not positive on a log axis) drop.

    Args:
        points: (x, y) pairs, in plotting order.
        title: shown above the plot (escaped).
        x_label: shown under the x axis (escaped).
        log_y: log10 y axis.

    Returns:
        An ``<svg>`` element, or a short note in an ``<svg>`` when there is nothing to plot.
    """
    pts = [(x, y) for x, y in points if y is not None and math.isfinite(y) and (y > 0 or not log_y)]
    width, height, left, right, top, bottom = 320, 200, 70, 16, 26, 40
    parts = [_svg_open(width, height, title)]
    parts.append(f'<text x="{width / 2}" y="16" text-anchor="middle" {FONT}>{escape(title)}</text>')
    parts.append(
        f'<text x="{width / 2}" y="{height - 6}" text-anchor="middle" {FONT}>'
        f"{escape(x_label)}</text>"
    )
    if not pts:
        parts.append(f'<text x="{width / 2}" y="100" text-anchor="middle" {FONT}>no data</text>')
        return "".join(parts) + "</svg>"
    fy = math.log10 if log_y else float
    xs, ys = [p[0] for p in pts], [fy(p[1] or 0.0) for p in pts]
    x_lo, x_hi = _span(xs)
    y_lo, y_hi = _span(ys)
    pw, ph = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + pw * (x - x_lo) / (x_hi - x_lo)

    def py(y: float) -> float:
        return top + ph * (1 - (y - y_lo) / (y_hi - y_lo))

    parts += _axes(left, top, pw, ph, (x_lo, x_hi), (y_lo, y_hi), log_y)
    coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys, strict=True))
    parts.append(f'<polyline points="{coords}" fill="none" stroke="#2e86c1" stroke-width="2"/>')
    parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="#2e86c1"/>'
              for x, y in zip(xs, ys, strict=True)]  # fmt: skip
    return "".join(parts) + "</svg>"


def _span(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if math.isclose(lo, hi):
        pad = abs(lo) * 0.1 or 1.0
        return lo - pad, hi + pad
    return lo, hi


def _axes(
    left: int, top: int, pw: int, ph: int, xr: tuple[float, float], yr: tuple[float, float],
    log_y: bool,
) -> list[str]:  # fmt: skip
    parts = [
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#555"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#555"/>',
    ]
    for k in range(3):
        frac = k / 2
        xv, yv = xr[0] + frac * (xr[1] - xr[0]), yr[0] + frac * (yr[1] - yr[0])
        x, y = left + pw * frac, top + ph * (1 - frac)
        y_text = format_float(10.0**yv if log_y else yv)
        parts.append(
            f'<text x="{x:.1f}" y="{top + ph + 15}" text-anchor="middle" {FONT}>'
            f"{format_float(xv)}</text>"
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" {FONT}>{y_text}</text>'
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#eee"/>'
        )
    return parts


SIGNAL_POINTS = 400  # a signal plot draws at most this many points per line


def signal_plot(original: Sequence[float], reconstruction: Sequence[float], title: str) -> str:
    """A small plot of one signal channel: the original (dark) and its reconstruction (blue).

    Args:
        original: the true values over time (any units).
        reconstruction: the reconstructed values, same length and units.
        title: shown above the plot (escaped).

    Returns:
        An ``<svg>`` element (long signals are drawn at every k-th step).
    """
    width, height, pad, top = 240, 96, 6, 18
    n = min(len(original), len(reconstruction))
    step = max(1, math.ceil(n / SIGNAL_POINTS))
    a, b = list(original[:n:step]), list(reconstruction[:n:step])
    parts = [_svg_open(width, height, title),
             f'<text x="{pad}" y="13" {FONT}>{escape(title)}</text>']
    finite = [v for v in a + b if math.isfinite(v)]
    if len(a) < 2 or not finite:
        return "".join(parts) + "</svg>"
    lo, hi = _span(finite)

    def line(values: list[float], colour: str, dash: str = "") -> str:
        coords = " ".join(
            f"{pad + (width - 2 * pad) * i / (len(values) - 1):.1f},"
            f"{top + (height - top - pad) * (1 - (min(max(v, lo), hi) - lo) / (hi - lo)):.1f}"
            for i, v in enumerate(values) if math.isfinite(v))  # fmt: skip
        return (f'<polyline points="{coords}" fill="none" stroke="{colour}" '
                f'stroke-width="1.5"{dash}/>')

    parts += [f'<rect x="{pad}" y="{top}" width="{width - 2 * pad}" '
              f'height="{height - top - pad}" fill="none" stroke="#eee"/>',
              line(a, "#212529"), line(b, "#2e86c1", ' stroke-dasharray="4,2"')]
    return "".join(parts) + "</svg>"
