"""Inline SVG charts for the weekly report: self-contained, print-safe, Swedish labels.

Each chart scales to the page width (``viewBox``); colours keep their meaning in
grey print through shape as well (a dashed forecast, hatched missing weeks).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from engine.analysis import sv

W, H = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 34, 34
BLUE, GREY, RED, FORECAST = "#1f5fbf", "#c8c8c8", "#c0392b", "#7a7a7a"


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _open(title: str, height: int = H) -> list[str]:
    return [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" '
        f'width="100%" role="img" aria-label="{_esc(title)}">',
        f"<title>{_esc(title)}</title>",
        f'<text x="{LEFT}" y="18" font-size="14" font-weight="bold">{_esc(title)}</text>',
    ]


def _xs(n: int) -> list[float]:
    step = (W - LEFT - RIGHT) / max(1, n)
    return [LEFT + step * (i + 0.5) for i in range(n)]


def quality_chart(
    weeks: Sequence[tuple[str, float | None]], title: str, forecast: tuple[str, float] | None = None
) -> str:
    """Average quality per week on a 0–1 axis; weeks without calls leave a gap; a dashed forecast."""
    labels = [w for w, _ in weeks] + ([forecast[0]] if forecast else [])
    xs = _xs(len(labels))

    def y(v: float) -> float:
        return TOP + (1 - v) * (H - TOP - BOTTOM)

    parts = _open(title)
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#e2e2e2"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end">{sv.number(tick, 2)}</text>'
        )
    for x, label in zip(xs, labels, strict=True):
        parts.append(
            f'<text x="{x:.1f}" y="{H - 12}" font-size="11" text-anchor="middle">{_esc(label)}</text>'
        )
    segment: list[str] = []
    last: tuple[float, float] | None = None
    for x, (_, v) in zip(xs, weeks, strict=False):
        if v is None:
            parts.append(f'<rect x="{x - 6:.1f}" y="{H - BOTTOM - 8}" width="12" height="8" fill="{GREY}"/>')
            if len(segment) > 1:
                parts.append(_line(segment, BLUE))
            segment = []
            continue
        segment.append(f"{x:.1f},{y(v):.1f}")
        last = (x, y(v))
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y(v):.1f}" r="4" fill="{BLUE}"><title>{sv.number(v, 2)}</title></circle>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{y(v) - 9:.1f}" font-size="10" text-anchor="middle">{sv.number(v, 2)}</text>'
        )
    if len(segment) > 1:
        parts.append(_line(segment, BLUE))
    if forecast and last:
        fx, fy = xs[-1], y(forecast[1])
        parts.append(
            f'<line x1="{last[0]:.1f}" y1="{last[1]:.1f}" x2="{fx:.1f}" y2="{fy:.1f}" stroke="{FORECAST}" '
            'stroke-width="2" stroke-dasharray="5 4"/>'
        )
        parts.append(
            f'<circle cx="{fx:.1f}" cy="{fy:.1f}" r="4" fill="white" stroke="{FORECAST}" stroke-width="2">'
            f"<title>prognos {sv.number(forecast[1], 2)}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _line(points: list[str], colour: str) -> str:
    return f'<polyline fill="none" stroke="{colour}" stroke-width="2.5" points="{" ".join(points)}"/>'


def count_chart(weeks: Sequence[tuple[str, int]], title: str) -> str:
    """Calls per week as columns, each labelled with its count."""
    xs = _xs(len(weeks))
    top = max([1, *(v for _, v in weeks)])
    width = max(6.0, min(40.0, (W - LEFT - RIGHT) / max(1, len(weeks)) * 0.6))
    parts = _open(title)
    base = H - BOTTOM
    for x, (label, value) in zip(xs, weeks, strict=True):
        h = (base - TOP - 14) * value / top
        parts.append(
            f'<rect x="{x - width / 2:.1f}" y="{base - h:.1f}" width="{width:.1f}" height="{h:.1f}" fill="{BLUE}">'
            f"<title>{sv.calls(value)}</title></rect>"
        )
        parts.append(
            f'<text x="{x:.1f}" y="{base - h - 4:.1f}" font-size="11" text-anchor="middle">{sv.integer(value)}</text>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{H - 12}" font-size="11" text-anchor="middle">{_esc(label)}</text>'
        )
    parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{base}" y2="{base}" stroke="#999"/>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(bars: Sequence[tuple[str, int]], title: str) -> str:
    """Horizontal bars (negative mentions per department), longest first."""
    rows = list(bars)[:10] or [("–", 0)]
    height = TOP + 26 * len(rows) + 6
    top = max(1, max(v for _, v in rows))
    label_w = 170
    parts = _open(title, height)
    for i, (label, value) in enumerate(rows):
        yy = TOP + i * 26
        width = (W - label_w - 60) * value / top
        parts.append(
            f'<text x="{label_w - 8}" y="{yy + 14}" font-size="12" text-anchor="end">{_esc(label)}</text>'
        )
        parts.append(f'<rect x="{label_w}" y="{yy}" width="{width:.1f}" height="18" fill="{RED}"/>')
        parts.append(
            f'<text x="{label_w + width + 6:.1f}" y="{yy + 14}" font-size="12">{sv.integer(value)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
