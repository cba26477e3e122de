"""What the usage pages read: local days, series and windows, all from the rollups.

Day queries read the daily rollups when the zone's days are stored (daily.py), else they group
the hourly rows by local day; both give the same rows.

Days are local days in the given zone (days.py tells how, and about half-hour zones); `tz` is
an IANA name, a tzinfo or None (UTC), and an unknown name raises ValueError. A day with no
rollup rows is left out (a gap, not a zero). `start` and `end` days are inclusive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import NamedTuple

from sqlalchemy import case, func, select

from blueprints.keys.models import BalanceSample
from database import db

from . import daily
from .days import HOUR, Zone, day_from_index, day_start, hour_of, local_day, span, strict_zone
from .models import BalanceDay, BalanceHour, UsageDay, UsageHour

RAW_WINDOW = timedelta(hours=48)  # remaining_series shows raw samples this far back from `end`
DAY_TABLES = {BalanceHour: BalanceDay, UsageHour: UsageDay}
WINDOWS = {"today": 1, "7d": 7, "30d": 30}


@dataclass
class DayRow:
    """One key's local day. spend/topup are None when the key was not polled that day."""

    key_id: int
    day: date
    unit: str | None = None
    spend: float | None = None
    topup: float | None = None
    remaining_min: float | None = None
    samples: int = 0
    requests: int = 0
    cost: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_tokens: int = 0


class Point(NamedTuple):
    """A point of the remaining-balance line."""

    at: datetime
    remaining: float
    unit: str | None


class ModelDay(NamedTuple):
    """Logged requests of one model on one local day."""

    day: date
    model: str
    requests: int
    cost: float
    unit: str


class TokenDay(NamedTuple):
    """Logged tokens and requests on one local day."""

    day: date
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cache_tokens: int


class ReconcileInputs(NamedTuple):
    """What kpis.reconcile needs for one key and window."""

    logged_cost: float | None  # None: no request log was ever ingested for the key
    balance_drop: float | None  # net: spend - top-ups; None without balance hours
    spend: float
    topup: float
    capped: bool  # the ingested log starts after the window does
    tracked_from: datetime | None = None  # the first hour with a balance reading, ever
    logged_before: float = 0.0  # logged cost inside the window before tracked_from


def _days(hours, start: date, end: date, tz: tzinfo):
    """(table, its local-day column, where clauses) over days start..end: day rows if stored."""
    name = daily.stored(tz)
    if name is not None:
        table = DAY_TABLES[hours]
        return table, table.day, (table.zone == name, table.day >= start, table.day <= end)
    lo, hi = span(start, end, tz)
    day = local_day(hours.hour_start, lo, hi, tz)
    return hours, day, (hours.hour_start >= lo, hours.hour_start < hi)


def _date(day: date | int) -> date:
    """A day column's value: a date from a day table, a days-since-1970 index from hours."""
    return day if isinstance(day, date) else day_from_index(day)


def daily_spend(
    key_ids: Sequence[int], start: date, end: date, tz: Zone, *, usage: bool = True
) -> list[DayRow]:
    """Per key and local day: spend, top-ups, lowest balance and (usage=True) logged requests."""
    if not key_ids or end < start:
        return []
    tz = strict_zone(tz)
    span(start, end, tz)  # refuses over-long ranges on either path
    t, day, where = _days(BalanceHour, start, end, tz)
    balance = (
        select(
            day,
            t.key_id,
            func.max(t.unit),
            func.sum(t.spend),
            func.sum(t.topup),
            func.min(t.remaining_min),
            func.sum(t.samples),
        )
        .where(t.key_id.in_(key_ids), *where)
        .group_by(t.key_id, day)
    )
    rows: dict[tuple[int, date], DayRow] = {}
    for value, key_id, unit, spend, topup, low, samples in db.session.execute(balance):
        when = _date(value)
        if unit is None:
            # No poll that day carried numbers (failed, or a relay without balances): the
            # spend is unknown, not 0; it lands on the next day with a reading.
            spend = topup = None
        rows[(key_id, when)] = DayRow(key_id, when, unit, spend, topup, low, samples)
    if usage:
        _add_usage(rows, key_ids, start, end, tz)
    return sorted(rows.values(), key=lambda r: (r.day, r.key_id))


