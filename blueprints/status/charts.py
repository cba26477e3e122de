"""Plotly figures (plain dicts) for one provider: latency p50/p95 and TTFT, uptime by day."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import get_timezone
from flask_babel import gettext as _
from markupsafe import escape

from blueprints.shared.times import zone_note

from .board import Card
from .uptime import latency_series

MIN_DAYS = 7  # the uptime chart spans at least a week: one day alone is not a 24-hour axis

COLORS = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#14b8a6"]


def _layout(title: str, unit: str, traces: int = 2, **extra) -> dict:
    """The common layout. The legend sits at the foot of the figure (not of the plot), with room
    for a phone's two entries a row, so rotated date ticks never run into it."""
    rows = -(-traces // 2)
    layout = {
        "template": "none",
        "colorway": COLORS,
        "height": 300 + 22 * rows,
        "autosize": True,
        "margin": {"l": 56, "r": 16, "t": 48, "b": 56 + 22 * rows},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "title": {"text": title, "font": {"size": 14}},
        "legend": {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0},
        "xaxis": {"type": "date", "showgrid": False, "automargin": True, "nticks": 6},
        "yaxis": {"title": {"text": unit}, "rangemode": "tozero", "zeroline": False},
    }
    return layout | extra


def _local(at: datetime) -> str:
    """A moment as the viewer's wall-clock time (Plotly draws date strings as they are)."""
    return at.astimezone(get_timezone()).replace(tzinfo=None).isoformat()


def _marker_sizes(values: list) -> list[int]:
    """A visible marker on each point with no neighbour to draw a line to; none elsewhere."""
    last = len(values) - 1
    return [
        0
        if v is None
        or (i > 0 and values[i - 1] is not None)
        or (i < last and values[i + 1] is not None)
        else 7
        for i, v in enumerate(values)
    ]


def _line(name: str, x: list[str], y: list, hover: str, **extra) -> dict:
    return {
        "type": "scatter",
        "mode": "lines+markers",
        "name": name,
        "x": x,
        "y": y,
        "connectgaps": False,
        "marker": {"size": _marker_sizes(y)},
        "hovertemplate": hover,
    } | extra


def latency_figure(card: Card, start: datetime, end: datetime) -> dict:
    """Reachability latency p50 / p95 of the provider, and TTFT of each probe model.

    The x axis is the whole chosen range in the viewer's zone, so one point is not stretched to
    a hair-thin axis ("23:59:59.9996"), and a lone point gets a marker instead of no line.
    """
    points = latency_series(card.provider.id, "", start, end)
    x = [_local(p[0]) for p in points]
    data = [
        _line("p50", x, [p[1] for p in points], "%{y:.0f} ms<extra>p50</extra>"),
        _line(
            "p95", x, [p[2] for p in points], "%{y:.0f} ms<extra>p95</extra>", line={"dash": "dot"}
        ),
    ]
    for health in card.models:
        series = latency_series(card.provider.id, health.model, start, end)
        ttft = [(_local(p[0]), p[3]) for p in series if p[3] is not None]
        if ttft:
            data.append(
                _line(
                    f"TTFT {health.model}",
                    [t[0] for t in ttft],
                    [t[1] for t in ttft],
                    "%{y:.0f} ms<extra>TTFT " + health.model + "</extra>",
                )
            )
    # The zone under the title: an axis title would collide with rotated ticks on a phone.
    # (gettext calls stay outside f-strings: pybabel does not look inside them.)
    title = _("Latency and time to first token")
    zone = escape(_("Times in %(zone)s.", zone=zone_note()))
    layout = _layout(f"{title}<br><sub>{zone}</sub>", "ms", len(data))
    layout["xaxis"] |= {"range": [_local(start), _local(end)]}
    return {"data": data, "layout": layout}


def uptime_figure(card: Card) -> dict:
    """Uptime per UTC day, stacked on its downtime: every measured day is a full bar, so a day
    down throughout (0 %) is a red bar, not nothing. Days without probes are left out (gaps)."""
    known = [b for b in card.bars if b.uptime is not None]
    x = [b.day.isoformat() for b in known]
    up = [round(b.uptime * 100, 3) for b in known]
    hover = "%{x}: %{customdata:.2f}%<extra></extra>"
    # A day wide less a gap, in ms: Plotly makes a lone bar a hairline otherwise.
    common = {"type": "bar", "x": x, "width": 0.8 * 86_400_000, "customdata": up}
    common |= {"hovertemplate": hover}
    last = card.bars[-1].day if card.bars else None
    first = min((b.day for b in known), default=last)
    layout = _layout(
        _("Uptime by day (UTC)"),
        "%",
        barmode="stack",
        yaxis={"range": [0, 100], "title": {"text": "%"}, "fixedrange": True},
    )
    if last is not None:
        first = min(first, last - timedelta(days=MIN_DAYS - 1))
        # Half a day either side of the first and last day: whole bars, no sub-day ticks.
        span = [f"{first - timedelta(days=1)} 12:00", f"{last} 12:00"]
        layout["xaxis"] |= {"range": span, "dtick": 86400000 * _tick(last - first)}
    return {
        "data": [
            common
            | {
                "name": _("uptime"),
                "y": up,
                "marker": {"color": [_bar_color(b.color) for b in known]},
            },
            common
            | {
                "name": _("downtime"),
                "y": [round(100 - u, 3) for u in up],
                "marker": {"color": "rgba(209, 55, 46, 0.55)"},
            },
        ],
        "layout": layout,
    }


def _tick(span: timedelta) -> int:
    """Days between x ticks: daily for a week, then sparser (never a tick per hour)."""
    return 1 if span.days <= 10 else 7 if span.days <= 70 else 14


def _bar_color(color: str) -> str:
    return {"green": "#2e9e44", "yellow": "#d49a00", "red": "#d1372e"}.get(color, "#c9cdd3")


def provider_figures(card: Card, start: datetime, end: datetime) -> dict:
    """Every figure of the provider page."""
    return {"latency": latency_figure(card, start, end), "uptime": uptime_figure(card)}
