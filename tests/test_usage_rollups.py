"""Hourly rollups and the queries on them, on real SQLite, the real poller and the fake relay."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import current_app
from sqlalchemy import func, select

from blueprints.auth.models import User
from blueprints.keys.models import BalanceSample, TrackedKey, UsageRecord
from blueprints.keys.poller import poll_once
from blueprints.keys.retention import prune_samples
from blueprints.keys.signals import key_polled, usage_ingested
from blueprints.providers.models import Provider
from blueprints.usage import queries
from blueprints.usage.days import hour_of, zone
from blueprints.usage.models import BalanceHour, UsageHour
from blueprints.usage.rollups import rebuild
from database import db, utcnow
from tests.fakerelay import make_logs

USD = 500000
SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
COLUMNS = ("hour_start", "samples", "unit", "remaining_first", "remaining_last", "remaining_min")
COLUMNS += ("used_last", "last_at", "spend", "topup", "status_last")


@pytest.fixture
def key_id(app, fake) -> int:
    """One tracked key (on the fake relay, never polled unless a test says so)."""
    return make_key(app, fake, fake.add_token(remain_quota=20 * USD, used_quota=5 * USD).key)


def make_key(app, fake, secret: str) -> int:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "alice"))
        if user is None:
            user = User(username="alice", password_hash="!")
            db.session.add(user)
        provider = db.session.scalar(select(Provider).where(Provider.base_url == fake.url))
        if provider is None:
            provider = Provider(name="fake", base_url=fake.url)
            db.session.add(provider)
        db.session.flush()
        key = TrackedKey.sealed(secret, user_id=user.id, provider_id=provider.id, label="k")
        db.session.add(key)
        db.session.commit()
        return key.id


def poll(app, key_id: int, at: datetime, remaining=None, used=None, status="active"):
    """Store a sample and announce it, as the poller does."""
    with app.app_context():
        sample = BalanceSample(
            key_id=key_id, taken_at=at, status=status, unit="USD", remaining=remaining, used=used
        )
        db.session.add(sample)
        db.session.commit()
        key = db.session.get(TrackedKey, key_id)
        key_polled.send(current_app._get_current_object(), key=key, sample=sample, previous=None)


def log_usage(app, key_id: int, at: datetime, model="gpt-4o", cost=0.5, tokens=(100, 20)):
    """Store a usage record and announce it, as log ingestion does."""
    with app.app_context():
        db.session.add(
            UsageRecord(
                key_id=key_id,
                created_at=at,
                model=model,
                prompt_tokens=tokens[0],
                completion_tokens=tokens[1],
                quota=int(cost * USD),
                cost=cost,
                unit="USD",
                # 32 characters, like ingestion's digest (the column is VARCHAR(32))
                dedupe=hashlib.sha256(
                    f"{at.timestamp()}-{model}-{cost}-{tokens}".encode()
                ).hexdigest()[:32],
            )
        )
        db.session.commit()
        app_object = current_app._get_current_object()
        usage_ingested.send(app_object, key_id=key_id, rows=[(at, model)])


def hours(app, key_id: int | None = None) -> list[tuple]:
    with app.app_context():
        query = select(BalanceHour).order_by(BalanceHour.key_id, BalanceHour.hour_start)
        if key_id is not None:
            query = query.where(BalanceHour.key_id == key_id)
        return [tuple(getattr(h, c) for c in COLUMNS) for h in db.session.scalars(query)]


def usage_hours(app) -> list[tuple]:
    with app.app_context():
        query = select(UsageHour).order_by(UsageHour.hour_start, UsageHour.model)
        return [
            (u.hour_start, u.model, u.requests, u.prompt_tokens, u.completion_tokens, u.cost)
            for u in db.session.scalars(query)
        ]


# -- balance hours -----------------------------------------------------------------------------


def test_it_rolls_samples_into_hours_with_spend_and_topups(app, key_id):
    poll(app, key_id, T0 + timedelta(minutes=10), remaining=20.0, used=5.0)
    poll(app, key_id, T0 + timedelta(minutes=40), remaining=18.0, used=7.0)
    poll(app, key_id, T0 + timedelta(minutes=50), status="unreachable")  # counted, no numbers
    # The delta across the hour boundary belongs to the later sample's hour.
    poll(app, key_id, T0 + timedelta(minutes=70), remaining=17.0, used=8.0)
    poll(app, key_id, T0 + timedelta(minutes=80), remaining=66.0, used=9.0)  # +50 top-up
    first, second = hours(app, key_id)
    assert first == (
        *(T0, 3, "USD", 20.0, 18.0, 18.0, 7.0, T0 + timedelta(minutes=40)),
        *(2.0, 0.0, "unreachable"),
    )
    assert second == (
        *(T0 + timedelta(hours=1), 2, "USD", 17.0, 66.0, 17.0, 9.0, T0 + timedelta(minutes=80)),
        *(2.0, 50.0, "active"),
    )


def test_it_falls_back_to_remaining_drops_when_used_is_unknown(app, key_id):
    for minutes, remaining in ((0, 10.0), (20, 9.25), (40, 30.0), (50, 29.0)):
        poll(app, key_id, T0 + timedelta(minutes=minutes), remaining=remaining)
    ((*_, spend, topup, _status),) = hours(app, key_id)
    assert (spend, topup) == (1.75, 20.75)


def test_it_gives_the_same_rows_when_a_sample_is_applied_twice_or_rebuilt(app, key_id):
    for minutes, remaining, used in ((5, 20.0, 5.0), (65, 18.5, 6.5), (125, 17.0, 8.0)):
        poll(app, key_id, T0 + timedelta(minutes=minutes), remaining=remaining, used=used)
    live = hours(app, key_id)
    assert len(live) == 3 and [h[8] for h in live] == [0.0, 1.5, 1.5]
    with app.app_context():
        sample = db.session.scalars(select(BalanceSample).order_by(BalanceSample.id)).all()[1]
        key = db.session.get(TrackedKey, key_id)
        for _ in range(2):
            key_polled.send(current_app._get_current_object(), key=key, sample=sample)
    assert hours(app, key_id) == live
    with app.app_context():
        assert rebuild() == (3, 0)
        assert rebuild(key_id) == (3, 0)
    assert hours(app, key_id) == live


def test_it_fixes_the_next_hour_when_a_late_sample_arrives(app, key_id):
    poll(app, key_id, T0, remaining=20.0, used=5.0)
    poll(app, key_id, T0 + timedelta(hours=2), remaining=16.0, used=9.0)
    assert [h[8] for h in hours(app, key_id)] == [0.0, 4.0]
    poll(app, key_id, T0 + timedelta(hours=1), remaining=19.0, used=6.0)  # out of order
    assert [h[8] for h in hours(app, key_id)] == [0.0, 1.0, 3.0]


def test_it_keeps_rollups_when_retention_prunes_their_samples(app, key_id):
    now = datetime(2026, 6, 1, 0, 30, tzinfo=UTC)
    start = now - timedelta(days=100)
    with app.app_context():
        for i in range(100 * 4):  # every 6 h, spending 0.25 each time
            at = start + timedelta(hours=6 * i)
            used = 0.25 * i
            db.session.add(
                BalanceSample(
                    key_id=key_id, taken_at=at, status="active", unit="USD",
                    remaining=200.0 - used, used=used,
                )
            )  # fmt: skip
        db.session.commit()
        rebuild()
        before = hours(app, key_id)
        assert len(before) == 400 and sum(h[8] for h in before) == pytest.approx(99.75)
        assert prune_samples(now) > 0
        left = db.session.scalar(select(func.min(BalanceSample.taken_at)))
        assert left > start
        rebuild()  # must neither drop nor shrink the hours whose samples are gone
        assert hours(app, key_id) == before
        # An hour that lost part of its samples keeps its row when the survivors are re-applied.
        edge = db.session.scalars(select(BalanceSample).order_by(BalanceSample.taken_at)).first()
        key = db.session.get(TrackedKey, key_id)
        key_polled.send(current_app._get_current_object(), key=key, sample=edge)
    assert hours(app, key_id) == before
    with app.app_context():
        rows = queries.daily_spend([key_id], date(2026, 2, 22), date(2026, 2, 23), UTC)
    assert [r.spend for r in rows] == [1.0, 1.0]  # 95+ days old, raw samples long gone


# -- usage hours -------------------------------------------------------------------------------


def test_it_rolls_usage_records_into_hours_per_model(app, key_id):
    log_usage(app, key_id, T0 + timedelta(minutes=1), "gpt-4o", 0.5)
    log_usage(app, key_id, T0 + timedelta(minutes=2), "gpt-4o", 0.25, (10, 5))
    log_usage(app, key_id, T0 + timedelta(minutes=3), "claude", 1.0)
    log_usage(app, key_id, T0 + timedelta(minutes=61), "gpt-4o", 2.0)
    expected = [
        (T0, "claude", 1, 100, 20, 1.0),
        (T0, "gpt-4o", 2, 110, 25, 0.75),
        (T0 + timedelta(hours=1), "gpt-4o", 1, 100, 20, 2.0),
    ]
    assert usage_hours(app) == expected
    with app.app_context():
        assert rebuild() == (0, 3)
        assert rebuild() == (0, 3)
    assert usage_hours(app) == expected


def test_it_rebuilds_from_the_command_line(app, key_id):
    poll(app, key_id, T0, remaining=20.0, used=5.0)
    log_usage(app, key_id, T0, "gpt-4o", 0.5)
    with app.app_context():
        db.session.execute(db.delete(BalanceHour))
        db.session.execute(db.delete(UsageHour))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["usage", "rebuild", "--key", str(key_id)])
    assert result.exit_code == 0, result.output
    assert "rebuilt 1 balance hours and 1 usage hours" in result.output
    assert len(hours(app, key_id)) == 1 and len(usage_hours(app)) == 1


# -- the real poller ---------------------------------------------------------------------------


def test_it_rolls_up_a_real_poll_pass_and_its_logs(app, fake):
    base = hour_of(utcnow()) + timedelta(hours=1)  # keys are due from their creation on
    logs = make_logs(12, start=int((base - timedelta(hours=2)).timestamp()), step=600)
    token = fake.add_token(remain_quota=20 * USD, used_quota=5 * USD, logs=logs)
    key_id = make_key(app, fake, token.key)
    with app.app_context():
        report = poll_once(base + timedelta(minutes=5))
    assert (report.polled, report.usage_rows) == (1, 12)
    token.remain_quota, token.used_quota = 17 * USD, 8 * USD
    with app.app_context():
        assert poll_once(base + timedelta(hours=1, minutes=5)).polled == 1
    rows = hours(app, key_id)
    assert [(h[0], h[3], h[4], h[8]) for h in rows] == [
        (base, 20.0, 20.0, 0.0),
        (base + timedelta(hours=1), 17.0, 17.0, 3.0),
    ]
    with app.app_context():
        records = db.session.execute(
            select(func.count(), func.sum(UsageRecord.cost), func.sum(UsageRecord.prompt_tokens))
        ).one()
        requests, cost, prompt, spans = db.session.execute(
            select(
                func.sum(UsageHour.requests),
                func.sum(UsageHour.cost),
                func.sum(UsageHour.prompt_tokens),
                func.count(UsageHour.hour_start.distinct()),
            )
        ).one()
    assert requests == records[0] == 12
    assert cost == pytest.approx(records[1]) and prompt == records[2]
    assert spans == 2  # twelve rows ten minutes apart, starting on the hour


# -- queries -----------------------------------------------------------------------------------


def test_it_puts_a_request_at_2330_utc_on_the_next_day_in_shanghai(app, key_id):
    late = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    log_usage(app, key_id, late, "gpt-4o", 0.5)
    poll(app, key_id, late - timedelta(minutes=20), remaining=20.0, used=5.0)
    poll(app, key_id, late, remaining=19.5, used=5.5)
    with app.app_context():
        local = queries.daily_spend([key_id], date(2026, 3, 2), date(2026, 3, 3), SHANGHAI)
        utc = queries.daily_spend([key_id], date(2026, 3, 2), date(2026, 3, 3), UTC)
        models = queries.model_spend_by_day(key_id, date(2026, 3, 1), date(2026, 3, 4), SHANGHAI)
        tokens = queries.tokens_by_day(key_id, date(2026, 3, 1), date(2026, 3, 4), "UTC")
    assert [(r.day, r.spend, r.requests, r.cost) for r in local] == [
        (date(2026, 3, 3), 0.5, 1, 0.5)
    ]
    assert [(r.day, r.spend, r.requests) for r in utc] == [(date(2026, 3, 2), 0.5, 1)]
    assert models == [(date(2026, 3, 3), "gpt-4o", 1, 0.5, "USD")]
    assert tokens == [(date(2026, 3, 2), 1, 100, 20, 0)]


def test_it_leaves_days_without_data_out(app, key_id):
    poll(app, key_id, datetime(2026, 3, 1, 12, tzinfo=UTC), remaining=20.0, used=5.0)
    poll(app, key_id, datetime(2026, 3, 2, 12, tzinfo=UTC), remaining=20.0, used=5.0)
    # not polled on the 3rd and 4th; the 5th carries what was spent meanwhile
    poll(app, key_id, datetime(2026, 3, 5, 12, tzinfo=UTC), remaining=14.0, used=11.0)
    with app.app_context():
        rows = queries.daily_spend([key_id], date(2026, 3, 1), date(2026, 3, 6), UTC)
    assert [(r.day.day, r.spend) for r in rows] == [(1, 0.0), (2, 0.0), (5, 6.0)]


def test_it_cuts_days_at_local_midnight_across_daylight_saving(app, key_id):
    new_york = ZoneInfo("America/New_York")  # DST starts 2026-03-08 at 02:00 local
    spent = 0.0
    for at in (
        datetime(2026, 3, 7, 4, 30, tzinfo=UTC),  # 23:30 on the 6th, EST
        datetime(2026, 3, 7, 5, 30, tzinfo=UTC),  # 00:30 on the 7th, EST
        datetime(2026, 3, 9, 3, 30, tzinfo=UTC),  # 23:30 on the 8th, EDT
        datetime(2026, 3, 9, 4, 30, tzinfo=UTC),  # 00:30 on the 9th, EDT
    ):
        spent += 1.0
        poll(app, key_id, at, remaining=100.0 - spent, used=spent)
    with app.app_context():
        rows = queries.daily_spend([key_id], date(2026, 3, 6), date(2026, 3, 9), new_york)
    assert [(r.day.day, r.spend) for r in rows] == [(6, 0.0), (7, 1.0), (8, 1.0), (9, 1.0)]


def test_it_starts_half_hour_zone_days_at_the_hour_before_midnight(app, key_id):
    # Asia/Kolkata is +05:30: the 18:00-19:00 UTC hour (23:30-00:30 local) counts as the next day.
    log_usage(app, key_id, datetime(2026, 3, 2, 17, 59, tzinfo=UTC))
    log_usage(app, key_id, datetime(2026, 3, 2, 18, 10, tzinfo=UTC))  # 23:40 local
    with app.app_context():
        rows = queries.tokens_by_day(key_id, date(2026, 3, 2), date(2026, 3, 3), "Asia/Kolkata")
    assert [(r.day.day, r.requests) for r in rows] == [(2, 1), (3, 1)]


def test_it_sums_spend_windows_in_local_days(app, fake, key_id):
    other = make_key(app, fake, fake.add_token().key)
    now = datetime(2026, 3, 31, 2, 0, tzinfo=UTC)  # 10:00 on the 31st in Shanghai
    for kid in (key_id, other):
        for days_ago, spent in ((40, 0.0), (20, 1.0), (5, 3.0), (0, 7.0)):
            at = now - timedelta(days=days_ago)
            poll(app, kid, at, remaining=100.0 - spent, used=spent)
    with app.app_context():
        totals = queries.spend_windows([key_id, other], now, SHANGHAI)
        by_key = queries.spend_windows_by_key([key_id], now, SHANGHAI)
    assert totals == {"today": {"USD": 8.0}, "7d": {"USD": 12.0}, "30d": {"USD": 14.0}}
    assert by_key == {key_id: {"today": 4.0, "7d": 6.0, "30d": 7.0}}


def test_it_serves_remaining_from_hours_and_raw_samples_near_the_end(app, key_id):
    end = T0 + timedelta(days=4)
    for i in range(4 * 24 * 2):  # every 30 minutes
        at = T0 + timedelta(minutes=30 * i)
        poll(app, key_id, at, remaining=1000.0 - i, used=float(i))
    with app.app_context():
        auto = queries.remaining_series(key_id, T0, end)
        hourly = queries.remaining_series(key_id, T0, end, "hour")
        raw = queries.remaining_series(key_id, end - timedelta(hours=2), end, "raw")
    assert len(hourly) == 96 and hourly[0] == (T0 + timedelta(minutes=30), 999.0, "USD")
    assert len(auto) == 48 + 96  # two hourly days, then two raw days at 30-minute steps
    assert [p.at for p in auto] == sorted(p.at for p in auto)
    assert [p.remaining for p in raw] == [812.0, 811.0, 810.0, 809.0]


def test_it_gathers_what_reconcile_needs(app, key_id):
    poll(app, key_id, T0, remaining=20.0, used=0.0)
    log_usage(app, key_id, T0 + timedelta(minutes=5), cost=1.5)
    poll(app, key_id, T0 + timedelta(hours=1), remaining=18.5, used=1.5)
    poll(app, key_id, T0 + timedelta(hours=2), remaining=28.5, used=1.5)  # +10 top-up
    with app.app_context():
        inputs = queries.reconcile_inputs(key_id, T0, T0 + timedelta(hours=3))
        early = queries.reconcile_inputs(key_id, T0 - timedelta(days=1), T0 + timedelta(hours=3))
    assert inputs == (1.5, -8.5, 1.5, 10.0, False, T0, 0.0)
    assert early.capped  # the ingested log starts after the window does


def test_it_counts_the_logged_cost_from_before_tracking_started(app, key_id):
    """Requests logged before the first balance reading: their cost, and when tracking began."""
    log_usage(app, key_id, T0 - timedelta(hours=5), cost=0.25)
    log_usage(app, key_id, T0 - timedelta(hours=2), model="gpt-4o-mini", cost=0.5)
    poll(app, key_id, T0, remaining=20.0, used=0.0)
    log_usage(app, key_id, T0 + timedelta(minutes=5), cost=1.5)
    poll(app, key_id, T0 + timedelta(hours=1), remaining=18.5, used=1.5)
    with app.app_context():
        wide = queries.reconcile_inputs(key_id, T0 - timedelta(days=1), T0 + timedelta(hours=2))
        late = queries.reconcile_inputs(key_id, T0 - timedelta(hours=3), T0 + timedelta(hours=2))
        tracked = queries.reconcile_inputs(key_id, T0, T0 + timedelta(hours=2))
    assert (wide.logged_cost, wide.balance_drop, wide.tracked_from) == (2.25, 1.5, T0)
    assert wide.logged_before == 0.75 and late.logged_before == 0.5
    assert tracked.logged_before == 0.0


def test_it_refuses_unknown_zones_and_huge_ranges(app):
    assert zone("Mars/Olympus") is None
    assert zone(None) is UTC and zone("Asia/Shanghai") == SHANGHAI
    with app.app_context(), pytest.raises(ValueError):
        queries.daily_spend([1], date(2000, 1, 1), date(2026, 1, 1), UTC)
