"""The header on a 390 px phone, logged in as an admin, in both languages: no page scrolls
sideways, every link is behind the Menu button, and the wide header is back at 1366 px."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from blueprints.auth.models import ADMIN, User
from blueprints.keys.poller import poll_once
from blueprints.keys.service import add_key
from blueprints.providers.models import Provider
from database import db
from tests.conftest import PASSWORD
from tests.fakerelay import make_logs
from tests.test_status import passes, watch
from tests.test_usage import make_history

USD = 500000

pytestmark = pytest.mark.browser


def _log_in(page: Page, live_server: str, lang: str, user: str) -> None:
    page.context.add_cookies([{"name": "lang", "value": lang, "url": live_server}])
    page.goto(live_server + "/login")
    page.get_by_test_id("username").fill(user)
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("login").click()
    expect(page.get_by_test_id("logout")).to_be_visible()


@pytest.fixture
def filled(app, fake, provider) -> list[str]:
    """An admin with a polled key on a monitored relay, a key with ten days of history, a
    looked-up key with a request log: every page's paths, each with rows to show."""
    history = make_history(app)  # alice's key on 'juhe', ten days of samples
    token = fake.add_token(
        remain_quota=12 * USD, logs=make_logs(45, start=int(time.time()) - 3 * 86400)
    )
    watch(app, fake, models=("gpt-4o-mini",))
    passes(app, datetime.now(UTC) - timedelta(minutes=30), 5)
    with app.app_context():
        alice = db.session.scalar(select(User).filter_by(username="alice"))
        alice.role = ADMIN
        relay = db.session.scalar(select(Provider).filter_by(name=provider))
        key_id = add_key(alice, relay, token.key, label="prod").id
        poll_once(force=True)
        pid = relay.id
    return [
        "/",
        "/batch",
        "/status",
        f"/status/{provider}",
        "/keys",
        f"/keys/{key_id}",
        f"/keys/{history}",
        "/usage",
        f"/usage/{key_id}",
        f"/usage/{history}",
        "/alerts",
        "/playground",
        "/admin/providers",
        f"/admin/providers/{pid}/edit",
        f"/admin/status/{pid}",
        "/admin/users",
        "/api",
        token.key,
    ]


@pytest.mark.parametrize("lang,admin_label", [("en", "Admin"), ("zh_CN", "管理")])
def test_a_phone_gets_a_menu_and_no_page_scrolls_sideways(
    page: Page, live_server, filled, lang, admin_label
):
    """Every page, with data in it, logged in as an admin: nothing wider than the phone."""
    *paths, key = filled
    page.set_viewport_size({"width": 390, "height": 844})
    _log_in(page, live_server, lang, "alice")
    for path in paths:
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
    # The lookup card and its request log (cards on a phone) fit too.
    page.goto(live_server + "/")
    page.get_by_test_id("key").fill(key)
    page.get_by_test_id("lookup").click()
    expect(page.get_by_test_id("log-table")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    menu = page.get_by_test_id("menu")
    expect(menu).to_be_visible()
    link = menu.get_by_role("link", name=admin_label)
    expect(link).to_be_hidden()
    menu.locator("summary").click()
    expect(link).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    link.click()
    expect(page).to_have_url(live_server + "/admin/providers")
    page.set_viewport_size({"width": 1366, "height": 900})
    expect(menu).to_be_hidden()
    expect(page.locator("nav.nav").get_by_role("link", name=admin_label)).to_be_visible()