def _add_usage(rows: dict, key_ids: Sequence[int], start: date, end: date, tz: tzinfo) -> None:
    t, day, where = _days(UsageHour, start, end, tz)
    usage = (
        select(
            day,
            t.key_id,
            func.max(t.unit),
            func.sum(t.requests),
            func.sum(t.cost),
            func.sum(t.prompt_tokens),
            func.sum(t.completion_tokens),
            func.sum(t.cache_tokens),
        )
        .where(t.key_id.in_(key_ids), *where)
        .group_by(t.key_id, day)
    )
    for value, key_id, unit, requests, cost, prompt, completion, cache in db.session.execute(usage):
        when = _date(value)
        row = rows.get((key_id, when))
        if row is None:
            row = rows[(key_id, when)] = DayRow(key_id, when, unit)
        row.requests, row.cost = requests, cost
        row.prompt_tokens, row.completion_tokens, row.cache_tokens = prompt, completion, cache


def model_spend_by_day(key_id: int, start: date, end: date, tz: Zone) -> list[ModelDay]:
    """Logged cost and requests per local day and model."""
    if end < start:
        return []
    tz = strict_zone(tz)
    span(start, end, tz)
    t, day, where = _days(UsageHour, start, end, tz)
    query = (
        select(day, t.model, func.sum(t.requests), func.sum(t.cost), func.max(t.unit))
        .where(t.key_id == key_id, *where)
        .group_by(day, t.model)
        .order_by(day, t.model)
    )
    return [
        ModelDay(_date(value), model, requests, cost, unit)
        for value, model, requests, cost, unit in db.session.execute(query)
    ]


def tokens_by_day(key_id: int, start: date, end: date, tz: Zone) -> list[TokenDay]:
    """Logged requests and prompt / completion / cached tokens per local day."""
    if end < start:
        return []
    tz = strict_zone(tz)
    span(start, end, tz)
    t, day, where = _days(UsageHour, start, end, tz)
    query = (
        select(
            day,
            func.sum(t.requests),
            func.sum(t.prompt_tokens),
            func.sum(t.completion_tokens),
            func.sum(t.cache_tokens),
        )
        .where(t.key_id == key_id, *where)
        .group_by(day)
        .order_by(day)
    )
    return [TokenDay(_date(value), *sums) for value, *sums in db.session.execute(query)]


def remaining_series(
    key_id: int, start: datetime, end: datetime, resolution: str = "auto"
) -> list[Point]:
    """Remaining balance from start to end: "raw" samples, "hour" rollups, or "auto".

    "auto" uses hourly points up to 48 h before `end` and raw samples after that.
    """
    if resolution == "raw":
        return _raw_points(key_id, start, end)
    if resolution == "hour":
        return _hour_points(key_id, start, end)
    split = max(start, end - RAW_WINDOW)
    return _hour_points(key_id, start, hour_of(split)) + _raw_points(key_id, hour_of(split), end)


def _raw_points(key_id: int, start: datetime, end: datetime) -> list[Point]:
    query = (
        select(BalanceSample.taken_at, BalanceSample.remaining, BalanceSample.unit)
        .where(
            BalanceSample.key_id == key_id,
            BalanceSample.taken_at >= start,
            BalanceSample.taken_at <= end,
            BalanceSample.remaining.is_not(None),
        )
        .order_by(BalanceSample.taken_at, BalanceSample.id)
    )
    return [Point(*row) for row in db.session.execute(query)]


def _hour_points(key_id: int, start: datetime, end: datetime) -> list[Point]:
    """The last reading of each hour that starts in [start, end)."""
    query = (
        select(BalanceHour.last_at, BalanceHour.remaining_last, BalanceHour.unit)
        .where(
            BalanceHour.key_id == key_id,
            BalanceHour.hour_start >= hour_of(start),
            BalanceHour.hour_start < end,
            BalanceHour.remaining_last.is_not(None),
        )
        .order_by(BalanceHour.hour_start)
    )
    return [Point(*row) for row in db.session.execute(query)]


