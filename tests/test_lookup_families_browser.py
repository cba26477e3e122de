"""Lookup verdicts per family in real Chromium: neutral when unknown, never a false invalid."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from playwright.sync_api import Page, expect

import relay
from blueprints.providers.service import add_provider

pytestmark = pytest.mark.browser
USD = 500000
RED = ".badge--invalid, .badge--error, .badge--disabled, .badge--unreachable, .card--error"


def look_up(page: Page, base: str, provider: str, key: str) -> None:
    """Open the lookup, choose the provider, paste the key, press Look up."""
    page.goto(base + "/")
    page.locator("#provider").select_option(provider)
    page.get_by_test_id("key").fill(key)
    page.get_by_test_id("lookup").click()


def test_a_relay_without_balances_gets_a_neutral_card_that_lists_models(
    page: Page, app, live_server, relays, problems
):
    """A working key on a plain OpenAI-compatible relay: Active, no red, no hint, its models."""
    fake = relays("openai", group_models=["llama-3.1-8b", "qwen2.5-7b"])
    with app.app_context():
        add_provider("plain", fake.base_url)
    look_up(page, live_server, "plain", fake.add_token().key)
    result = page.get_by_test_id("result")
    expect(result).to_have_attribute("data-status", "active")
    expect(result).to_have_class("card result result--neutral")
    expect(page.get_by_test_id("no-balance")).to_contain_text("publishes no balance for keys")
    expect(page.get_by_test_id("models").locator("li")).to_have_count(2)
    expect(page.get_by_test_id("models").locator("li").first).to_be_visible()
    expect(page.get_by_test_id("expires")).to_have_text("Not stated by this relay")
    assert result.locator(RED).count() == 0
    assert page.get_by_test_id("explanation").count() == 0
    assert "base URL may be wrong" not in result.inner_text()
    assert problems == []


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_an_exhausted_new_api_2026_key_is_never_called_invalid_when_the_budget_is_spent(
    page: Page, app, live_server, relays, problems, monkeypatch, lang
):
    """The call that tells spent from unknown was held back: Refused, with when to try again."""
    monkeypatch.setitem(relay.BUDGETS.limits, relay.budget.CRITICAL, (1, 1200.0))
    fake = relays("new-api-2026", lang="en")
    with app.app_context():
        add_provider("np", fake.url)
    page.context.add_cookies([{"name": "lang", "value": lang, "url": live_server}])
    look_up(page, live_server, "np", fake.add_token().key)  # spends the one critical call
    expect(page.get_by_test_id("result")).to_have_attribute("data-status", "active")
    look_up(page, live_server, "np", fake.add_token(remain_quota=0, used_quota=5 * USD).key)
    result = page.get_by_test_id("result")
    expect(result).to_have_attribute("data-status", "refused")
    with app.test_request_context(), force_locale(lang):
        refused, invalid = _("Refused"), _("Invalid key")
        whole_key = _("Check that you copied the whole key and picked the right provider.")
    expect(result.locator(".badge")).to_have_text(refused)
    # When a later call can tell: a clock time, in the viewer's zone.
    expect(page.get_by_test_id("explanation")).to_contain_text(
        re.compile(r"\d\d:\d\d\s?[(（][^)）]+[)）]")
    )
    text = result.inner_text()
    assert invalid not in text and whole_key not in text
    assert result.locator(RED).count() == 0
    assert problems == []
