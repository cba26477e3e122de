"""Spend sources and one-day charts: logs before tracking, a balance that has not moved yet."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest

from blueprints.auth.service import create_user
from blueprints.keys.models import BalanceSample, TrackedKey, UsageRecord
from blueprints.providers.service import add_provider
from blueprints.usage.rollups import rebuild
from database import db
from tests.conftest import PASSWORD, login
from tests.test_usage import HX, figures

COSTS = (0.021, 0.034, 0.018, 0.027, 0.025, 0.018)  # six days of logged requests: $0.143


def make_late_key(app, *, drop: float = 0.0) -> int:
    """Alice's key: six earlier days of logged requests, balance tracked only since today.

    `drop` is how much the balance falls between today's readings (0: it has not moved).
    """
    real_now = datetime.now(UTC)
    now = real_now.replace(minute=0, second=0, microsecond=0)
    with app.app_context():
        user = create_user("alice", PASSWORD)
        provider = add_provider("juhe", "https://relay.example")
        tracked = TrackedKey.sealed(
            "sk-" + "L" * 48,
            user_id=user.id,
            provider_id=provider.id,
            label="late",
            status="active",
            unit="USD",
        )
        db.session.add(tracked)
        db.session.flush()
        for days_ago, cost in zip(range(6, 0, -1), COSTS, strict=True):
            at = now - timedelta(days=days_ago)
            db.session.add(
                UsageRecord(
                    key_id=tracked.id,
                    created_at=at,
                    model="gpt-4o-mini",
                    prompt_tokens=1000,
                    completion_tokens=200,
                    cost=cost,
                    unit="USD",
                    dedupe=hashlib.sha256(str(at).encode()).hexdigest()[:32],
                )
            )
        start = max(now, real_now - timedelta(seconds=60))  # inside today's current hour
        for i, remaining in enumerate((20.0, 20.0, 20.0 - drop)):
            db.session.add(
                BalanceSample(
                    key_id=tracked.id,
                    taken_at=start + timedelta(seconds=10 * i),
                    status="active",
                    unit="USD",
                    used=5.0 + (20.0 - remaining),
                    remaining=remaining,
                )
            )
        tracked.remaining, tracked.used = 20.0 - drop, 5.0 + drop
        db.session.commit()
        rebuild(tracked.id)
        return tracked.id


@pytest.fixture
def late(app) -> int:
    return make_late_key(app)


def kpi(html: str, label: str) -> str:
    found = re.search(
        rf'kpi__label">{re.escape(label)}</span><span class="kpi__value">(.*?)</span>', html
    )
    return found.group(1) if found else ""


def test_it_falls_back_to_logged_costs_and_says_so(client, late):
    """No balance drop yet: 7 and 30 days show the logged $0.143; the chart has the six days."""
    login(client, "alice")
    html = client.get(f"/usage/{late}?range=30d&tz=UTC").get_data(as_text=True)
    assert kpi(html, "Last 7 days") == "$0.1430" and kpi(html, "Last 30 days") == "$0.1430"
    assert 'data-source="logs"' in html
    assert "the sum of the logged request costs" in html
    assert "from logged request costs" in html
    spend = figures(html)["chart-spend"]
    # six days of logged costs, and today (polled, nothing logged yet) at 0
    assert [round(y, 3) for y in spend["data"][0]["y"]] == [*COSTS, 0.0]


def test_it_explains_a_gap_from_logs_older_than_tracking(client, late):
    """Reconcile: the -$0.143 gap is the requests logged before the first balance reading."""
    login(client, "alice")
    html = client.get(f"/usage/{late}?range=30d&tz=UTC").get_data(as_text=True)
    card = re.search(r'data-testid="reconcile" data-code="([^"]+)"(.*?)</section>', html, re.S)
    assert card.group(1) == "tracking_late"
    assert "Balance tracking started after the first logged requests" in card.group(2)
    assert 'data-testid="logged-before">$0.1430' in card.group(2)
    assert 'data-testid="tracked-from"><time' in card.group(2)
    assert "no known cause" not in card.group(2)


def test_it_uses_balance_drops_once_the_balance_moves(app, client):
    """Once the balance drops, the figures come from it and say so."""
    key_id = make_late_key(app, drop=0.5)
    login(client, "alice")
    html = client.get(f"/usage/{key_id}?range=7d&tz=UTC").get_data(as_text=True)
    assert 'data-source="balance"' in html and "from balance drops" in html
    assert kpi(html, "Last 7 days") == "$0.5000"


def test_the_overview_marks_keys_counted_from_their_logs(client, late):
    """/usage: the key's windows are its logged costs, marked †, with the note saying why."""
    login(client, "alice")
    html = client.get("/usage?tz=UTC", headers=HX).get_data(as_text=True)
    assert 'data-testid="logged-spend"' in html
    assert "Keys marked † have no balance drop yet" in html
    assert "$0.1430" in html
    overview = figures(html)["chart-overview"]
    assert (
        len(overview["data"]) == 1 and len(overview["data"][0]["x"]) == 7
    )  # six logged days and today


def test_one_day_and_one_reading_get_a_range_and_markers(app, client):
    """A key with one day of readings: the day chart spans days around it, the line has markers."""
    key_id = make_late_key(app, drop=0.5)
    login(client, "alice")
    html = client.get(f"/usage/{key_id}?range=24h&tz=UTC").get_data(as_text=True)
    charts = figures(html)
    remaining = charts["chart-remaining"]
    assert "markers" in remaining["data"][0]["mode"]
    low, high = (datetime.fromisoformat(x) for x in remaining["layout"]["xaxis"]["range"])
    assert high - low >= timedelta(hours=6)
    spend = charts["chart-spend"]
    assert len(spend["data"][0]["x"]) == 1
    first, last = spend["layout"]["xaxis"]["range"]
    assert datetime.fromisoformat(last) - datetime.fromisoformat(first) >= timedelta(days=2)
