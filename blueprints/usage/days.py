"""Local days on top of UTC hour buckets: zones, day starts and the SQL day of an hour.

Local days are sums of UTC hours, grouped in SQL by (hours since 1970 + the zone's offset) // 24,
with the offset switched at each daylight-saving change inside the range, so DST is exact.
In zones whose offset is not a whole hour (Asia/Kolkata, +05:30) a day starts at the whole UTC
hour before local midnight, up to 59 minutes early: hourly rollups cannot cut finer, and raw
samples older than the retention period are gone, so there is no exact fallback for old days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Integer, case, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

MAX_DAYS = 3700  # about ten years: longer ranges are refused
EPOCH = date(1970, 1, 1)
Zone = str | tzinfo | None  # an IANA name, a tzinfo, or None for UTC
HOUR = timedelta(hours=1)


def hour_of(at: datetime) -> datetime:
    """The UTC hour an aware datetime falls in."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def zone(name: str | tzinfo | None) -> tzinfo | None:
    """A tzinfo from an IANA name (None for unknown names); tzinfo passes through, None → UTC."""
    if name is None:
        return UTC
    if isinstance(name, tzinfo):
        return name
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def strict_zone(tz: Zone) -> tzinfo:
    """Like zone(), but an unknown name raises ValueError."""
    found = zone(tz)
    if found is None:
        raise ValueError("unknown time zone")
    return found


def day_start(day: date, tz: tzinfo) -> datetime:
    """UTC start of a local day on the hour grid."""
    return hour_of(datetime.combine(day, time(0), tz))


class _EpochHours(FunctionElement):
    """Whole hours since 1970 of a stored UTC datetime, as an integer."""

    type = Integer()
    inherit_cache = True
    name = "epoch_hours"


@compiles(_EpochHours)
def _epoch_hours_sqlite(element, compiler, **kw):
    return f"(CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER) / 3600)"


@compiles(_EpochHours, "postgresql")
def _epoch_hours_postgresql(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    return f"(CAST(EXTRACT(EPOCH FROM {column}) AS BIGINT) / 3600)"


def offset_hours(at: datetime, tz: tzinfo) -> int:
    """The zone's UTC offset at `at`, in whole hours rounded up (+05:30 → 6, -03:30 → -3)."""
    minutes = int(at.astimezone(tz).utcoffset().total_seconds()) // 60
    return -(-minutes // 60)


def offset_pieces(lo: datetime, hi: datetime, tz: tzinfo) -> list[tuple[datetime | None, int]]:
    """[(until, offset hours), …] covering [lo, hi), one per UTC offset; the last until is None."""
    pieces: list[tuple[datetime | None, int]] = []
    current = offset_hours(lo, tz)
    probe = lo
    while probe < hi:
        step = min(probe + timedelta(days=1), hi)
        if offset_hours(step, tz) != current:  # a change in (probe, step]: find its hour
            at = probe
            while offset_hours(at, tz) == current:
                at += HOUR
            pieces.append((at, current))
            current = offset_hours(at, tz)
        probe = step
    return [*pieces, (None, current)]


def local_day(hour_column, lo: datetime, hi: datetime, tz: tzinfo):
    """SQL: the local day of an hour, as days since 1970 (see offset_pieces for DST)."""
    *changes, (_, last) = offset_pieces(lo, hi, tz)
    offset = case(*((hour_column < until, off) for until, off in changes), else_=last)
    if not changes:
        offset = literal(last, Integer())
    return (_EpochHours(hour_column) + offset) // 24


def day_from_index(days_since_epoch: int) -> date:
    """The date local_day() stands for."""
    return EPOCH + timedelta(days=days_since_epoch)


def span(start: date, end: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """UTC [lo, hi) on the hour grid covering local days start..end (at most MAX_DAYS)."""
    if (end - start).days + 1 > MAX_DAYS:
        raise ValueError(f"range longer than {MAX_DAYS} days")
    return day_start(start, tz), day_start(end + timedelta(days=1), tz)