def topup_hours(key_id: int, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    """(hour start, amount) of every hour with a top-up, for chart markers."""
    query = (
        select(BalanceHour.hour_start, BalanceHour.topup)
        .where(
            BalanceHour.key_id == key_id,
            BalanceHour.hour_start >= hour_of(start),
            BalanceHour.hour_start < end,
            BalanceHour.topup > 0,
        )
        .order_by(BalanceHour.hour_start)
    )
    return [tuple(row) for row in db.session.execute(query)]


def _window_rows(key_ids: Sequence[int], now: datetime, tz: Zone):
    tz = strict_zone(tz)
    today = now.astimezone(tz).date()
    bounds = {name: day_start(today - timedelta(days=n - 1), tz) for name, n in WINDOWS.items()}
    sums = [
        func.sum(case((BalanceHour.hour_start >= bound, BalanceHour.spend), else_=0.0))
        for bound in bounds.values()
    ]
    query = (
        select(BalanceHour.key_id, BalanceHour.unit, *sums)
        .where(
            BalanceHour.key_id.in_(key_ids),
            BalanceHour.unit.is_not(None),  # an hour without readings has no known spend
            BalanceHour.hour_start >= min(bounds.values()),
            BalanceHour.hour_start <= now,
        )
        .group_by(BalanceHour.key_id, BalanceHour.unit)
    )
    return db.session.execute(query).all() if key_ids else []


def spend_windows(key_ids: Sequence[int], now: datetime, tz: Zone) -> dict[str, dict[str, float]]:
    """Spend today, over the last 7 and the last 30 local days (today included), per unit."""
    totals: dict[str, dict[str, float]] = {name: {} for name in WINDOWS}
    for _key_id, unit, *amounts in _window_rows(key_ids, now, tz):
        for name, amount in zip(WINDOWS, amounts, strict=True):
            totals[name][unit] = totals[name].get(unit, 0.0) + amount
    return totals


def spend_windows_by_key(
    key_ids: Sequence[int], now: datetime, tz: Zone
) -> dict[int, dict[str, float]]:
    """Per key: {"today", "7d", "30d"} spend; keys without balance hours are absent."""
    out: dict[int, dict[str, float]] = {}
    for key_id, _unit, *amounts in _window_rows(key_ids, now, tz):
        windows = out.setdefault(key_id, dict.fromkeys(WINDOWS, 0.0))
        for name, amount in zip(WINDOWS, amounts, strict=True):
            windows[name] += amount
    return out


def reconcile_inputs(key_id: int, start: datetime, end: datetime) -> ReconcileInputs:
    """Logged cost against the balance hours over [start, end), on the hour grid."""
    lo, hi = hour_of(start), hour_of(end) + (HOUR if end != hour_of(end) else timedelta(0))
    balance = db.session.execute(
        select(func.count(), func.sum(BalanceHour.spend), func.sum(BalanceHour.topup)).where(
            BalanceHour.key_id == key_id,
            BalanceHour.unit.is_not(None),  # hours with readings only: the rest say nothing
            BalanceHour.hour_start >= lo,
            BalanceHour.hour_start < hi,
        )
    ).one()
    logs_from = db.session.scalar(
        select(func.min(UsageHour.hour_start)).where(UsageHour.key_id == key_id)
    )
    logged = db.session.scalar(
        select(func.coalesce(func.sum(UsageHour.cost), 0.0)).where(
            UsageHour.key_id == key_id, UsageHour.hour_start >= lo, UsageHour.hour_start < hi
        )
    )
    hours, spend, topup = balance
    spend, topup = spend or 0.0, topup or 0.0
    tracked_from = db.session.scalar(
        select(func.min(BalanceHour.hour_start)).where(
            BalanceHour.key_id == key_id, BalanceHour.unit.is_not(None)
        )
    )
    logged_before = 0.0
    if tracked_from is not None and tracked_from > lo:
        # Requests logged before the first reading spent money no balance drop can show.
        logged_before = db.session.scalar(
            select(func.coalesce(func.sum(UsageHour.cost), 0.0)).where(
                UsageHour.key_id == key_id,
                UsageHour.hour_start >= lo,
                UsageHour.hour_start < min(tracked_from, hi),
            )
        )
    return ReconcileInputs(
        logged_cost=None if logs_from is None else logged,
        balance_drop=(spend - topup) if hours else None,
        spend=spend,
        topup=topup,
        capped=logs_from is None or logs_from > lo,
        tracked_from=tracked_from,
        logged_before=logged_before,
    )
