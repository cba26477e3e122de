"""Daily rollups per stored zone: the same rows as grouping the hours, kept current and synced."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from blueprints.usage import daily, queries
from blueprints.usage.models import BalanceDay, UsageDay
from blueprints.usage.rollups import rebuild
from database import db
from tests.conftest import make_app
from tests.test_usage_rollups import USD, log_usage, make_key, poll

# Whole-hour, DST (New York switches on 2026-03-08, London on 03-29), half- and quarter-hour zones.
ZONES = [
    "Asia/Shanghai",
    "UTC",
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "Asia/Kathmandu",
]
START = datetime(2026, 3, 1, 0, 7, tzinfo=UTC)
FIRST, LAST = date(2026, 2, 27), date(2026, 4, 3)


@pytest.fixture
def zoned(tmp_path):
    app = make_app(tmp_path, USAGE_DAY_ZONES=list(ZONES))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def fill(app, key_id: int, seed: int = 7) -> None:
    """A month of polls every 37-97 min (spend, two top-ups, failed polls, a 3-day gap) and logs."""
    rng = random.Random(seed)
    at, used, remaining = START, 5.0, 50.0
    while at < START + timedelta(days=32):
        if datetime(2026, 3, 12, tzinfo=UTC) <= at < datetime(2026, 3, 15, tzinfo=UTC):
            at += timedelta(hours=5)  # not polled: a gap, not a zero
            continue
        if rng.random() < 0.05:
            poll(app, key_id, at, status="error")  # a failed poll carries no numbers
        else:
            spent = round(rng.random() * 0.4, 3)
            used, remaining = used + spent, remaining - spent
            if at.day in (10, 25) and at.hour == 9:
                remaining += 20.0  # a top-up
            poll(app, key_id, at, remaining=round(remaining, 6), used=round(used, 6))
            model = rng.choice(["gpt-4o", "gpt-4o-mini", "deepseek-chat"])
            log_usage(app, key_id, at, model, spent, (rng.randint(1, 900), rng.randint(1, 300)))
        at += timedelta(minutes=rng.randint(37, 97))


def answers(app, key_ids: list[int], zone: str) -> tuple:
    with app.app_context():
        spend = [
            (r.key_id, r.day, r.unit, r.samples, r.requests, r.prompt_tokens, r.completion_tokens)
            + tuple(round(v or 0, 6) for v in (r.spend, r.topup, r.remaining_min, r.cost))
            for r in queries.daily_spend(key_ids, FIRST, LAST, zone)
        ]
        models = [
            (m.day, m.model, m.requests, round(m.cost, 6), m.unit)
            for m in queries.model_spend_by_day(key_ids[0], FIRST, LAST, zone)
        ]
        tokens = queries.tokens_by_day(key_ids[0], FIRST, LAST, zone)
    return spend, models, tokens


def day_rows(app) -> tuple[list, list]:
    with app.app_context():
        balance = db.session.scalars(
            select(BalanceDay).order_by(BalanceDay.key_id, BalanceDay.zone, BalanceDay.day)
        )
        usage = db.session.scalars(
            select(UsageDay).order_by(UsageDay.key_id, UsageDay.zone, UsageDay.day, UsageDay.model)
        )
        return (
            [
                (b.key_id, b.zone, b.day, b.samples, round(b.spend, 6), round(b.topup, 6))
                for b in balance
            ],
            [(u.key_id, u.zone, u.day, u.model, u.requests, round(u.cost, 6)) for u in usage],
        )


def test_day_rows_give_the_same_answers_as_grouping_hours_in_every_zone(zoned, fake):
    key_ids = [make_key(zoned, fake, fake.add_token(remain_quota=50 * USD).key) for _ in range(2)]
    for seed, key_id in enumerate(key_ids):
        fill(zoned, key_id, seed)
    from_days = {zone: answers(zoned, key_ids, zone) for zone in ZONES}
    zoned.config["USAGE_DAY_ZONES"] = []  # every query now groups the hourly rows
    for zone in ZONES:
        assert from_days[zone] == answers(zoned, key_ids, zone), zone
    spend, models, tokens = from_days["UTC"]
    assert {row[1] for row in spend}.isdisjoint({date(2026, 3, 13), date(2026, 3, 14)})  # the gap
    assert sum(row[8] for row in spend) == pytest.approx(40.0)  # two top-ups of 20 each
    assert models and tokens


def test_incremental_day_rows_equal_a_rebuild_and_a_second_rebuild(zoned, fake):
    key_id = make_key(zoned, fake, fake.add_token().key)
    fill(zoned, key_id)
    incremental = day_rows(zoned)
    assert len(incremental[0]) > 30 * len(ZONES) - 10 and incremental[1]
    with zoned.app_context():
        rebuild(key_id)
    assert day_rows(zoned) == incremental
    with zoned.app_context():
        rebuild()
    assert day_rows(zoned) == incremental


def test_a_request_at_2330_utc_is_stored_on_the_next_shanghai_day(app, fake):
    key_id = make_key(app, fake, fake.add_token().key)
    log_usage(app, key_id, datetime(2026, 3, 2, 23, 30, tzinfo=UTC), "gpt-4o", 0.5)
    rows = day_rows(app)[1]
    assert rows == [
        (key_id, "Asia/Shanghai", date(2026, 3, 3), "gpt-4o", 1, 0.5),
        (key_id, "UTC", date(2026, 3, 2), "gpt-4o", 1, 0.5),
    ]


def test_setup_builds_a_newly_configured_zone_and_drops_a_removed_one(zoned, fake):
    key_id = make_key(zoned, fake, fake.add_token().key)
    fill(zoned, key_id)
    before = day_rows(zoned)
    zoned.config["USAGE_DAY_ZONES"] = ["UTC", "Asia/Tokyo", "Not/AZone"]
    result = zoned.test_cli_runner().invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    with zoned.app_context():
        zones = db.session.scalars(select(BalanceDay.zone).distinct()).all()
        assert sorted(zones) == ["Asia/Tokyo", "UTC"]
        assert daily.zones() == ("UTC", "Asia/Tokyo")  # an unknown name is ignored, not stored
        tokyo = answers(zoned, [key_id], "Asia/Tokyo")
    utc_rows = [row for row in before[0] if row[1] == "UTC"]
    assert [row for row in day_rows(zoned)[0] if row[1] == "UTC"] == utc_rows
    zoned.config["USAGE_DAY_ZONES"] = []
    assert answers(zoned, [key_id], "Asia/Tokyo") == tokyo
    with zoned.app_context():
        assert db.session.scalar(select(func.count()).select_from(UsageDay)) > 0
