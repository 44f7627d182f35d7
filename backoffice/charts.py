"""Tiny server-side SVG charts for the dashboard: no JavaScript library, no CDN."""

from __future__ import annotations

from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

W, H, PAD = 560, 180, 36


def line_chart(points: list[tuple[datetime, float]],
               points2: list[tuple[datetime, float]] | None = None,
               *, labels: tuple[str, str] = ("", "")) -> SafeString:
    """An SVG polyline chart of one or two series over time, with axes and min/max labels."""
    series = [s for s in (points, points2 or []) if s]
    if not series:
        return mark_safe(f'<svg class="chart" width="{W}" height="{H}" role="img">'
                         f'<text x="{W // 2}" y="{H // 2}" text-anchor="middle" fill="#888">'
                         'no data yet</text></svg>')
    xs = [p[0].timestamp() for s in series for p in s]
    ys = [p[1] for s in series for p in s]
    x0, x1 = min(xs), max(xs)
    y1 = max(max(ys), 1.0)
    span = (x1 - x0) or 1.0

    def sx(t: float) -> float:
        return PAD + (t - x0) / span * (W - 2 * PAD)

    def sy(v: float) -> float:
        return H - PAD + 10 - v / y1 * (H - 2 * PAD)

    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img">',
             f'<line x1="{PAD}" y1="{H - PAD + 10}" x2="{W - PAD}" y2="{H - PAD + 10}" stroke="#999"/>',
             f'<line x1="{PAD}" y1="{PAD - 10}" x2="{PAD}" y2="{H - PAD + 10}" stroke="#999"/>',
             f'<text x="{PAD - 4}" y="{PAD - 6}" text-anchor="end" font-size="10">{y1:g}</text>',
             f'<text x="{PAD - 4}" y="{H - PAD + 10}" text-anchor="end" font-size="10">0</text>']
    for colour, s in zip(("#417690", "#c0392b"), series, strict=False):
        coords = " ".join(f"{sx(t.timestamp()):.1f},{sy(v):.1f}" for t, v in s)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>')
        for t, v in s:
            parts.append(f'<circle cx="{sx(t.timestamp()):.1f}" cy="{sy(v):.1f}" r="2.5" '
                         f'fill="{colour}"><title>{escape(t.isoformat())}: {v:g}</title></circle>')
    first, last = series[0][0][0], series[0][-1][0]
    parts.append(f'<text x="{PAD}" y="{H - 4}" font-size="10">{escape(first.strftime("%m-%d %H:%M"))}</text>')
    parts.append(f'<text x="{W - PAD}" y="{H - 4}" font-size="10" text-anchor="end">'
                 f'{escape(last.strftime("%m-%d %H:%M"))}</text>')
    for i, (colour, label) in enumerate(zip(("#417690", "#c0392b"), labels, strict=False)):
        if label and i < len(series):
            parts.append(f'<text x="{W - PAD - 150 + i * 80}" y="{PAD - 14}" font-size="10" '
                         f'fill="{colour}">{escape(label)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
