"""Plotly figures for the usage pages: pure builders on query rows, sent to the browser as JSON.

No database access here. Money is in one unit per figure (the caller never mixes units). Times
are shown in the viewer's zone (`tz`, as in queries.py); days are the local days of the rows.
static/js/charts.js draws the JSON and sets colours for light or dark mode.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime

import plotly.graph_objects as go
import plotly.io as pio
from flask_babel import gettext as _

from blueprints.shared import json_attr

from .days import Zone, strict_zone
from .kpis import BALANCE, Runway, day_spend
from .layout import BAR_WIDTH, COLORS, empty, money, no_data, plain, time_range, whole_counts
from .layout import bars as _bars
from .layout import figure as _figure
from .layout import layout as _layout
from .layout import local as _local
from .queries import DayRow, ModelDay, Point, TokenDay

MAX_MODELS = 10  # more models than this are summed into "Other"
TOPUP_COLOR = "#16a34a"
FEW_POINTS = 24  # a line of fewer readings than this gets markers: each reading shows


def figure_json(fig: go.Figure | dict) -> str:
    """Compact JSON for a data-figure attribute; <, > and & escaped so it never closes a tag."""
    if isinstance(fig, dict):
        return json_attr(fig)
    text = pio.to_json(fig, pretty=False, remove_uids=True)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def remaining_chart(
    points: Sequence[Point],
    threshold: float | None,
    runway: Runway | None,
    unit: str | None,
    *,
    tz: Zone = None,
) -> go.Figure:
    """Remaining balance over time, the low-balance threshold and a dashed projection to empty."""
    zone = strict_zone(tz)
    points = [p for p in points if unit is None or p.unit in (None, unit)]
    fig = _figure(_("Remaining"), unit, hoverformat="%Y-%m-%d %H:%M")
    if not points:
        return empty(fig)
    values = [p.remaining for p in points]
    times = [_local(p.at, zone) for p in points]
    fig.add_trace(
        go.Scatter(
            x=times,
            y=values,
            mode="lines+markers" if len(points) < FEW_POINTS else "lines",
            name=_("Remaining"),
            line={"width": 2},
            marker={"size": 7},
            hovertemplate=money(unit, values),
        )
    )
    last = points[-1]
    shown = [*times, _local(runway.empty_at, zone)] if _projects(runway, last) else times
    window = time_range(shown)
    if window:
        fig.update_xaxes(range=window)
    if _projects(runway, last):
        fig.add_trace(
            go.Scatter(
                x=[_local(last.at, zone), _local(runway.empty_at, zone)],
                y=[last.remaining, 0],
                mode="lines",
                name=_("Projection"),
                line={"dash": "dash", "width": 1.5, "color": COLORS[0]},
                hovertemplate=money(unit, values),
            )
        )
    if threshold is not None:
        fig.add_hline(
            y=threshold,
            line={"dash": "dash", "width": 1, "color": "#f59e0b"},
            label={"text": _("Low balance"), "textposition": "end", "font": {"size": 11}},
        )
    return fig


def _projects(runway: Runway | None, last: Point) -> bool:
    """A projection is drawn only towards an empty date after the last reading, from above zero."""
    return (
        runway is not None
        and runway.empty_at is not None
        and runway.empty_at > last.at
        and last.remaining > 0
    )


def daily_spend_chart(
    rows: Sequence[DayRow],
    topups: Iterable[tuple[date | datetime, float]] | None,
    unit: str | None,
    *,
    tz: Zone = None,
    source: str = BALANCE,
) -> go.Figure:
    """Spend per local day as bars (days without readings stay gaps), top-ups as markers.

    `topups` are (time or day, amount) pairs such as queries.topup_hours(); datetimes fall on
    their local day in `tz`. None takes the top-ups from the rows. `source` (kpis.BALANCE or
    kpis.LOGS) says whether a day's spend is its balance drop or its logged request costs.
    """
    rows = [
        r
        for r in rows
        if day_spend(r, source) is not None and (unit is None or r.unit in (None, unit))
    ]
    fig = _figure(_("Spend"), unit, days=[r.day for r in rows])
    if not rows:
        return empty(fig)
    spend = {r.day: day_spend(r, source) for r in rows}
    fig.add_trace(_bars(list(spend), list(spend.values()), _("Spend"), unit))
    by_day: dict[date, float] = defaultdict(float)
    if topups is None:
        topups = [(r.day, r.topup) for r in rows if r.topup]
    zone = strict_zone(tz)
    for when, amount in topups:
        if amount and amount > 0:
            by_day[when.astimezone(zone).date() if isinstance(when, datetime) else when] += amount
    if by_day:
        days = sorted(by_day)
        amounts = [by_day[d] for d in days]
        fig.add_trace(
            go.Scatter(
                x=[d.isoformat() for d in days],
                y=[
                    spend.get(d, 0.0) for d in days
                ],  # on top of the day's bar, not on its own scale
                customdata=amounts,
                mode="markers",
                name=_("Top-up"),
                marker={"symbol": "triangle-up", "size": 12, "color": TOPUP_COLOR},
                hovertemplate="+" + money(unit, amounts, "customdata"),
            )
        )
    return fig


def model_spend_chart(rows: Sequence[ModelDay], unit: str | None) -> go.Figure:
    """Logged spend per model, stacked by day; the most expensive models first."""
    rows = [r for r in rows if unit is None or r.unit in (None, unit)]
    totals: dict[str, float] = defaultdict(float)
    for row in rows:
        totals[row.model] += row.cost or 0.0
    ranked = sorted(totals, key=lambda m: (-totals[m], m))
    keep = set(ranked[:MAX_MODELS] if len(ranked) <= MAX_MODELS else ranked[: MAX_MODELS - 1])
    other = _("Other")
    series: dict[str, dict[date, float]] = {m: {} for m in ranked if m in keep}
    for row in rows:
        name = row.model if row.model in keep else other
        day_costs = series.setdefault(name, {})
        day_costs[row.day] = day_costs.get(row.day, 0.0) + (row.cost or 0.0)
    fig = _figure(_("Spend"), unit, days=[r.day for r in rows], barmode="stack")
    for name, costs in series.items():
        days = sorted(costs)
        label = name if name is other else plain(name or "?")
        fig.add_trace(_bars(days, [costs[d] for d in days], label, unit))
    return fig if rows else empty(fig)


def tokens_chart(rows: Sequence[TokenDay]) -> go.Figure:
    """Prompt and completion tokens per local day, stacked."""
    fig = _figure(_("Tokens"), None, days=[r.day for r in rows], barmode="stack")
    if not rows:
        return empty(fig)
    days = [r.day for r in rows]
    fig.add_trace(_bars(days, [r.prompt_tokens for r in rows], _("Prompt"), None))
    fig.add_trace(_bars(days, [r.completion_tokens for r in rows], _("Completion"), None))
    return fig


def requests_chart(rows: Sequence[TokenDay | DayRow]) -> go.Figure:
    """Logged requests per local day."""
    rows = [r for r in rows if r.requests]
    fig = _figure(_("Requests"), None, days=[r.day for r in rows])
    if not rows:
        return empty(fig)
    fig.add_trace(_bars([r.day for r in rows], [r.requests for r in rows], _("Requests"), None))
    return whole_counts(fig, [r.requests for r in rows])


def overview_chart(
    rows: Sequence[DayRow],
    labels: Mapping[int, str],
    unit: str | None,
    sources: Mapping[int, str] | None = None,
) -> dict:
    """Daily spend of several keys, stacked by key; the biggest spenders first.

    `sources` says per key id where its spend comes from (kpis.BALANCE when absent). A plain
    figure dict, not a go.Figure: with 200 keys, Plotly's per-trace validation alone costs
    more than the whole page may take.
    """
    sources = sources or {}

    def spend(row: DayRow) -> float | None:
        return day_spend(row, sources.get(row.key_id, BALANCE))

    rows = [r for r in rows if spend(r) is not None and (unit is None or r.unit in (None, unit))]
    per_key: dict[int, dict[date, float]] = defaultdict(dict)
    for row in rows:
        per_key[row.key_id][row.day] = per_key[row.key_id].get(row.day, 0.0) + spend(row)
    layout = _layout(_("Spend"), unit, days=[r.day for r in rows], barmode="stack")
    data = []
    for key_id in sorted(per_key, key=lambda k: (-sum(per_key[k].values()), k)):
        days = sorted(per_key[key_id])
        values = [per_key[key_id][d] for d in days]
        data.append(
            {
                "type": "bar",
                "x": [d.isoformat() for d in days],
                "y": values,
                "name": plain(labels.get(key_id) or f"#{key_id}"),
                "width": [BAR_WIDTH] * len(days),
                "hovertemplate": money(unit, values) if unit else "%{y:,.0f}",
            }
        )
    if not rows:
        layout["xaxis"]["visible"] = layout["yaxis"]["visible"] = False
        layout["annotations"] = [no_data()]
    return {"data": data, "layout": layout}


def sparkline(values: Sequence[float | None], width: int = 120, height: int = 32) -> list[str]:
    """SVG polyline point lists for a tiny line (None breaks the line: a gap, not a zero).

    Drawn as inline SVG, not Plotly: /usage shows one per key, and 200 Plotly figures cost
    over a second to build and draw.
    """
    known = [v for v in values if v is not None]
    if not known:
        return []
    low, high = min(known), max(known)
    scale = (height - 4) / (high - low) if high > low else 0.0
    step = (width - 2) / max(1, len(values) - 1)
    lines: list[list[str]] = [[]]
    for i, value in enumerate(values):
        if value is None:
            if lines[-1]:
                lines.append([])
            continue
        y = height - 2 - (value - low) * scale if scale else height / 2
        lines[-1].append(f"{1 + i * step:.1f},{y:.1f}")
    return [" ".join(points) for points in lines if points]
