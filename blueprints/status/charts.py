"""Plotly figures (plain dicts) for one provider: latency p50/p95 and TTFT, uptime by day."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _

from .board import Card
from .uptime import latency_series

COLORS = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#14b8a6"]


def _layout(title: str, unit: str, **extra) -> dict:
    layout = {
        "template": "none",
        "colorway": COLORS,
        "height": 300,
        "autosize": True,
        "margin": {"l": 56, "r": 16, "t": 32, "b": 40},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "title": {"text": title, "font": {"size": 14}},
        "legend": {"orientation": "h", "y": -0.2},
        "xaxis": {"type": "date", "showgrid": False},
        "yaxis": {"title": {"text": unit}, "rangemode": "tozero", "zeroline": False},
    }
    return layout | extra


def latency_figure(card: Card, start: datetime, end: datetime) -> dict:
    """Reachability latency p50 / p95 of the provider, and TTFT of each probe model."""
    points = latency_series(card.provider.id, "", start, end)
    x = [p[0].isoformat() for p in points]
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "p50",
            "x": x,
            "y": [p[1] for p in points],
            "connectgaps": False,
            "hovertemplate": "%{y:.0f} ms<extra>p50</extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "p95",
            "x": x,
            "y": [p[2] for p in points],
            "connectgaps": False,
            "line": {"dash": "dot"},
            "hovertemplate": "%{y:.0f} ms<extra>p95</extra>",
        },
    ]
    for health in card.models:
        series = latency_series(card.provider.id, health.model, start, end)
        ttft = [(p[0].isoformat(), p[3]) for p in series if p[3] is not None]
        if ttft:
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": f"TTFT {health.model}",
                    "x": [t[0] for t in ttft],
                    "y": [t[1] for t in ttft],
                    "hovertemplate": "%{y:.0f} ms<extra>TTFT " + health.model + "</extra>",
                }
            )
    return {"data": data, "layout": _layout(_("Latency and time to first token"), "ms")}


def uptime_figure(card: Card) -> dict:
    """Uptime per UTC day over the bars' days; days without probes are left out (gaps)."""
    known = [b for b in card.bars if b.uptime is not None]
    return {
        "data": [
            {
                "type": "bar",
                "name": _("uptime"),
                "x": [b.day.isoformat() for b in known],
                "y": [round(b.uptime * 100, 3) for b in known],
                "marker": {"color": [_bar_color(b.color) for b in known]},
                "hovertemplate": "%{x}: %{y:.2f}%<extra></extra>",
            }
        ],
        "layout": _layout(
            _("Uptime by day (UTC)"), "%", yaxis={"range": [0, 100], "title": {"text": "%"}}
        ),
    }


def _bar_color(color: str) -> str:
    return {"green": "#2e9e44", "yellow": "#d49a00", "red": "#d1372e"}.get(color, "#c9cdd3")


def provider_figures(card: Card, start: datetime, end: datetime) -> dict:
    """Every figure of the provider page."""
    return {"latency": latency_figure(card, start, end), "uptime": uptime_figure(card)}
