"""Usage pages: owners only, KPIs and figures from known histories, ranges, zones, CSV."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from blueprints.auth.service import create_user
from blueprints.keys.models import BalanceSample, TrackedKey
from blueprints.providers.service import add_provider
from blueprints.usage.rollups import rebuild
from database import db
from tests.conftest import PASSWORD, login

HX = {"HX-Request": "true"}


@pytest.fixture
def history(app):
    """Alice's key with 10 days of hourly samples: $2/day spent from $50, a $10 top-up on day 5."""
    return make_history(app)


def make_history(app) -> int:
    """Create the history (users alice and charlie, one key); returns the key id."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with app.app_context():
        user = create_user("alice", PASSWORD)
        create_user("charlie", PASSWORD)
        provider = add_provider("juhe", "https://relay.example")
        key = "sk-" + "h" * 48
        tracked = TrackedKey.sealed(
            key,
            user_id=user.id,
            provider_id=provider.id,
            label="prod",
            low_threshold=10.0,
            status="active",
            unit="USD",
        )
        db.session.add(tracked)
        db.session.flush()
        remaining, used = 50.0, 0.0
        for hour in range(10 * 24, -1, -1):
            at = now - timedelta(hours=hour)
            if hour == 5 * 24:
                remaining += 10.0  # a top-up
            db.session.add(
                BalanceSample(
                    key_id=tracked.id,
                    taken_at=at,
                    status="active",
                    unit="USD",
                    total=remaining + used,
                    used=round(used, 6),
                    remaining=round(remaining, 6),
                )
            )
            remaining -= 2.0 / 24
            used += 2.0 / 24
        tracked.remaining, tracked.used = round(remaining + 2.0 / 24, 6), round(used - 2.0 / 24, 6)
        db.session.commit()
        rebuild(tracked.id)
        return tracked.id


def figures(html: str) -> dict[str, dict]:
    """Every data-figure on the page, parsed, by its test id."""
    found = {}
    for raw, test_id in re.findall(r'data-figure="([^"]*)" data-testid="([^"]*)"', html):
        found[test_id] = json.loads(raw.replace("&#34;", '"').replace("&quot;", '"'))
    return found


def test_it_shows_kpis_runway_and_five_figures(client, history):
    """The per-key page: spend windows, burn ≈ $2/day, runway, reconcile, five charts."""
    login(client, "alice")
    response = client.get(f"/usage/{history}?range=30d&tz=UTC")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    charts = figures(html)
    assert set(charts) == {
        "chart-remaining",
        "chart-spend",
        "chart-models",
        "chart-tokens",
        "chart-requests",
    }
    assert "$2.00" in html  # the average daily burn over 7 complete days
    runway = re.search(r'data-testid="kpi-runway">(.*?)</span>', html, re.S).group(1)
    assert "days" in runway  # ≈ 20 days at $2/day from ~$40
    assert 'data-testid="reconcile"' in html


def test_it_swaps_only_the_report_for_htmx_and_remembers_the_zone(client, history):
    """A range or zone change returns the partial; an explicit zone is remembered."""
    login(client, "alice")
    partial = client.get(f"/usage/{history}?range=7d&tz=Asia/Shanghai", headers=HX)
    assert b"<html" not in partial.data and b'data-testid="chart-spend"' in partial.data
    assert "tz_choice=Asia/Shanghai" in partial.headers.get("Set-Cookie", "")
    again = client.get(f"/usage/{history}").get_data(as_text=True)
    assert "· Asia/Shanghai" in again


@pytest.mark.parametrize(
    "query",
    [
        "range=1y",
        "range=24h",
        "range=custom&from=2020-01-01&to=2020-01-05",
        "range=nonsense",
        "range=custom&from=2020-01-05&to=2020-01-01",
    ],
)
def test_it_accepts_every_range_and_refuses_nothing_with_a_500(client, history, query):
    """Presets and custom ranges render; an unknown range or from after to falls back to 30 days."""
    login(client, "alice")
    assert client.get(f"/usage/{history}?{query}&tz=UTC").status_code == 200


@pytest.mark.parametrize("day", ["x", "2020-02-30", "0001-01-01", "２０２０-01-01"])
def test_it_refuses_a_date_it_cannot_use_saying_which(client, history, day):
    """A custom range with a date that is not one (or before 1970) is a 400 naming the field."""
    login(client, "alice")
    response = client.get(f"/usage/{history}?range=custom&from={day}&to=2020-01-05&tz=UTC")
    assert response.status_code == 400
    assert "“from” must be a date written YYYY-MM-DD" in response.get_data(as_text=True)


def test_it_exports_daily_rows_as_csv(client, history):
    """CSV of the range's days, money units, UTF-8 with BOM."""
    login(client, "alice")
    response = client.get(f"/usage/{history}.csv?range=7d&tz=UTC")
    text = response.get_data().decode("utf-8")
    assert response.mimetype == "text/csv" and text.startswith("\ufeffday,spend")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    full_days = [r for r in rows[1:-1] if r["spend"]]
    assert full_days and all(abs(float(r["spend"]) - 2.0) < 0.01 for r in full_days)
    assert all(r["unit"] == "USD" for r in rows)


def test_it_shows_the_overview_with_the_closest_to_empty_highlighted(client, history):
    """/usage: totals, windows, the stacked chart and the key table."""
    login(client, "alice")
    html = client.get("/usage?tz=UTC").get_data(as_text=True)
    assert "chart-overview" in figures(html)
    assert 'data-testid="closest"' in html and "prod" in html


@pytest.mark.parametrize("url", ["/usage/{id}", "/usage/{id}.csv"])
def test_it_hides_usage_from_outsiders(client, history, url):
    """Charlie gets 404 on Alice's key; anonymous visitors go to the login."""
    assert client.get(url.format(id=history)).status_code == 302
    login(client, "charlie")
    assert client.get(url.format(id=history)).status_code == 404
    assert "prod" not in client.get("/usage").get_data(as_text=True)


@pytest.mark.parametrize("sort", ["runway", "label", "remaining", "today", "7d", "30d", "bogus"])
def test_it_sorts_the_overview_table(client, history, sort):
    """Every sort order renders (an unknown one falls back to runway)."""
    login(client, "alice")
    response = client.get(f"/usage?sort={sort}", headers=HX)
    assert response.status_code == 200 and b"<html" not in response.data
    assert b'data-testid="usage-table"' in response.data
