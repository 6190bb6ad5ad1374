"""The sweep's frontier chart, hand-written inline SVG: accuracy against privacy, one curve per cut.

Each cut is a line through its sigmas; Pareto points are drawn large and outlined, the
recommended point is ringed in red, and the constraints are dashed lines. Pure: every label is
escaped, nothing is read or timed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from privaudit.reports.svg import FONT
from privaudit.reports.table import format_float

__all__ = ["PALETTE", "Curve", "FrontierPoint", "frontier_chart"]

PALETTE = ("#2e86c1", "#e67e22", "#27ae60", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d",
           "#d4ac0d")  # fmt: skip
_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 660, 400, 70, 170, 30, 52


@dataclass(frozen=True)
class FrontierPoint:
    """One (cut, sigma): x the privacy measure, y the noisy accuracy (None: not measured)."""

    x: float | None
    y: float | None
    sigma: float
    pareto: bool = False
    chosen: bool = False


@dataclass(frozen=True)
class Curve:
    """One cut's points, in sigma order."""

    label: str
    points: tuple[FrontierPoint, ...]


def frontier_chart(
    curves: Sequence[Curve],
    x_label: str,
    *,
    x_line: float | None = None,
    y_line: float | None = None,
    percent_x: bool = False,
) -> str:
    """The chart as an ``<svg>`` element.

    Args:
        curves: one per cut.
        x_label: what x measures, e.g. "strongest attack's MSE (higher: more private)".
        x_line: a constraint on x, drawn dashed (e.g. the minimum attack MSE).
        y_line: a constraint on the accuracy, drawn dashed.
        percent_x: show x as a percentage (a recovered share).
    """
    title = "frontier: noisy accuracy against privacy, one line per cut"
    known = [p for c in curves for p in c.points if _ok(p.x) and _ok(p.y)]
    parts = [f'<svg viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']  # fmt: skip
    if not known:
        parts.append(f'<text x="{_W / 2}" y="{_H / 2}" text-anchor="middle" {FONT}>'
                     f"{escape(_nothing_to_draw(curves))}</text></svg>")  # fmt: skip
        return "".join(parts)
    xs = [float(p.x) for p in known if p.x is not None] + ([x_line] if x_line is not None else [])
    ys = [float(p.y) for p in known if p.y is not None] + ([y_line] if y_line is not None else [])
    sx, sy = _Scale(*_span(xs), _LEFT, _W - _RIGHT), _Scale(*_span(ys), _H - _BOTTOM, _TOP)
    parts += _axes(sx, sy, x_label, percent_x)
    parts += _constraints(sx, sy, x_line, y_line)
    for i, curve in enumerate(curves):
        parts += _curve(curve, PALETTE[i % len(PALETTE)], sx, sy)
    parts += _legend(curves)
    parts.append("</svg>")
    return "".join(parts)


def _nothing_to_draw(curves: Sequence[Curve]) -> str:
    """Why no point can be drawn: no accuracy (no labels), no privacy measure, or no pair."""
    points = [p for c in curves for p in c.points]
    # NOTE: a `--no-labels` sweep whose attacks ran read "no point has both an accuracy and an
    # attack result", which blamed the attacks
    if not any(_ok(p.y) for p in points):
        return "no accuracy was measured (no labels, or the model's output is not logits)"
    if not any(_ok(p.x) for p in points):
        return "no point has a reconstruction result"
    return "no point has both an accuracy and a reconstruction result"


