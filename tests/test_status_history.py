"""Probe history on real SQLite: buckets, idempotence, day merges, uptime, bars, tiers, cleanup."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from blueprints.providers.models import Provider
from blueprints.status import history
from blueprints.status.coverage import LENGTH, coverage
from blueprints.status.history import cleanup, rebuild, record
from blueprints.status.models import Bucket, Probe
from blueprints.status.uptime import (
    BINS,
    color,
    day_bars,
    decode,
    encode,
    exact,
    from_histogram,
    grain_for,
    latency_series,
    model_stats_24h,
    sparkline_24h,
)
from blueprints.status.windows import uptime
from database import db
from tests.conftest import make_app

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
COLUMNS = [c.name for c in Bucket.__table__.columns]


@pytest.fixture
def ctx(tmp_path):
    """An app context on a migrated temp SQLite file with two providers; yields their ids."""
    app = make_app(tmp_path)
    with app.app_context():
        for name in ("alpha", "beta"):
            db.session.add(Provider(name=name, base_url=f"https://{name}.example"))
        db.session.commit()
        ids = list(db.session.scalars(select(Provider.id).order_by(Provider.id)))
        yield ids
        db.session.remove()
        db.engine.dispose()


def probe(pid: int, at: datetime, latency: float | None = 100.0, **extra) -> dict:
    """A probe dict: a status-tier success unless told otherwise."""
    return {
        "provider_id": pid,
        "tier": "status",
        "at": at,
        "ok": True,
        "latency_ms": latency,
        **extra,
    }


def buckets() -> list[tuple]:
    """Every bucket row as a tuple of all columns, in key order."""
    query = select(Bucket).order_by(Bucket.provider_id, Bucket.model, Bucket.grain, Bucket.start)
    db.session.expire_all()
    return [tuple(getattr(b, c) for c in COLUMNS) for b in db.session.scalars(query)]


def one(pid: int, grain: str, start: datetime, model: str = "") -> Bucket | None:
    """One bucket as stored now."""
    db.session.expire_all()
    return db.session.get(Bucket, (pid, model, grain, start))


def put(pid: int, grain: str, start: datetime, total: int, ok: int, model: str = "", **extra):
    """A bucket row written directly, for read-side histories spanning months."""
    key = {"provider_id": pid, "model": model, "grain": grain, "start": start}
    db.session.merge(Bucket(**key, total=total, ok=ok, **extra))
    db.session.flush()


# -- percentile rules -------------------------------------------------------------------------


def test_percentile_rules():
    values = [float(v) for v in range(10, 210, 10)]  # 10 … 200 ms, 20 values
    assert exact(values, 50) == 100  # rank ceil(20 · 0.5) = 10
    assert exact(values, 95) == 190  # rank 19
    assert exact([7.0], 95) == 7 and exact([], 50) is None
    counts = decode("0,0,3,0,1")  # 3 in (50, 75], 1 in (100, 150]
    assert len(counts) == len(BINS) and encode(counts) == "0,0,3,0,1"
    assert from_histogram(counts, 50, top=140.0) == 75  # rank 2 falls in (50, 75]
    assert from_histogram(counts, 95, top=140.0) == 140  # edge 150 capped at the max
    assert from_histogram(decode("0") + [0] * 0, 50, None) is None
    last = [0] * (len(BINS) - 1) + [2]
    assert from_histogram(last, 50, top=75000.0) == 75000  # the open bin answers its max
    assert encode([0] * len(BINS)) == ""


# -- write side -------------------------------------------------------------------------------


def test_hour_and_minute_buckets_count_a_known_history(ctx):
    pid = ctx[0]
    start = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    rows = [probe(pid, start + i * timedelta(minutes=2), 10.0 * (i + 1)) for i in range(20)]
    rows[3] |= {"degraded": True}  # slow but useful: ok and degraded
    rows.append(probe(pid, start + timedelta(minutes=41), 5.0, ok=False, degraded=True))  # 429
    rows.append(probe(pid, start + timedelta(minutes=42), 9000.0, ok=False, error="timeout"))
    # A provider tier counts for the provider, whatever model it names.
    rows.append(probe(pid, start + timedelta(minutes=43), 30.0, tier="models", model="gpt"))
    chat = dict(model="gpt", ok=True)
    rows.append(probe(pid, start + timedelta(minutes=5), 800.0, tier="light", **chat))
    rows.append(
        probe(
            pid,
            start + timedelta(minutes=6),
            1200.0,
            tier="stream",
            **chat,
            ttft_ms=400.0,
            tokens_per_s=50.0,
        )
    )
    rows.append(
        probe(
            pid,
            start + timedelta(minutes=7),
            1500.0,
            tier="stream",
            **chat,
            ttft_ms=600.0,
            tokens_per_s=30.0,
        )
    )
    assert record(rows) == len(rows)
    db.session.commit()

    hour = one(pid, "h", start)
    assert (hour.total, hour.ok, hour.degraded) == (23, 21, 2)
    # Latency from the 21 ok probes only: 10 … 200 and the models probe's 30.
    assert hour.latency_n == 21 and hour.latency_sum == 2130.0
    assert (hour.latency_min, hour.latency_max) == (10.0, 200.0)
    assert hour.latency_p50 == 100.0  # sorted: 10, 20, 30, 30, 40, …; rank 11 = 100
    assert hour.latency_p95 == 190.0  # rank ceil(21 · 0.95) = 20
    assert decode(hour.histogram)[:5] == [2, 4, 2, 3, 5]  # ≤25, ≤50, ≤75, ≤100, ≤150
    assert hour.ttft_n == 0 and hour.tps_n == 0

    minute = one(pid, "m", start + timedelta(minutes=6))
    assert (minute.total, minute.latency_p50, minute.histogram) == (1, 40.0, "0,1")
    assert one(pid, "m", start + timedelta(minutes=1)) is None  # no probe in that minute

    model = one(pid, "h", start, model="gpt")
    assert (model.total, model.ok, model.latency_n) == (3, 3, 3)
    assert (model.ttft_n, model.ttft_sum, model.tps_n, model.tps_sum) == (2, 1000.0, 2, 80.0)
    assert model.latency_p50 == 1200.0
    assert one(pid, "d", datetime(2026, 3, 10, tzinfo=UTC)).total == 23
    assert one(ctx[1], "h", start) is None


def test_recording_twice_and_rebuilding_leave_identical_rows(ctx):
    pid = ctx[0]
    start = datetime(2026, 3, 10, 7, 50, tzinfo=UTC)
    rows = [probe(pid, start + i * timedelta(minutes=7), 50.0 + i * 37.5) for i in range(40)]
    rows += [
        probe(pid, start + i * HOUR + timedelta(seconds=30), None, ok=False, error="connect")
        for i in range(4)
    ]
    rows += [
        probe(
            pid,
            start + i * timedelta(minutes=10),
            900.0 + i,
            tier="stream",
            model="m1",
            ttft_ms=300.0 + i,
            tokens_per_s=40.1,
        )
        for i in range(30)
    ]
    objects = [Probe(**r) for r in rows[::2]]  # Probe objects and dicts alike
    assert record(objects + rows[1::2]) == len(rows)
    db.session.commit()
    first = buckets()
    assert {b[2] for b in first} == {"m", "h", "d"}

    assert record(rows) == 0  # known probes are not stored twice
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Probe)) == len(rows)
    assert buckets() == first

    extra = Probe(**probe(pid, start + timedelta(minutes=1), 77.0))  # stored by the caller
    db.session.add(extra)
    db.session.flush()
    assert record([extra]) == 0
    db.session.commit()
    first = buckets()
    assert one(pid, "m", start + timedelta(minutes=1)).latency_p50 == 77.0

    assert rebuild(now=NOW) == len(first)
    assert buckets() == first
    rebuild(pid, now=NOW)
    assert buckets() == first


def test_rebuild_drops_stale_buckets_and_keeps_pruned_hours(ctx):
    pid = ctx[0]
    start = datetime(2026, 3, 9, 22, 0, tzinfo=UTC)
    rows = [probe(pid, start + i * timedelta(minutes=20), 100.0 + i) for i in range(12)]
    record(rows)
    db.session.commit()
    first_hour = one(pid, "h", start)
    assert first_hour.total == 3
    # Prune the first hour's raw rows (as cleanup would) and invent a stale later bucket.
    db.session.execute(Probe.__table__.delete().where(Probe.at < start + HOUR))
    put(pid, "h", NOW, 99, 99)
    db.session.commit()
    rebuild(pid, now=NOW)
    assert one(pid, "h", start).total == 3  # kept: its raw rows are gone
    assert one(pid, "h", NOW) is None  # after the oldest raw row: recomputed, so dropped
    assert one(pid, "d", datetime(2026, 3, 9, tzinfo=UTC)).total == 6
    assert one(pid, "d", datetime(2026, 3, 10, tzinfo=UTC)).total == 6
    # A late probe for the pruned hour does not shrink it to the one raw row left.
    record([probe(pid, start + timedelta(minutes=59), 5.0)])
    assert one(pid, "h", start).total == 3


def test_record_refuses_naive_times_and_takes_nothing(ctx):
    with pytest.raises(ValueError, match="naive"):
        record([probe(ctx[0], datetime(2026, 3, 10, 9, 0), 1.0)])
    assert record([]) == 0
    assert buckets() == []


def test_day_bucket_merges_its_hours(ctx):
    pid = ctx[0]
    day = datetime(2026, 3, 10, tzinfo=UTC)
    latencies = {0: [20.0, 40.0, 60.0], 5: [90.0, 120.0], 23: [180.0, 250.0, 2600.0, 70000.0]}
    rows = [
        probe(pid, day + h * HOUR + i * timedelta(minutes=1), v)
        for h, values in latencies.items()
        for i, v in enumerate(values)
    ]
    rows.append(probe(pid, day + 5 * HOUR + timedelta(minutes=30), None, ok=False))
    rows.append(probe(pid, day - timedelta(minutes=1), 1.0))  # the day before: not in it
    record(rows)
    db.session.commit()
    hours = [one(pid, "h", day + h * HOUR) for h in latencies]
    merged = one(pid, "d", day)
    for name in ("total", "ok", "degraded", "latency_n", "latency_sum", "ttft_n", "tps_n"):
        assert getattr(merged, name) == sum(getattr(h, name) for h in hours)
    assert (merged.total, merged.ok) == (10, 9)
    counts = [sum(c) for c in zip(*(decode(h.histogram) for h in hours), strict=True)]
    assert decode(merged.histogram) == counts
    assert (merged.latency_min, merged.latency_max) == (20.0, 70000.0)
    # Ranks 5 (p50 of 9) and 9 (p95): bins (100, 150] and the open bin → its max.
    assert (merged.latency_p50, merged.latency_p95) == (150.0, 70000.0)
    assert hours[0].latency_p50 == 40.0  # hours stay exact


# -- read side --------------------------------------------------------------------------------


def test_uptime_windows_and_no_data(ctx):
    pid, empty = ctx
    today = datetime(2026, 3, 10, tzinfo=UTC)
    put(pid, "h", datetime(2026, 3, 10, 12, tzinfo=UTC), 10, 9)  # the current hour so far
    put(pid, "h", datetime(2026, 3, 9, 12, tzinfo=UTC), 10, 5)  # 24 whole hours back: in
    put(pid, "h", datetime(2026, 3, 9, 11, tzinfo=UTC), 10, 0)  # 25 back: out
    put(pid, "d", today, 10, 10)
    put(pid, "d", today - 2 * DAY, 10, 5)  # yesterday has no row: no data, not 100 %
    put(pid, "d", today - 7 * DAY, 20, 20)  # 7 whole days back: inside 7d
    put(pid, "d", today - 8 * DAY, 40, 0)  # inside 30d only
    put(pid, "d", today - 90 * DAY, 30, 30)
    put(pid, "d", today - 91 * DAY, 30, 0)  # outside every window
    put(pid, "d", today, 10, 3, model="m1")
    db.session.commit()
    got = uptime([pid, empty], "", NOW)
    assert got[pid] == {"24h": 14 / 20, "7d": 35 / 40, "30d": 35 / 80, "90d": 65 / 110}
    assert got[empty] == {"24h": None, "7d": None, "30d": None, "90d": None}
    assert uptime([pid], "m1", NOW)[pid] == {"24h": None, "7d": 0.3, "30d": 0.3, "90d": 0.3}
    assert uptime([], "", NOW) == {}
    # Only old data: the recent windows have none, never 1.0.
    later = uptime([pid], "", NOW + 20 * DAY)[pid]
    assert (later["24h"], later["7d"]) == (None, None)
    assert later["30d"] == 35 / 80


def test_coverage_counts_the_time_probes_span_not_the_window(ctx):
    """NOW is 12:30. alpha: probes since 11:50 today (40 min); beta: a full 90 days, 2 missing."""
    pid, old = ctx
    today = datetime(2026, 3, 10, tzinfo=UTC)
    put(pid, "m", datetime(2026, 3, 10, 11, 50, tzinfo=UTC), 2, 2)
    put(pid, "m", datetime(2026, 3, 10, 12, 29, tzinfo=UTC), 2, 2)
    put(pid, "h", datetime(2026, 3, 10, 11, tzinfo=UTC), 20, 20)
    put(pid, "h", datetime(2026, 3, 10, 12, tzinfo=UTC), 58, 58)
    put(pid, "d", today, 78, 78)
    for hour in range(25):
        put(old, "h", datetime(2026, 3, 10, 12, tzinfo=UTC) - hour * HOUR, 60, 60)
    for day in range(91):
        if day not in (3, 40):  # two days without a probe: nothing to count
            put(old, "d", today - day * DAY, 1440, 1440)
    db.session.commit()
    got = coverage([pid, old], "", NOW)
    minutes = {w: round(c * LENGTH[w] / timedelta(minutes=1)) for w, c in got[pid].items()}
    assert minutes == {"24h": 40, "7d": 40, "30d": 40, "90d": 40}
    # 8 day buckets in 7d (7 whole days and today), one missing, and today only until 12:30.
    assert got[old]["24h"] == 1.0 and got[old]["7d"] == pytest.approx((7 - 11.5 / 24) / 7)
    assert got[old]["90d"] == pytest.approx((89 - 11.5 / 24) / 90)
    assert coverage([pid], "m1", NOW)[pid] == dict.fromkeys(LENGTH)  # no probes: None, not 0
    # One probe at 11:59 and none since (the current hour is empty): 31 minutes, not nothing.
    put(pid, "m", datetime(2026, 3, 10, 11, 59, tzinfo=UTC), 1, 1, model="m2")
    put(pid, "h", datetime(2026, 3, 10, 11, tzinfo=UTC), 1, 1, model="m2")
    put(pid, "d", today, 1, 1, model="m2")
    db.session.commit()
    assert coverage([pid], "m2", NOW)[pid]["24h"] == pytest.approx(31 / 1440)
    # 20 days on with no probe since: the short windows hold none; 30d holds 10 days of them
    # (today−10 … today, less day 3) plus the current day so far.
    later = coverage([old], "", NOW + 20 * DAY)[old]
    assert later["24h"] is None and later["7d"] is None
    assert later["30d"] == pytest.approx((10 + 12.5 / 24) / 30)


def test_uptime_counts_slow_answers_as_up_and_429s_as_down(ctx):
    pid = ctx[0]
    at = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    record(
        [
            probe(pid, at, 5000.0, degraded=True),  # slow: up, degraded
            probe(pid, at + timedelta(minutes=1), 3.0, ok=False, degraded=True, status=429),
            probe(
                pid,
                at + timedelta(minutes=2),
                80.0,
                ok=False,
                degraded=True,
                error="empty_response",
            ),
            probe(pid, at + timedelta(minutes=3), 90.0),
        ]
    )
    db.session.commit()
    assert uptime([pid], "", NOW)[pid] == {"24h": 0.5, "7d": 0.5, "30d": 0.5, "90d": 0.5}


def test_day_bars_colours(ctx):
    pid, empty = ctx
    today = date(2026, 3, 10)

    def at(days_ago: int) -> datetime:
        return datetime(2026, 3, 10, tzinfo=UTC) - days_ago * DAY

    put(pid, "d", at(0), 1000, 1000)  # green
    put(pid, "d", at(1), 1000, 999)  # 99.9 %: still green
    put(pid, "d", at(2), 1000, 1000, degraded=1)  # yellow: something degraded
    put(pid, "d", at(3), 100, 96)  # yellow: 96 %
    put(pid, "d", at(4), 100, 94)  # red
    put(pid, "d", at(89), 10, 10)  # the oldest bar
    put(pid, "d", at(90), 10, 0)  # one day too old
    db.session.commit()
    bars = day_bars([pid, empty], "", today)
    assert len(bars[pid]) == 90 and len(bars[empty]) == 90
    assert bars[pid][0].day == date(2025, 12, 11) and bars[pid][-1].day == today
    assert [b.color for b in bars[pid][-5:]] == ["red", "yellow", "yellow", "green", "green"]
    assert bars[pid][-2].uptime == 0.999 and bars[pid][-5].uptime == 0.94
    assert bars[pid][0].color == "green"
    assert bars[pid][-6] == (date(2026, 3, 5), 0, 0, 0, None, "grey")
    assert {b.color for b in bars[empty]} == {"grey"}
    assert len(day_bars([pid], "", today, days=7)[pid]) == 7
    assert color(0, 0, 0) == "grey" and color(20, 18, 5) == "red"


def test_latency_series_picks_the_tier_by_range(ctx):
    pid = ctx[0]
    assert grain_for(NOW - 6 * HOUR, NOW, NOW) == "m"
    assert grain_for(NOW - 24 * HOUR, NOW, NOW + timedelta(seconds=1)) == "m"
    assert grain_for(NOW - 7 * DAY, NOW, NOW) == "h"
    assert grain_for(NOW - 90 * DAY, NOW, NOW) == "h"
    assert grain_for(NOW - 365 * DAY, NOW, NOW) == "d"
    # A short range older than the minute (or hour) tier's retention reads the next tier.
    assert grain_for(NOW - 3 * DAY, NOW - 3 * DAY + 6 * HOUR, NOW) == "h"
    assert grain_for(NOW - 100 * DAY, NOW - 99 * DAY, NOW) == "d"

    for i in range(360):
        put(pid, "m", NOW - 6 * HOUR + i * timedelta(minutes=1), 1, 1, latency_p50=1.0)
    for i in range(7 * 24):
        put(pid, "h", NOW.replace(minute=0) - 7 * DAY + i * HOUR, 1, 1, latency_p50=2.0)
    for i in range(365):  # 2025-03-10 (the day the year's range starts in) … 2026-03-09
        put(pid, "d", datetime(2025, 3, 10, tzinfo=UTC) + i * DAY, 1, 1, latency_p50=3.0)
    put(pid, "d", datetime(2026, 3, 10, tzinfo=UTC), 4, 4, ttft_n=2, ttft_sum=900.0)
    db.session.commit()
    six = latency_series(pid, "", NOW - 6 * HOUR, NOW, now=NOW)
    week = latency_series(pid, "", NOW - 7 * DAY, NOW, now=NOW)
    year = latency_series(pid, "", NOW - 365 * DAY, NOW, now=NOW)
    assert (len(six), {p.p50 for p in six}) == (360, {1.0})
    assert (len(week), {p.p50 for p in week}) == (7 * 24, {2.0})
    assert len(year) == 366 and year[0].start == datetime(2025, 3, 10, tzinfo=UTC)
    assert year[-1] == (datetime(2026, 3, 10, tzinfo=UTC), None, None, 450.0)
    assert latency_series(pid, "m1", NOW - 6 * HOUR, NOW, now=NOW) == []


def test_sparkline_has_24_hours_with_gaps(ctx):
    pid, empty = ctx
    current = datetime(2026, 3, 10, 12, tzinfo=UTC)
    put(pid, "h", current, 3, 3, latency_p50=120.0)
    put(pid, "h", current - 5 * HOUR, 3, 3, latency_p50=300.0)
    put(pid, "h", current - 23 * HOUR, 3, 3, latency_p50=80.0)
    put(pid, "h", current - 24 * HOUR, 3, 3, latency_p50=999.0)  # 25th hour back: not shown
    put(pid, "h", current, 3, 3, model="m1", latency_p50=5.0)  # a model's: not the provider's
    db.session.commit()
    line = sparkline_24h([pid, empty], NOW)
    assert len(line[pid]) == 24 and line[empty] == [None] * 24
    assert line[pid][0] == 80.0 and line[pid][18] == 300.0 and line[pid][23] == 120.0
    assert [i for i, v in enumerate(line[pid]) if v is not None] == [0, 18, 23]


def test_model_stats_24h(ctx):
    pid, empty = ctx
    at = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)
    rows = [probe(pid, at + timedelta(minutes=i), v) for i, v in enumerate([40.0, 90.0, 130.0])]
    stream = dict(tier="stream", model="m1")
    for i, (ttft, tps) in enumerate([(300.0, 40.0), (500.0, 20.0), (900.0, 30.0), (100.0, None)]):
        rows.append(
            probe(
                pid,
                at + timedelta(minutes=10 * i),
                1000.0,
                ttft_ms=ttft,
                tokens_per_s=tps,
                **stream,
            )
        )
    rows.append(probe(pid, at + timedelta(minutes=55), 200.0, tier="light", model="m1"))
    rows.append(probe(pid, at - 2 * DAY, 1.0, ttft_ms=1.0, tokens_per_s=1.0, **stream))  # too old
    rows.append(probe(pid, at, 700.0, tier="light", model="m2", ok=False))
    record(rows)
    db.session.commit()
    stats = model_stats_24h(pid, NOW)
    assert stats == {
        "m1": {"ttft_p50": 300.0, "tps_p50": 30.0, "last_checked_at": at + timedelta(minutes=55)},
        "m2": {"ttft_p50": None, "tps_p50": None, "last_checked_at": at},
    }
    assert model_stats_24h(empty, NOW) == {}


# -- cleanup ----------------------------------------------------------------------------------


def test_cleanup_deletes_by_age_per_tier(ctx, monkeypatch):
    pid, other = ctx
    monkeypatch.setattr(history, "BATCH", 3)  # several batches of raw rows per provider
    record([probe(p, NOW - timedelta(days=8, minutes=i), 1.0) for p in ctx for i in range(7)])
    record([probe(pid, NOW - timedelta(days=6, minutes=i), 1.0) for i in range(4)])
    db.session.execute(Bucket.__table__.delete())
    ages = {"m": (25 * HOUR, 23 * HOUR), "h": (91 * DAY, 89 * DAY), "d": (731 * DAY, 729 * DAY)}
    for grain, (old, new) in ages.items():
        for i in range(4):
            put(pid, grain, NOW - old - i * timedelta(minutes=1), 1, 1)
            put(other, grain, NOW - old - i * timedelta(minutes=1), 1, 1, model="m1")
        put(pid, grain, NOW - new, 1, 1)
    db.session.commit()

    done = cleanup(NOW, raw_days=7)
    assert {k: done[k] for k in ("raw", "m", "h", "d")} == {"raw": 14, "m": 8, "h": 8, "d": 8}
    assert db.session.scalar(select(func.count()).select_from(Probe)) == 4
    left = sorted((b[2], b[3]) for b in buckets())
    assert left == sorted((grain, NOW - new) for grain, (_, new) in ages.items())
    if db.engine.dialect.name != "sqlite":
        return  # the rest is about SQLite's file: PostgreSQL's autovacuum reuses the space
    assert db.session.execute(text("PRAGMA auto_vacuum")).scalar() == 2  # incremental
    assert history.ensure_incremental_vacuum() is False  # set once, at the first cleanup
    assert cleanup(NOW, raw_days=7) == {"raw": 0, "m": 0, "h": 0, "d": 0, "freed_pages": 0}

    # Deleted pages go back to the file system: the free list is empty after a cleanup.
    old = NOW - timedelta(days=9)
    bulky = dict(ok=False, error="timeout", status=504)
    record([probe(other, old + timedelta(seconds=i), 9000.0 + i, **bulky) for i in range(3000)])
    db.session.commit()
    size = db.session.execute(text("PRAGMA page_count")).scalar()
    done = cleanup(NOW, raw_days=7)
    assert done["raw"] == 3000 and done["freed_pages"] > 10
    assert db.session.execute(text("PRAGMA freelist_count")).scalar() == 0
    assert db.session.execute(text("PRAGMA page_count")).scalar() <= size - done["freed_pages"]
