"""How much of each uptime window the probes cover: 100 % over 40 minutes is not 100 % over 30 days.

Covered time runs from the first probe (or the window's start, if later) to now, less every past
bucket of the window that holds no probe (hour buckets for 24h, day buckets for 7d/30d/90d, the
ones the uptime reads): a gap adds nothing. The current bucket counts as covered so far. The first
probe is found to the minute while minute buckets still hold it (24 h), else to the hour, else
to the day. coverage = covered / the window's nominal length, at most 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select

from database import db

from .models import Bucket
from .uptime import STEP, floor
from .windows import WINDOWS, Window, windows

LENGTH = {"24h": timedelta(hours=24)} | {w: timedelta(days=d) for w, d in WINDOWS.items()}
RECENT = timedelta(days=2)  # a first probe this recent is looked up to the hour and minute
FULL = 0.99  # at or above: the window is covered; the page shows no "(… of data)"


def coverage(
    provider_ids: Iterable[int], model: str, now: datetime
) -> dict[int, dict[str, float | None]]:
    """{provider_id: {"24h", "7d", "30d", "90d": covered fraction 0..1, None without probes}}."""
    return from_windows(*windows(provider_ids, model, now), model, now)


def from_windows(
    counts: dict[int, dict[str, Window]], first_day: dict[int, datetime], model: str, now: datetime
) -> dict[int, dict[str, float | None]]:
    """The same from uptime.windows()' sums, which the board reads for the uptime anyway."""
    today = floor(now, "d")
    recent = [p for p, day in first_day.items() if day >= today - RECENT]
    first_at = first_day | _first_probes(recent, model, today - RECENT)
    out: dict[int, dict[str, float | None]] = {}
    for pid, row in counts.items():
        out[pid] = dict.fromkeys(LENGTH)
        for window, c in row.items():
            if c.buckets and pid in first_at:  # else no probe in this window: None
                grain = "h" if window == "24h" else "d"
                past = c.buckets - c.current
                out[pid][window] = _fraction(past, grain, first_at[pid], now, LENGTH[window])
    return out


def _fraction(past: int, grain: str, first: datetime, now: datetime, length: timedelta):
    """The covered share of a window of `length` in `grain` buckets, `past` of which (before the
    current one) hold probes."""
    step = STEP[grain]
    begin = max(first, floor(now, grain) - length)  # the first probe or the window's start
    gaps = (floor(now, grain) - floor(begin, grain)) // step - past  # past buckets without probes
    covered = now - begin - gaps * step
    return max(0.0, min(1.0, covered / length))


def _first_probes(ids: list[int], model: str, since: datetime) -> dict[int, datetime]:
    """The first probe of recently watched providers, to the minute (or hour) the buckets know."""
    if not ids:
        return {}
    out: dict[int, datetime] = {}
    for grain in ("h", "m"):  # the minute, where still kept, refines the hour
        query = select(Bucket.provider_id, func.min(Bucket.start)).where(
            Bucket.provider_id.in_(ids),
            Bucket.model == model,
            Bucket.grain == grain,
            Bucket.total > 0,
            Bucket.start >= since,
        )
        for pid, first in db.session.execute(query.group_by(Bucket.provider_id)):
            if grain == "h" or floor(first, "h") == out.get(pid):
                out[pid] = first
    return out
