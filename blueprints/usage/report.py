"""Everything the usage pages show, computed once per request from the rollup queries."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from blueprints.keys.family import no_balance_note, no_log_note
from blueprints.keys.models import TrackedKey
from blueprints.shared.inputs import iso_date
from database import utcnow

from . import charts, kpis, queries
from .days import day_start

RANGES = {"24h": 1, "7d": 7, "30d": 30, "90d": 90, "1y": 365}
DEFAULT_RANGE = "30d"
MAX_CUSTOM_DAYS = 366


@dataclass(frozen=True)
class Span:
    """The chosen range as local days (inclusive) plus the matching UTC instants."""

    name: str
    start: date
    end: date
    since: datetime
    until: datetime


def span_from(args, zone: tzinfo, now: datetime | None = None) -> Span:
    """A preset range (24h … 1y) or a custom from/to (ISO dates, else BadValue).

    An unknown range name, a missing date, or from after to, falls back to the default.
    """
    now = now or utcnow()
    today = now.astimezone(zone).date()
    name = args.get("range", DEFAULT_RANGE)
    if name == "custom":
        start, end = iso_date(args.get("from"), "from"), iso_date(args.get("to"), "to")
        end = min(end, today) if end else None
        if start and end and start <= end and (end - start).days < MAX_CUSTOM_DAYS:
            return Span(name, start, end, day_start(start, zone), _end_of(end, zone, now))
        name = DEFAULT_RANGE
    name = name if name in RANGES else DEFAULT_RANGE
    if name == "24h":
        return Span(
            name,
            (now - timedelta(hours=24)).astimezone(zone).date(),
            today,
            now - timedelta(hours=24),
            now,
        )
    start = today - timedelta(days=RANGES[name] - 1)
    return Span(name, start, today, day_start(start, zone), now)


def _end_of(day: date, zone: tzinfo, now: datetime) -> datetime:
    return min(now, day_start(day + timedelta(days=1), zone))


def key_report(key: TrackedKey, span: Span, zone: tzinfo, now: datetime | None = None) -> dict:
    """KPIs, reconcile and the five figures for one key over the span."""
    now = now or utcnow()
    today = now.astimezone(zone).date()
    days = queries.daily_spend([key.id], span.start, span.end, zone)
    recent = queries.daily_spend([key.id], today - timedelta(days=30), today, zone)
    source = kpis.spend_source(recent)
    burn = kpis.burn_rate(recent, 7, today=today, source=source)
    runway = kpis.runway(None if key.unlimited else key.remaining, burn, now)
    inputs = queries.reconcile_inputs(key.id, span.since, span.until)
    reconcile = kpis.reconcile(
        inputs.logged_cost,
        inputs.balance_drop,
        topup=inputs.topup,
        capped=inputs.capped,
        untracked=inputs.logged_before,
    )
    tokens = queries.tokens_by_day(key.id, span.start, span.end, zone)
    unit = key.unit or "USD"
    return {
        "span": span,
        "days": days,
        "windows": kpis.window_sums(recent, today=today, source=source),
        "source": source,
        "burn": burn,
        "runway": runway,
        "countdown": kpis.expiry_countdown(key.expires_at, now),
        "expiry_stated": key.expiry_stated,
        "no_balance": no_balance_note(key),
        "no_log": no_log_note(key),
        "reconcile": reconcile,
        "inputs": inputs,
        "figures": {
            "remaining": charts.remaining_chart(
                _thin(remaining_points(key, span), MAX_POINTS),
                key.low_threshold,
                runway,
                unit,
                tz=zone,
            ),
            "spend": charts.daily_spend_chart(
                days,
                queries.topup_hours(key.id, span.since, span.until),
                unit,
                tz=zone,
                source=source,
            ),
            "models": charts.model_spend_chart(
                queries.model_spend_by_day(key.id, span.start, span.end, zone), unit
            ),
            "tokens": charts.tokens_chart(tokens),
            "requests": charts.requests_chart(tokens),
        },
    }


# Overview table orders: runway first (the key closest to empty on top).
SORTS = {
    "runway": lambda r: (r["runway"] is None, r["runway"].days if r["runway"] else 0),
    "label": lambda r: r["key"].label.lower(),
    "remaining": lambda r: (r["key"].remaining is None, r["key"].remaining or 0),
    "today": lambda r: _most_first(r["windows"]["today"]),
    "7d": lambda r: _most_first(r["windows"]["7d"]),
    "30d": lambda r: _most_first(r["windows"]["30d"]),
}


def _most_first(amount: float | None) -> tuple[bool, float]:
    """Biggest spend first; unknown spend after every known one."""
    return amount is None, -(amount or 0.0)


def sort_rows(rows: list[dict], sort: str) -> list[dict]:
    """The overview rows in the asked order (unknown → runway)."""
    return sorted(rows, key=SORTS.get(sort, SORTS["runway"]))


def overview(
    keys: list[TrackedKey], zone: tzinfo, now: datetime | None = None, sort: str = "runway"
) -> dict:
    """My keys at a glance: totals per unit, spend windows, stacked daily spend, runway per key."""
    now = now or utcnow()
    today = now.astimezone(zone).date()
    ids = [k.id for k in keys]
    days = queries.daily_spend(ids, today - timedelta(days=29), today, zone)
    by_key: dict[int, list] = {}
    for row in days:
        by_key.setdefault(row.key_id, []).append(row)
    rows = []
    sources: dict[int, str] = {}
    for key in keys:
        mine = by_key.get(key.id, [])
        source = sources[key.id] = kpis.spend_source(mine)
        burn = kpis.burn_rate(mine, 7, today=today, source=source)
        runway = kpis.runway(None if key.unlimited else key.remaining, burn, now)
        rows.append(
            {
                "key": key,
                "windows": kpis.window_sums(mine, today=today, source=source),
                "source": source,
                "burn": burn,
                "runway": runway,
                "spark": charts.sparkline(_last_days(mine, today, 14, source)),
            }
        )
    remaining: dict[str, float] = {}
    windows: dict[str, dict[str, float]] = {"today": {}, "7d": {}, "30d": {}}
    for row in rows:
        key = row["key"]
        unit = key.unit or "USD"
        if key.remaining is not None and not key.unlimited:
            remaining[unit] = remaining.get(unit, 0.0) + key.remaining
        # Totals from the day rows at hand: no second query over every key's hours.
        for name, amount in row["windows"].items():
            if amount is not None:  # unknown spend adds nothing, and shows "—" when alone
                windows[name][unit] = windows[name].get(unit, 0.0) + amount
    dated = [r for r in rows if r["runway"] is not None]
    closest = min(dated, key=lambda r: r["runway"].days)["key"].id if dated else None
    units = {k.unit or "USD" for k in keys}
    return {
        "rows": sort_rows(rows, sort),
        "sort": sort if sort in SORTS else "runway",
        "remaining": remaining,
        "windows": windows,
        "closest": closest,
        "logged_keys": sum(1 for r in rows if r["source"] == kpis.LOGS),
        "figure": charts.overview_chart(
            days,
            {k.id: k.label for k in keys},
            units.pop() if len(units) == 1 else "USD",
            sources,
        ),
    }


# A line needs no more points than a chart is pixels wide; a year of hours is 8,760.
MAX_POINTS = 1500


def remaining_points(key: TrackedKey, span: Span) -> list:
    """Raw samples for the last 48 h only on short ranges; hourly points otherwise."""
    resolution = "auto" if (span.end - span.start).days <= 7 else "hour"
    return queries.remaining_series(key.id, span.since, span.until, resolution)


def _thin(points: list, most: int) -> list:
    """Every n-th point, always keeping the last (the current balance)."""
    if len(points) <= most:
        return points
    step = -(-len(points) // most)
    kept = points[::step]
    return kept if kept[-1] is points[-1] else [*kept, points[-1]]


def _last_days(
    rows: list, today: date, count: int, source: str = kpis.BALANCE
) -> list[float | None]:
    """Spend for each of the last `count` days, None where there is no data (a gap, not 0)."""
    spend = {row.day: kpis.day_spend(row, source) for row in rows}
    return [spend.get(today - timedelta(days=count - 1 - i)) for i in range(count)]


CSV_HEADER = (
    "day",
    "spend",
    "topup",
    "lowest_remaining",
    "requests",
    "logged_cost",
    "prompt_tokens",
    "completion_tokens",
    "unit",
)


def days_csv(days: list, unit: str | None, *, logged: bool = True) -> bytes:
    """The chosen range's daily rows, money in the key's unit, UTF-8 with a BOM.

    Unknown cells are empty, never 0: spend on a day without a reading, and every request
    column when the key's relay keeps no per-key log (`logged` False).
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for row in days:
        writer.writerow(
            (
                row.day.isoformat(),
                _cell(row.spend),
                _cell(row.topup),
                _cell(row.remaining_min),
                row.requests if logged else "",
                _cell(row.cost if logged else None),
                row.prompt_tokens if logged else "",
                row.completion_tokens if logged else "",
                row.unit or unit or "",
            )
        )
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}".rstrip("0").rstrip(".") or "0"
