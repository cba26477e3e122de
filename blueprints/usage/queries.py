"""What the usage pages read: local days, series and windows, all from the hourly rollups.

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

from app import db
from blueprints.keys.models import BalanceSample

from .days import Zone, day_from_index, day_start, local_day, span, strict_zone
from .models import BalanceHour, UsageHour
from .rollups import HOUR, hour_of

RAW_WINDOW = timedelta(hours=48)  # remaining_series shows raw samples this far back from `end`
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


def daily_spend(
    key_ids: Sequence[int], start: date, end: date, tz: Zone, *, usage: bool = True
) -> list[DayRow]:
    """Per key and local day: spend, top-ups, lowest balance and (usage=True) logged requests."""
    if not key_ids or end < start:
        return []
    tz = strict_zone(tz)
    lo, hi = span(start, end, tz)
    day = local_day(BalanceHour.hour_start, lo, hi, tz)
    balance = (
        select(
            day,
            BalanceHour.key_id,
            func.max(BalanceHour.unit),
            func.sum(BalanceHour.spend),
            func.sum(BalanceHour.topup),
            func.min(BalanceHour.remaining_min),
            func.sum(BalanceHour.samples),
        )
        .where(
            BalanceHour.key_id.in_(key_ids),
            BalanceHour.hour_start >= lo,
            BalanceHour.hour_start < hi,
        )
        .group_by(BalanceHour.key_id, day)
    )
    rows: dict[tuple[int, int], DayRow] = {}
    for index, key_id, unit, spend, topup, low, samples in db.session.execute(balance):
        rows[(key_id, index)] = DayRow(
            key_id, day_from_index(index), unit, spend, topup, low, samples
        )
    if usage:
        _add_usage(rows, key_ids, lo, hi, tz)
    return sorted(rows.values(), key=lambda r: (r.day, r.key_id))


def _add_usage(rows: dict, key_ids: Sequence[int], lo: datetime, hi: datetime, tz: tzinfo) -> None:
    day = local_day(UsageHour.hour_start, lo, hi, tz)
    usage = (
        select(
            day,
            UsageHour.key_id,
            func.max(UsageHour.unit),
            func.sum(UsageHour.requests),
            func.sum(UsageHour.cost),
            func.sum(UsageHour.prompt_tokens),
            func.sum(UsageHour.completion_tokens),
            func.sum(UsageHour.cache_tokens),
        )
        .where(UsageHour.key_id.in_(key_ids), UsageHour.hour_start >= lo, UsageHour.hour_start < hi)
        .group_by(UsageHour.key_id, day)
    )
    for index, key_id, unit, requests, cost, prompt, completion, cache in db.session.execute(usage):
        row = rows.get((key_id, index))
        if row is None:
            row = rows[(key_id, index)] = DayRow(key_id, day_from_index(index), unit)
        row.requests, row.cost = requests, cost
        row.prompt_tokens, row.completion_tokens, row.cache_tokens = prompt, completion, cache


def model_spend_by_day(key_id: int, start: date, end: date, tz: Zone) -> list[ModelDay]:
    """Logged cost and requests per local day and model."""
    if end < start:
        return []
    tz = strict_zone(tz)
    lo, hi = span(start, end, tz)
    day = local_day(UsageHour.hour_start, lo, hi, tz)
    query = (
        select(
            day,
            UsageHour.model,
            func.sum(UsageHour.requests),
            func.sum(UsageHour.cost),
            func.max(UsageHour.unit),
        )
        .where(UsageHour.key_id == key_id, UsageHour.hour_start >= lo, UsageHour.hour_start < hi)
        .group_by(day, UsageHour.model)
        .order_by(day, UsageHour.model)
    )
    return [
        ModelDay(day_from_index(index), model, requests, cost, unit)
        for index, model, requests, cost, unit in db.session.execute(query)
    ]


def tokens_by_day(key_id: int, start: date, end: date, tz: Zone) -> list[TokenDay]:
    """Logged requests and prompt / completion / cached tokens per local day."""
    if end < start:
        return []
    tz = strict_zone(tz)
    lo, hi = span(start, end, tz)
    day = local_day(UsageHour.hour_start, lo, hi, tz)
    query = (
        select(
            day,
            func.sum(UsageHour.requests),
            func.sum(UsageHour.prompt_tokens),
            func.sum(UsageHour.completion_tokens),
            func.sum(UsageHour.cache_tokens),
        )
        .where(UsageHour.key_id == key_id, UsageHour.hour_start >= lo, UsageHour.hour_start < hi)
        .group_by(day)
        .order_by(day)
    )
    return [TokenDay(day_from_index(index), *sums) for index, *sums in db.session.execute(query)]


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
            BalanceHour.key_id == key_id, BalanceHour.hour_start >= lo, BalanceHour.hour_start < hi
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
    return ReconcileInputs(
        logged_cost=None if logs_from is None else logged,
        balance_drop=(spend - topup) if hours else None,
        spend=spend,
        topup=topup,
        capped=logs_from is None or logs_from > lo,
    )
