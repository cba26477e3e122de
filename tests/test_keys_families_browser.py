"""A key on a relay that publishes no balance, in real Chromium: neutral, nothing made up."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from blueprints.auth.service import find_user
from blueprints.keys.models import TrackedKey
from blueprints.keys.poller import poll_once
from blueprints.providers.service import add_provider
from database import db
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def no_balance_key(app, relays, make_user) -> int:
    """Alice's key on a generic OpenAI-compatible relay, polled once."""
    fake = relays("openai")
    make_user("alice")
    with app.app_context():
        provider = add_provider("gateway", fake.base_url)
        key = TrackedKey.sealed(
            fake.add_token().key,
            user_id=find_user("alice").id,
            provider_id=provider.id,
            label="gateway-key",
            low_threshold=5.0,
        )
        db.session.add(key)
        db.session.commit()
        poll_once(force=True)
        return key.id


def log_in(page: Page, live_server: str) -> None:
    page.goto(live_server + "/login")
    page.get_by_test_id("username").fill("alice")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("login").click()


def test_the_key_page_of_a_no_balance_key_is_neutral_in_both_languages(
    page: Page, live_server, no_balance_key, problems
):
    log_in(page, live_server)
    page.goto(f"{live_server}/keys/{no_balance_key}")
    expect(page.get_by_test_id("no-balance")).to_have_text(
        "This relay publishes no balance for keys."
    )
    expect(page.get_by_test_id("expires")).to_have_text("Not stated")
    expect(page.get_by_test_id("low-balance-off")).to_be_visible()
    expect(page.get_by_test_id("no-usage")).to_have_text(
        "This relay publishes no per-key request log."
    )
    expect(page.locator(".result__head [data-status]")).to_have_attribute("data-status", "active")
    assert page.locator(".flash--error").count() == 0
    page.get_by_test_id("lang-zh").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_test_id("no-balance")).to_be_visible()
    expect(page.get_by_test_id("expires")).not_to_have_text("永不过期")
    assert problems == []
