"""Daily rollups in the stored zones, summed from the hourly ones: what day queries read first.

USAGE_DAY_ZONES names the zones whose local days are stored (default Asia/Shanghai and UTC); a
day query in any other zone groups the hourly rows instead, with the same answer, only slower.
A day row is the sum of its local day's hour rows (days.py's hour grid), recomputed whenever one
of those hours changes, so it is idempotent like the hours. A day without hour rows has no day
row: a gap, not a zero. `flask setup` builds the days of a newly configured zone and drops the
rows of a zone no longer configured (it would go stale).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import delete, func, select

from blueprints.shared.upsert import upsert
from database import db, round_float, setup_step

from .days import HOUR, day_from_index, local_day, offset_hours, span, zone
from .models import BalanceDay, BalanceHour, UsageDay, UsageHour

BALANCE_SUMS = (
    func.sum(BalanceHour.samples),
    func.max(BalanceHour.unit),
    func.min(BalanceHour.remaining_min),
    round_float(func.sum(BalanceHour.spend), 9),
    round_float(func.sum(BalanceHour.topup), 9),
)
BALANCE_NAMES = ("samples", "unit", "remaining_min", "spend", "topup")
USAGE_SUMS = (
    func.sum(UsageHour.requests),
    func.sum(UsageHour.prompt_tokens),
    func.sum(UsageHour.completion_tokens),
    func.sum(UsageHour.cache_tokens),
    func.sum(UsageHour.quota),
    round_float(func.sum(UsageHour.cost), 9),
    func.max(UsageHour.unit),
)
USAGE_NAMES = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "cache_tokens",
    "quota",
    "cost",
    "unit",
)


def zones() -> tuple[str, ...]:
    """The configured zone names whose days are stored (unknown names are ignored)."""
    names = current_app.config.get("USAGE_DAY_ZONES") or ()
    return tuple(name for name in names if isinstance(name, str) and zone(name) is not None)


def stored(tz: tzinfo) -> str | None:
    """The zone's name when its days are stored, else None."""
    name = getattr(tz, "key", None) or str(tz)  # datetime.UTC has no .key; its str() is "UTC"
    return name if name in zones() else None


def day_of(hour: datetime, tz: tzinfo) -> date:
    """The local day an hour bucket belongs to: the same rule as days.local_day in SQL."""
    return day_from_index((int(hour.timestamp()) // 3600 + offset_hours(hour, tz)) // 24)


def refresh_balance_days(key_id: int, hours: Iterable[datetime]) -> None:
    """Recompute, in every stored zone, the days holding these hours from their hour rows."""
    for name in zones():
        tz = ZoneInfo(name)
        for day in {day_of(hour, tz) for hour in hours}:
            lo, hi = span(day, day, tz)
            sums = db.session.execute(
                select(*BALANCE_SUMS).where(
                    BalanceHour.key_id == key_id,
                    BalanceHour.hour_start >= lo,
                    BalanceHour.hour_start < hi,
                )
            ).one()
            where = (BalanceDay.key_id == key_id, BalanceDay.zone == name, BalanceDay.day == day)
            if sums[0] is None:
                db.session.execute(delete(BalanceDay).where(*where))
                continue
            row = dict(zip(BALANCE_NAMES, sums, strict=True))
            upsert(BalanceDay, [{"key_id": key_id, "zone": name, "day": day, **row}])


def refresh_usage_days(key_id: int, touched: Iterable[tuple[datetime, str]]) -> None:
    """Recompute, in every stored zone, the (day, model) rows holding these (hour, model)s."""
    for name in zones():
        tz = ZoneInfo(name)
        for day, model in {(day_of(hour, tz), model) for hour, model in touched}:
            lo, hi = span(day, day, tz)
            sums = db.session.execute(
                select(*USAGE_SUMS).where(
                    UsageHour.key_id == key_id,
                    UsageHour.model == model,
                    UsageHour.hour_start >= lo,
                    UsageHour.hour_start < hi,
                )
            ).one()
            if sums[0] is None:
                continue  # usage hours are never deleted one by one
            row = dict(zip(USAGE_NAMES, sums, strict=True))
            upsert(UsageDay, [{"key_id": key_id, "zone": name, "day": day, "model": model, **row}])


def rebuild_days(key_id: int | None = None, only: Iterable[str] | None = None) -> int:
    """Recompute every day row (of one key, or all) in the stored zones (or `only` these)."""
    count = 0
    for name in zones() if only is None else only:
        for day_table, hour_table in ((BalanceDay, BalanceHour), (UsageDay, UsageHour)):
            stale = delete(day_table).where(day_table.zone == name)
            if key_id is not None:
                stale = stale.where(day_table.key_id == key_id)
            db.session.execute(stale)
            rows = _grouped(hour_table, ZoneInfo(name), key_id)
            upsert(day_table, [{"zone": name, **row} for row in rows])
            count += len(rows)
    return count


def _grouped(table, tz: tzinfo, key_id: int | None) -> list[dict]:
    """Day rows (without zone) from a whole hour table grouped by local day, in SQL."""
    scope = () if key_id is None else (table.key_id == key_id,)
    lo, hi = db.session.execute(
        select(func.min(table.hour_start), func.max(table.hour_start)).where(*scope)
    ).one()
    if lo is None:
        return []
    day = local_day(table.hour_start, lo, hi + HOUR, tz)
    if table is BalanceHour:
        sums, names, keys = BALANCE_SUMS, BALANCE_NAMES, (table.key_id, day)
    else:
        sums, names, keys = USAGE_SUMS, USAGE_NAMES, (table.key_id, day, table.model)
    query = select(*keys, *sums).where(*scope).group_by(*keys)
    rows = []
    for key, index, *rest in db.session.execute(query):
        extra = {"model": rest.pop(0)} if table is UsageHour else {}
        sums = dict(zip(names, rest, strict=True))
        rows.append({"key_id": key, "day": day_from_index(index), **extra, **sums})
    return rows


@setup_step()
def sync_zones() -> tuple[list[str], list[str]]:
    """Build the days of stored zones that have none; drop other zones' rows. (built, dropped)"""
    wanted = set(zones())
    have = set(db.session.scalars(select(BalanceDay.zone).distinct()))
    have |= set(db.session.scalars(select(UsageDay.zone).distinct()))
    dropped = sorted(have - wanted)
    for table in (BalanceDay, UsageDay):
        db.session.execute(delete(table).where(table.zone.in_(dropped)))
    hours = db.session.scalar(select(BalanceHour.key_id).limit(1)) is not None
    hours = hours or db.session.scalar(select(UsageHour.key_id).limit(1)) is not None
    built = sorted(wanted - have) if hours else []
    rebuild_days(only=built)
    db.session.commit()
    return built, dropped
