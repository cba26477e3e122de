"""Alerts in real Chromium: the channel form speaks the chosen channel type's language."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_the_channel_form_shows_each_types_address_and_secret(page: Page, live_server, make_user):
    """Picking DingTalk shows a DingTalk address and 加签 secret; WeCom says it has no secret."""
    make_user("alice")
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(live_server + "/alerts")
    page.get_by_test_id("username").fill("alice")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("login").click()
    url, secret = page.locator("#channel-url"), page.locator("#channel-secret")
    expect(url).to_have_attribute("placeholder", "https://example.com/hooks/relaydash")
    page.locator("#channel-kind").select_option("dingtalk")
    expect(url).to_have_attribute(
        "placeholder", "https://oapi.dingtalk.com/robot/send?access_token=…"
    )
    expect(secret).to_have_attribute("placeholder", "SEC… (加签)")
    page.locator("#channel-kind").select_option("wecom")
    expect(secret).to_have_attribute("placeholder", "leave empty: WeCom bots are not signed")
    assert problems == []


def test_the_apprise_type_explains_itself_on_a_phone(page: Page, live_server, make_user):
    """Apprise URL: its example address, an empty secret, the schemes line; no sideways scroll."""
    make_user("alice")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server + "/alerts")
    page.get_by_test_id("username").fill("alice")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("login").click()
    page.locator("#channel-kind").select_option("apprise")
    expect(page.locator("#channel-url")).to_have_attribute(
        "placeholder", "ntfys://ntfy.sh/your-topic"
    )
    expect(page.locator("#channel-secret")).to_have_attribute(
        "placeholder", "leave empty: the Apprise URL carries its secrets"
    )
    expect(page.get_by_test_id("apprise-help")).to_contain_text("dingtalk:// wecombot://")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
