"""Probe history: raw rows in, minute/hour/day buckets kept by recomputation, old rows pruned.

A provider's buckets (model "") hold its status and models probes; a model's buckets hold its
light and stream probes. Minute and hour buckets are recomputed from their raw rows, a UTC day
from its hour buckets, and upserted: recording the same probes twice or rebuilding leaves the
same rows. What a bucket counts:
- total: every probe; ok: useful answers, slow ones included; degraded: probes flagged degraded,
  ok or not (a 429 or an empty 200 is degraded and not ok).
- latency (n/sum/min/max, histogram, p50/p95): ok probes only. A failure's latency is mostly
  its timeout, which says nothing about speed.
- ttft and tps (n/sum): every probe carrying the value (only stream probes do).
- p50/p95: exact in minute and hour buckets, from the merged hour histograms in a day (uptime.py).
Raw rows are pruned by age, always the oldest first. A recomputed bucket replaces a stored one
only when it counts at least as many probes, so a bucket whose raw rows were partly pruned
keeps its fuller numbers.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import OperationalError

from blueprints.providers.models import Provider
from blueprints.shared.upsert import upsert
from database import db, utcnow

from .models import Bucket, Probe
from .uptime import BINS, HOURS, KEEP, STEP, encode, exact, floor, merge

log = logging.getLogger(__name__)

PROVIDER_TIERS = ("status", "models")  # their rows go to the provider's buckets (model "")
BATCH = 5000  # rows deleted per statement: short write locks for the probes running meanwhile
COLUMNS = ("provider_id", "model", "tier", "at", "ok", "degraded", "status", "error")
COLUMNS += ("latency_ms", "ttft_ms", "tokens_per_s")
OPTIONAL = {"model": "", "degraded": False, "status": None, "error": None, "latency_ms": None}
OPTIONAL |= {"ttft_ms": None, "tokens_per_s": None}
RAW = tuple(getattr(Probe, name) for name in COLUMNS)


# -- folding ----------------------------------------------------------------------------------


def fold(rows: list) -> dict:
    """Bucket counters from raw probe rows (attribute access), exact percentiles; pure."""
    latencies: list[float] = []
    ttft: list[float] = []
    tps: list[float] = []
    ok = degraded = 0
    for r in rows:
        ok += bool(r.ok)
        degraded += bool(r.degraded)
        if r.ok and r.latency_ms is not None:
            latencies.append(r.latency_ms)
        if r.ttft_ms is not None:
            ttft.append(r.ttft_ms)
        if r.tokens_per_s is not None:
            tps.append(r.tokens_per_s)
    counts = [0] * len(BINS)
    for value in latencies:
        counts[bisect_left(BINS, value)] += 1
    ordered = sorted(latencies)
    return {
        "total": len(rows),
        "ok": ok,
        "degraded": degraded,
        "latency_n": len(ordered),
        "latency_sum": round(sum(latencies), 3),
        "latency_min": ordered[0] if ordered else None,
        "latency_max": ordered[-1] if ordered else None,
        "latency_p50": exact(ordered, 50),
        "latency_p95": exact(ordered, 95),
        "histogram": encode(counts),
        "ttft_n": len(ttft),
        "ttft_sum": round(sum(ttft), 3),
        "tps_n": len(tps),
        "tps_sum": round(sum(tps), 3),
    }


# -- writing ----------------------------------------------------------------------------------


def _as_row(probe: Probe | dict) -> dict:
    """Probe columns from a Probe or a dict: optional ones defaulted, `at` in UTC, provider
    tiers under model "" (a probe counts in the buckets of its model column)."""
    if isinstance(probe, Probe):
        row = {name: getattr(probe, name) for name in COLUMNS}
    else:
        row = {**OPTIONAL, **{name: probe[name] for name in COLUMNS if name in probe}}
    if row["at"].tzinfo is None:
        raise ValueError("naive datetime: probes carry aware UTC times")
    model = "" if row["tier"] in PROVIDER_TIERS else row["model"] or ""
    return {**row, "at": row["at"].astimezone(UTC), "model": model}


def record(probes: Iterable[Probe | dict]) -> int:
    """Store probes not stored yet, refresh every bucket they touch; returns how many were new.

    A probe is known by (provider_id, tier, model, at): recording it twice stores it once. The
    caller commits (the probe's Health change belongs to the same transaction).
    """
    rows = [_as_row(p) for p in probes]
    if not rows:
        return 0
    lo, hi = min(r["at"] for r in rows), max(r["at"] for r in rows)
    known = select(Probe.provider_id, Probe.tier, Probe.model, Probe.at).where(
        Probe.provider_id.in_({r["provider_id"] for r in rows}), Probe.at >= lo, Probe.at <= hi
    )
    stored = {tuple(row) for row in db.session.execute(known)}
    new = []
    for r in rows:
        key = (r["provider_id"], r["tier"], r["model"], r["at"])
        if key not in stored:
            stored.add(key)
            new.append(r)
    if new:
        db.session.execute(insert(Probe), new)
    refresh((r["provider_id"], r["model"], r["at"]) for r in rows)
    return len(new)


def refresh(touched: Iterable[tuple[int, str, datetime]]) -> None:
    """Recompute the minute, hour and day buckets holding these (provider_id, model, at)."""
    hours: dict[datetime, dict[tuple[int, str], set[datetime]]] = defaultdict(dict)
    days: dict[datetime, set[tuple[int, str]]] = defaultdict(set)
    for provider_id, model, at in touched:
        hours[floor(at, "h")].setdefault((provider_id, model), set()).add(floor(at, "m"))
        days[floor(at, "d")].add((provider_id, model))
    for hour, keys in sorted(hours.items()):
        _refresh_hour(hour, keys)
    for day, pairs in sorted(days.items()):
        _refresh_day(day, pairs)


def _refresh_hour(hour: datetime, keys: dict[tuple[int, str], set[datetime]]) -> None:
    """One query for the hour's raw rows of every touched provider and model, folded in Python."""
    raw = (
        select(*RAW)
        .where(
            Probe.provider_id.in_({p for p, _ in keys}),
            Probe.model.in_({m for _, m in keys}),
            Probe.at >= hour,
            Probe.at < hour + STEP["h"],
        )
        .order_by(Probe.at, Probe.id)
    )
    wanted = {(p, m, "h", hour) for p, m in keys}
    wanted |= {(p, m, "m", minute) for (p, m), minutes in keys.items() for minute in minutes}
    store(_fold_raw(db.session.execute(raw), wanted.__contains__))


def _fold_raw(rows: Iterable, wanted: Callable[[tuple], bool]) -> list[dict]:
    """Minute and hour buckets from time-ordered raw rows, for the keys `wanted` accepts."""
    groups: dict[tuple[int, str, str, datetime], list] = defaultdict(list)
    for r in rows:
        groups[(r.provider_id, r.model, "h", floor(r.at, "h"))].append(r)
        groups[(r.provider_id, r.model, "m", floor(r.at, "m"))].append(r)
    return [
        {"provider_id": p, "model": m, "grain": g, "start": s, **fold(rows)}
        for (p, m, g, s), rows in groups.items()
        if wanted((p, m, g, s))
    ]


def _refresh_day(day: datetime, pairs: set[tuple[int, str]]) -> None:
    hours = select(*HOURS).where(
        Bucket.provider_id.in_({p for p, _ in pairs}),
        Bucket.model.in_({m for _, m in pairs}),
        Bucket.grain == "h",
        Bucket.start >= day,
        Bucket.start < day + STEP["d"],
    )
    store(_days(b for b in db.session.execute(hours) if (b.provider_id, b.model) in pairs))


def _days(hours: Iterable) -> list[dict]:
    """Day buckets merged from hour bucket rows, each day's hours in time order."""
    groups: dict[tuple[int, str, datetime], list] = defaultdict(list)
    for b in sorted(hours, key=lambda b: (b.provider_id, b.model, b.start)):
        groups[(b.provider_id, b.model, floor(b.start, "d"))].append(b)
    return [
        {"provider_id": p, "model": m, "grain": "d", "start": day, **merge(rows)}
        for (p, m, day), rows in groups.items()
    ]


def store(rows: list[dict]) -> int:
    """Upsert buckets, except where the stored row counts more probes (its raw rows are gone)."""
    if not rows:
        return 0
    stored = dict(
        (tuple(key), total)
        for *key, total in db.session.execute(
            select(*HOURS[:4], Bucket.total).where(
                Bucket.provider_id.in_({r["provider_id"] for r in rows}),
                Bucket.model.in_({r["model"] for r in rows}),
                Bucket.grain.in_({r["grain"] for r in rows}),
                Bucket.start >= min(r["start"] for r in rows),
                Bucket.start <= max(r["start"] for r in rows),
            )
        )
    )
    keep = [
        r
        for r in rows
        if r["total"] >= stored.get((r["provider_id"], r["model"], r["grain"], r["start"]), 0)
    ]
    upsert(Bucket, keep)
    return len(keep)


# -- rebuilding -------------------------------------------------------------------------------


def rebuild(provider_id: int | None = None, now: datetime | None = None) -> int:
    """Recompute every bucket (of one provider, or all) from raw rows and hours, committing per
    provider; returns how many buckets were written. Minute buckets only for the last 24 h."""
    ids = [provider_id] if provider_id is not None else _provider_ids()
    written = 0
    for pid in ids:
        written += _rebuild_raw(pid, now or utcnow()) + _rebuild_days(pid)
        db.session.commit()
    return written


def _provider_ids() -> list[int]:
    return list(db.session.scalars(select(Provider.id).order_by(Provider.id)))


def _rebuild_raw(provider_id: int, now: datetime) -> int:
    first = db.session.scalar(select(func.min(Probe.at)).where(Probe.provider_id == provider_id))
    if first is None:
        return 0  # every raw row is gone: the stored buckets are all there is
    # Buckets after the oldest raw row's have all their raw rows: anything else in them is stale.
    for grain in ("m", "h"):
        db.session.execute(
            delete(Bucket).where(
                Bucket.provider_id == provider_id,
                Bucket.grain == grain,
                Bucket.start > floor(first, grain),
            )
        )
    recent = floor(now - KEEP["m"], "m")  # older minute buckets would only be cleaned up
    rows = db.session.execute(
        select(*RAW)
        .where(Probe.provider_id == provider_id)
        .order_by(Probe.at, Probe.id)
        .execution_options(yield_per=BATCH)
    )
    return store(_fold_raw(rows, lambda key: key[2] == "h" or key[3] >= recent))


def _rebuild_days(provider_id: int) -> int:
    where = (Bucket.provider_id == provider_id, Bucket.grain == "h")
    first = db.session.scalar(select(func.min(Bucket.start)).where(*where))
    if first is None:
        return 0
    db.session.execute(
        delete(Bucket).where(
            Bucket.provider_id == provider_id,
            Bucket.grain == "d",
            Bucket.start > floor(first, "d"),
        )
    )
    return store(_days(db.session.execute(select(*HOURS).where(*where))))


# -- cleanup ----------------------------------------------------------------------------------


def cleanup(now: datetime | None = None, raw_days: int = 7) -> dict[str, int]:
    """Delete raw probes older than raw_days and buckets older than their tier's KEEP, then give
    the freed pages back on SQLite; {"raw", "m", "h", "d", "freed_pages"} counts.

    Short write transactions, so probes keep landing meanwhile: one per provider and tier of
    buckets (a night's worth is about 1,440 minute rows per model), raw rows BATCH at a time.
    """
    now = now or utcnow()
    done = {"raw": 0, "m": 0, "h": 0, "d": 0, "freed_pages": 0}
    for pid in _provider_ids():
        old = select(Probe.id).where(
            Probe.provider_id == pid, Probe.at < now - raw_days * STEP["d"]
        )
        while True:
            gone = db.session.execute(delete(Probe).where(Probe.id.in_(old.limit(BATCH)))).rowcount
            db.session.commit()
            done["raw"] += gone
            if gone < BATCH:
                break
        for grain in KEEP:
            stale = delete(Bucket).where(
                Bucket.provider_id == pid, Bucket.grain == grain, Bucket.start < now - KEEP[grain]
            )
            done[grain] += db.session.execute(stale).rowcount
            db.session.commit()
    if db.session.get_bind().dialect.name == "sqlite":
        ensure_incremental_vacuum()
        done["freed_pages"] = _incremental_vacuum()
    return done


def ensure_incremental_vacuum() -> bool:
    """Switch a SQLite database to incremental auto-vacuum; True when it did (one full VACUUM).

    auto_vacuum only changes with a VACUUM, so a new database gets it at its first cleanup (the
    migrations cannot: VACUUM refuses to run inside their transaction). Commits the session.
    """
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if connection.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 2:
            return False
        connection.exec_driver_sql("PRAGMA auto_vacuum = INCREMENTAL")
        try:
            connection.exec_driver_sql("VACUUM")
        except OperationalError:  # busy past the timeout: the next cleanup tries again
            log.warning("VACUUM for incremental auto-vacuum failed; retried at the next cleanup")
            return False
    return True


def _incremental_vacuum() -> int:
    """Truncate the file by its free pages; returns how many were freed."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        before = connection.exec_driver_sql("PRAGMA freelist_count").scalar() or 0
        # One page per sqlite3_step, and sqlite3's execute() steps once: executescript runs it out.
        connection.connection.driver_connection.executescript("PRAGMA incremental_vacuum;")
        after = connection.exec_driver_sql("PRAGMA freelist_count").scalar() or 0
    return before - after


def cleanup_job() -> dict[str, int]:
    """The scheduler's nightly job: the cleanup, keeping STATUS_RAW_DAYS of raw probes."""
    return cleanup(raw_days=int(current_app.config["STATUS_RAW_DAYS"]))