def _ok(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def _span(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.1 or 0.05
    return lo - pad, hi + pad


@dataclass(frozen=True)
class _Scale:
    """Value -> pixel, linear."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, v: float) -> float:
        return self.start + (self.end - self.start) * (v - self.lo) / (self.hi - self.lo)


def _ticks(lo: float, hi: float, most: int = 6) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten apart) inside [lo, hi], at most `most`."""
    raw = (hi - lo) / most
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step)
    return [round(k * step, 12) for k in range(first, math.floor(hi / step) + 1)]


def _axes(sx: _Scale, sy: _Scale, x_label: str, percent_x: bool) -> list[str]:
    bottom, right = _H - _BOTTOM, _W - _RIGHT
    parts = [f'<line x1="{_LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#555"/>',
             f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{bottom}" stroke="#555"/>']
    for vx in _ticks(sx.lo, sx.hi):
        x = sx(vx)
        tx = f"{100 * vx:.4g}%" if percent_x else format_float(vx)
        parts.append(
            f'<line x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{bottom}" stroke="#eee"/>'
            f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="middle" {FONT}>{escape(tx)}</text>'
        )
    for vy in _ticks(sy.lo, sy.hi):
        y = sy(vy)
        parts.append(
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{_LEFT - 5}" y="{y + 4:.1f}" text-anchor="end" {FONT}>'
            f"{100 * vy:.4g}%</text>"
        )
    parts.append(f'<text x="{(_LEFT + right) / 2}" y="{_H - 12}" text-anchor="middle" {FONT}>'
                 f"{escape(x_label)}</text>")  # fmt: skip
    parts.append(f'<text x="14" y="{(_TOP + bottom) / 2}" text-anchor="middle" {FONT} '
                 f'transform="rotate(-90 14 {(_TOP + bottom) / 2})">noisy accuracy</text>')
    return parts


def _constraints(sx: _Scale, sy: _Scale, x_line: float | None,
                 y_line: float | None) -> list[str]:  # fmt: skip
    dash = 'stroke="#c0392b" stroke-width="1.5" stroke-dasharray="6,4"'
    parts = []
    if y_line is not None:
        y = sy(y_line)
        parts.append(f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_W - _RIGHT}" y2="{y:.1f}" {dash}/>')
    if x_line is not None:
        x = sx(x_line)
        parts.append(f'<line x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{_H - _BOTTOM}" {dash}/>')
    return parts


def _curve(curve: Curve, colour: str, sx: _Scale, sy: _Scale) -> list[str]:
    pts = [p for p in curve.points if _ok(p.x) and _ok(p.y)]
    xy = [(sx(float(p.x or 0.0)), sy(float(p.y or 0.0)), p) for p in pts]
    parts = []
    if len(xy) > 1:
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in xy)
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" '
                     'stroke-width="2"/>')  # fmt: skip
    for x, y, p in xy:
        big = 'r="6" stroke="#222" stroke-width="2"' if p.pareto else 'r="3.5"'
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" {big} fill="{colour}"/>')
        if p.chosen:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="11" fill="none" '
                         'stroke="#c0392b" stroke-width="2.5"/>')  # fmt: skip
        parts.append(f'<text x="{x + 7:.1f}" y="{y - 7:.1f}" fill="#555" {FONT}>'
                     f"{escape(format_float(p.sigma))}</text>")  # fmt: skip
    return parts


def _legend(curves: Sequence[Curve]) -> list[str]:
    x0, parts = _W - _RIGHT + 16, []
    for i, curve in enumerate(curves):
        y = _TOP + 8 + 18 * i
        label = curve.label if len(curve.label) <= 18 else curve.label[:17] + "…"
        parts.append(f'<rect x="{x0}" y="{y - 8}" width="12" height="12" '
                     f'fill="{PALETTE[i % len(PALETTE)]}"/><text x="{x0 + 18}" y="{y + 2}" '
                     f"{FONT}>{escape(label)}</text>")  # fmt: skip
    y = _TOP + 8 + 18 * len(curves) + 8
    parts.append(f'<circle cx="{x0 + 6}" cy="{y - 2}" r="6" fill="#fff" stroke="#222" '
                 f'stroke-width="2"/><text x="{x0 + 18}" y="{y + 2}" {FONT}>Pareto point</text>'
                 f'<circle cx="{x0 + 6}" cy="{y + 18}" r="8" fill="none" stroke="#c0392b" '
                 f'stroke-width="2.5"/><text x="{x0 + 18}" y="{y + 22}" {FONT}>recommended'
                 f'</text><text x="{x0}" y="{y + 42}" fill="#555" {FONT}>labels: sigma</text>')
    return parts
