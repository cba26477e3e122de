"""Hourly rollups kept current from keys.signals, and rebuilt from raw rows on demand.

Each refresh also refreshes the daily rollups (daily.py) of the hours it touched.

Every bucket is recomputed from its raw rows and upserted, so applying a sample twice or
rebuilding twice leaves the same rows. A bucket's spend includes the delta from the reading
before it, even when that reading sits in an earlier hour.

Raw samples are pruned after SAMPLE_RETENTION_DAYS, always a prefix in time. A bucket after a
key's oldest surviving sample still has all its raw rows; a bucket at or before it may have
lost some, so its stored row is only replaced by one built from more samples than it had.
Usage records are never pruned.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from sqlalchemy import bindparam, delete, or_, select

from blueprints.keys.models import BalanceSample, UsageRecord
from blueprints.keys.signals import key_polled, usage_ingested
from blueprints.shared.upsert import upsert
from database import UTCDateTime, db

from . import daily
from .days import HOUR, hour_of
from .kpis import delta
from .models import BalanceHour, UsageHour

log = logging.getLogger(__name__)

STREAM = 5000  # raw rows fetched at a time during a rebuild
SAMPLE_COLUMNS = (
    BalanceSample.taken_at,
    BalanceSample.status,
    BalanceSample.unit,
    BalanceSample.used,
    BalanceSample.remaining,
)
USAGE_COLUMNS = (
    UsageRecord.key_id,
    UsageRecord.created_at,
    UsageRecord.model,
    UsageRecord.prompt_tokens,
    UsageRecord.completion_tokens,
    UsageRecord.cache_tokens,
    UsageRecord.quota,
    UsageRecord.cost,
    UsageRecord.unit,
)


# -- balance ---------------------------------------------------------------------------------


def fold(samples: Iterable, previous=None) -> dict[datetime, dict]:
    """Hour buckets (column dicts, no key_id) from time-ordered samples; pure.

    `previous` is the last reading with numbers before the first sample, if any.
    """
    buckets: dict[datetime, dict] = {}
    for s in samples:
        hour = hour_of(s.taken_at)
        b = buckets.get(hour)
        if b is None:
            b = buckets[hour] = _empty(hour)
        b["samples"] += 1
        b["status_last"] = s.status
        if s.remaining is None and s.used is None:
            continue  # a failed poll: counted, but it carries no balance
        if previous is not None:
            spend, topup = delta(previous, s)
            b["spend"] += spend
            b["topup"] += topup
        b["unit"], b["last_at"] = s.unit, s.taken_at
        if s.used is not None:
            b["used_last"] = s.used
        if s.remaining is not None:
            if b["remaining_first"] is None:
                b["remaining_first"] = s.remaining
            b["remaining_last"] = s.remaining
            low = b["remaining_min"]
            b["remaining_min"] = s.remaining if low is None else min(low, s.remaining)
        previous = s
    for b in buckets.values():
        b["spend"], b["topup"] = round(b["spend"], 9), round(b["topup"], 9)
    return buckets


def _empty(hour: datetime) -> dict:
    return {
        "hour_start": hour,
        "samples": 0,
        "unit": None,
        "remaining_first": None,
        "remaining_last": None,
        "remaining_min": None,
        "used_last": None,
        "last_at": None,
        "spend": 0.0,
        "topup": 0.0,
        "status_last": None,
    }


# Built once with bind parameters: the poller runs these after every sample.
_KEY, _LO = bindparam("key_id"), bindparam("lo", type_=UTCDateTime())
_NEXT = (
    select(BalanceSample.taken_at)
    .where(BalanceSample.key_id == _KEY, BalanceSample.taken_at >= _LO)
    .order_by(BalanceSample.taken_at)
    .limit(1)
)
_PREVIOUS = (
    select(*SAMPLE_COLUMNS)
    .where(
        BalanceSample.key_id == _KEY,
        BalanceSample.taken_at < _LO,
        or_(BalanceSample.remaining.is_not(None), BalanceSample.used.is_not(None)),
    )
    .order_by(BalanceSample.taken_at.desc(), BalanceSample.id.desc())
    .limit(1)
)
_IN_HOUR = (
    select(*SAMPLE_COLUMNS)
    .where(
        BalanceSample.key_id == _KEY,
        BalanceSample.taken_at >= _LO,
        BalanceSample.taken_at < bindparam("hi", type_=UTCDateTime()),
    )
    .order_by(BalanceSample.taken_at, BalanceSample.id)
)
_ANY_BEFORE = (
    select(BalanceSample.id)
    .where(BalanceSample.key_id == _KEY, BalanceSample.taken_at < _LO)
    .limit(1)
)
_STORED = select(BalanceHour.samples).where(
    BalanceHour.key_id == _KEY, BalanceHour.hour_start == _LO
)


def refresh_balance(key_id: int, at: datetime) -> None:
    """Recompute the hour holding `at`, the next hour with samples (its first delta), their days."""
    hours = [hour_of(at)]
    _refresh_hour(key_id, hours[0])
    after = db.session.scalar(_NEXT, {"key_id": key_id, "lo": hours[0] + HOUR})
    if after is not None:
        hours.append(hour_of(after))
        _refresh_hour(key_id, hours[1])
    daily.refresh_balance_days(key_id, hours)


def _refresh_hour(key_id: int, hour: datetime) -> None:
    span = {"key_id": key_id, "lo": hour, "hi": hour + HOUR}
    previous = db.session.execute(_PREVIOUS, span).first()
    bucket = fold(db.session.execute(_IN_HOUR, span), previous).get(hour)
    if bucket is None:
        return  # nothing raw left for this hour (pruned): the stored row is all we have
    complete = previous is not None or db.session.scalar(_ANY_BEFORE, span) is not None
    if complete or _grows(key_id, hour, bucket["samples"]):
        upsert(BalanceHour, [{"key_id": key_id, **bucket}])


def _grows(key_id: int, hour: datetime, samples: int) -> bool:
    """True when no row exists yet or the raw rows now hold more samples than it counted."""
    stored = db.session.scalar(_STORED, {"key_id": key_id, "lo": hour})
    return stored is None or samples > stored


def rebuild_balance(key_id: int) -> int:
    """Recompute every hour of one key that still has raw samples; returns how many."""
    rows = db.session.execute(
        select(*SAMPLE_COLUMNS)
        .where(BalanceSample.key_id == key_id)
        .order_by(BalanceSample.taken_at, BalanceSample.id)
        .execution_options(yield_per=STREAM)
    )
    buckets = fold(rows)
    if not buckets:
        return 0
    first = min(buckets)
    # Hours after the oldest sample are fully covered by raw rows: what they lack is stale.
    db.session.execute(
        delete(BalanceHour).where(BalanceHour.key_id == key_id, BalanceHour.hour_start > first)
    )
    head = buckets.pop(first)
    if _grows(key_id, first, head["samples"]):
        upsert(BalanceHour, [{"key_id": key_id, **head}])
    upsert(BalanceHour, [{"key_id": key_id, **b} for b in buckets.values()])
    return len(buckets) + 1


# -- usage -----------------------------------------------------------------------------------


def usage_buckets(records: Iterable) -> dict[tuple[int, datetime, str], dict]:
    """(key_id, hour, model) → UsageHour columns from usage records; pure."""
    buckets: dict[tuple[int, datetime, str], dict] = {}
    for r in records:
        hour = hour_of(r.created_at)
        b = buckets.get((r.key_id, hour, r.model))
        if b is None:
            b = buckets[(r.key_id, hour, r.model)] = {
                "key_id": r.key_id,
                "hour_start": hour,
                "model": r.model,
                "requests": 0,
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "cache_tokens": 0,
                "quota": 0,
                "cost": 0.0,
            }
        b["requests"] += 1
        b["prompt_tokens"] += r.prompt_tokens
        b["completion_tokens"] += r.completion_tokens
        b["cache_tokens"] += r.cache_tokens
        b["quota"] += r.quota
        b["cost"] += r.cost
        b["unit"] = r.unit  # the newest row's: a key does not change units
    for b in buckets.values():
        b["cost"] = round(b["cost"], 9)
    return buckets


def refresh_usage(key_id: int, rows: Iterable[tuple[datetime, str]]) -> int:
    """Recompute the (hour, model) buckets touched by these (created_at, model) pairs."""
    touched = {(hour_of(at), model) for at, model in rows}
    for hour, model in sorted(touched):
        records = db.session.execute(
            select(*USAGE_COLUMNS)
            .where(
                UsageRecord.key_id == key_id,
                UsageRecord.model == model,
                UsageRecord.created_at >= hour,
                UsageRecord.created_at < hour + HOUR,
            )
            .order_by(UsageRecord.created_at, UsageRecord.id)
        )
        upsert(UsageHour, list(usage_buckets(records).values()))
    daily.refresh_usage_days(key_id, touched)
    return len(touched)


def rebuild_usage(key_id: int | None = None) -> int:
    """Recompute every usage hour (of one key, or all) from the usage records."""
    query = select(*USAGE_COLUMNS).order_by(UsageRecord.key_id, UsageRecord.created_at)
    stale = delete(UsageHour)
    if key_id is not None:
        query = query.where(UsageRecord.key_id == key_id)
        stale = stale.where(UsageHour.key_id == key_id)
    buckets = usage_buckets(db.session.execute(query.execution_options(yield_per=STREAM)))
    db.session.execute(stale)  # records are never pruned: every bucket comes back
    upsert(UsageHour, list(buckets.values()))
    return len(buckets)


# -- both ------------------------------------------------------------------------------------


def rebuild(key_id: int | None = None) -> tuple[int, int]:
    """Recompute all rollups (of one key, or every key) and commit; (balance hours, usage hours).

    The daily rollups of every configured zone are rebuilt from the new hours too.
    """
    if key_id is None:
        ids = db.session.scalars(select(BalanceSample.key_id).distinct()).all()
    else:
        ids = [key_id]
    hours = sum(rebuild_balance(i) for i in ids)
    usage = rebuild_usage(key_id)
    daily.rebuild_days(key_id)
    db.session.commit()
    return hours, usage


# -- receivers -------------------------------------------------------------------------------


@key_polled.connect
def on_key_polled(sender, sample: BalanceSample, **_ignored) -> None:
    """Receiver for keys.signals.key_polled: roll the new sample into its hour."""
    key_id, at = sample.key_id, sample.taken_at
    try:
        refresh_balance(key_id, at)
        db.session.commit()
    except Exception:  # logged, never raised: the poll itself already succeeded
        db.session.rollback()
        current_app.logger.exception("balance rollup failed for key %s", key_id)


@usage_ingested.connect
def on_usage_ingested(sender, key_id: int, rows: list[tuple[datetime, str]], **_ignored) -> None:
    """Receiver for keys.signals.usage_ingested: roll new request-log rows into their hours."""
    try:
        refresh_usage(key_id, rows)
        db.session.commit()
    except Exception:
        db.session.rollback()
        current_app.logger.exception("usage rollup failed for key %s", key_id)
