"""Uptime windows: ok / total over the last 24 h (hour buckets) and 7/30/90 days (day buckets).

Windows are never shorter than their names: 24h is the last 24 whole hours plus the current one
so far; 7d/30d/90d the last 7/30/90 whole UTC days plus today so far. No probes in a window:
None, never 1.0. The same read also counts the buckets holding probes, for coverage.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import and_, case, func, select

from database import db, utcnow

from .models import Bucket
from .uptime import STEP, floor

WINDOWS = {"7d": 7, "30d": 30, "90d": 90}  # days before today; "24h" reads hours


def _ratio(ok: int | None, total: int | None) -> float | None:
    return ok / total if total else None


class Window(NamedTuple):
    """One uptime window's sums: probes ok and in all, buckets holding probes (the current one
    too), and whether the current bucket holds any (coverage.py reads the last three)."""

    ok: int
    total: int
    buckets: int
    current: int


def uptime(
    provider_ids: Iterable[int], model: str = "", now: datetime | None = None
) -> dict[int, dict[str, float | None]]:
    """{provider_id: {"24h", "7d", "30d", "90d": ok/total or None}} of a model ("" = provider)."""
    return ratios(windows(provider_ids, model, now)[0])


def ratios(counts: dict[int, dict[str, Window]]) -> dict[int, dict[str, float | None]]:
    """ok/total of each window (None without probes) from windows()' sums."""
    return {pid: {w: _ratio(c.ok, c.total) for w, c in row.items()} for pid, row in counts.items()}


def windows(
    provider_ids: Iterable[int], model: str = "", now: datetime | None = None
) -> tuple[dict[int, dict[str, Window]], dict[int, datetime]]:
    """Each window's Window per provider ("24h" from hour buckets, the rest from day buckets;
    zeros without probes), and the day of each provider's first probe in the last 90 days."""
    ids = sorted(set(provider_ids))
    empty = Window(0, 0, 0, 0)
    out = {p: dict.fromkeys(("24h", *WINDOWS), empty) for p in ids}
    first: dict[int, datetime] = {}
    if not ids:
        return out, first
    now = now or utcnow()
    hour, today = floor(now, "h"), floor(now, "d")
    scope = (Bucket.provider_id.in_(ids), Bucket.model == model)
    held = Bucket.total > 0

    def count(*where):
        return func.sum(case((and_(held, *where), 1), else_=0))

    hours = select(
        Bucket.provider_id,
        func.sum(Bucket.ok),
        func.sum(Bucket.total),
        count(),
        count(Bucket.start == hour),
    ).where(
        *scope, Bucket.grain == "h", Bucket.start >= hour - 24 * STEP["h"], Bucket.start <= hour
    )
    for pid, ok, total, buckets, current in db.session.execute(hours.group_by(Bucket.provider_id)):
        out[pid]["24h"] = Window(ok or 0, total or 0, buckets, current)
    sums = [func.min(case((held, Bucket.start))), count(Bucket.start == today)]
    for days in WINDOWS.values():
        inside = Bucket.start >= today - timedelta(days=days)
        sums += [func.sum(case((inside, Bucket.ok), else_=0))]
        sums += [func.sum(case((inside, Bucket.total), else_=0)), count(inside)]
    days = select(Bucket.provider_id, *sums).where(
        *scope,
        Bucket.grain == "d",
        Bucket.start >= today - timedelta(days=max(WINDOWS.values())),
        Bucket.start <= today,
    )
    for pid, oldest, current, *sums_ in db.session.execute(days.group_by(Bucket.provider_id)):
        if oldest is not None:
            first[pid] = oldest
        for i, name in enumerate(WINDOWS):
            ok, total, buckets = sums_[3 * i : 3 * i + 3]
            out[pid][name] = Window(ok, total, buckets, current)
    return out, first
