"""The batch past its rate limit, in real Chromium: the results area gets the error card alone,
not a second page (header, nav, footer) inside the first."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from database import db
from tests.conftest import make_app

pytestmark = pytest.mark.browser


@pytest.fixture
def app(tmp_path):
    """Limits on, one batch a minute."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, BATCH_RATE_LIMIT="1/minute")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("lang,title", [("en", "Too many requests"), ("zh_CN", "请求过于频繁")])
def test_a_batch_past_its_limit_shows_one_card_in_the_results(
    page: Page, live_server, provider, fake, lang, title
):
    page.context.add_cookies([{"name": "lang", "value": lang, "url": live_server}])
    page.goto(live_server + "/batch")
    page.get_by_test_id("keys").fill(fake.add_token().key)
    page.get_by_test_id("batch-run").click()
    expect(page.get_by_test_id("batch-csv")).to_be_visible()
    page.get_by_test_id("batch-run").click()
    card = page.locator("[data-status='429']")
    expect(card).to_be_visible()
    expect(card).to_contain_text(title)
    expect(page.locator("header.top")).to_have_count(1)
    expect(page.locator("footer")).to_have_count(1)
