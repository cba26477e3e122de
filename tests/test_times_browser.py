"""A viewer in Shanghai (Chromium's zone, not the server's) sees Shanghai times, labelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from blueprints.auth.models import User
from blueprints.keys.models import TrackedKey
from blueprints.keys.poller import poll_once
from blueprints.keys.service import add_key
from blueprints.providers.models import Provider
from blueprints.status.models import Incident
from database import db
from tests.conftest import PASSWORD
from tests.test_status import passes, watch

pytestmark = [pytest.mark.browser, pytest.mark.browser_context_args(timezone_id="Asia/Shanghai")]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(at: datetime, seconds: bool = False) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def test_status_times_are_in_the_viewers_zone_and_say_so(page: Page, live_server, app, fake):
    """An incident that began about 01:30 UTC reads 09:3x under 'Times in Asia/Shanghai, UTC+8'."""
    watch(app, fake, key=False)
    start = datetime.now(UTC).replace(hour=1, minute=30, second=0, microsecond=0)
    if start > datetime.now(UTC) - timedelta(minutes=10):
        start -= timedelta(days=1)
    passes(app, start - timedelta(minutes=2), 2)
    fake.set_fault("*", "503")
    passes(app, start, 3)
    with app.app_context():
        began = db.session.scalar(select(Incident.started_at)).replace(tzinfo=UTC)
    assert start <= began < start + timedelta(minutes=3)  # 09:30-09:32 in Shanghai
    page.goto(live_server + "/")  # app.js writes the tz cookie on the first page
    page.goto(live_server + "/status")
    expect(page.get_by_test_id("zone-note").first).to_contain_text("Asia/Shanghai, UTC+8")
    expect(page.get_by_test_id("incident").first).to_contain_text(shanghai(began))


def test_key_times_are_in_the_viewers_zone_and_labelled(
    page: Page, live_server, app, fake, provider, make_user
):
    """The key page's Last polled carries the Shanghai wall clock and 'UTC+8'."""
    make_user("alice")
    token = fake.add_token(remain_quota=500_000, used_quota=0)
    with app.app_context():
        user = db.session.scalar(select(User).filter_by(username="alice"))
        relay = db.session.scalar(select(Provider).filter_by(name=provider))
        key_id = add_key(user, relay, token.key, label="prod").id
        poll_once(force=True)
        polled = db.session.get(TrackedKey, key_id).last_polled_at.replace(tzinfo=UTC)
    page.goto(live_server + "/login")
    page.get_by_test_id("username").fill("alice")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("login").click()
    page.goto(f"{live_server}/keys/{key_id}")
    expect(page.get_by_test_id("last-polled")).to_have_text(f"{shanghai(polled, True)} UTC+8")
