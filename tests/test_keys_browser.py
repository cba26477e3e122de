"""My keys in real Chromium: log in, add a key, watch its balance row fill in."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from database import db
from tests.conftest import PASSWORD, make_app

pytestmark = pytest.mark.browser
USD = 500000


@pytest.fixture
def app(tmp_path):
    """The real first-poll behaviour: in the background, while the page polls."""
    app = make_app(tmp_path, FIRST_POLL="background")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_it_logs_in_adds_a_key_and_fills_its_row(
    page: Page, live_server, make_user, provider, fake
):
    """The added key's row starts waiting, then shows its balance without a reload."""
    make_user("alice")
    token = fake.add_token(remain_quota=7 * USD, used_quota=1 * USD)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(live_server + "/keys")
    page.get_by_test_id("username").fill("alice")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("login").click()
    expect(page.get_by_test_id("no-keys")).to_be_visible()
    # A new key warns below 5 (in its unit) unless the field is cleared.
    expect(page.get_by_test_id("low-threshold")).to_have_value("5")
    page.get_by_test_id("label").fill("team-prod")
    page.get_by_test_id("key").fill(token.key)
    page.get_by_test_id("add").click()
    row = page.locator("[data-testid=keys-table] tbody tr")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("remaining")).to_have_text("$7.00", timeout=15000)
    expect(row).to_have_attribute("data-status", "active")
    assert token.key not in page.content()
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-link")).to_be_visible()
    assert problems == []
