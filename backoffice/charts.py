"""Tiny server-side SVG charts for the dashboard: no JavaScript library, no CDN.

The x axis spans the chart's whole window (not just the buckets that have data) with ticks
on round hours or days, each labelled once; the y axis starts at 0 and has round ticks
labelled as people write numbers ("1,500", "0.25", never "00705").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

W, H = 600, 210
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 26, 40
COLOURS = ("#2563eb", "#dc2626", "#059669")


@dataclass(frozen=True)
class Series:
    label: str
    points: list[tuple[datetime, float]]


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """0 and `count` round steps (1, 2, 2.5 or 5 x 10^k) reaching at least `top`."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    n = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(n + 1)]


def format_number(value: float, step: float) -> str:
    """A tick label: thousands separators, as many decimals as the step needs."""
    decimals = 0 if step >= 1 else min(6, max(0, -math.floor(math.log10(step)) + 1))
    text = f"{value:,.{decimals}f}"
    if decimals:
        text = text.rstrip("0").rstrip(".")
    return text


def time_ticks(start: datetime, end: datetime, bucket: str) -> list[tuple[datetime, str]]:
    """Round instants inside [start, end] with labels that never repeat."""
    if bucket == "hour":
        first = start.replace(minute=0, second=0, microsecond=0)
        hours = max(1, math.ceil((end - start).total_seconds() / 3600 / 6))
        step = timedelta(hours=hours)
        first += timedelta(hours=(-first.hour) % hours)
    else:
        first = start.replace(hour=0, minute=0, second=0, microsecond=0)
        days = max(1, math.ceil((end - start).days / 7))
        step = timedelta(days=days)
    ticks: list[tuple[datetime, str]] = []
    at, last_day = first, None
    while at <= end:
        if at >= start:
            if bucket == "hour":
                day = at.date()
                label = at.strftime("%H:%M") if day == last_day else at.strftime("%b %d %H:%M")
                last_day = day
            else:
                label = at.strftime("%b %d")
            ticks.append((at, label))
        at += step
    return ticks


def line_chart(series: list[Series], *, start: datetime, end: datetime, bucket: str,
               unit: str = "") -> SafeString:
    """An SVG line chart of up to three series over [start, end] with labelled axes."""
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    span = (end - start).total_seconds() or 1.0
    values = [v for s in series for _, v in s.points]
    ticks = nice_ticks(max(values, default=0.0))
    top, step = ticks[-1], ticks[1] - ticks[0]

    def sx(t: datetime) -> float:
        return LEFT + (t - start).total_seconds() / span * plot_w

    def sy(v: float) -> float:
        return TOP + plot_h - v / top * plot_h

    parts = [f'<svg class="ops-chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
             f'font-family="system-ui, sans-serif" font-size="11">']
    for v in ticks:
        y = sy(v)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" '
                     f'stroke="#e5e7eb"/>')
        parts.append(f'<text class="y-tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
                     f'fill="#374151">{escape(format_number(v, step))}</text>')
    if unit:
        parts.append(f'<text x="{LEFT - 6}" y="{TOP - 10}" text-anchor="end" fill="#6b7280">'
                     f'{escape(unit)}</text>')
    base_y = TOP + plot_h
    parts.append(f'<line x1="{LEFT}" y1="{base_y}" x2="{W - RIGHT}" y2="{base_y}" stroke="#9ca3af"/>')
    for at, label in time_ticks(start, end, bucket):
        x = sx(at)
        parts.append(f'<line x1="{x:.1f}" y1="{base_y}" x2="{x:.1f}" y2="{base_y + 4}" '
                     f'stroke="#9ca3af"/>')
        parts.append(f'<text class="x-tick" x="{x:.1f}" y="{base_y + 17}" text-anchor="middle" '
                     f'fill="#374151">{escape(label)}</text>')
    if not values:
        parts.append(f'<text x="{LEFT + plot_w / 2:.0f}" y="{TOP + plot_h / 2:.0f}" '
                     'text-anchor="middle" fill="#6b7280">no data in this period</text>')
    for i, s in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        pts = sorted(s.points)
        if len(pts) > 1:
            coords = " ".join(f"{sx(t):.1f},{sy(v):.1f}" for t, v in pts)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                         f'points="{coords}"/>')
        for t, v in pts:
            parts.append(f'<circle cx="{sx(t):.1f}" cy="{sy(v):.1f}" r="3" fill="{colour}">'
                         f'<title>{escape(s.label)} {escape(t.strftime("%Y-%m-%d %H:%M %Z"))}: '
                         f'{escape(format_number(v, step / 100))}</title></circle>')
        if s.label:
            lx = LEFT + i * 130
            parts.append(f'<rect x="{lx}" y="{H - 13}" width="10" height="10" fill="{colour}"/>')
            parts.append(f'<text class="legend" x="{lx + 14}" y="{H - 4}" fill="#374151">'
                         f'{escape(s.label)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
