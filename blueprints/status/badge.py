"""Shields-style SVG badges and the inline SVG day-bars and sparklines of the status page."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from markupsafe import escape

COLORS = {
    "up": "#2e9e44",
    "degraded": "#d49a00",
    "down": "#d1372e",
    "maintenance": "#3b6fd8",
    "unknown": "#8a8f98",
    "green": "#2e9e44",
    "yellow": "#d49a00",
    "red": "#d1372e",
    "grey": "#c9cdd3",
}


def _width(text: str) -> int:
    """Rough rendered width in px at 11px Verdana; wide (CJK) characters count double."""
    return sum(13 if unicodedata.east_asian_width(c) in "WF" else 7 for c in text) + 10


def badge(label: str, message: str, color: str) -> str:
    """A flat two-part badge, e.g. [relay | up], as standalone SVG."""
    left, right = _width(label), _width(message)
    fill = COLORS.get(color, color)
    label_e, message_e = escape(label), escape(message)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + right}" height="20" role="img" '
        f'aria-label="{label_e}: {message_e}"><title>{label_e}: {message_e}</title>'
        f'<rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{fill}"/>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" '
        'font-size="11">'
        f'<text x="{left / 2}" y="14">{label_e}</text>'
        f'<text x="{left + right / 2}" y="14">{message_e}</text></g></svg>'
    )


def day_bars(bars: Sequence, titles: Sequence[str]) -> str:
    """90 (or n) day bars as one inline SVG; each bar's <title> is its hover text."""
    parts = [
        f'<svg class="bars" viewBox="0 0 {len(bars) * 4} 24" preserveAspectRatio="none" '
        'role="img" aria-hidden="false">'
    ]
    for index, (bar, title) in enumerate(zip(bars, titles, strict=True)):
        parts.append(
            f'<rect x="{index * 4}" width="3" height="24" rx="1" fill="{COLORS[bar.color]}" '
            f'data-color="{bar.color}"><title>{escape(title)}</title></rect>'
        )
    parts.append("</svg>")
    return "".join(parts)


def sparkline(values: Sequence[float | None], width: int = 120, height: int = 28) -> str:
    """A latency sparkline (gaps where no data), inline SVG."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    top = max(known) or 1.0
    step = width / max(1, len(values) - 1)
    segments, current = [], []
    for index, value in enumerate(values):
        if value is None:
            if current:
                segments.append(current)
            current = []
            continue
        y = height - 2 - (value / top) * (height - 4)
        current.append(f"{index * step:.1f},{y:.1f}")
    if current:
        segments.append(current)
    lines = "".join(
        f'<polyline points="{" ".join(points)}"/>'
        if len(points) > 1
        else f'<circle cx="{points[0].split(",")[0]}" cy="{points[0].split(",")[1]}" r="2"/>'
        for points in segments
    )
    # A baseline at 0 ms, so the height reads as latency; the range on hover.
    base = f'<line x1="0" y1="{height - 1}" x2="{width}" y2="{height - 1}"/>'
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-hidden="true"><title>{min(known):.0f}–{top:.0f} ms</title>{base}{lines}</svg>'
    )
