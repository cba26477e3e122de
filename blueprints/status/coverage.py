"""How much of each uptime window the probes cover: 100 % over 40 minutes is not 100 % over 30 days.

Covered time is counted from the same buckets the uptime reads (hour buckets for 24h, day buckets
for 7d/30d/90d): every bucket holding probes counts whole, less the part of the oldest one before
the first probe and the part of the current one still to come. A gap with no probes adds nothing.
The first probe is found to the minute while minute buckets still hold it (24 h), else to the
hour, else to the day. coverage = covered / the window's nominal length, at most 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from database import db

from .models import Bucket
from .uptime import STEP, WINDOWS, floor

LENGTH = {"24h": timedelta(hours=24)} | {w: timedelta(days=d) for w, d in WINDOWS.items()}
RECENT = timedelta(days=2)  # a first probe this recent is looked up to the hour and minute
FULL = 0.99  # at or above: the window is covered; the page shows no "(… of data)"


def coverage(
    provider_ids: Iterable[int], model: str, now: datetime
) -> dict[int, dict[str, float | None]]:
    """{provider_id: {"24h", "7d", "30d", "90d": covered fraction 0..1, None without probes}}."""
    ids = sorted(set(provider_ids))
    out: dict[int, dict[str, float | None]] = {p: dict.fromkeys(LENGTH) for p in ids}
    if not ids:
        return out
    hour, today = floor(now, "h"), floor(now, "d")
    scope = (Bucket.provider_id.in_(ids), Bucket.model == model, Bucket.total > 0)
    counts: dict[int, dict[str, int]] = {p: {} for p in ids}
    first_day: dict[int, datetime] = {}
    sums = [
        func.sum(case((Bucket.start >= today - timedelta(days=days), 1), else_=0))
        for days in WINDOWS.values()
    ]
    days = select(Bucket.provider_id, func.min(Bucket.start), *sums).where(
        *scope,
        Bucket.grain == "d",
        Bucket.start >= today - timedelta(days=max(WINDOWS.values())),
        Bucket.start <= today,
    )
    for pid, first, *n in db.session.execute(days.group_by(Bucket.provider_id)):
        first_day[pid] = first
        counts[pid] |= dict(zip(WINDOWS, n, strict=True))
    hours = select(Bucket.provider_id, func.count()).where(
        *scope,
        Bucket.grain == "h",
        Bucket.start >= hour - timedelta(hours=24),
        Bucket.start <= hour,
    )
    for pid, n in db.session.execute(hours.group_by(Bucket.provider_id)):
        counts[pid]["24h"] = n
    first_at = dict(first_day) | _first_probes(
        [p for p, day in first_day.items() if day >= today - RECENT], model, today - RECENT
    )
    for pid in ids:
        for window, length in LENGTH.items():
            n = counts[pid].get(window)
            if n:
                grain = "h" if window == "24h" else "d"
                out[pid][window] = _fraction(n, grain, first_at.get(pid), now, length)
    return out


def _fraction(n: int, grain: str, first: datetime | None, now: datetime, length: timedelta):
    """n buckets of `grain` hold probes: the covered share of `length`."""
    step = STEP[grain]
    start = floor(now, grain) - length  # the window's oldest bucket
    covered = n * step - (floor(now, grain) + step - now)  # the current bucket's future
    if first is not None and first >= start:
        covered -= first - floor(first, grain)  # the oldest bucket before the first probe
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
